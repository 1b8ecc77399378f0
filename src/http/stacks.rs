//! `/api/stacks`: compose projects. A stored stack is a compose file + env kept by the master and
//! run with the compose CLI on its endpoint's host (`deploy` = `up -d --remove-orphans`, `stop`,
//! `remove` = `down`). Projects found running on an endpoint (by their `com.docker.compose.*`
//! labels) that are not stored are listed with `discovered: true` and id `<endpoint>:<project>`,
//! and can be adopted with `POST /api/stacks {"adopt": "<project>", "endpoint": "<id>"}`.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::containers::{ContainerView, gather};
use super::extract::{Body, Query};
use super::operations::OperationView;
use super::{EndpointsPage, endpoints_page_limit};
use crate::auth::{Principal, Role};
use crate::docker::compose::{self, ComposeAction, ProjectFiles};
use crate::docker::containers::ContainerInfo;
use crate::docker::ops::DockerOp;
use crate::endpoints::{self, EndpointRef};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::stacks::{self, StackError};
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;
use crate::store::stacks::{NewStack, Stack};
use contextbay_actors::SubmitError;

/// The stack domain's errors in the error table's terms.
impl From<StackError> for ApiError {
    fn from(e: StackError) -> Self {
        match e {
            StackError::NotFound(_) => ApiError::not_found(e.to_string()),
            StackError::Discovered { .. } => ApiError::conflict(e.to_string()),
            StackError::Invalid(m) => ApiError::bad_request(m),
            StackError::Refused(m) => ApiError::forbidden(m),
            StackError::Busy(s) => s.into(),
            StackError::ComposeFailed { .. } => {
                ApiError::new(ErrorCode::RemoteFailed, e.to_string())
            }
            // A failed compose run (or an endpoint that failed it) is the remote's failure; a
            // cancelled or interrupted one is a conflict with whoever stopped it.
            StackError::Ended {
                state: contextbay_actors::JobState::Failed,
                ..
            } => ApiError::new(ErrorCode::RemoteFailed, e.to_string()),
            StackError::Ended { .. } => ApiError::conflict(e.to_string()),
            StackError::Unavailable(m) => ApiError::new(ErrorCode::ServiceUnavailable, m),
            StackError::Store(s) => s.into(),
            StackError::Endpoint(a) => a.into(),
        }
    }
}

/// One compose service of a stack, as its containers show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StackServiceView {
    pub name: String,
    pub containers: usize,
    pub running: usize,
}

/// A stack: stored (or adopted), or discovered on an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StackView {
    /// A UUID for stored stacks; `<endpoint>:<project>` for discovered ones.
    pub id: String,
    /// The compose project name.
    pub name: String,
    pub endpoint: EndpointRef,
    /// `running` (every container runs), `partial`, `stopped` (containers exist, none runs),
    /// `stored` (no containers: never deployed, or removed), `unknown` (endpoint unreachable).
    pub status: String,
    /// Running on the endpoint but not stored: read-only until adopted.
    pub discovered: bool,
    pub adopted: bool,
    pub services: Vec<StackServiceView>,
    pub containers: usize,
    pub running: usize,
    /// From the containers' labels (where the project was started from).
    pub working_dir: Option<String>,
    pub config_files: Vec<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// A stack with its compose file and env (env values are masked for viewers).
#[derive(Debug, Serialize, ToSchema)]
pub struct StackDetail {
    #[serde(flatten)]
    pub stack: StackView,
    /// `None` for discovered stacks (adopt them to read their file).
    pub compose: Option<String>,
    pub env: BTreeMap<String, String>,
    /// Where compose resolves relative paths, when not the stack's own directory on its host
    /// (adopted stacks: where the project was started).
    pub project_dir: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListStacks {
    pub endpoint: Option<String>,
    /// Substring of the name.
    pub name: Option<String>,
    /// `running`, `partial`, `stopped`, `stored`, `unknown`.
    pub status: Option<String>,
    /// Only discovered (true) or only stored (false) stacks.
    pub discovered: Option<bool>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<usize>,
}

/// Create a stack, or adopt a compose project found on the endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStack {
    /// The compose project name (lowercase letters, digits, `_`, `-`).
    pub name: Option<String>,
    /// Default: the local endpoint.
    pub endpoint: Option<String>,
    /// The compose file (YAML with a non-empty `services` map).
    pub compose: Option<String>,
    /// Written as `.env` next to the compose file.
    pub env: Option<BTreeMap<String, String>>,
    /// Adopt this running compose project instead (its files are read from the host when
    /// readable); `name`, `compose` and `env` must then be absent.
    pub adopt: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStack {
    /// Must equal the current name if given: a stack cannot be renamed.
    pub name: Option<String>,
    pub compose: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Run `down` first when the stack still has containers (else 409).
    #[serde(default)]
    pub force: bool,
    /// With `force`: remove the project's named volumes too.
    #[serde(default)]
    pub volumes: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActionQuery {
    /// `remove` only: `down -v`, removing the project's volumes too.
    #[serde(default)]
    pub volumes: bool,
}

/// The containers of each compose project, by (endpoint id, project).
pub fn by_project(containers: &[ContainerView]) -> BTreeMap<(String, String), Vec<&ContainerView>> {
    let mut out: BTreeMap<(String, String), Vec<&ContainerView>> = BTreeMap::new();
    for c in containers {
        if let Some(p) = &c.container.compose_project {
            out.entry((c.endpoint.id.clone(), p.clone()))
                .or_default()
                .push(c);
        }
    }
    out
}

fn view(
    id: String,
    name: &str,
    endpoint: EndpointRef,
    declared: &[String],
    containers: Option<&[&ContainerView]>,
) -> StackView {
    let list: Vec<&ContainerInfo> = containers
        .unwrap_or_default()
        .iter()
        .map(|c| &c.container)
        .collect();
    let mut names: BTreeSet<String> = declared.iter().cloned().collect();
    names.extend(list.iter().filter_map(|c| c.compose_service.clone()));
    let services = names
        .into_iter()
        .map(|s| {
            let of: Vec<_> = list
                .iter()
                .filter(|c| c.compose_service.as_deref() == Some(s.as_str()))
                .collect();
            StackServiceView {
                containers: of.len(),
                running: of.iter().filter(|c| c.state == "running").count(),
                name: s,
            }
        })
        .collect();
    let label = |k: &str| list.iter().find_map(|c| c.labels.get(k).cloned());
    StackView {
        id,
        name: name.to_owned(),
        endpoint,
        status: if containers.is_some() {
            stacks::status_of(list.iter().copied())
        } else {
            "unknown".into()
        },
        discovered: false,
        adopted: false,
        services,
        containers: list.len(),
        running: list.iter().filter(|c| c.state == "running").count(),
        working_dir: label(compose::WORKING_DIR_LABEL),
        config_files: label(compose::CONFIG_FILES_LABEL)
            .map(|f| f.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        created_at: None,
        updated_at: None,
    }
}

/// The endpoint ref for an id, even when the endpoint has been deleted since.
fn endpoint_ref(known: &[StoredEndpoint], id: &str) -> EndpointRef {
    known.iter().find(|e| e.id == id).map_or_else(
        || EndpointRef {
            id: id.to_owned(),
            name: id.to_owned(),
            kind: "unknown".into(),
            node_id: None,
        },
        EndpointRef::from,
    )
}

fn stored_view(
    s: &Stack,
    known: &[StoredEndpoint],
    groups: &BTreeMap<(String, String), Vec<&ContainerView>>,
    answered: &BTreeSet<String>,
) -> StackView {
    let empty = Vec::new();
    let containers = answered.contains(&s.endpoint).then(|| {
        groups
            .get(&(s.endpoint.clone(), s.name.clone()))
            .unwrap_or(&empty)
            .as_slice()
    });
    let declared = compose::validate_compose(&s.compose).unwrap_or_default();
    let mut v = view(
        s.id.clone(),
        &s.name,
        endpoint_ref(known, &s.endpoint),
        &declared,
        containers,
    );
    v.adopted = s.adopted;
    v.created_at = Some(s.created_at);
    v.updated_at = Some(s.updated_at);
    v
}

/// Every stack, stored and discovered, on `only` or on every endpoint.
async fn all_stacks(
    state: &AppState,
    only: Option<&str>,
) -> ApiResult<(Vec<StackView>, Vec<Value>)> {
    let (containers, errors) = gather(state, only, true).await?;
    let known = endpoints::all(state).await?;
    let failed: BTreeSet<String> = errors
        .iter()
        .filter_map(|e| e["endpoint"].as_str().map(str::to_owned))
        .collect();
    let answered: BTreeSet<String> = known
        .iter()
        .filter(|e| only.is_none_or(|o| o == e.id) && !failed.contains(&e.id))
        .map(|e| e.id.clone())
        .collect();
    let groups = by_project(&containers);
    let stored: Vec<Stack> = state
        .store
        .stacks()
        .list()
        .await?
        .into_iter()
        .filter(|s| only.is_none_or(|o| o == s.endpoint))
        .collect();
    let mut items: Vec<StackView> = stored
        .iter()
        .map(|s| stored_view(s, &known, &groups, &answered))
        .collect();
    for ((endpoint, project), list) in &groups {
        if stored
            .iter()
            .any(|s| &s.endpoint == endpoint && &s.name == project)
        {
            continue;
        }
        let mut v = view(
            format!("{endpoint}:{project}"),
            project,
            endpoint_ref(&known, endpoint),
            &[],
            Some(list),
        );
        v.discovered = true;
        items.push(v);
    }
    Ok((items, errors))
}

#[utoipa::path(get, path = "/api/stacks", tag = "stacks", params(ListStacks),
    responses((status = 200, body = EndpointsPage<StackView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListStacks>,
) -> ApiResult<web::Json<EndpointsPage<StackView>>> {
    let q = query.into_inner();
    let limit = endpoints_page_limit(q.limit)?;
    let (all, errors) = all_stacks(&state, q.endpoint.as_deref()).await?;
    let mut matching: Vec<StackView> = all
        .into_iter()
        .filter(|s| {
            q.name.as_deref().is_none_or(|n| s.name.contains(n))
                && q.status.as_deref().is_none_or(|st| s.status == st)
                && q.discovered.is_none_or(|d| s.discovered == d)
        })
        .collect();
    matching.sort_by(|a, b| a.name.cmp(&b.name).then(a.endpoint.id.cmp(&b.endpoint.id)));
    Ok(web::Json(EndpointsPage::new(
        matching, limit, q.offset, errors,
    )))
}

fn mask(env: BTreeMap<String, String>, principal: &Principal) -> BTreeMap<String, String> {
    if principal.has(Role::Operator) {
        env
    } else {
        env.into_keys().map(|k| (k, "********".into())).collect()
    }
}

async fn detail(state: &AppState, s: Stack, principal: &Principal) -> ApiResult<StackDetail> {
    let known = endpoints::all(state).await?;
    let mut answered = BTreeSet::new();
    let mut containers = Vec::new();
    if let Ok(e) = endpoints::get(state, &s.endpoint).await
        && let Ok((list, _)) = gather(state, Some(&e.id), true).await
    {
        answered.insert(e.id.clone());
        containers = list;
    }
    let groups = by_project(&containers);
    Ok(StackDetail {
        stack: stored_view(&s, &known, &groups, &answered),
        compose: Some(s.compose),
        env: mask(s.env, principal),
        project_dir: s.project_dir,
    })
}

fn check_name(name: &str) -> ApiResult<()> {
    compose::validate_project_name(name).map_err(ApiError::bad_request)
}

#[utoipa::path(post, path = "/api/stacks", tag = "stacks", request_body = CreateStack,
    responses((status = 201, body = StackDetail), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<CreateStack>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    if let Some(project) = b.adopt {
        return adopt(
            &state, &principal, project, b.name, b.endpoint, b.compose, b.env,
        )
        .await;
    }
    let name = b
        .name
        .ok_or_else(|| ApiError::bad_request("name: required (or 'adopt' to adopt a project)"))?;
    check_name(&name)?;
    let text = b
        .compose
        .ok_or_else(|| ApiError::bad_request("compose: required"))?;
    compose::validate_compose(&text).map_err(ApiError::bad_request)?;
    let env = b.env.unwrap_or_default();
    compose::validate_env(&env).map_err(ApiError::bad_request)?;
    let e = endpoints::get(&state, b.endpoint.as_deref().unwrap_or(endpoints::LOCAL)).await?;
    if state.store.stacks().find(&e.id, &name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a stack named '{name}' already exists on endpoint '{}'",
            e.name
        )));
    }
    // A project of that name already running there would be taken over silently by a deploy.
    if let Ok(running) = stacks::project_containers(&state, &e, &name).await
        && !running.is_empty()
    {
        return Err(ApiError::conflict(format!(
            "a compose project named '{name}' already runs on endpoint '{}'; adopt it with \
             {{\"adopt\": \"{name}\"}} instead",
            e.name
        )));
    }
    let stack = state
        .store
        .stacks()
        .create(&NewStack {
            name,
            endpoint: e.id.clone(),
            compose: text,
            env,
            adopted: false,
            status: "stored".into(),
            project_dir: None,
        })
        .await?;
    state
        .events
        .publish_committed(stacks::stack_event(&stack, &stack.status))
        .await;
    let d = detail(&state, stack, &principal).await?;
    Ok(HttpResponse::Created().json(d))
}

/// `POST /api/stacks {"adopt": …}`: stores a running project with the files it was made from.
async fn adopt(
    state: &AppState,
    principal: &Principal,
    project: String,
    name: Option<String>,
    endpoint: Option<String>,
    compose_text: Option<String>,
    env: Option<BTreeMap<String, String>>,
) -> ApiResult<HttpResponse> {
    compose::validate_project_name(&project)
        .map_err(|m| ApiError::bad_request(m.replacen("name:", "adopt:", 1)))?;
    if name.as_ref().is_some_and(|n| *n != project) {
        return Err(ApiError::bad_request(
            "name: an adopted stack keeps its project name; leave 'name' out",
        ));
    }
    if compose_text.is_some() || env.is_some() {
        return Err(ApiError::bad_request(
            "compose: not allowed with 'adopt' (the project's own files are used); update the stack afterwards",
        ));
    }
    let e = endpoints::get(state, endpoint.as_deref().unwrap_or(endpoints::LOCAL)).await?;
    if state.store.stacks().find(&e.id, &project).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a stack named '{project}' is already stored on endpoint '{}'",
            e.name
        )));
    }
    let files: ProjectFiles = endpoints::call_as(
        state,
        &e,
        DockerOp::ComposeProjectFiles {
            project: project.clone(),
        },
    )
    .await?;
    // Variables that could not be written back as `.env` are left out rather than refused.
    let env: BTreeMap<String, String> = files
        .env
        .iter()
        .filter(|(k, v)| {
            compose::validate_env(&BTreeMap::from([((*k).clone(), (*v).clone())])).is_ok()
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let status = stacks::status_of(&stacks::project_containers(state, &e, &project).await?);
    let stack = state
        .store
        .stacks()
        .create(&NewStack {
            name: project,
            endpoint: e.id.clone(),
            compose: files.compose.clone(),
            env,
            adopted: true,
            status,
            // Files read from the host: keep resolving their relative paths where they did.
            project_dir: if files.reconstructed {
                None
            } else {
                files.working_dir.clone()
            },
        })
        .await?;
    state
        .events
        .publish_committed(stacks::stack_event(&stack, &stack.status))
        .await;
    let d = detail(state, stack, principal).await?;
    let mut body = serde_json::to_value(&d).map_err(ApiError::internal)?;
    body["adoption"] = json!({
        "reconstructed": files.reconstructed,
        "note": files.note,
        "working_dir": files.working_dir,
        "config_files": files.config_files,
    });
    Ok(HttpResponse::Created().json(body))
}

#[utoipa::path(get, path = "/api/stacks/{id}", tag = "stacks", params(("id" = String, Path)),
    responses((status = 200, body = StackDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<StackDetail>> {
    if let Some((endpoint, project)) = id.split_once(':') {
        let (all, _) = all_stacks(&state, Some(endpoint)).await?;
        let found = all
            .into_iter()
            .find(|s| s.discovered && s.name == project)
            .ok_or_else(|| ApiError::not_found(format!("no stack '{id}'")))?;
        return Ok(web::Json(StackDetail {
            stack: found,
            compose: None,
            env: BTreeMap::new(),
            project_dir: None,
        }));
    }
    let s = stacks::stored(&state, &id).await?;
    Ok(web::Json(detail(&state, s, &principal).await?))
}

/// Replaces the compose file and/or env; a deployed stack keeps running what it ran until the
/// next `deploy`.
#[utoipa::path(put, path = "/api/stacks/{id}", tag = "stacks", params(("id" = String, Path)), request_body = UpdateStack,
    responses((status = 200, body = StackDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<UpdateStack>,
) -> ApiResult<web::Json<StackDetail>> {
    let b = body.into_inner();
    let s = stacks::stored(&state, &id).await?;
    if b.name.as_ref().is_some_and(|n| *n != s.name) {
        return Err(ApiError::bad_request(
            "name: a stack cannot be renamed (its containers belong to the project name); create a new stack",
        ));
    }
    if b.compose.is_none() && b.env.is_none() {
        return Err(ApiError::bad_request(
            "nothing to update: give 'compose' and/or 'env'",
        ));
    }
    let text = b.compose.unwrap_or(s.compose);
    compose::validate_compose(&text).map_err(ApiError::bad_request)?;
    let env = b.env.unwrap_or(s.env);
    compose::validate_env(&env).map_err(ApiError::bad_request)?;
    let updated = state.store.stacks().update(&s.id, &text, &env).await?;
    state
        .events
        .publish_committed(stacks::stack_event(&updated, &updated.status))
        .await;
    Ok(web::Json(detail(&state, updated, &principal).await?))
}

#[utoipa::path(delete, path = "/api/stacks/{id}", tag = "stacks", params(("id" = String, Path), DeleteQuery),
    responses((status = 204), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "it still has containers and force is not set, or an operation runs on it")))]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    query: Query<DeleteQuery>,
) -> ApiResult<HttpResponse> {
    let s = stacks::stored(&state, &id).await?;
    let resource = stacks::resource_of(&s.id);
    if let Some(running) = state
        .jobs
        .active()
        .await
        .map_err(|e| ApiError::new(ErrorCode::ServiceUnavailable, e.to_string()))?
        .into_iter()
        .find(|j| j.resource == resource)
    {
        return Err(SubmitError::Busy(Box::new(running)).into());
    }
    let e = endpoints::get(&state, &s.endpoint).await?;
    let left = stacks::project_containers(&state, &e, &s.name).await?;
    if !left.is_empty() {
        if !query.force {
            return Err(ApiError::conflict(format!(
                "stack '{}' still has {} container(s) on endpoint '{}'; remove it first \
                 (POST /api/stacks/{}/remove) or delete with ?force=true",
                s.name,
                left.len(),
                e.name,
                s.id
            )));
        }
        let action = ComposeAction::Remove {
            volumes: query.volumes,
        };
        // Only a run that succeeded comes back: a failed one is an error (502 for the CLI).
        stacks::run_to_end(
            &state,
            s.clone(),
            e.clone(),
            "remove",
            action,
            Some(principal.username.clone()),
        )
        .await?;
    }
    stacks::delete_files(&state, &s, &e).await;
    state.store.stacks().delete(&s.id).await?;
    state
        .events
        .publish_committed(stacks::stack_event(&s, "deleted"))
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/stacks/{id}/{action}`'s answer: the operation that runs the action.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationAccepted {
    pub operation: OperationView,
}

/// deploy (`up -d --remove-orphans`), stop, remove (`down`; `?volumes=true` adds `-v`), as an
/// operation: answers `202` with it (and its address in `Location`) as soon as it runs (for a
/// deploy: once the endpoint's security policy accepted it). Output is published as
/// `stack.progress`, state changes as `operation.update`; the operation's `result` is the
/// [`ActionResult`] and a non-zero exit of the compose CLI ends it `failed`.
#[utoipa::path(post, path = "/api/stacks/{id}/{action}", tag = "stacks",
    params(("id" = String, Path), ("action" = String, Path), ActionQuery),
    responses((status = 202, body = OperationAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "the endpoint's security policy refuses the deploy"),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "another operation runs on the stack (named in the message)")))]
pub async fn action(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    query: Query<ActionQuery>,
) -> ApiResult<HttpResponse> {
    let (id, name) = path.into_inner();
    let action = stacks::parse_action(&name, query.volumes)?;
    let s = stacks::stored(&state, &id).await?;
    let e = endpoints::get(&state, &s.endpoint).await?;
    let job = stacks::start_action(&state, s, e, &name, action, Some(principal.username)).await?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/operations/{}", job.id)))
        .json(OperationAccepted {
            operation: job.into(),
        }))
}
