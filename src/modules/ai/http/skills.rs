//! `GET /api/ai/skills` and `GET /api/ai/skills/{id}`: the built-in skills and those of the
//! `skills_dir` directory (`modules/ai/skills`). Running one (`POST /api/ai/skills/{id}/run`)
//! creates an AI task from `skills::seed`.

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::Query;
use crate::http::{PageQuery, Paginated};
use crate::modules::ai::skills::{self, Skill, SkillDetail, SkillProblem};
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
