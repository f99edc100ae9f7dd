//! Units: the tree, one unit, and CSV import.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::auth::Caller;
use super::{ApiJson, ApiPath, ApiQuery, Paging, text_field};
use crate::app::AppState;
use crate::domain::import::{self, LineProblem};
use crate::domain::{Category, UnitKind, parse_code, parse_name};
use crate::error::{AppError, AppResult};
use crate::store::Scope;
use crate::store::units::{UnitFields, UnitFilter, UnitRecord};

/// Largest units file: 10,000 rows fit many times over.
pub const UNIT_IMPORT_LIMIT: usize = 16 * 1024 * 1024;
pub const UNIT_IMPORT_MAX_ROWS: usize = 100_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_units, create_unit))
        .routes(routes!(get_unit, update_unit, delete_unit))
        .routes(routes!(import_units).layer(DefaultBodyLimit::max(UNIT_IMPORT_LIMIT)))
}

/// Expected head count per category, for units without a roster.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCounts {
    pub cadre: Option<i64>,
    pub party_member: Option<i64>,
    pub civil_servant: Option<i64>,
    pub public_employee: Option<i64>,
    pub worker: Option<i64>,
    pub guest: Option<i64>,
}

impl ExpectedCounts {
    fn from_array(a: [Option<i64>; 6]) -> Self {
        let [
            cadre,
            party_member,
            civil_servant,
            public_employee,
            worker,
            guest,
        ] = a;
        ExpectedCounts {
            cadre,
            party_member,
            civil_servant,
            public_employee,
            worker,
            guest,
        }
    }

    fn to_array(&self) -> AppResult<[Option<i64>; 6]> {
        let a = [
            self.cadre,
            self.party_member,
            self.civil_servant,
            self.public_employee,
            self.worker,
            self.guest,
        ];
        for (value, category) in a.iter().zip(Category::ALL) {
            if let Some(n) = value
                && !(0..=10_000_000).contains(n)
            {
                return Err(AppError::invalid(
                    "unit.expected_invalid",
                    &format!("expected.{}", category.code()),
                    format!("Số dự kiến {} phải từ 0 đến 10.000.000.", category.label()),
                ));
            }
        }
        Ok(a)
    }
}

#[derive(Serialize, ToSchema)]
pub struct UnitView {
    /// Official or local code; text, leading zeros kept.
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    /// The kind in Vietnamese, e.g. "xã".
    pub kind_label: String,
    pub parent_code: Option<String>,
    /// 0 for a root unit.
    pub depth: i64,
    pub expected: ExpectedCounts,
    pub child_count: i64,
    /// Members on this unit's own roster (not its subunits').
    pub member_count: i64,
}

impl From<&UnitRecord> for UnitView {
    fn from(u: &UnitRecord) -> Self {
        let kind = UnitKind::parse(&u.kind).unwrap_or(UnitKind::Other);
        UnitView {
            code: u.code.clone(),
            name: u.name.clone(),
            kind,
            kind_label: kind.label().to_string(),
            parent_code: u.parent_code.clone(),
            depth: u.depth,
            expected: ExpectedCounts::from_array(u.expected()),
            child_count: u.child_count,
            member_count: u.member_count,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UnitList {
    pub items: Vec<UnitView>,
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    /// List the children of this unit.
    pub parent: Option<String>,
    /// Search by name (diacritics optional) or exact code, in the whole scope.
    pub q: Option<String>,
    pub kind: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Units visible to the caller. Without `parent` or `q`: the top of the
/// caller's tree (roots for organizers, the manager's own unit otherwise).
#[utoipa::path(get, path = "/units", tag = "units", params(UnitQuery),
    responses((status = 200, body = UnitList), (status = 400, body = crate::error::ErrorEnvelope)))]
async fn list_units(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UnitQuery>,
) -> AppResult<Json<UnitList>> {
    let (limit, offset) = Paging {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve()?;
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(UnitKind::parse(k).ok_or_else(|| {
            AppError::invalid(
                "request.invalid_query",
                "kind",
                format!(
                    "Loại đơn vị không hợp lệ. Dùng một trong: {}.",
                    UnitKind::codes()
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
    let mut filter = UnitFilter {
        query,
        kind,
        limit,
        offset,
        ..Default::default()
    };
    match q.parent.as_deref().filter(|p| !p.is_empty()) {
        Some(parent) => filter.parent_id = Some(visible_unit(&state, &caller, parent).await?.id),
        None if filter.query.is_none() && filter.kind.is_none() => match &caller.scope {
            Scope::All => filter.roots_only = true,
            Scope::Subtree { unit_id, .. } => filter.only_id = Some(*unit_id),
        },
        None => {}
    }
    let page = state.db().list_units(&caller.scope, &filter).await?;
    Ok(Json(UnitList {
        items: page.items.iter().map(UnitView::from).collect(),
        total: page.total,
    }))
}

/// Finds a unit by code inside the caller's scope; outside reads as unknown.
pub async fn visible_unit(state: &AppState, caller: &Caller, code: &str) -> AppResult<UnitRecord> {
    match state.db().unit_by_code(code.trim()).await? {
        Some(u) if caller.scope.contains(&u.path) => Ok(u),
        _ => Err(AppError::not_found(
            "unit.not_found",
            format!("Không tìm thấy đơn vị có mã \"{}\".", code.trim()),
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Crumb {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct UnitDetail {
    #[serde(flatten)]
    pub unit: UnitView,
    /// From the root down to this unit, for breadcrumbs.
    pub ancestors: Vec<Crumb>,
}

/// One unit, with its ancestors.
#[utoipa::path(get, path = "/units/{code}", tag = "units", params(("code" = String, Path)),
    responses((status = 200, body = UnitDetail), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn get_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
) -> AppResult<Json<UnitDetail>> {
    let unit = visible_unit(&state, &caller, &code).await?;
    let ancestors = state
        .db()
        .unit_ancestors(&unit.path)
        .await?
        .into_iter()
        .map(|(code, name)| Crumb { code, name })
        .collect();
    Ok(Json(UnitDetail {
        unit: UnitView::from(&unit),
        ancestors,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    pub code: String,
    pub name: String,
    /// A kind code (`province`, `commune`, `cell`…) or its Vietnamese label.
    pub kind: String,
    /// Absent for a root unit (organizers only).
    pub parent_code: Option<String>,
    #[serde(default)]
    pub expected: ExpectedCounts,
}

fn parse_kind(raw: &str) -> AppResult<UnitKind> {
    UnitKind::parse(raw).ok_or_else(|| {
        AppError::invalid(
            "unit.kind_invalid",
            "kind",
            format!(
                "Loại đơn vị \"{raw}\" không hợp lệ. Dùng một trong: {}.",
                UnitKind::codes()
            ),
        )
    })
}

/// Creates a unit under a parent in the caller's scope.
#[utoipa::path(post, path = "/units", tag = "units", request_body = CreateUnit,
    responses((status = 201, body = UnitView), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)))]
async fn create_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateUnit>,
) -> AppResult<(StatusCode, Json<UnitView>)> {
    let code =
        parse_code(&req.code).map_err(text_field("code", "unit.code_invalid", "Mã đơn vị"))?;
    let name = parse_name(&req.name, 255).map_err(text_field(
        "name",
        "unit.name_invalid",
        "Tên đơn vị",
    ))?;
    let kind = parse_kind(&req.kind)?;
    let expected = req.expected.to_array()?;
    let parent = match req
        .parent_code
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => Some(
            visible_unit(&state, &caller, p)
                .await
                .map_err(|e| e.with_field("parent_code"))?,
        ),
        None if caller.is_organizer() => None,
        None => {
            return Err(AppError::invalid(
                "unit.parent_required",
                "parent_code",
                "Cần mã đơn vị cấp trên thuộc phạm vi quản lý của bạn.",
            ));
        }
    };
    let fields = UnitFields {
        code: code.clone(),
        name,
        kind,
        parent_id: parent.as_ref().map(|p| p.id),
        expected,
    };
    match state
        .db()
        .create_unit(&fields, parent.as_ref().map(|p| p.path.as_str()))
        .await
    {
        Ok(id) => {
            state.hub().rosters_changed();
            let unit = state
                .db()
                .unit_by_id(id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("unit vanished")))?;
            Ok((StatusCode::CREATED, Json(UnitView::from(&unit))))
        }
        Err(e) if crate::store::is_unique_violation(&e) => Err(AppError::conflict(
            "unit.code_taken",
            format!("Mã đơn vị \"{code}\" đã được dùng."),
        )
        .with_field("code")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnit {
    pub name: Option<String>,
    pub kind: Option<String>,
    /// Move the unit (and its subtree) under another parent.
    pub parent_code: Option<String>,
    /// Replaces all expected head counts when present.
    pub expected: Option<ExpectedCounts>,
}

/// Edits a unit; moving it moves its whole subtree.
#[utoipa::path(patch, path = "/units/{code}", tag = "units", params(("code" = String, Path)), request_body = UpdateUnit,
    responses((status = 200, body = UnitView), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)))]
async fn update_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
    ApiJson(req): ApiJson<UpdateUnit>,
) -> AppResult<Json<UnitView>> {
    let unit = visible_unit(&state, &caller, &code).await?;
    let name = match &req.name {
        Some(n) => {
            parse_name(n, 255).map_err(text_field("name", "unit.name_invalid", "Tên đơn vị"))?
        }
        None => unit.name.clone(),
    };
    let kind = match &req.kind {
        Some(k) => parse_kind(k)?,
        None => UnitKind::parse(&unit.kind).unwrap_or(UnitKind::Other),
    };
    let expected = match &req.expected {
        Some(e) => e.to_array()?,
        None => unit.expected(),
    };
    let is_own_root =
        matches!(&caller.scope, Scope::Subtree { unit_id, .. } if *unit_id == unit.id);
    let (parent_id, parent_path) = match req.parent_code.as_deref().map(str::trim) {
        None => (
            unit.parent_id,
            parent_path_of(&state, unit.parent_id).await?,
        ),
        Some(p) if Some(p) == unit.parent_code.as_deref() => (
            unit.parent_id,
            parent_path_of(&state, unit.parent_id).await?,
        ),
        Some(_) if is_own_root => return Err(AppError::forbidden().with_field("parent_code")),
        Some("") if caller.is_organizer() => (None, None),
        Some("") => {
            return Err(AppError::invalid(
                "unit.parent_required",
                "parent_code",
                "Cần mã đơn vị cấp trên thuộc phạm vi quản lý của bạn.",
            ));
        }
        Some(p) => {
            let parent = visible_unit(&state, &caller, p)
                .await
                .map_err(|e| e.with_field("parent_code"))?;
            if crate::domain::tree::is_in_subtree(&parent.path, &unit.path) {
                return Err(AppError::invalid(
                    "unit.cycle",
                    "parent_code",
                    "Không thể chuyển đơn vị vào bên trong chính nó hoặc đơn vị cấp dưới của nó.",
                ));
            }
            (Some(parent.id), Some(parent.path))
        }
    };
    let fields = UnitFields {
        code: unit.code.clone(),
        name,
        kind,
        parent_id,
        expected,
    };
    state
        .db()
        .update_unit(unit.id, &fields, &unit.path, parent_path.as_deref())
        .await?;
    state.hub().rosters_changed();
    let unit = state
        .db()
        .unit_by_id(unit.id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unit vanished")))?;
    Ok(Json(UnitView::from(&unit)))
}

async fn parent_path_of(state: &AppState, parent_id: Option<i64>) -> AppResult<Option<String>> {
    match parent_id {
        None => Ok(None),
        Some(id) => Ok(state.db().unit_by_id(id).await?.map(|p| p.path)),
    }
}

/// Deletes a unit that has no subunits, members, accounts, sessions or points.
#[utoipa::path(delete, path = "/units/{code}", tag = "units", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn delete_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
) -> AppResult<StatusCode> {
    let unit = visible_unit(&state, &caller, &code).await?;
    if matches!(&caller.scope, Scope::Subtree { unit_id, .. } if *unit_id == unit.id) {
        return Err(AppError::forbidden());
    }
    if state.db().delete_unit(unit.id).await? {
        state.hub().rosters_changed();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::conflict(
            "unit.in_use",
            "Không thể xóa: đơn vị còn đơn vị cấp dưới, thành viên, tài khoản, buổi học hoặc điểm cầu.",
        ))
    }
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub created: u64,
    pub updated: u64,
    /// Header columns that were not recognised and so not read.
    pub ignored_columns: Vec<String>,
}

/// Turns import problems into the one 400 answer; nothing was written.
pub fn import_rejected(problems: Vec<LineProblem>) -> AppError {
    let first = problems
        .first()
        .map(|p| format!(" Lỗi đầu tiên ở dòng {}: {}", p.line, p.message))
        .unwrap_or_default();
    let count = problems.iter().filter(|p| p.line > 0).count();
    AppError::new(
        StatusCode::BAD_REQUEST,
        "import.rejected",
        format!("Tệp bị từ chối, không dòng nào được nhập ({count} lỗi).{first}"),
    )
    .with_problems(problems)
}

/// Imports units from CSV (`code,name,kind,parent_code`, optional
/// `expected_<category>` columns), all or nothing. Existing codes are updated.
#[utoipa::path(post, path = "/units/import", tag = "units",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResult), (status = 400, body = crate::error::ErrorEnvelope)))]
async fn import_units(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> AppResult<Json<ImportResult>> {
    let parsed =
        tokio::task::spawn_blocking(move || import::parse_units(&body, UNIT_IMPORT_MAX_ROWS))
            .await
            .map_err(AppError::internal)?
            .map_err(import_rejected)?;
    let report = state
        .db()
        .import_units(&parsed.rows, &caller.scope)
        .await?
        .map_err(import_rejected)?;
    tracing::info!(
        account = caller.account.id,
        created = report.created,
        updated = report.updated,
        "units imported"
    );
    super::audit::by_account(&state, &caller, "units.import", None,
        serde_json::json!({"rows": parsed.rows.len(), "created": report.created, "updated": report.updated})).await;
    state.hub().rosters_changed();
    Ok(Json(ImportResult {
        created: report.created,
        updated: report.updated,
        ignored_columns: parsed.ignored_columns,
    }))
}
