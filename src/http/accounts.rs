//! Accounts of organizers and unit managers. Organizers manage everyone;
//! a unit manager manages the managers of units inside their subtree.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::{AccountView, Caller};
use super::units::visible_unit;
use super::{ApiJson, ApiPath, parse_id, text_field};
use crate::app::AppState;
use crate::domain::{Role, parse_name};
use crate::error::{AppError, AppResult};
use crate::security;
use crate::store::accounts::AccountRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account))
}

/// A username: 3–64 of a–z, 0–9, `.`, `_`, `-` (stored lowercase).
pub fn parse_username(raw: &str) -> AppResult<String> {
    let u = raw.trim().to_lowercase();
    let ok = (3..=64).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(u)
    } else {
        Err(AppError::invalid(
            "account.username_invalid",
            "username",
            "Tên đăng nhập gồm 3–64 ký tự: chữ không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang.",
        ))
    }
}

/// Accounts the caller manages.
#[utoipa::path(get, path = "/accounts", tag = "accounts", responses((status = 200, body = Vec<AccountView>)))]
async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<AccountView>>> {
    let accounts = state.db().list_accounts(&caller.scope).await?;
    Ok(Json(accounts.iter().map(AccountView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub username: String,
    pub display_name: String,
    /// At least 10 characters.
    pub password: String,
    pub role: Role,
    /// Required for managers: the unit whose subtree they manage.
    pub unit_code: Option<String>,
}

async fn resolve_role_unit(
    state: &AppState,
    caller: &Caller,
    role: Role,
    unit_code: Option<&str>,
) -> AppResult<Option<i64>> {
    match (role, unit_code.map(str::trim).filter(|c| !c.is_empty())) {
        (Role::Organizer, _) if !caller.is_organizer() => {
            Err(AppError::forbidden().with_field("role"))
        }
        (Role::Organizer, Some(_)) => Err(AppError::invalid(
            "account.unit_invalid",
            "unit_code",
            "Tài khoản ban tổ chức không gắn với đơn vị.",
        )),
        (Role::Organizer, None) => Ok(None),
        (Role::Manager, None) => Err(AppError::invalid(
            "account.unit_required",
            "unit_code",
            "Tài khoản quản lý đơn vị cần mã đơn vị.",
        )),
        (Role::Manager, Some(code)) => Ok(Some(
            visible_unit(state, caller, code)
                .await
                .map_err(|e| e.with_field("unit_code"))?
                .id,
        )),
    }
}

/// Creates an account.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = CreateAccount,
    responses((status = 201, body = AccountView), (status = 400, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)))]
async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateAccount>,
) -> AppResult<(StatusCode, Json<AccountView>)> {
    let username = parse_username(&req.username)?;
    let display_name = parse_name(&req.display_name, 120).map_err(text_field(
        "display_name",
        "account.name_invalid",
        "Tên hiển thị",
    ))?;
    security::check_password_strength(&req.password)?;
    let unit_id = resolve_role_unit(&state, &caller, req.role, req.unit_code.as_deref()).await?;
    let hash = security::hash_password(req.password).await?;
    match state
        .db()
        .create_account(&username, &display_name, &hash, req.role, unit_id)
        .await
    {
        Ok(id) => {
            let account = state
                .db()
                .account_by_id(id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("account vanished")))?;
            tracing::info!(
                account = id,
                by = caller.account.id,
                role = req.role.code(),
                "account created"
            );
            super::audit::by_account(&state, &caller, "account.created", Some(format!("account:{id}")),
                serde_json::json!({"username": username, "role": req.role.code(), "unit_code": account.unit_code})).await;
            Ok((StatusCode::CREATED, Json(AccountView::from(&account))))
        }
        Err(e) if crate::store::is_unique_violation(&e) => Err(AppError::conflict(
            "account.username_taken",
            format!("Tên đăng nhập \"{username}\" đã được dùng."),
        )
        .with_field("username")),
        Err(e) => Err(e.into()),
    }
}

/// An account the caller manages: organizers manage all; managers, the
/// manager accounts of units in their subtree.
async fn managed_account(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> AppResult<AccountRecord> {
    let id = parse_id(raw_id, "account.not_found", "tài khoản")?;
    let not_found = || {
        AppError::not_found(
            "account.not_found",
            format!("Không tìm thấy tài khoản \"{raw_id}\"."),
        )
    };
    let account = state.db().account_by_id(id).await?.ok_or_else(not_found)?;
    let visible = caller.is_organizer()
        || account
            .unit_path
            .as_deref()
            .is_some_and(|p| caller.scope.contains(p));
    if visible {
        Ok(account)
    } else {
        Err(not_found())
    }
}

/// One account.
#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<Json<AccountView>> {
    Ok(Json(AccountView::from(
        &managed_account(&state, &caller, &id).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub unit_code: Option<String>,
    /// Disabling signs the account out everywhere.
    pub disabled: Option<bool>,
    /// Sets a new password (and signs the account out everywhere).
    pub password: Option<String>,
}

/// Edits an account: name, role and unit, lock, or password reset.
#[utoipa::path(patch, path = "/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = UpdateAccount,
    responses((status = 200, body = AccountView), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(req): ApiJson<UpdateAccount>,
) -> AppResult<Json<AccountView>> {
    let account = managed_account(&state, &caller, &id).await?;
    let is_self = account.id == caller.account.id;
    if is_self && (req.role.is_some() || req.unit_code.is_some() || req.disabled == Some(true)) {
        return Err(AppError::invalid(
            "account.self_change",
            "role",
            "Bạn không thể tự đổi vai trò, đơn vị hoặc tự khóa tài khoản của mình.",
        ));
    }
    let display_name = match &req.display_name {
        Some(n) => parse_name(n, 120).map_err(text_field(
            "display_name",
            "account.name_invalid",
            "Tên hiển thị",
        ))?,
        None => account.display_name.clone(),
    };
    let role = req.role.unwrap_or(account.role());
    let unit_id = if req.role.is_some() || req.unit_code.is_some() {
        let code = req.unit_code.clone().or_else(|| {
            if role == Role::Manager {
                account.unit_code.clone()
            } else {
                None
            }
        });
        resolve_role_unit(&state, &caller, role, code.as_deref()).await?
    } else {
        account.unit_id
    };
    let req_password_reset = req.password.is_some();
    if let Some(password) = req.password {
        security::check_password_strength(&password)?;
        let hash = security::hash_password(password).await?;
        state
            .db()
            .set_password(account.id, &hash, is_self.then_some(caller.token_id))
            .await?;
    }
    state
        .db()
        .update_account(
            account.id,
            &display_name,
            role,
            unit_id,
            req.disabled.unwrap_or(account.disabled),
        )
        .await?;
    let before = (account.role(), account.unit_code.clone(), account.disabled);
    let target = Some(format!("account:{}", account.id));
    let account = state
        .db()
        .account_by_id(account.id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("account vanished")))?;
    let after = (account.role(), account.unit_code.clone(), account.disabled);
    let action = if before.0 != after.0 || before.1 != after.1 {
        "account.role_changed"
    } else {
        "account.updated"
    };
    super::audit::by_account(
        &state,
        &caller,
        action,
        target,
        serde_json::json!({
            "username": account.username, "role": after.0.code(), "unit_code": after.1, "disabled": after.2,
            "password_reset": req_password_reset,
        }),
    )
    .await;
    Ok(Json(AccountView::from(&account)))
}
