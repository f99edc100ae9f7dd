//! Application state and the one router with its middleware stack.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::attendance::CheckinWriter;
use crate::config::ServerConfig;
use crate::http;
use crate::keys::Keys;
use crate::limits::Limits;
use crate::live::Presence;
use crate::live::hub::LiveHub;
use crate::store::Db;
use crate::store::hot::HotCache;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    db: Db,
    config: ServerConfig,
    metrics: PrometheusHandle,
    openapi: String,
    keys: Keys,
    limits: Limits,
    presence: Presence,
    hub: Arc<LiveHub>,
    checkins: CheckinWriter,
    hot: HotCache,
    connection_notes: crate::ws::connections::ConnectionNotes,
    links: Arc<crate::ws::links::LinkWatch>,
    webhooks: crate::webhooks::Webhooks,
    shutdown: tokio::sync::watch::Receiver<bool>,
    open_sockets: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts an open WebSocket for as long as it lives.
pub struct SocketGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl AppState {
    pub fn db(&self) -> &Db {
        &self.0.db
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        &self.0.metrics
    }

    pub fn openapi_json(&self) -> &str {
        &self.0.openapi
    }

    pub fn keys(&self) -> &Keys {
        &self.0.keys
    }

    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    pub fn presence(&self) -> &Presence {
        &self.0.presence
    }

    pub fn hub(&self) -> &LiveHub {
        &self.0.hub
    }

    /// Short-lived copies of sessions and points for the check-in path.
    pub fn hot(&self) -> &HotCache {
        &self.0.hot
    }

    /// Console connections, written in batches.
    pub fn connection_notes(&self) -> &crate::ws::connections::ConnectionNotes {
        &self.0.connection_notes
    }

    /// The operator links of the points whose consoles are open here.
    pub fn links(&self) -> &Arc<crate::ws::links::LinkWatch> {
        &self.0.links
    }

    /// Where check-ins go to be recorded (in batches).
    pub fn checkins(&self) -> &CheckinWriter {
        &self.0.checkins
    }

    pub fn webhooks(&self) -> &crate::webhooks::Webhooks {
        &self.0.webhooks
    }

    /// Changes to true when the server begins to shut down: sockets close
    /// with 1001 so that consoles reconnect (axum does not wait for them).
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.shutdown.clone()
    }

    pub fn track_socket(&self) -> SocketGuard {
        self.0
            .open_sockets
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SocketGuard(self.0.open_sockets.clone())
    }

    pub fn open_sockets(&self) -> usize {
        self.0
            .open_sockets
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "diemcau API",
        description = "Học tập chuyên đề trực tuyến từ tỉnh đến xã: đơn vị, danh sách thành viên, buổi học, điểm cầu, tài khoản.\n\n\
            Errors always have the body `{\"error\": {\"code\", \"message\", \"field\"?, \"problems\"?}}`: a stable code for programs and a Vietnamese message for people.\n\n\
            Authentication: `Authorization: Bearer <token>` (API tokens, see /auth/tokens), or the session cookie set by /auth/login \
            together with the `X-CSRF-Token` header on every change. Point operators send `Authorization: Operator <secret from the operator link>`."
    ),
    servers((url = "/api")),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Đăng nhập, mã truy cập — sign-in and API tokens"),
        (name = "accounts", description = "Tài khoản ban tổ chức và quản lý đơn vị"),
        (name = "units", description = "Cây đơn vị — the unit tree"),
        (name = "members", description = "Danh sách thành viên — rosters"),
        (name = "sessions", description = "Buổi học tập chuyên đề và phát sóng"),
        (name = "points", description = "Điểm cầu — connection points"),
        (name = "operator", description = "Người phụ trách điểm cầu (đường dẫn điểm cầu)"),
        (name = "checkin", description = "Tự điểm danh bằng mã QR của điểm cầu"),
        (name = "live", description = "Số liệu trực tiếp: tham gia theo đơn vị, điểm cầu"),
        (name = "reports", description = "Sau buổi học: báo cáo, danh sách chưa học, học bù, lịch sử"),
        (name = "webhooks", description = "Báo sự kiện cho hệ thống khác (ký HMAC, gửi lại khi lỗi)"),
        (name = "public", description = "Công khai: trang buổi học, số liệu trên truyền hình, điểm danh tại nhà, lịch"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(http::auth::SESSION_COOKIE))),
        );
        components.add_security_scheme(
            "operator_link",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Operator <secret>",
            ))),
        );
    }
}

/// Builds the whole application: API, pages, operations endpoints, middleware.
pub fn build(
    db: Db,
    config: ServerConfig,
    metrics: PrometheusHandle,
    keys: Keys,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> (Router, AppState) {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api", http::api_router())
        .split_for_parts();
    let openapi = serde_json::to_string_pretty(&strip_api_prefix(openapi))
        .expect("OpenAPI document serializes");
    let metrics_on_main = config.metrics_on_main;
    let hub = Arc::new(LiveHub::default());
    let checkins = CheckinWriter::spawn(db.clone(), hub.clone());
    let connection_notes = crate::ws::connections::ConnectionNotes::spawn(db.clone());
    let links = crate::ws::links::LinkWatch::spawn(db.clone());
    let state = AppState(Arc::new(Inner {
        db,
        config,
        metrics,
        openapi,
        keys,
        limits: Limits::default(),
        presence: Presence::default(),
        hub,
        checkins,
        hot: HotCache::default(),
        connection_notes,
        links,
        webhooks: Default::default(),
        shutdown,
        open_sockets: Arc::default(),
    }));

    let mut router = api
        .merge(http::docs::router())
        .merge(http::ops::router(metrics_on_main))
        .merge(http::web::router());
    router = router.fallback(http::web::not_found);

    let security_headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; media-src 'self' https:; \
                 frame-src https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ));

    let router = router
        .layer(middleware::from_fn(envelope_bare_errors))
        .layer(middleware::from_fn(record_metrics))
        .layer(security_headers)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        // Hard ceiling on any body; routes set lower limits of their own.
        .layer(RequestBodyLimitLayer::new(
            http::members::MEMBER_IMPORT_LIMIT,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(http::JSON_LIMIT))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "unmatched".into());
            tracing::info_span!("request", method = %req.method(), route)
        }))
        .with_state(state.clone());
    (router, state)
}

/// The document is served with `servers: [/api]`, so its paths are relative.
fn strip_api_prefix(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(p, item)| (p.strip_prefix("/api").unwrap_or(&p).to_string(), item))
        .collect();
    doc
}

/// Counts requests and their latency per route template and status.
async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("diemcau_http_requests_total", &labels).increment(1);
    metrics::histogram!("diemcau_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Errors produced by the framework or middleware (405, 413, 408…) come with
/// no body or a plain-text one; under /api they get the JSON envelope too.
async fn envelope_bare_errors(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    use axum::response::IntoResponse;
    let (code, message): (&'static str, String) = match status.as_u16() {
        405 => (
            "request.method_not_allowed",
            "Phương thức HTTP này không được hỗ trợ cho địa chỉ này.".into(),
        ),
        408 => ("request.timeout", "Yêu cầu quá thời gian xử lý.".into()),
        413 => ("request.too_large", "Dữ liệu gửi lên quá lớn.".into()),
        415 => (
            "request.content_type",
            "Kiểu dữ liệu gửi lên không được hỗ trợ.".into(),
        ),
        _ => (
            "request.invalid",
            format!("Yêu cầu không hợp lệ (HTTP {}).", status.as_u16()),
        ),
    };
    crate::error::AppError::new(status, code, message).into_response()
}
