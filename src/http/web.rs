//! The web pages: plain HTML, CSS and JavaScript from `web/`, embedded in the
//! binary (provincial networks are often closed to the internet: no CDN).

use axum::extract::Path;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;

use crate::app::AppState;
use crate::error::AppError;

#[derive(Embed)]
#[folder = "web/"]
struct Assets;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(|| page("index.html")))
        .route("/dang-nhap", get(|| page("login.html")))
        .route("/diem-cau", get(|| page("console.html")))
        // The member's check-in page, opened from a point's QR code.
        .route("/c/{token}", get(|| page("checkin.html")))
        // The organizers' live dashboard of a session.
        .route("/truc-tiep/{id}", get(|| page("dashboard.html")))
        // Public: the session page, checking in from home, the TV overlay.
        .route("/s/{id}", get(|| page("session.html")))
        .route("/tv/{id}", get(|| page("home.html")))
        .route("/tv/{id}/overlay", get(overlay))
        // A member's personal make-up page (học bù).
        .route("/hoc-bu/{token}", get(|| page("makeup.html")))
        .route("/api/operator/ws", get(crate::ws::console::console_ws))
        .route("/api/sessions/{id}/live", get(super::live::dashboard_ws))
        .route("/assets/{*file}", get(asset))
}

fn serve(file: &str, cache: &'static str) -> Option<Response> {
    let content = Assets::get(file)?;
    let mime = mime_guess::from_path(file).first_or_octet_stream();
    let content_type = if mime.type_() == "text" || mime.subtype() == "javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    Some(
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
            content.data.into_owned(),
        )
            .into_response(),
    )
}

pub async fn page(file: &'static str) -> Response {
    serve(file, "no-cache").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// The TV overlay is loaded as a browser source by OBS or vMix and may be
/// framed by a studio's own page, unlike every other page.
async fn overlay() -> Response {
    let mut response = page("overlay.html").await;
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors *",
        ),
    );
    response
}

async fn asset(Path(file): Path<String>) -> Response {
    if file.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&format!("assets/{file}"), "public, max-age=300")
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// Unknown addresses: the JSON envelope under /api, a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        AppError::not_found(
            "route.not_found",
            format!("Không có địa chỉ API \"{}\".", uri.path()),
        )
        .into_response()
    } else {
        let mut response =
            serve("404.html", "no-cache").unwrap_or_else(|| "Không tìm thấy trang".into_response());
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    }
}
