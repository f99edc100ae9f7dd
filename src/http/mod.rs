//! The JSON API: one file per resource, request/response types beside their
//! handlers. Extractors here give malformed input the same error envelope as
//! every other error.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod cards;
pub mod checkin;
pub mod docs;
pub mod flags;
pub mod live;
pub mod makeup;
pub mod members;
pub mod operator;
pub mod ops;
pub mod points;
pub mod public;
pub mod qr;
pub mod reports;
pub mod sessions;
pub mod units;
pub mod web;
pub mod webhooks;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::domain::{TextError, text_error_message, time};
use crate::error::{AppError, AppResult};

/// Largest JSON body accepted by ordinary routes.
pub const JSON_LIMIT: usize = 256 * 1024;

/// All API routes, with their OpenAPI descriptions.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(accounts::router())
        .merge(units::router())
        .merge(members::router())
        .merge(sessions::router())
        .merge(points::router())
        .merge(operator::router())
        .merge(checkin::router())
        .merge(cards::router())
        .merge(live::router())
        .merge(flags::router())
        .merge(public::router())
        .merge(public::calendar_router())
        .merge(reports::router())
        .merge(makeup::router())
        .merge(webhooks::router())
        .merge(audit::router())
}

/// A JSON body, refused with a clear message when it is not JSON, not the
/// expected shape, or too large.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                v.trim().eq_ignore_ascii_case("application/json") || v.trim().ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.content_type",
                "Dữ liệu phải gửi dạng JSON (Content-Type: application/json).",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| too_large(JSON_LIMIT))?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn too_large(limit: usize) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.too_large",
        format!("Dữ liệu gửi lên quá lớn (tối đa {} KB).", limit / 1024),
    )
}

/// Deserializes JSON, naming the field at fault in Vietnamese.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let text = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return malformed_json(&inner);
        }
        let quoted = text.split('`').nth(1).unwrap_or("").to_string();
        let (field, message) = if text.starts_with("missing field") {
            let field = if path == "." {
                quoted.clone()
            } else {
                format!("{path}.{quoted}")
            };
            (field.clone(), format!("Thiếu trường \"{field}\"."))
        } else if text.starts_with("unknown field") {
            let field = if path == "." {
                quoted.clone()
            } else {
                path.clone()
            };
            (
                field.clone(),
                format!("Trường \"{field}\" không được hỗ trợ."),
            )
        } else if text.starts_with("unknown variant") {
            (
                path.clone(),
                format!("Giá trị của trường \"{path}\" không hợp lệ: {quoted}."),
            )
        } else {
            (
                path.clone(),
                format!("Trường \"{path}\" có giá trị hoặc kiểu dữ liệu không đúng."),
            )
        };
        AppError::invalid("request.invalid_field", &field, message)
    })?;
    // One document only: anything but whitespace after it is malformed.
    de.end().map_err(|e| malformed_json(&e))?;
    Ok(value)
}

fn malformed_json(err: &serde_json::Error) -> AppError {
    AppError::new(
        StatusCode::BAD_REQUEST,
        "request.malformed_json",
        format!(
            "JSON không hợp lệ ở dòng {}, cột {}.",
            err.line(),
            err.column()
        ),
    )
}

/// Query string parameters, with the same error envelope.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let text = err.into_inner().to_string();
                let field = text
                    .split('`')
                    .nth(1)
                    .filter(|_| path == ".")
                    .map(str::to_string)
                    .unwrap_or(path);
                AppError::invalid(
                    "request.invalid_query",
                    &field,
                    format!("Tham số \"{field}\" trên địa chỉ không hợp lệ."),
                )
            })
    }
}

/// Paging parameters shared by list routes.
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// How many items (1–500, default 50).
    pub limit: Option<i64>,
    /// How many to skip (default 0).
    pub offset: Option<i64>,
}

impl Paging {
    pub fn resolve(&self) -> AppResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=500).contains(&limit) {
            return Err(AppError::invalid(
                "request.invalid_query",
                "limit",
                "Tham số \"limit\" phải từ 1 đến 500.",
            ));
        }
        if offset < 0 {
            return Err(AppError::invalid(
                "request.invalid_query",
                "offset",
                "Tham số \"offset\" không được âm.",
            ));
        }
        Ok((limit, offset))
    }
}

/// Maps a [`TextError`] to a 400 on `field`, labelled `label` for people.
pub fn text_field(
    field: &str,
    code: &'static str,
    label: &str,
) -> impl FnOnce(TextError) -> AppError {
    let field = field.to_string();
    let label = label.to_string();
    move |e| AppError::invalid(code, &field, text_error_message(&label, &e))
}

/// Milliseconds → the time in Vietnam, as the API shows it.
pub fn ts(ms: i64) -> DateTime<FixedOffset> {
    time::to_local(ms)
}

/// Parses a route id, e.g. `/api/sessions/{id}`, with the envelope's 404.
pub fn parse_id(raw: &str, code: &'static str, what: &str) -> AppResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::not_found(code, format!("Không tìm thấy {what} \"{raw}\".")))
}

/// A single path segment (a code or an id), with the envelope's error.
pub struct ApiPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|_| {
                AppError::invalid(
                    "request.invalid_path",
                    "path",
                    "Địa chỉ chứa mã không hợp lệ.",
                )
            })
    }
}

/// A time sent by a client: RFC 3339 with an offset, or a local time without
/// one ("2026-11-23T08:00"), read as Vietnam time.
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(value_type = String, format = DateTime, example = "2026-11-23T08:00:00+07:00")]
pub struct ClientTime(pub DateTime<FixedOffset>);

impl<'de> Deserialize<'de> for ClientTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        parse_client_time(&raw)
            .map(ClientTime)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid time `{raw}`")))
    }
}

pub fn parse_client_time(raw: &str) -> Option<DateTime<FixedOffset>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t);
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(raw, format) {
            return naive.and_local_timezone(time::vietnam()).single();
        }
    }
    None
}
