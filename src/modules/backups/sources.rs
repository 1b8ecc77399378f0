//! Where a backup's data is read from and restored to: a Docker volume on an endpoint, reached
//! directly (`local`, `tcp`: the engine's archive API through a never-started helper container)
//! or through the node's worker (`agent`: an `ArchiveOpen` stream on its command stream, the
//! worker doing the same with its own engine). Either way the data is a tar stream (entries
//! under `data/`), never held whole.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncRead;

use super::BackupError;
use crate::docker::archive::VolumeGuard;
use crate::docker::volumes::VolumeInfo;
use crate::docker::{DockerError, Engine};
use crate::endpoint_streams;
use crate::endpoints::{self, EndpointError};
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;

/// A tar stream read from a source; an `Err` ends it with what went wrong.
pub type TarChunks = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// The endpoint a volume lives on, as a backup reaches it.
#[derive(Clone)]
pub enum VolumePlace {
    /// `local` or `tcp`: the master talks to the engine.
    Direct(Engine),
    /// `agent`: through the node's worker.
    Worker(Box<AppState>, Box<StoredEndpoint>),
}

fn invalid(field: &str, message: impl Into<String>) -> BackupError {
    BackupError::InvalidField {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn remote(e: EndpointError) -> BackupError {
    BackupError::Engine(e.to_string())
}

/// The endpoint `endpoint` (an id) as a place to read and write volumes; a 400 naming
/// `source.endpoint` when there is no such endpoint.
pub async fn place_of(state: &AppState, endpoint: &str) -> Result<VolumePlace, BackupError> {
    if endpoint.is_empty()
        || endpoint.len() > 128
        || endpoint.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(invalid(
            "source.endpoint",
            "source.endpoint is not a valid id",
        ));
    }
    let e = match endpoints::get(state, endpoint).await {
        Ok(e) => e,
        Err(EndpointError::NotFound(_)) => {
            return Err(invalid(
                "source.endpoint",
                format!("no endpoint '{endpoint}'"),
            ));
        }
        Err(other) => return Err(remote(other)),
    };
    match endpoints::engine(state, &e) {
        Ok(Some(engine)) => Ok(VolumePlace::Direct(engine)),
        Ok(None) => Ok(VolumePlace::Worker(Box::new(state.clone()), Box::new(e))),
        Err(err) => Err(remote(err)),
    }
}

/// What a read changed for its duration (direct reads; a worker undoes its own).
pub struct VolumeRead {
    pub tar: TarChunks,
    guard: Option<VolumeGuard>,
}

impl VolumeRead {
    /// Undoes what the read changed (stopped containers, its helper); what could not be undone.
    pub async fn finish(self, failed: bool) -> Vec<String> {
        drop(self.tar);
        match self.guard {
            Some(guard) => guard.finish(failed).await,
            None => Vec::new(),
        }
    }
}

impl VolumePlace {
    /// Whether volume `name` exists there.
    pub async fn volume_exists(&self, name: &str) -> Result<bool, BackupError> {
        match self {
            Self::Direct(engine) => Ok(engine.volume_exists(name).await?),
            Self::Worker(state, e) => {
                let volumes: Vec<VolumeInfo> =
                    endpoints::call_as(state, e, crate::docker::ops::DockerOp::ListVolumes)
                        .await
                        .map_err(remote)?;
                Ok(volumes.iter().any(|v| v.name == name))
            }
        }
    }

    /// Opens volume `volume` as a tar stream; with `stop_users`, its running users are stopped
    /// until [`VolumeRead::finish`] (or, through a worker, until the stream ends).
    pub async fn open_read(
        &self,
        volume: &str,
        stop_users: bool,
    ) -> Result<VolumeRead, BackupError> {
        match self {
            Self::Direct(engine) => {
                let mut guard = VolumeGuard::new(engine.clone());
                let opened = async {
                    if stop_users {
                        guard.stop_users(volume).await?;
                    }
                    guard.helper(volume).await
                }
                .await;
                match opened {
                    Ok(helper) => {
                        let tar = engine
                            .read_volume(&helper)
                            .map(|c| c.map_err(|e: DockerError| e.to_string()));
                        Ok(VolumeRead {
                            tar: Box::pin(tar),
                            guard: Some(guard),
                        })
                    }
                    Err(e) => {
                        guard.finish(true).await;
                        Err(e.into())
                    }
                }
            }
            Self::Worker(state, e) => {
                let tar = endpoint_streams::archive_read(state, e, volume, stop_users)
                    .await
                    .map_err(remote)?;
                Ok(VolumeRead { tar, guard: None })
            }
        }
    }

    /// Extracts a tar stream into volume `volume`: a new one with `create` (removed again if
    /// this fails), otherwise the existing one with its running users stopped for the duration
    /// and started again whatever happens.
    pub async fn write(
        &self,
        volume: &str,
        create: bool,
        tar: Pin<Box<dyn AsyncRead + Send>>,
    ) -> Result<(), BackupError> {
        match self {
            Self::Direct(engine) => {
                let mut guard = VolumeGuard::new(engine.clone());
                let written = async {
                    if create {
                        guard.create_volume(volume).await?;
                    } else {
                        guard.stop_users(volume).await?;
                    }
                    let helper = guard.helper(volume).await?;
                    engine
                        .write_volume(&helper, tokio_util::io::ReaderStream::new(tar))
                        .await
                }
                .await;
                let problems = guard.finish(written.is_err()).await;
                written?;
                if !problems.is_empty() {
                    return Err(BackupError::Engine(problems.join("; ")));
                }
                Ok(())
            }
            Self::Worker(state, e) => {
                endpoint_streams::archive_write(state, e, volume, create, tar)
                    .await
                    .map_err(remote)
            }
        }
    }
}
