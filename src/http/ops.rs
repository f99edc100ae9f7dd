//! Operations: health check and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;

use crate::app::AppState;

pub fn router(metrics_on_main: bool) -> axum::Router<AppState> {
    let router = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez));
    if metrics_on_main {
        router.route("/metrics", get(metrics))
    } else {
        router
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
    version: &'static str,
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let db_ok = state.db().ping().await.is_ok();
    let body = Health {
        status: if db_ok { "ok" } else { "degraded" },
        database: state.db().backend(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// 200 while the process serves requests, without touching the database:
/// for a load balancer's liveness probe (readiness is `/healthz`).
async fn livez() -> &'static str {
    "ok"
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(),
    )
}
