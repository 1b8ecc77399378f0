//! `GET /api/ai/skills` and `GET /api/ai/skills/{id}`: the built-in skills and those of the
//! `skills_dir` directory (`modules/ai/skills`). Running one (`POST /api/ai/skills/{id}/run`)
//! creates an AI task from `skills::seed`.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated};
use crate::modules::ai::skills::{self, Skill, SkillDetail, SkillProblem};
use crate::modules::ai::tasks::{self, NewTask, TaskView};
use crate::modules::ai::tools::Caller;
use crate::state::AppState;

/// A page of skills, and what was skipped while reading the directory (an unreadable directory,
/// a folder without a valid `SKILL.md`, a link): the list never fails because of them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AiSkillsPage)]
pub struct SkillsPage {
    pub items: Vec<Skill>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub problems: Vec<SkillProblem>,
}

/// Built-in skills first, then the directory's by id.
#[utoipa::path(get, path = "/api/ai/skills", tag = "ai", params(PageQuery),
    responses((status = 200, body = SkillsPage), (status = 400, body = ErrorBody)))]
pub async fn skills_list(
    state: web::Data<AppState>,
    q: Query<PageQuery>,
) -> ApiResult<web::Json<SkillsPage>> {
    let q = q.into_inner();
    let page = PageQuery::page(q.limit, q.offset)?;
    let catalogue = skills::catalogue(&state).await?;
    let all: Vec<Skill> = catalogue.skills.into_iter().map(|s| s.skill).collect();
    let Paginated {
        items,
        total,
        limit,
        offset,
    } = Paginated::of_all(all, page);
    Ok(web::Json(SkillsPage {
        items,
        total,
        limit,
        offset,
        problems: catalogue.problems,
    }))
}

/// A skill with its instructions and the other files of its folder (path and size).
#[utoipa::path(get, path = "/api/ai/skills/{id}", tag = "ai",
    params(("id" = String, Path, pattern = r"^[a-z0-9-]{1,64}$")),
    responses((status = 200, body = SkillDetail), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn skills_get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<SkillDetail>> {
    Ok(web::Json(skills::get(&state, &id).await?))
}

/// What to run a skill on.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiSkillRun)]
pub struct RunSkill {
    /// What the skill should work on (a container's name, a compose file, a question); added
    /// after the skill's instructions.
    #[serde(default)]
    #[schema(max_length = 100_000)]
    pub input: Option<String>,
    /// The mode of the task; absent: the skill's own (`mode` in its front matter), else
    /// `supervised`.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub mode: Option<String>,
    /// `provider/model` or a model id; absent: the router chooses.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub model: Option<String>,
    /// The conversation the task joins.
    #[serde(default)]
    pub conversation_id: Option<uuid::Uuid>,
    /// The session the task is a turn of.
    #[serde(default)]
    pub session_id: Option<uuid::Uuid>,
}

/// Runs a skill: an AI task whose prompt is the skill's instructions followed by `input`,
/// created as `POST /api/ai/tasks` creates one (same mode, role and limit rules).
#[utoipa::path(post, path = "/api/ai/skills/{id}/run", tag = "ai",
    params(("id" = String, Path, pattern = r"^[a-z0-9-]{1,64}$")),
    request_body = RunSkill,
    responses((status = 201, body = TaskView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "A provider failed while the model was checked"),
        (status = 503, body = ErrorBody, description = "No AI provider is configured")))]
pub async fn skills_run(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<RunSkill>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let seed = skills::seed(&state, &id, b.input.as_deref().unwrap_or("")).await?;
    let request = NewTask {
        prompt: seed.prompt,
        mode: b.mode.or(seed.mode_hint),
        model: b.model,
        conversation_id: b.conversation_id,
        limits: None,
        session_id: b.session_id,
    };
    let task = tasks::create(&state, &Caller::from(&principal), request).await?;
    Ok(HttpResponse::Created().json(task))
}
