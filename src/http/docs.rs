//! The OpenAPI document and its readable page.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(|| super::web::page("api-docs.html")))
}

async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json().to_string(),
    )
}
