//! Deep-system census of nodes: latest, trigger, diff with the previous, list.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::Query;
use super::nodes::require_node;
use super::ts;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::fleet::CensusError;
use crate::state::AppState;
use crate::store::hosts::CensusSnapshot;

#[derive(Debug, Serialize, ToSchema)]
pub struct CensusView {
    pub id: String,
    pub node_id: String,
    pub ts: String,
    /// OS, kernel, CPU, memory, filesystems, interfaces, listening ports, packages, Docker,
    /// services, as the worker found them. Absent in lists.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

impl From<CensusSnapshot> for CensusView {
    fn from(c: CensusSnapshot) -> Self {
        Self {
            id: c.id,
            node_id: c.node_id,
            ts: ts(c.ts),
            data: c.data,
        }
    }
}

#[utoipa::path(get, path = "/api/nodes/{id}/census", tag = "census", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = CensusView), (status = 404, body = ErrorBody)))]
pub async fn latest(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<CensusView>> {
    let host = require_node(&state, &id).await?;
    let snap = state
        .store
        .hosts()
        .census(Some(&host.id), 1, true)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("no census yet; trigger one with POST"))?;
    Ok(web::Json(snap.into()))
}

/// Take a fresh census now (waits for the worker).
#[utoipa::path(post, path = "/api/nodes/{id}/census", tag = "census", params(("id" = String, Path, format = Uuid)),
    responses((status = 201, body = CensusView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn trigger(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let host = require_node(&state, &id).await?;
    match crate::fleet::refresh_census(&state, &host.id).await {
        Ok(snap) => Ok(HttpResponse::Created().json(CensusView::from(snap))),
        Err(CensusError::Command(f)) => Err(match f {
            contextbay_actors::CommandFailure::Timeout
            | contextbay_actors::CommandFailure::Owner { .. } => {
                ApiError::new(ErrorCode::ServiceUnavailable, f.to_string())
            }
            contextbay_actors::CommandFailure::UnknownNode => ApiError::not_found("node not found"),
            other => ApiError::conflict(other.to_string()),
        }),
        Err(e @ (CensusError::Remote { .. } | CensusError::Invalid(_))) => {
            Err(ApiError::new(ErrorCode::RemoteFailed, e.to_string()))
        }
        Err(CensusError::Store(e)) => Err(e.into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CensusDiff {
    pub from: CensusView,
    pub to: CensusView,
    /// `{path, value}` present only in the newer census.
    #[schema(value_type = Vec<Object>)]
    pub added: Vec<Value>,
    /// `{path, value}` present only in the older census.
    #[schema(value_type = Vec<Object>)]
    pub removed: Vec<Value>,
    /// `{path, from, to}`.
    #[schema(value_type = Vec<Object>)]
    pub changed: Vec<Value>,
}

/// The latest census against the one before it.
#[utoipa::path(get, path = "/api/nodes/{id}/census/diff", tag = "census", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = CensusDiff), (status = 404, body = ErrorBody)))]
pub async fn diff(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<CensusDiff>> {
    let host = require_node(&state, &id).await?;
    let mut two = state.store.hosts().census(Some(&host.id), 2, true).await?;
    if two.len() < 2 {
        return Err(ApiError::not_found(
            "a diff needs two censuses; trigger another with POST",
        ));
    }
    let older = two
        .pop()
        .ok_or_else(|| ApiError::internal("census vanished"))?;
    let newer = two
        .pop()
        .ok_or_else(|| ApiError::internal("census vanished"))?;
    let (added, removed, changed) = diff_values(&older.data, &newer.data);
    Ok(web::Json(CensusDiff {
        from: older.into(),
        to: newer.into(),
        added,
        removed,
        changed,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListCensus {
    /// Only this node's snapshots.
    #[param(format = Uuid)]
    pub node: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

/// Census snapshots (without their data), newest first, a page at a time.
#[utoipa::path(get, path = "/api/census", tag = "census", params(ListCensus), responses((status = 200, body = super::Paginated<CensusView>)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListCensus>,
) -> ApiResult<web::Json<super::Paginated<CensusView>>> {
    let page = super::PageQuery::page(query.limit, query.offset)?;
    let node = query
        .node
        .as_deref()
        .map(|n| super::parse_id("node", n).map_err(|e| e.with_field("node")))
        .transpose()?;
    let result = state
        .store
        .hosts()
        .census_page(node.as_deref(), page)
        .await?;
    Ok(web::Json(super::Paginated {
        items: result.items.into_iter().map(CensusView::from).collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Keys that identify an element of an array of objects, in order of preference.
const IDENTITY_KEYS: &[&str] = &["name", "mount", "iface", "unit", "id", "path", "address"];

/// Flattens JSON into `path → scalar`: objects by key, arrays of objects by an identity key
/// (`packages[name=curl].version`), arrays of scalars as sets (`addresses[10.0.0.2]`).
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let key = match item {
                    Value::Object(o) => IDENTITY_KEYS
                        .iter()
                        .find_map(|k| {
                            o.get(*k)
                                .filter(|v| !v.is_object() && !v.is_array())
                                .map(|v| format!("{k}={}", scalar(v)))
                        })
                        .or_else(|| match (o.get("proto"), o.get("port")) {
                            (Some(p), Some(port)) => {
                                Some(format!("{}:{}", scalar(p), scalar(port)))
                            }
                            _ => None,
                        })
                        .unwrap_or_else(|| i.to_string()),
                    Value::Array(_) => i.to_string(),
                    scalar_value => scalar(scalar_value),
                };
                let path = format!("{prefix}[{key}]");
                match item {
                    Value::Object(_) | Value::Array(_) => flatten(&path, item, out),
                    v => {
                        out.insert(path, v.clone());
                    }
                }
            }
        }
        v => {
            out.insert(prefix.to_owned(), v.clone());
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fields that change on every census and say nothing about the system.
fn is_volatile(path: &str) -> bool {
    [
        "collected_at",
        "uptime",
        "time",
        "duration_ms",
        "memory.available",
        "memory.free",
        "load",
    ]
    .iter()
    .any(|v| path.split(['.', '[']).any(|seg| seg.starts_with(v)) || path.contains(v))
}

pub fn diff_values(older: &Value, newer: &Value) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", older, &mut a);
    flatten("", newer, &mut b);
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (path, v) in &b {
        if is_volatile(path) {
            continue;
        }
        match a.get(path) {
            None => added.push(json!({"path": path, "value": v})),
            Some(old) if old != v => changed.push(json!({"path": path, "from": old, "to": v})),
            Some(_) => {}
        }
    }
    for (path, v) in &a {
        if !is_volatile(path) && !b.contains_key(path) {
            removed.push(json!({"path": path, "value": v}));
        }
    }
    (added, removed, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_matches_list_items_by_identity() {
        let old = json!({"kernel": "6.1", "packages": [{"name": "curl", "version": "7"}, {"name": "vim", "version": "9"}],
                         "addresses": ["10.0.0.2"], "ports": [{"proto": "tcp", "port": 22}], "uptime_secs": 5});
        let new = json!({"kernel": "6.2", "packages": [{"name": "vim", "version": "9"}, {"name": "curl", "version": "8"}, {"name": "jq", "version": "1"}],
                         "addresses": ["10.0.0.3"], "ports": [{"proto": "tcp", "port": 22}, {"proto": "tcp", "port": 80}], "uptime_secs": 99});
        let (added, removed, changed) = diff_values(&old, &new);
        let paths = |v: &Vec<Value>| {
            v.iter()
                .map(|x| x["path"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths(&changed),
            vec!["kernel", "packages[name=curl].version"]
        );
        assert_eq!(
            paths(&added),
            vec![
                "addresses[10.0.0.3]",
                "packages[name=jq].name",
                "packages[name=jq].version",
                "ports[tcp:80].port",
                "ports[tcp:80].proto"
            ]
        );
        assert_eq!(paths(&removed), vec!["addresses[10.0.0.2]"]);
    }
}
