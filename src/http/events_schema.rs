//! `GET /api/events/schema`: the event catalogue, every kind with its payload schema.

use actix_web::web;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::events;

#[derive(Debug, Serialize, ToSchema)]
pub struct EventKindView {
    /// The event's `type`, also its topic on `/api/ws`.
    pub kind: &'static str,
    /// The least role that receives it.
    pub role: Role,
    pub description: &'static str,
    /// The name of the payload schema (as in the OpenAPI document's `components.schemas`).
    pub schema_name: String,
    /// The payload's JSON schema; `$ref`s point into `schemas`.
    #[schema(value_type = Object)]
    pub schema: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventCatalogue {
    pub items: Vec<EventKindView>,
    /// The schemas payloads refer to, by name.
    #[schema(value_type = Object)]
    pub schemas: serde_json::Map<String, Value>,
}

/// Every event kind the master publishes, with its payload schema and the role needed to
/// receive it. A kind not listed here reaches admins only.
#[utoipa::path(get, path = "/api/events/schema", tag = "events", responses((status = 200, body = EventCatalogue)))]
pub async fn catalogue() -> web::Json<EventCatalogue> {
    web::Json(build())
}

fn build() -> EventCatalogue {
    let mut schemas = serde_json::Map::new();
    let items = events::catalogue()
        .iter()
        .map(|d| {
            let mut deps = Vec::new();
            (d.dependencies)(&mut deps);
            for (name, schema) in deps {
                schemas
                    .entry(name)
                    .or_insert_with(|| serde_json::to_value(schema).unwrap_or_default());
            }
            EventKindView {
                kind: d.kind,
                role: d.role,
                description: d.about,
                schema_name: (d.schema_name)().into_owned(),
                schema: serde_json::to_value((d.schema)()).unwrap_or_default(),
            }
        })
        .collect();
    EventCatalogue { items, schemas }
}
