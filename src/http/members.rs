//! Members: rosters per unit, searchable without diacritics, in Vietnamese order.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::auth::Caller;
use super::units::{ImportResult, import_rejected, visible_unit};
use super::{ApiJson, ApiPath, ApiQuery, Paging, text_field, ts};
use crate::app::AppState;
use crate::domain::{Category, parse_code, parse_name};
use crate::error::{AppError, AppResult};
use crate::store::members::{MemberFields, MemberFilter, MemberRecord};

/// A national roster (two million rows) fits.
pub const MEMBER_IMPORT_LIMIT: usize = 256 * 1024 * 1024;
pub const MEMBER_IMPORT_MAX_ROWS: usize = 3_000_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, create_member))
        .routes(routes!(get_member, update_member, delete_member))
        .routes(routes!(import_members).layer(DefaultBodyLimit::max(MEMBER_IMPORT_LIMIT)))
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub code: String,
    /// Unicode NFC.
    pub full_name: String,
    pub category: Category,
    /// The category in Vietnamese, e.g. "đảng viên".
    pub category_label: String,
    pub unit_code: String,
    pub unit_name: String,
    pub updated_at: chrono::DateTime<chrono::FixedOffset>,
}

impl From<&MemberRecord> for MemberView {
    fn from(m: &MemberRecord) -> Self {
        let category = Category::parse(&m.category).unwrap_or(Category::Guest);
        MemberView {
            code: m.code.clone(),
            full_name: m.full_name.clone(),
            category,
            category_label: category.label().to_string(),
            unit_code: m.unit_code.clone(),
            unit_name: m.unit_name.clone(),
            updated_at: ts(m.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberView>,
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Only this unit's roster…
    pub unit: Option<String>,
    /// …and, when true, its subunits' rosters too.
    pub subtree: Option<bool>,
    /// Name, diacritics optional ("nguyen van a"), or exact member code.
    pub q: Option<String>,
    pub category: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Members visible to the caller, sorted by given name in Vietnamese order.
#[utoipa::path(get, path = "/members", tag = "members", params(MemberQuery),
    responses((status = 200, body = MemberList), (status = 400, body = crate::error::ErrorEnvelope)))]
async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MemberQuery>,
) -> AppResult<Json<MemberList>> {
    let (limit, offset) = Paging {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve()?;
    let category = match q.category.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(Category::parse(c).ok_or_else(|| {
            AppError::invalid(
                "request.invalid_query",
                "category",
                format!(
                    "Đối tượng không hợp lệ. Dùng một trong: {}.",
                    Category::codes()
                ),
            )
        })?),
    };
    let query =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    if query.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(AppError::invalid(
            "request.invalid_query",
            "q",
            "Từ khóa tìm kiếm dài quá 100 ký tự.",
        ));
    }
    let mut filter = MemberFilter {
        query,
        category,
        limit,
        offset,
        ..Default::default()
    };
    if let Some(unit) = q.unit.as_deref().filter(|u| !u.is_empty()) {
        let unit = visible_unit(&state, &caller, unit)
            .await
            .map_err(|e| e.with_field("unit"))?;
        if q.subtree.unwrap_or(false) {
            filter.under_path = Some(unit.path);
        } else {
            filter.unit_id = Some(unit.id);
        }
    }
    let page = state.db().list_members(&caller.scope, &filter).await?;
    Ok(Json(MemberList {
        items: page.items.iter().map(MemberView::from).collect(),
        total: page.total,
    }))
}

async fn visible_member(state: &AppState, caller: &Caller, code: &str) -> AppResult<MemberRecord> {
    match state.db().member_by_code(code.trim()).await? {
        Some(m) if caller.scope.contains(&m.unit_path) => Ok(m),
        _ => Err(AppError::not_found(
            "member.not_found",
            format!("Không tìm thấy thành viên có mã \"{}\".", code.trim()),
        )),
    }
}

/// One member.
#[utoipa::path(get, path = "/members/{code}", tag = "members", params(("code" = String, Path)),
    responses((status = 200, body = MemberView), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
) -> AppResult<Json<MemberView>> {
    Ok(Json(MemberView::from(
        &visible_member(&state, &caller, &code).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    pub code: String,
    pub full_name: String,
    /// A category code (`party_member`…) or its Vietnamese label.
    pub category: String,
    pub unit_code: String,
}

fn parse_category(raw: &str) -> AppResult<Category> {
    Category::parse(raw).ok_or_else(|| {
        AppError::invalid(
            "member.category_invalid",
            "category",
            format!(
                "Đối tượng \"{raw}\" không hợp lệ. Dùng một trong: {}.",
                Category::codes()
            ),
        )
    })
}

/// Adds a member to a roster in the caller's scope.
#[utoipa::path(post, path = "/members", tag = "members", request_body = CreateMember,
    responses((status = 201, body = MemberView), (status = 400, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn create_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateMember>,
) -> AppResult<(StatusCode, Json<MemberView>)> {
    let code = parse_code(&req.code).map_err(text_field(
        "code",
        "member.code_invalid",
        "Mã thành viên",
    ))?;
    let full_name = parse_name(&req.full_name, 120).map_err(text_field(
        "full_name",
        "member.name_invalid",
        "Họ và tên",
    ))?;
    let category = parse_category(&req.category)?;
    let unit = visible_unit(&state, &caller, &req.unit_code)
        .await
        .map_err(|e| e.with_field("unit_code"))?;
    let fields = MemberFields {
        code: code.clone(),
        full_name,
        category,
        unit_id: unit.id,
    };
    match state.db().create_member(&fields).await {
        Ok(_) => {
            state.hub().rosters_changed();
            let member = state
                .db()
                .member_by_code(&code)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("member vanished")))?;
            Ok((StatusCode::CREATED, Json(MemberView::from(&member))))
        }
        Err(e) if crate::store::is_unique_violation(&e) => Err(AppError::conflict(
            "member.code_taken",
            format!("Mã thành viên \"{code}\" đã được dùng."),
        )
        .with_field("code")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    pub full_name: Option<String>,
    pub category: Option<String>,
    /// Move the member to another unit in the caller's scope.
    pub unit_code: Option<String>,
}

/// Edits a member.
#[utoipa::path(patch, path = "/members/{code}", tag = "members", params(("code" = String, Path)), request_body = UpdateMember,
    responses((status = 200, body = MemberView), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
    ApiJson(req): ApiJson<UpdateMember>,
) -> AppResult<Json<MemberView>> {
    let member = visible_member(&state, &caller, &code).await?;
    let full_name = match &req.full_name {
        Some(n) => parse_name(n, 120).map_err(text_field(
            "full_name",
            "member.name_invalid",
            "Họ và tên",
        ))?,
        None => member.full_name.clone(),
    };
    let category = match &req.category {
        Some(c) => parse_category(c)?,
        None => Category::parse(&member.category).unwrap_or(Category::Guest),
    };
    let unit_id = match &req.unit_code {
        Some(u) => {
            visible_unit(&state, &caller, u)
                .await
                .map_err(|e| e.with_field("unit_code"))?
                .id
        }
        None => member.unit_id,
    };
    state
        .db()
        .update_member(
            member.id,
            &MemberFields {
                code: member.code.clone(),
                full_name,
                category,
                unit_id,
            },
        )
        .await?;
    state.hub().rosters_changed();
    let member = state
        .db()
        .member_by_code(&member.code)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("member vanished")))?;
    Ok(Json(MemberView::from(&member)))
}

/// Removes a member from the roster.
#[utoipa::path(delete, path = "/members/{code}", tag = "members", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn delete_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
) -> AppResult<StatusCode> {
    let member = visible_member(&state, &caller, &code).await?;
    if state.db().delete_member(member.id).await? {
        state.hub().rosters_changed();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::conflict(
            "member.in_use",
            "Không thể xóa: thành viên đã có dữ liệu điểm danh.",
        ))
    }
}

/// Imports members from CSV (`member_code,full_name,category,unit_code`), all
/// or nothing. Existing codes are updated (name, category, unit).
#[utoipa::path(post, path = "/members/import", tag = "members",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResult), (status = 400, body = crate::error::ErrorEnvelope)))]
async fn import_members(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> AppResult<Json<ImportResult>> {
    // Reading and checking run on threads of their own, beside the writer.
    let report = state
        .db()
        .import_members_csv(body, MEMBER_IMPORT_MAX_ROWS, &caller.scope)
        .await?
        .map_err(import_rejected)?;
    tracing::info!(
        account = caller.account.id,
        created = report.created,
        updated = report.updated,
        "members imported"
    );
    super::audit::by_account(&state, &caller, "members.import", None,
        serde_json::json!({"rows": report.created + report.updated, "created": report.created, "updated": report.updated})).await;
    state.hub().rosters_changed();
    Ok(Json(ImportResult {
        created: report.created,
        updated: report.updated,
        ignored_columns: report.ignored_columns,
    }))
}
