//! Printable member-card sheets: A4, ten cards a page, each with the member's
//! signed QR code, to be scanned by the point console (offline too).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::units::visible_unit;
use super::{ApiPath, ApiQuery, Paging};
use crate::app::AppState;
use crate::domain::Category;
use crate::error::AppResult;
use crate::store::members::MemberFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(card_sheet))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CardQuery {
    /// Include the members of subunits too.
    pub subtree: Option<bool>,
    /// At most 500 cards a sheet (default 500).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Escapes text for HTML: member names come from imported files.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Member cards of a unit's roster as a printable A4 page (HTML).
#[utoipa::path(get, path = "/units/{code}/cards", tag = "members", params(("code" = String, Path), CardQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn card_sheet(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
    ApiQuery(q): ApiQuery<CardQuery>,
) -> AppResult<impl IntoResponse> {
    let unit = visible_unit(&state, &caller, &code).await?;
    let (limit, offset) = Paging {
        limit: Some(q.limit.unwrap_or(500)),
        offset: q.offset,
    }
    .resolve()?;
    let mut filter = MemberFilter {
        limit,
        offset,
        ..Default::default()
    };
    if q.subtree.unwrap_or(false) {
        filter.under_path = Some(unit.path.clone());
    } else {
        filter.unit_id = Some(unit.id);
    }
    let members = state.db().list_members(&caller.scope, &filter).await?;
    super::audit::by_account(
        &state,
        &caller,
        "cards.printed",
        Some(format!("unit:{}", unit.code)),
        serde_json::json!({"count": members.items.len(), "subtree": q.subtree.unwrap_or(false)}),
    )
    .await;
    let mut html = String::with_capacity(members.items.len() * 12_000 + 1000);
    html.push_str(&format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Thẻ thành viên — {}</title>\
         <link rel=\"stylesheet\" href=\"/assets/cards.css\"></head><body>\
         <p class=\"screen-only\">{} thẻ thành viên của {} (từ {} đến {} trong {}). In khổ A4, 10 thẻ mỗi trang.</p><main class=\"sheet\">",
        escape(&unit.name),
        members.items.len(),
        escape(&unit.name),
        offset + 1,
        offset + members.items.len() as i64,
        members.total,
    ));
    for m in &members.items {
        let card = state.keys().cards.card(&m.code);
        let category = Category::parse(&m.category)
            .map(|c| c.label())
            .unwrap_or("");
        html.push_str(&format!(
            "<article class=\"card\"><div class=\"qr\">{}</div><div class=\"who\"><p class=\"org\">THẺ THÀNH VIÊN · HỌC TẬP CHUYÊN ĐỀ</p>\
             <p class=\"name\">{}</p><p class=\"code\">Mã: {}</p><p class=\"unit\">{}</p><p class=\"cat\">{}</p></div></article>",
            super::qr::svg(&card)?,
            escape(&m.full_name),
            escape(&m.code),
            escape(&m.unit_name),
            escape(category),
        ));
    }
    html.push_str("</main></body></html>");
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html))
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<b>\"Lê\" & 'Ư'</b>"),
            "&lt;b&gt;&quot;Lê&quot; &amp; &#39;Ư&#39;&lt;/b&gt;"
        );
    }
}
