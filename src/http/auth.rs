//! Sign-in for organizers and unit managers: cookie sessions for the web
//! pages, bearer tokens for API clients. Point operators do not sign in; they
//! hold an operator link (see `operator.rs`).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, Method, StatusCode, request::Parts};
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiJson, ApiPath, parse_id, ts};
use crate::app::AppState;
use crate::domain::{Role, time};
use crate::error::{AppError, AppResult};
use crate::security;
use crate::store::Scope;
use crate::store::accounts::{AccountRecord, Authenticated};

pub const SESSION_COOKIE: &str = "diemcau_session";
pub const CSRF_COOKIE: &str = "diemcau_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A web session lasts a working week.
const WEB_SESSION_MS: i64 = 7 * 24 * 3600 * 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
}

/// The signed-in caller of a request. Extracting it refuses anonymous
/// requests (401) and cookie requests that change data without the CSRF
/// header (403).
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountRecord,
    pub token_id: i64,
    pub scope: Scope,
}

impl Caller {
    pub fn is_organizer(&self) -> bool {
        self.account.role() == Role::Organizer
    }

    pub fn require_organizer(&self) -> AppResult<()> {
        if self.is_organizer() {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let jar = CookieJar::from_headers(&parts.headers);
        let (secret, via_cookie) = match (bearer, jar.get(SESSION_COOKIE)) {
            (Some(token), _) => (token.to_string(), false),
            (None, Some(cookie)) => (cookie.value().to_string(), true),
            (None, None) => return Err(AppError::unauthenticated()),
        };
        let Some(Authenticated {
            account,
            token_id,
            csrf_token,
            ..
        }) = state
            .db()
            .authenticate(&security::hash_token(&secret))
            .await?
        else {
            return Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "auth.invalid_token",
                "Phiên đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng đăng nhập lại.",
            ));
        };
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && unsafe_method {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            let ok = matches!((sent, csrf_token.as_deref()), (Some(a), Some(b)) if security::constant_time_eq(a, b));
            if !ok {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "auth.csrf",
                    "Thiếu hoặc sai mã chống giả mạo (X-CSRF-Token). Hãy tải lại trang.",
                ));
            }
        }
        let Some(scope) = account.scope() else {
            return Err(AppError::forbidden());
        };
        Ok(Caller {
            account,
            token_id,
            scope,
        })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Who is signed in.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// `organizer` or `manager`.
    pub role: Role,
    /// The manager's unit (none for organizers).
    pub unit_code: Option<String>,
    pub unit_name: Option<String>,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
}

impl From<&AccountRecord> for AccountView {
    fn from(a: &AccountRecord) -> Self {
        AccountView {
            id: a.id,
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            role: a.role(),
            unit_code: a.unit_code.clone(),
            unit_name: a.unit_name.clone(),
            disabled: a.disabled,
            created_at: ts(a.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub account: AccountView,
    /// Send this back in the `X-CSRF-Token` header on every change made with
    /// the session cookie. (API clients use bearer tokens instead.)
    pub csrf_token: String,
}

fn bad_credentials() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "auth.bad_credentials",
        "Tên đăng nhập hoặc mật khẩu không đúng.",
    )
}

/// Signs in and sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorEnvelope)))]
async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    ApiJson(req): ApiJson<LoginRequest>,
) -> AppResult<impl IntoResponse> {
    let username = req.username.trim().to_lowercase();
    if username.is_empty() || username.len() > 64 || req.password.len() > 1024 {
        return Err(bad_credentials());
    }
    // Keyed on the account, not the address: a commune hall shares one IP.
    let now = time::now_ms();
    if state.limits().failed_logins.exceeded(&username, now) {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "auth.rate_limited",
            "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút.",
        ));
    }
    let found = state.db().account_for_login(&username).await?;
    // Verify against a dummy hash when the account is unknown, so the answer
    // takes as long as for a wrong password.
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), hash),
        None => (None, security::DUMMY_PASSWORD_HASH.clone()),
    };
    let valid = security::verify_password(req.password, hash).await;
    let account = match account {
        Some(a) if valid && !a.disabled => a,
        Some(a) if valid && a.disabled => {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                "auth.disabled",
                "Tài khoản đã bị khóa.",
            ));
        }
        _ => {
            state.limits().failed_logins.allow(&username, now);
            return Err(bad_credentials());
        }
    };
    let secret = security::new_secret();
    let csrf = security::new_secret();
    state
        .db()
        .insert_token(
            account.id,
            &security::hash_token(&secret),
            "web",
            None,
            Some(&csrf),
            Some(time::now_ms() + WEB_SESSION_MS),
        )
        .await?;
    let secure = state.config().secure_cookies();
    let session_cookie = Cookie::build((SESSION_COOKIE, secret))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie_time(WEB_SESSION_MS))
        .build();
    // Readable by the page's script, which echoes it in X-CSRF-Token.
    let csrf_cookie = Cookie::build((CSRF_COOKIE, csrf.clone()))
        .path("/")
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(cookie_time(WEB_SESSION_MS))
        .build();
    let body = LoginResponse {
        account: AccountView::from(&account),
        csrf_token: csrf,
    };
    Ok((jar.add(session_cookie).add(csrf_cookie), Json(body)))
}

fn cookie_time(ms: i64) -> ::time::Duration {
    ::time::Duration::milliseconds(ms)
}

/// Signs out: ends this session (or revokes the bearer token used).
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204)))]
async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    jar: CookieJar,
) -> AppResult<impl IntoResponse> {
    state
        .db()
        .delete_token(caller.account.id, caller.token_id)
        .await?;
    let jar = jar
        .remove(Cookie::build(SESSION_COOKIE).path("/"))
        .remove(Cookie::build(CSRF_COOKIE).path("/"));
    Ok((jar, StatusCode::NO_CONTENT))
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub account: AccountView,
    /// The CSRF token of this web session (absent for bearer tokens).
    pub csrf_token: Option<String>,
}

/// The signed-in account.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = MeResponse), (status = 401, body = crate::error::ErrorEnvelope)))]
async fn me(caller: Caller, jar: CookieJar, headers: HeaderMap) -> Json<MeResponse> {
    let via_bearer = headers.contains_key(axum::http::header::AUTHORIZATION);
    let csrf_token = if via_bearer {
        None
    } else {
        jar.get(CSRF_COOKIE).map(|c| c.value().to_string())
    };
    Json(MeResponse {
        account: AccountView::from(&caller.account),
        csrf_token,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's own password; other sessions and tokens are signed out.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = ChangePassword,
    responses((status = 204), (status = 400, body = crate::error::ErrorEnvelope)))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ChangePassword>,
) -> AppResult<StatusCode> {
    security::check_password_strength(&req.new_password)?;
    let Some((_, hash)) = state
        .db()
        .account_for_login(&caller.account.username)
        .await?
    else {
        return Err(AppError::unauthenticated());
    };
    if !security::verify_password(req.current_password, hash).await {
        return Err(AppError::invalid(
            "auth.bad_credentials",
            "current_password",
            "Mật khẩu hiện tại không đúng.",
        ));
    }
    let new_hash = security::hash_password(req.new_password).await?;
    state
        .db()
        .set_password(caller.account.id, &new_hash, Some(caller.token_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: Option<String>,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    pub expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for, e.g. "Đồng bộ hệ thống quản lý đảng viên".
    pub name: String,
    /// Days until it expires (1–3650); never, when absent.
    pub expires_in_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: i64,
    /// Shown once: send it as `Authorization: Bearer <token>`.
    pub token: String,
}

/// The caller's API tokens (never their secrets).
#[utoipa::path(get, path = "/auth/tokens", tag = "auth", responses((status = 200, body = Vec<TokenView>)))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<TokenView>>> {
    let tokens = state.db().list_api_tokens(caller.account.id).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                created_at: ts(t.created_at),
                expires_at: t.expires_at.map(ts),
            })
            .collect(),
    ))
}

/// Creates an API token for the caller's own account and role.
#[utoipa::path(post, path = "/auth/tokens", tag = "auth", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = crate::error::ErrorEnvelope)))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateToken>,
) -> AppResult<(StatusCode, Json<CreatedToken>)> {
    let name = crate::domain::parse_name(&req.name, 120).map_err(super::text_field(
        "name",
        "token.name_invalid",
        "Tên mã truy cập",
    ))?;
    let expires_at = match req.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(time::now_ms() + d * 24 * 3600 * 1000),
        Some(_) => {
            return Err(AppError::invalid(
                "token.expiry_invalid",
                "expires_in_days",
                "Số ngày hiệu lực phải từ 1 đến 3650.",
            ));
        }
    };
    let secret = format!("dc_{}", security::new_secret());
    let id = state
        .db()
        .insert_token(
            caller.account.id,
            &security::hash_token(&secret),
            "api",
            Some(&name),
            None,
            expires_at,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken { id, token: secret }),
    ))
}

/// Revokes one of the caller's API tokens.
#[utoipa::path(delete, path = "/auth/tokens/{id}", tag = "auth",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn delete_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    let id = parse_id(&id, "token.not_found", "mã truy cập")?;
    if state.db().delete_token(caller.account.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(
            "token.not_found",
            "Không tìm thấy mã truy cập này.",
        ))
    }
}
