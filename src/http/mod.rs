//! The REST API, the WebSocket, `/metrics` and the dashboard. One file per resource; every route
//! and the role it needs is declared once, in [`routes`].

pub mod activity;
pub mod audit;
pub mod auth;
pub mod census;
pub mod config;
pub mod container_streams;
pub mod containers;
pub mod dashboard;
pub mod endpoints;
pub mod enroll;
pub mod events_schema;
pub mod extract;
pub mod gate;
pub mod health;
pub mod hosts;
pub mod images;
pub mod keys;
pub mod metrics;
pub mod modules;
pub mod networks;
pub mod nodes;
pub mod notifications;
pub mod openapi;
pub mod operations;
pub mod routes;
pub mod services;
pub mod settings;
pub mod sockets;
pub mod stacks;
pub mod system;
pub mod topology;
pub mod transfer;
pub mod upgrade;
pub mod users;
pub mod volumes;
pub mod ws;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};
use serde::Deserialize;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::Page;

pub use crate::request_id::request_id;

/// JSON bodies: size limit and errors that name the problem.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            let api = match &err {
                JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("request body is {length} bytes; the limit is {limit}"),
                ),
                JsonPayloadError::Overflow { limit } => ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("request body is larger than the limit of {limit} bytes"),
                ),
                JsonPayloadError::ContentType => ApiError::new(
                    ErrorCode::InvalidJson,
                    "expected a JSON body with Content-Type: application/json",
                ),
                JsonPayloadError::Deserialize(e) => {
                    ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {e}"))
                }
                other => ApiError::new(
                    ErrorCode::InvalidJson,
                    format!("invalid JSON body: {other}"),
                ),
            };
            api.into()
        })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let detail = match &err {
            PathError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::bad_request(format!("invalid path parameter: {detail}")).into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let detail = match &err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::bad_request(format!("invalid query string: {detail}")).into()
    })
}

/// The largest `offset` of a list (far beyond any list, and exact in every client's numbers).
pub const MAX_OFFSET: i64 = 1_000_000_000_000_000;

fn offset_out_of_range() -> ApiError {
    ApiError::invalid_field(
        "offset",
        format!("offset must be between 0 and {MAX_OFFSET}"),
    )
}

/// `?offset=` of an endpoint-wide list: at most [`MAX_OFFSET`], default 0.
pub fn endpoints_page_offset(offset: Option<usize>) -> Result<usize, ApiError> {
    let offset = offset.unwrap_or(0);
    if i64::try_from(offset).is_ok_and(|o| o <= MAX_OFFSET) {
        Ok(offset)
    } else {
        Err(offset_out_of_range())
    }
}

/// `?limit=&offset=` with bounds: the paging parameters of every list, with the same names,
/// defaults and limits (lists with filters repeat these two fields with the same attributes).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(limit: Option<i64>, offset: Option<i64>) -> Result<Page, ApiError> {
        let limit = limit.unwrap_or(50);
        let offset = offset.unwrap_or(0);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                "limit must be between 1 and 500",
            ));
        }
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(offset_out_of_range());
        }
        Ok(Page { limit, offset })
    }
}

/// A page of results as every list endpoint returns it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> Paginated<T> {
    /// One page of a list: its `items` and the list's `total`.
    pub fn new(items: Vec<T>, total: i64, page: Page) -> Self {
        Self {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }

    /// The page `page` of a whole list held in memory (a short one: a user's keys, the
    /// endpoints), in the list's order.
    pub fn of_all(all: Vec<T>, page: Page) -> Self {
        let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(page.limit).unwrap_or(0);
        Self {
            items: all.into_iter().skip(skip).take(take).collect(),
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

/// An endpoint that did not answer while a list was gathered from several.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EndpointFailure {
    /// The endpoint's id.
    pub endpoint: String,
    /// Why it did not answer.
    pub error: String,
}

/// A page of a list gathered from every endpoint (containers, stacks, services, images,
/// volumes, networks), with the endpoints that did not answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EndpointsPage<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    /// The endpoints that did not answer (their items are missing from the page).
    #[schema(value_type = Vec<EndpointFailure>)]
    pub errors: Vec<serde_json::Value>,
}

/// `?limit=` of an endpoint-wide list: 1 to 500, default 50. Checked before the endpoints are
/// asked.
pub fn endpoints_page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    Ok(limit)
}

impl<T> EndpointsPage<T> {
    /// The page of the sorted, filtered `matching` after `offset`.
    pub fn new(
        matching: Vec<T>,
        limit: usize,
        offset: Option<usize>,
        errors: Vec<serde_json::Value>,
    ) -> Self {
        let total = matching.len();
        let offset = offset.unwrap_or(0);
        Self {
            items: matching.into_iter().skip(offset).take(limit).collect(),
            total,
            limit,
            offset,
            errors,
        }
    }
}

/// RFC 3339 for stored milliseconds.
pub fn ts(ms: i64) -> String {
    contextbay_actors::rfc3339_from_millis(ms)
}

/// Parses `RFC 3339` or Unix milliseconds from a query parameter.
pub fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
        .map_err(|_| {
            ApiError::invalid_field(
                name,
                format!("{name} must be RFC 3339 or Unix milliseconds"),
            )
        })
}

/// The client address as the TCP peer sees it.
pub fn peer_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.config.server.trusted_proxies.as_slice())
        .unwrap_or_default();
    Some(client_ip(peer, trusted, req.headers()).to_string())
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left
/// are whatever the client chose to send). A malformed entry ends the walk at the last address
/// believed.
fn client_ip(
    peer: std::net::IpAddr,
    trusted: &[crate::config::TrustedProxy],
    headers: &actix_web::http::header::HeaderMap,
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several headers are one list, in order (RFC 9110 5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<std::net::IpAddr> {
    hop.parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// Parses an id as a UUID in its hyphenated form (OpenAPI's `format: uuid`; the braced, URN
/// and simple forms are refused), with a 400 that names it.
pub fn parse_id(kind: &str, raw: &str) -> Result<String, ApiError> {
    (raw.len() == 36)
        .then(|| uuid::Uuid::parse_str(raw).ok())
        .flatten()
        .map(|u| u.to_string())
        .ok_or_else(|| ApiError::bad_request(format!("invalid {kind} id '{raw}': expected a UUID")))
}

/// Parses the `{id}` path parameter as a UUID: a 400 naming it (`field: "id"`).
pub fn parse_path_id(kind: &str, raw: &str) -> Result<String, ApiError> {
    parse_id(kind, raw).map_err(|e| e.with_field("id"))
}

/// Checks a Docker object reference from a path (an id or a name: letters, digits, `_`, `.`, `-`,
/// at most 128 characters), with a 400 that names the kind.
pub fn check_docker_ref(kind: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(ApiError::bad_request(format!(
            "invalid {kind} id or name '{id}'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod client_ip_tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn believes_forwarded_for_only_from_trusted_proxies() {
        let proxy: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = ["10.0.0.0/24".parse().unwrap()];
        let h = headers(&["6.6.6.6, 1.2.3.4", "10.0.0.9"]);
        // Not trusted: the header is ignored.
        assert_eq!(client_ip(proxy, &[], &h), proxy);
        let stranger = "5.5.5.5".parse().unwrap();
        assert_eq!(client_ip(stranger, &trusted, &h), stranger);
        // Trusted: the right-most entry that is not a proxy; the spoofed 6.6.6.6 is not used.
        assert_eq!(client_ip(proxy, &trusted, &h).to_string(), "1.2.3.4");
        assert_eq!(
            client_ip(proxy, &trusted, &headers(&["[2001:db8::1]:443"])).to_string(),
            "2001:db8::1"
        );
        assert_eq!(client_ip(proxy, &trusted, &headers(&["garbage"])), proxy);
        assert_eq!(client_ip(proxy, &trusted, &HeaderMap::new()), proxy);
    }
}
