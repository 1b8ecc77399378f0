//! Volume archives through the engine's archive API: a volume is read (`GET
//! /containers/{id}/archive`, a tar stream) and written (`PUT`, a tar stream) through a helper
//! container that mounts it and is created but never started. The helper's image is imported
//! locally from an empty tar (`POST /images/create?fromSrc=-`), so nothing is ever pulled.

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, DownloadFromContainerOptions,
    RemoveContainerOptions, StartContainerOptions, StopContainerOptions, UploadToContainerOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

use super::engine::{DockerError, Engine};

/// The local image of the helper containers: an empty root file system, imported, never pulled.
pub const HELPER_IMAGE: &str = "contextbay/volume-helper:empty";
/// Where a helper mounts the volume; archives hold the volume's files under `data/`.
pub const MOUNT_DIR: &str = "/data";
/// The label of helper containers, so that leftovers can be found.
pub const HELPER_LABEL: &str = "contextbay.volume-helper";
/// How long one archive request may take (the engine answers an upload only once it is
/// extracted whole).
const ARCHIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A container that mounts one volume and is never started: the handle to read or write it.
/// Remove it with [`Engine::remove_helper`] when done.
#[derive(Debug, Clone)]
pub struct VolumeHelper {
    pub id: String,
}

impl Engine {
    /// Whether a volume exists on this engine.
    pub async fn volume_exists(&self, name: &str) -> Result<bool, DockerError> {
        match self.client().inspect_volume(name).await {
            Ok(_) => Ok(true),
            Err(e) => match DockerError::from(e) {
                DockerError::Api { status: 404, .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Creates a volume (the local driver) labelled as made by a restore.
    pub async fn create_volume(&self, name: &str) -> Result<(), DockerError> {
        let mut labels = std::collections::HashMap::new();
        labels.insert("contextbay.restored".to_owned(), "1".to_owned());
        self.client()
            .create_volume(VolumeCreateRequest {
                name: Some(name.to_owned()),
                labels: Some(labels),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// Imports the helper image from an empty tar unless it is there already.
    async fn ensure_helper_image(&self) -> Result<(), DockerError> {
        if self.client().inspect_image(HELPER_IMAGE).await.is_ok() {
            return Ok(());
        }
        let (repo, tag) = HELPER_IMAGE
            .split_once(':')
            .unwrap_or((HELPER_IMAGE, "latest"));
        // Two zero blocks: the end of an empty tar.
        let empty_tar = Bytes::from(vec![0u8; 1024]);
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo.into()),
            tag: Some(tag.into()),
            ..Default::default()
        };
        let mut progress =
            self.client()
                .create_image(Some(options), Some(bollard::body_full(empty_tar)), None);
        while let Some(step) = progress.next().await {
            let step = step?;
            if let Some(err) = step.error_detail.and_then(|d| d.message) {
                return Err(DockerError::Other(format!(
                    "importing the helper image: {err}"
                )));
            }
        }
        Ok(())
    }

    /// Creates (never starts) a helper container mounting `volume` at [`MOUNT_DIR`].
    pub async fn volume_helper(&self, volume: &str) -> Result<VolumeHelper, DockerError> {
        self.ensure_helper_image().await?;
        let mut labels = std::collections::HashMap::new();
        labels.insert(HELPER_LABEL.to_owned(), volume.to_owned());
        let body = ContainerCreateBody {
            image: Some(HELPER_IMAGE.into()),
            // Never run: the image has no files. A command is needed to create it at all.
            cmd: Some(vec!["/never-started".into()]),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(MOUNT_DIR.into()),
                    source: Some(volume.into()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .client()
            .create_container(None::<CreateContainerOptions>, body)
            .await?;
        Ok(VolumeHelper { id: created.id })
    }

    /// Removes a helper container (the volume stays).
    pub async fn remove_helper(&self, helper: &VolumeHelper) -> Result<(), DockerError> {
        self.client()
            .remove_container(
                &helper.id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: false,
                    link: false,
                }),
            )
            .await?;
        Ok(())
    }

    /// The volume's files as a tar stream (entries under `data/`), as the engine sends it.
    pub fn read_volume(
        &self,
        helper: &VolumeHelper,
    ) -> impl Stream<Item = Result<Bytes, DockerError>> + Send + use<> {
        self.client()
            .clone()
            .with_timeout(ARCHIVE_TIMEOUT)
            .download_from_container(
                &helper.id,
                Some(DownloadFromContainerOptions {
                    path: MOUNT_DIR.into(),
                }),
            )
            .map_err(DockerError::from)
    }

    /// Extracts a tar stream (entries under `data/`) into the volume; owners, modes and times
    /// are kept as the archive says.
    pub async fn write_volume(
        &self,
        helper: &VolumeHelper,
        tar: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Result<(), DockerError> {
        // The engine answers once the whole archive is extracted: the client's default
        // request timeout (2 minutes) would cut a large restore off.
        self.client()
            .clone()
            .with_timeout(ARCHIVE_TIMEOUT)
            .upload_to_container(
                &helper.id,
                Some(UploadToContainerOptions {
                    path: "/".into(),
                    ..Default::default()
                }),
                bollard::body_try_stream(tar),
            )
            .await?;
        Ok(())
    }

    /// The running containers that mount `volume`: (id, name).
    pub async fn running_users_of(
        &self,
        volume: &str,
    ) -> Result<Vec<(String, String)>, DockerError> {
        Ok(self
            .containers(false)
            .await?
            .into_iter()
            .filter(|c| c.state == "running")
            .filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.source == volume)
            })
            .map(|c| (c.id, c.name))
            .collect())
    }

    /// Stops a container (10 s grace).
    pub async fn stop_for_backup(&self, id: &str) -> Result<(), DockerError> {
        self.client()
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(10),
                    ..Default::default()
                }),
            )
            .await?;
        Ok(())
    }

    /// Starts a container again.
    pub async fn start_after_backup(&self, id: &str) -> Result<(), DockerError> {
        self.client()
            .start_container(id, None::<StartContainerOptions>)
            .await?;
        Ok(())
    }
}

/// What an archive operation changed on an engine for its duration: containers it stopped, the
/// helper it created, a volume it created. Undone by [`VolumeGuard::finish`], or, when the
/// operation's future is dropped (cancelled, the master or the stream gone), by a spawned task.
pub struct VolumeGuard {
    engine: Engine,
    stopped: Vec<String>,
    helper: Option<VolumeHelper>,
    /// A volume this operation created, removed when it fails.
    created_volume: Option<String>,
    done: bool,
}

impl VolumeGuard {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            stopped: Vec::new(),
            helper: None,
            created_volume: None,
            done: false,
        }
    }

    /// Stops the running containers that use `volume` (remembered to be started again).
    pub async fn stop_users(&mut self, volume: &str) -> Result<(), DockerError> {
        let users = self.engine.running_users_of(volume).await?;
        for (id, name) in users {
            self.engine
                .stop_for_backup(&id)
                .await
                .map_err(|e| DockerError::Other(format!("stopping container '{name}': {e}")))?;
            self.stopped.push(id);
        }
        Ok(())
    }

    /// Creates `volume` (removed again if the operation fails).
    pub async fn create_volume(&mut self, volume: &str) -> Result<(), DockerError> {
        self.engine.create_volume(volume).await?;
        self.created_volume = Some(volume.to_owned());
        Ok(())
    }

    /// Creates the helper container of `volume` (removed when done).
    pub async fn helper(&mut self, volume: &str) -> Result<VolumeHelper, DockerError> {
        let helper = self.engine.volume_helper(volume).await?;
        self.helper = Some(helper.clone());
        Ok(helper)
    }

    /// Undoes everything; `failed`: the operation failed (a volume it created is removed).
    /// Returns what could not be undone.
    pub async fn finish(mut self, failed: bool) -> Vec<String> {
        self.done = true;
        let created = if failed {
            self.created_volume.take()
        } else {
            None
        };
        undo(
            self.engine.clone(),
            self.helper.take(),
            std::mem::take(&mut self.stopped),
            created,
        )
        .await
    }
}

async fn undo(
    engine: Engine,
    helper: Option<VolumeHelper>,
    stopped: Vec<String>,
    created_volume: Option<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(h) = helper
        && let Err(e) = engine.remove_helper(&h).await
    {
        problems.push(format!("removing helper container {}: {e}", h.id));
    }
    if let Some(v) = created_volume
        && let Err(e) = engine.remove_volume(&v, true).await
    {
        problems.push(format!("removing volume '{v}': {e}"));
    }
    for id in stopped {
        if let Err(e) = engine.start_after_backup(&id).await {
            problems.push(format!("starting container {id} again: {e}"));
        }
    }
    for p in &problems {
        tracing::warn!("archive clean-up: {p}");
    }
    problems
}

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (engine, helper, stopped, created) = (
            self.engine.clone(),
            self.helper.take(),
            std::mem::take(&mut self.stopped),
            self.created_volume.take(),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                undo(engine, helper, stopped, created).await;
            });
        }
    }
}

/// A Docker volume name as the engine accepts it (1 to 128 of letters, digits, `_`, `.`, `-`,
/// starting with a letter or digit).
pub fn valid_volume_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
