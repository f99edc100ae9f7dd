//! After the session: the official report, the absentees with their personal
//! make-up links, and each member's history — as JSON, CSV (UTF-8 with a BOM,
//! so that Excel shows Vietnamese correctly), XLSX, or a printable A4 page.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Caller;
use super::cards::escape;
use super::sessions::visible_session;
use super::{ApiPath, ApiQuery, ts};
use crate::app::AppState;
use crate::domain::report::{self, ReportRow};
use crate::domain::tally::Tally;
use crate::domain::{Category, CheckinMethod, makeup, time};
use crate::error::{AppError, AppResult};
use crate::store::sessions::SessionRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session_report))
        .routes(routes!(session_absentees))
        .routes(routes!(member_history))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The unit whose subtree to report (default: the top of the caller's view).
    pub unit: Option<String>,
    /// `json` (default), `csv`, `xlsx` or `html` (printable A4).
    pub format: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
    Html,
}

fn format_of(raw: Option<&str>) -> AppResult<Format> {
    match raw.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        "xlsx" => Ok(Format::Xlsx),
        "html" => Ok(Format::Html),
        other => Err(AppError::invalid(
            "request.invalid_query",
            "format",
            format!("Định dạng \"{other}\" không hỗ trợ. Dùng json, csv, xlsx hoặc html."),
        )),
    }
}

/// The report as JSON.
#[derive(Serialize, ToSchema)]
pub struct SessionReport {
    pub session_id: i64,
    pub theme: String,
    pub starts_at: chrono::DateTime<chrono::FixedOffset>,
    pub unit_code: String,
    pub unit_name: String,
    /// "Toàn … có 61 điểm cầu kết nối, với tổng số 2.701 … tham gia."
    pub summary: String,
    pub generated_at: chrono::DateTime<chrono::FixedOffset>,
    /// The unit first, then its subunits depth first.
    pub rows: Vec<ReportRow>,
}

/// A fresh tally of the session from the database, and the unit to report.
async fn tally_for(
    state: &AppState,
    caller: &Caller,
    session: &SessionRecord,
    unit: Option<&str>,
) -> AppResult<(Tally, i64)> {
    let tally = Tally::build(
        state
            .db()
            .tally_source(session.id, &session.scope_unit_path)
            .await?,
    );
    let unit = unit.map(str::trim).filter(|u| !u.is_empty());
    let (_, unit_id) = super::live::view_and_unit(caller, session, &tally, unit)?;
    Ok((tally, unit_id))
}

async fn build_report(
    state: &AppState,
    caller: &Caller,
    session: &SessionRecord,
    unit: Option<&str>,
) -> AppResult<SessionReport> {
    let (tally, unit_id) = tally_for(state, caller, session, unit).await?;
    let rows = match state.db().session_summary(session.id).await? {
        // Personal data removed by the retention policy: the kept figures.
        Some(kept) => {
            let code = tally
                .units
                .get(&unit_id)
                .map(|u| u.code.clone())
                .unwrap_or_default();
            kept_rows(&kept, &code)
        }
        None => {
            let connected: HashSet<i64> = state
                .db()
                .connected_points(session.id)
                .await?
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            report::rows(&tally, unit_id, &connected)
        }
    };
    let Some(top) = rows.first() else {
        return Err(AppError::not_found(
            "unit.not_found",
            "Không có số liệu của đơn vị này.",
        ));
    };
    Ok(SessionReport {
        session_id: session.id,
        theme: session.theme.clone(),
        starts_at: ts(session.starts_at),
        unit_code: top.code.clone(),
        unit_name: top.name.clone(),
        summary: report::summary(&top.name, top.points_connected, top.participants_live),
        generated_at: ts(time::now_ms()),
        rows,
    })
}

/// The subtree of `code` in the rows kept when a session was purged (rows
/// are depth first, so the subtree runs until the next row at its level).
fn kept_rows(kept: &str, code: &str) -> Vec<ReportRow> {
    let all: Vec<ReportRow> = serde_json::from_str::<serde_json::Value>(kept)
        .ok()
        .and_then(|v| serde_json::from_value(v["rows"].clone()).ok())
        .unwrap_or_default();
    let Some(start) = all.iter().position(|r| r.code == code) else {
        return Vec::new();
    };
    let base = all[start].level;
    let mut out: Vec<ReportRow> = vec![all[start].clone()];
    out.extend(
        all[start + 1..]
            .iter()
            .take_while(|r| r.level > base)
            .cloned(),
    );
    for r in &mut out {
        r.level -= base;
    }
    out
}

const REPORT_HEADERS: [&str; 21] = [
    "Cấp",
    "Mã đơn vị",
    "Đơn vị",
    "Điểm cầu đăng ký",
    "Điểm cầu kết nối",
    "Danh sách",
    "Dự kiến",
    "Cán bộ",
    "Đảng viên",
    "Công chức",
    "Viên chức",
    "Người lao động",
    "Khách",
    "Tại điểm cầu",
    "Ngoài danh sách (đếm người)",
    "Theo dõi truyền hình",
    "Học bù",
    "Tham gia trực tiếp",
    "Tổng cộng",
    "Tỷ lệ trực tiếp (%)",
    "Tỷ lệ kể cả học bù (%)",
];

fn percent(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}", v * 100.0)).unwrap_or_default()
}

fn report_cells(r: &ReportRow) -> Vec<String> {
    let mut cells = vec![
        r.level.to_string(),
        r.code.clone(),
        r.name.clone(),
        r.points_registered.to_string(),
        r.points_connected.to_string(),
        r.roster.to_string(),
        r.expected.to_string(),
    ];
    cells.extend(r.by_category.iter().map(|n| n.to_string()));
    cells.extend(
        [
            r.at_point,
            r.head_count,
            r.broadcast,
            r.makeup,
            r.participants_live,
            r.participants_total,
        ]
        .iter()
        .map(|n| n.to_string()),
    );
    cells.push(percent(r.coverage_live));
    cells.push(percent(r.coverage_total));
    cells
}

/// A cell that a spreadsheet would run as a formula (an absence reason typed
/// as `=HYPERLINK(…)` by whoever holds an operator link) is written as
/// text, behind an apostrophe.
fn csv_cell(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn csv_response(filename: &str, headers: &[&str], rows: Vec<Vec<String>>) -> AppResult<Response> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(headers).map_err(AppError::internal)?;
    for row in rows {
        writer
            .write_record(row.iter().map(|c| csv_cell(c)))
            .map_err(AppError::internal)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Writes a sheet: a title, a subtitle, a bold header row, then rows whose
/// numeric cells are written as numbers — except in `text_cols` (codes keep
/// their leading zeros: "05800" is not 5800).
fn xlsx_response(
    filename: &str,
    title: &str,
    subtitle: &str,
    headers: &[&str],
    rows: Vec<Vec<String>>,
    indent_col: Option<(usize, Vec<usize>)>,
    text_cols: &[usize],
) -> AppResult<Response> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::internal(anyhow::anyhow!("xlsx: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Báo cáo").map_err(err)?;
    let bold = XFormat::new().set_bold();
    let head = XFormat::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color("#F3F4F6")
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    sheet
        .write_string_with_format(0, 0, title, &XFormat::new().set_bold().set_font_size(14))
        .map_err(err)?;
    sheet.write_string(1, 0, subtitle).map_err(err)?;
    for (c, h) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(3, c as u16, *h, &head)
            .map_err(err)?;
        sheet
            .set_column_width(c as u16, if c <= 2 { 16 } else { 12 })
            .map_err(err)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = 4 + i as u32;
        for (c, cell) in row.iter().enumerate() {
            let is_name = indent_col.as_ref().is_some_and(|(col, _)| *col == c);
            if is_name {
                let level = indent_col
                    .as_ref()
                    .map(|(_, levels)| levels[i])
                    .unwrap_or(0) as u8;
                let f = if level == 0 {
                    bold.clone()
                } else {
                    XFormat::new().set_indent(level)
                };
                sheet
                    .write_string_with_format(r, c as u16, cell, &f)
                    .map_err(err)?;
            } else if let Some(n) = cell
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && !text_cols.contains(&c))
            {
                sheet.write_number(r, c as u16, n).map_err(err)?;
            } else {
                sheet.write_string(r, c as u16, cell).map_err(err)?;
            }
        }
    }
    if let Some((col, _)) = &indent_col {
        sheet.set_column_width(*col as u16, 40).map_err(err)?;
    }
    sheet.set_freeze_panes(4, 0).map_err(err)?;
    let bytes = book.save_to_buffer().map_err(err)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The heading an official report carries: the issuing body on the left,
/// the Party's name and the place and date on the right.
async fn official_heading(state: &AppState, session: &SessionRecord) -> AppResult<String> {
    let chain = state.db().unit_ancestors(&session.host_unit_path).await?;
    let host = chain
        .last()
        .map(|(_, n)| n.to_uppercase())
        .unwrap_or_default();
    let parent = chain
        .iter()
        .rev()
        .nth(1)
        .map(|(_, n)| n.to_uppercase())
        .unwrap_or_default();
    let place = session
        .scope_unit_name
        .trim_start_matches("Tỉnh ")
        .trim_start_matches("Thành phố ")
        .trim_start_matches("Xã ")
        .trim_start_matches("Phường ")
        .to_string();
    let now = time::to_local(time::now_ms());
    Ok(format!(
        "<header class=\"heading\"><div class=\"issuer\"><p>{}</p><p class=\"strong\">{}</p><p>*</p></div>\
         <div class=\"party\"><p class=\"strong underline\">ĐẢNG CỘNG SẢN VIỆT NAM</p><p class=\"date\">{}, ngày {} tháng {} năm {}</p></div></header>",
        escape(&parent),
        escape(&host),
        escape(&place),
        now.format("%d"),
        now.format("%m"),
        now.format("%Y")
    ))
}

fn html_page(title: &str, body: String) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/assets/report.css\"></head><body>{body}</body></html>",
        escape(title)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn file_stem(kind: &str, session: &SessionRecord, unit_code: &str) -> String {
    let safe: String = unit_code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("{kind}-buoi-{}-{safe}", session.id)
}

/// The session's report for a unit's subtree: points connected, participants
/// by category and by method, coverage, and the summary line.
#[utoipa::path(get, path = "/sessions/{id}/report", tag = "reports", params(("id" = i64, Path), ReportQuery),
    responses((status = 200, body = SessionReport, description = "JSON, or CSV / XLSX / HTML with `format`"), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn session_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> AppResult<Response> {
    let format = format_of(q.format.as_deref())?;
    let session = visible_session(&state, &caller, &id).await?;
    let report = build_report(&state, &caller, &session, q.unit.as_deref()).await?;
    tracing::info!(account = caller.account.id, session = session.id, unit = %report.unit_code, "report exported");
    super::audit::by_account(&state, &caller, "report.exported", Some(format!("session:{}", session.id)),
        serde_json::json!({"unit_code": report.unit_code, "format": q.format.clone().unwrap_or_else(|| "json".into())})).await;
    let stem = file_stem("bao-cao", &session, &report.unit_code);
    match format {
        Format::Json => Ok(Json(report).into_response()),
        Format::Csv => csv_response(
            &stem,
            &REPORT_HEADERS,
            report.rows.iter().map(report_cells).collect(),
        ),
        Format::Xlsx => {
            let levels = report.rows.iter().map(|r| r.level).collect();
            let title = format!(
                "BÁO CÁO KẾT QUẢ HỌC TẬP CHUYÊN ĐỀ — {}",
                report.unit_name.to_uppercase()
            );
            let subtitle = format!(
                "Chuyên đề: {} ({}). {}",
                report.theme,
                time::to_local(session.starts_at).format("%d/%m/%Y"),
                report.summary
            );
            xlsx_response(
                &stem,
                &title,
                &subtitle,
                &REPORT_HEADERS,
                report.rows.iter().map(report_cells).collect(),
                Some((2, levels)),
                &[1],
            )
        }
        Format::Html => {
            let mut body = official_heading(&state, &session).await?;
            body.push_str(&format!(
                "<h1>BÁO CÁO</h1><p class=\"subtitle\">Kết quả tổ chức học tập chuyên đề<br><em>“{}”</em></p>\
                 <p class=\"summary\">Thực hiện kế hoạch học tập chuyên đề, hội nghị được tổ chức ngày {} theo hình thức trực tuyến từ cấp tỉnh đến cấp xã \
                 và phát sóng trực tiếp{}. {}</p><table><thead><tr>",
                escape(&report.theme),
                time::to_local(session.starts_at).format("%d/%m/%Y"),
                session.tv_channel.as_deref().map(|c| format!(" trên {}", escape(c))).unwrap_or_default(),
                escape(&report.summary),
            ));
            for h in REPORT_HEADERS.iter().skip(1) {
                body.push_str(&format!("<th>{}</th>", escape(h)));
            }
            body.push_str("</tr></thead><tbody>");
            for r in &report.rows {
                let cells = report_cells(r);
                body.push_str(&format!("<tr class=\"level-{}\">", r.level.min(4)));
                for (i, c) in cells.iter().enumerate().skip(1) {
                    let class = if i == 2 { " class=\"name\"" } else { "" };
                    // Figures as Vietnamese writes them: 2.701 and 44,4.
                    let shown = if i <= 2 {
                        c.clone()
                    } else if let Ok(n) = c.parse::<i64>() {
                        report::vn_number(n)
                    } else {
                        c.replace('.', ",")
                    };
                    body.push_str(&format!("<td{class}>{}</td>", escape(&shown)));
                }
                body.push_str("</tr>");
            }
            body.push_str(&format!(
                "</tbody></table><footer class=\"signature\"><div><p class=\"strong\">Nơi nhận:</p><p>- Như trên;</p><p>- Lưu.</p></div>\
                 <div><p class=\"strong\">ĐẠI DIỆN ĐƠN VỊ</p><p class=\"hint\">(Ký, ghi rõ họ tên)</p></div></footer>\
                 <p class=\"generated\">Số liệu lập lúc {} bởi hệ thống diemcau.</p>",
                report.generated_at.format("%H:%M %d/%m/%Y")
            ));
            Ok(html_page(&format!("Báo cáo — {}", report.unit_name), body))
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Absentee {
    pub member_code: String,
    pub full_name: String,
    pub category: Category,
    pub unit_code: String,
    pub unit_name: String,
    /// The reason the operator recorded (vắng có lý do), if any.
    pub absent_reason: Option<String>,
    /// Share of the recording watched so far (0–1), if they started.
    pub makeup_progress: Option<f64>,
    /// The member's personal link to study the recording.
    pub makeup_link: String,
}

#[derive(Serialize, ToSchema)]
pub struct AbsenteeList {
    pub session_id: i64,
    pub unit_code: String,
    pub unit_name: String,
    pub total: usize,
    pub items: Vec<Absentee>,
}

/// The session's personal data was removed by the retention policy.
pub fn purged() -> AppError {
    AppError::new(
        axum::http::StatusCode::GONE,
        "session.purged",
        "Dữ liệu cá nhân của buổi học này đã được xóa theo chính sách lưu trữ; chỉ còn số liệu tổng hợp.",
    )
}

/// The make-up page of a member for a session.
pub fn makeup_link(state: &AppState, session_id: i64, member_code: &str) -> String {
    format!(
        "{}/hoc-bu/{}",
        state.config().public_url(),
        makeup::token(&state.keys().qr, session_id, member_code)
    )
}

/// Roster members of a unit's subtree who have not studied the session,
/// with the reason given and their personal make-up link (html: printable
/// reminders with a QR code each).
#[utoipa::path(get, path = "/sessions/{id}/absentees", tag = "reports", params(("id" = i64, Path), ReportQuery),
    responses((status = 200, body = AbsenteeList, description = "JSON, or CSV / XLSX / HTML with `format`"), (status = 404, body = crate::error::ErrorEnvelope),
        (status = 410, body = crate::error::ErrorEnvelope, description = "session.purged: personal data removed by retention")))]
async fn session_absentees(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> AppResult<Response> {
    let format = format_of(q.format.as_deref())?;
    let session = visible_session(&state, &caller, &id).await?;
    if state.db().session_summary(session.id).await?.is_some() {
        // Who attended was removed with the personal data: everyone would
        // look absent.
        return Err(purged());
    }
    let (tally, unit_id) = tally_for(&state, &caller, &session, q.unit.as_deref()).await?;
    let unit = state
        .db()
        .unit_by_id(unit_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unit vanished")))?;
    drop(tally);
    let rows = state.db().absentees(session.id, &unit.path).await?;
    tracing::info!(account = caller.account.id, session = session.id, unit = %unit.code, count = rows.len(), "absentees exported");
    super::audit::by_account(&state, &caller, "absentees.exported", Some(format!("session:{}", session.id)),
        serde_json::json!({"unit_code": unit.code, "count": rows.len(), "format": q.format.clone().unwrap_or_else(|| "json".into())})).await;
    let items: Vec<Absentee> = rows
        .into_iter()
        .map(|r| Absentee {
            makeup_link: makeup_link(&state, session.id, &r.code),
            makeup_progress: match (r.makeup_watched_s, r.makeup_duration_s) {
                (Some(w), Some(d)) if d > 0.0 => Some(((w / d).min(1.0) * 1000.0).round() / 1000.0),
                _ => None,
            },
            member_code: r.code,
            full_name: r.full_name,
            category: Category::parse(&r.category).unwrap_or(Category::Guest),
            unit_code: r.unit_code,
            unit_name: r.unit_name,
            absent_reason: r.absent_reason,
        })
        .collect();
    let headers = [
        "Mã thành viên",
        "Họ và tên",
        "Đối tượng",
        "Mã đơn vị",
        "Đơn vị",
        "Lý do vắng",
        "Đã xem bản ghi (%)",
        "Đường dẫn học bù",
    ];
    let cells = |a: &Absentee| {
        vec![
            a.member_code.clone(),
            a.full_name.clone(),
            a.category.label().to_string(),
            a.unit_code.clone(),
            a.unit_name.clone(),
            a.absent_reason.clone().unwrap_or_default(),
            percent(a.makeup_progress),
            a.makeup_link.clone(),
        ]
    };
    let stem = file_stem("chua-hoc", &session, &unit.code);
    match format {
        Format::Json => Ok(Json(AbsenteeList {
            session_id: session.id,
            unit_code: unit.code,
            unit_name: unit.name,
            total: items.len(),
            items,
        })
        .into_response()),
        Format::Csv => csv_response(&stem, &headers, items.iter().map(cells).collect()),
        Format::Xlsx => {
            let title = format!(
                "DANH SÁCH CHƯA HỌC TẬP CHUYÊN ĐỀ — {}",
                unit.name.to_uppercase()
            );
            xlsx_response(
                &stem,
                &title,
                &format!("Chuyên đề: {} — {} người", session.theme, items.len()),
                &headers,
                items.iter().map(cells).collect(),
                None,
                &[0, 1, 2, 3, 4, 5, 7],
            )
        }
        Format::Html => {
            let mut body = format!(
                "<p class=\"screen-only\">{} người chưa học chuyên đề tại {}. In phiếu nhắc: mỗi người quét mã QR để học bù qua video.</p><main class=\"reminders\">",
                items.len(),
                escape(&unit.name)
            );
            for a in items.iter().take(1000) {
                body.push_str(&format!(
                    "<article class=\"reminder\"><div class=\"qr\">{}</div><div><p class=\"org\">PHIẾU NHẮC HỌC BÙ CHUYÊN ĐỀ</p>\
                     <p class=\"name\">{}</p><p>{} · {}</p><p class=\"theme\">“{}”</p><p class=\"hint\">Quét mã để xem bản ghi hội nghị; xem đủ {}% là hoàn thành.</p></div></article>",
                    super::qr::svg(&a.makeup_link)?,
                    escape(&a.full_name),
                    escape(&a.member_code),
                    escape(&a.unit_name),
                    escape(&session.theme),
                    (session_threshold(&state, session.id).await? * 100.0).round()
                ));
            }
            body.push_str("</main>");
            Ok(html_page(
                &format!("Phiếu nhắc học bù — {}", unit.name),
                body,
            ))
        }
    }
}

pub async fn session_threshold(state: &AppState, session_id: i64) -> AppResult<f64> {
    Ok(state
        .db()
        .session_makeup_threshold(session_id)
        .await?
        .unwrap_or(0.8))
}

#[derive(Serialize, ToSchema)]
pub struct HistoryEntry {
    pub session_id: i64,
    pub theme: String,
    pub starts_at: chrono::DateTime<chrono::FixedOffset>,
    pub method: CheckinMethod,
    pub method_label: String,
    pub point: Option<String>,
    pub at: chrono::DateTime<chrono::FixedOffset>,
    /// Sent from a console's offline queue.
    pub replayed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MemberHistory {
    pub member_code: String,
    pub full_name: String,
    pub unit_name: String,
    pub sessions: Vec<HistoryEntry>,
}

/// Every session a member studied, how and when — for the year-end review.
#[utoipa::path(get, path = "/members/{code}/history", tag = "reports", params(("code" = String, Path)),
    responses((status = 200, body = MemberHistory), (status = 404, body = crate::error::ErrorEnvelope)))]
async fn member_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath,
) -> AppResult<Json<MemberHistory>> {
    let member = match state.db().member_by_code(code.trim()).await? {
        Some(m) if caller.scope.contains(&m.unit_path) => m,
        _ => {
            return Err(AppError::not_found(
                "member.not_found",
                format!("Không tìm thấy thành viên có mã \"{}\".", code.trim()),
            ));
        }
    };
    super::audit::by_account(
        &state,
        &caller,
        "history.viewed",
        Some(format!("member:{}", member.code)),
        serde_json::Value::Null,
    )
    .await;
    let sessions = state
        .db()
        .member_history(member.id)
        .await?
        .into_iter()
        .map(|h| {
            let method = CheckinMethod::parse(&h.method).unwrap_or(CheckinMethod::Roster);
            HistoryEntry {
                session_id: h.session_id,
                theme: h.theme,
                starts_at: ts(h.starts_at),
                method,
                method_label: method.label().to_string(),
                point: h.point_name,
                at: ts(h.taken_at),
                replayed: h.replayed,
            }
        })
        .collect();
    Ok(Json(MemberHistory {
        member_code: member.code,
        full_name: member.full_name,
        unit_name: member.unit_name,
        sessions,
    }))
}
