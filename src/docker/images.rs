//! Images: list, pull (with per-layer progress), remove, prune.

use std::collections::HashMap;

use bollard::query_parameters::{
    CreateImageOptions, ListImagesOptions, PruneImagesOptions, RemoveImageOptions,
};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::engine::{DockerError, Engine};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageInfo {
    pub id: String,
    pub tags: Vec<String>,
    pub size_bytes: i64,
    /// Unix seconds.
    pub created: i64,
    /// Containers using it (-1 when the engine does not say).
    pub containers: i64,
    pub labels: HashMap<String, String>,
}

/// One progress message of a pull, per layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PullProgress {
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PruneReport {
    pub deleted: Vec<String>,
    pub space_reclaimed_bytes: i64,
}

impl Engine {
    pub async fn images(&self) -> Result<Vec<ImageInfo>, DockerError> {
        Ok(self
            .client()
            .list_images(Some(ListImagesOptions {
                all: false,
                ..Default::default()
            }))
            .await?
            .into_iter()
            .map(|i| ImageInfo {
                id: i.id,
                tags: i.repo_tags,
                size_bytes: i.size,
                created: i.created,
                containers: i.containers,
                labels: i.labels,
            })
            .collect())
    }

    /// Pulls `reference`; the stream ends with an error item when the pull fails.
    pub fn pull(
        &self,
        reference: &str,
    ) -> impl Stream<Item = Result<PullProgress, DockerError>> + Send + use<> {
        let (image, tag) = match reference.rsplit_once(':') {
            Some((i, t)) if !t.contains('/') => (i.to_owned(), t.to_owned()),
            _ => (reference.to_owned(), "latest".to_owned()),
        };
        self.client()
            .create_image(
                Some(CreateImageOptions {
                    from_image: Some(image),
                    tag: Some(tag),
                    ..Default::default()
                }),
                None,
                None,
            )
            .map(|item| {
                let info = item.map_err(DockerError::from)?;
                if let Some(err) = info.error_detail.and_then(|d| d.message) {
                    return Err(DockerError::Api {
                        status: 500,
                        message: err,
                    });
                }
                Ok(PullProgress {
                    layer: info.id,
                    status: info.status.unwrap_or_default(),
                    current: info.progress_detail.as_ref().and_then(|p| p.current),
                    total: info.progress_detail.as_ref().and_then(|p| p.total),
                })
            })
    }

    pub async fn remove_image(&self, id: &str, force: bool) -> Result<Vec<String>, DockerError> {
        let removed = self
            .client()
            .remove_image(
                id,
                Some(RemoveImageOptions {
                    force,
                    ..Default::default()
                }),
                None,
            )
            .await?;
        Ok(removed
            .into_iter()
            .filter_map(|r| r.deleted.or(r.untagged))
            .collect())
    }

    /// Removes dangling images (with `all`, every image no container uses).
    pub async fn prune_images(&self, all: bool) -> Result<PruneReport, DockerError> {
        let filters =
            all.then(|| HashMap::from([("dangling".to_owned(), vec!["false".to_owned()])]));
        let r = self
            .client()
            .prune_images(Some(PruneImagesOptions { filters }))
            .await?;
        Ok(PruneReport {
            deleted: r
                .images_deleted
                .unwrap_or_default()
                .into_iter()
                .filter_map(|d| d.deleted.or(d.untagged))
                .collect(),
            space_reclaimed_bytes: r.space_reclaimed.unwrap_or(0),
        })
    }
}
