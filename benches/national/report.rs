//! The results: what each phase measured (serialized as the JSON printed on
//! stdout) and BENCHMARKS.md — the command, the machine, a table of results
//! against the targets of issue 6, details and notes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::dashboards::Staleness;
use crate::http_load::{CeilingResult, HttpResult};
use crate::server::Backend;
use crate::stats::LatencySummary;
use crate::{Options, TARGET_CONSOLES};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    pub cpu: String,
    pub kernel: String,
    pub git_commit: String,
    /// Files changed in the working tree when the run started.
    pub git_dirty: Vec<String>,
    pub load_average_at_start: String,
    pub open_files_hard_limit: usize,
    pub rustc: String,
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

impl Machine {
    pub fn probe() -> Machine {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let nproc = command_output("nproc", &[]);
        Machine {
            cores: nproc.parse().unwrap_or_else(|_| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(0)
            }),
            memory_gib: (mem_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            cpu,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            git_commit: command_output("git", &["log", "-1", "--format=%h %s"]),
            git_dirty: command_output(
                "git",
                &[
                    "status",
                    "--porcelain",
                    "--",
                    "src",
                    "migrations",
                    "Cargo.toml",
                ],
            )
            .lines()
            .map(|l| l.trim().to_string())
            .collect(),
            load_average_at_start: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            open_files_hard_limit: crate::stats::proc::nofile_hard_limit().unwrap_or(0),
            rustc: command_output("rustc", &["--version"]),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub command: String,
    pub scale: usize,
    pub phases: Vec<String>,
    pub started_at: String,
    pub machine: Machine,
    pub backends: Vec<BackendResult>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DatasetInfo {
    pub units: usize,
    pub provinces: usize,
    pub communes: usize,
    pub communes_with_points: usize,
    pub points: usize,
    pub members: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuUse {
    /// CPU seconds per second of the server process(es).
    pub server_cores: f64,
    /// CPU seconds per second of the load generator (this process and its workers).
    pub generator_cores: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SetupStep {
    pub what: String,
    pub seconds: f64,
    pub per_second: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportPhase {
    pub via: String,
    pub members: usize,
    pub file_megabytes: f64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub output: String,
    pub units: usize,
    pub units_seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CeilingPhase {
    pub result: CeilingResult,
    pub cpu: CpuUse,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpPhase {
    pub session: i64,
    pub method: String,
    pub result: HttpResult,
    pub ratio_to_ceiling: Option<f64>,
    pub cpu: CpuUse,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ConsoleInfo {
    /// 40,000 / scale: one console per point.
    pub target: usize,
    pub planned: usize,
    pub connected: usize,
    pub failed: usize,
    pub per_instance: Vec<usize>,
    pub why: String,
    pub server_fd_limit: usize,
    pub workers: usize,
    pub sources: String,
    pub connect_seconds: f64,
    pub errors: BTreeMap<String, usize>,
    /// Consoles still open after the idle window (WebSocket phase).
    pub open_after_idle: Option<usize>,
    /// Still open at the end of the phase.
    pub open_at_end: Option<usize>,
    /// Why connections closed (close code and reason from the server, or
    /// the error); the consoles reconnect, as the page does, unless 4401.
    pub closes: BTreeMap<String, u64>,
    pub reconnects: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadSummary {
    pub consoles: usize,
    pub planned: u64,
    pub sent: u64,
    pub checked_in: u64,
    pub already_checked_in: u64,
    pub refused: BTreeMap<String, u64>,
    pub unanswered: u64,
    pub retried: u64,
    pub not_sent: u64,
    pub disconnected: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub latency: LatencySummary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WsPhase {
    pub session: i64,
    pub consoles: ConsoleInfo,
    pub rss_before_mb: Vec<f64>,
    /// Right after the last console connected.
    pub rss_connected_mb: Vec<f64>,
    pub idle_seconds: f64,
    pub rss_idle_mb: Vec<f64>,
    pub kb_per_console: f64,
    /// Server memory before the consoles plus 40,000 × the per-console cost.
    pub extrapolated_40k_mb: f64,
    pub idle_cpu: Option<CpuUse>,
    pub checkins: Option<LoadSummary>,
    pub cpu: Option<CpuUse>,
    pub rss_after_mb: Vec<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub acknowledged: u64,
    /// `headline.members` of `GET /api/sessions/{id}/tally`, per instance.
    pub tally_members: Vec<i64>,
    /// Live check-in rows of the session in the database.
    pub database_rows: i64,
    pub database_members: i64,
    pub unanswered: u64,
    pub lost: i64,
    pub doubled: i64,
    pub ok: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BurstPhase {
    pub session: i64,
    pub members: usize,
    pub consoles: ConsoleInfo,
    pub via_consoles: usize,
    pub via_http: usize,
    pub http_clients: usize,
    pub http_method: String,
    pub trickle_share: f64,
    pub trickle_seconds: f64,
    /// Nothing is sent after this many seconds from the start.
    pub deadline_seconds: f64,
    pub acknowledged: u64,
    pub already_checked_in: u64,
    pub unanswered: u64,
    pub not_sent: u64,
    /// From the start to the last acknowledgement.
    pub ingest_seconds: f64,
    pub per_second: f64,
    pub rush_per_second: f64,
    pub peak_per_second: u64,
    pub consoles_result: Option<LoadSummary>,
    pub http_result: Option<HttpResult>,
    pub verification: Option<Verification>,
    pub cpu: Option<CpuUse>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BackendResult {
    pub backend: String,
    pub instances: usize,
    pub error: Option<String>,
    pub wall_seconds: f64,
    /// Copies of the servers' logs (stderr), kept after the run.
    pub server_logs: Vec<String>,
    pub dataset: DatasetInfo,
    pub import: Option<ImportPhase>,
    pub setup: Vec<SetupStep>,
    pub ceiling: Option<CeilingPhase>,
    pub http: Option<HttpPhase>,
    pub ws: Option<WsPhase>,
    pub burst: Option<BurstPhase>,
    pub dashboards_subscribed: usize,
    pub dashboards: Option<Staleness>,
}

impl BackendResult {
    pub fn new(backend: Backend) -> BackendResult {
        BackendResult {
            backend: backend.name().into(),
            ..Default::default()
        }
    }
}

// Markdown.

fn n(x: f64) -> String {
    // 12345.6 → "12,346"
    let v = x.round() as i64;
    let s = v.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

fn ms(x: Option<f64>) -> String {
    match x {
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) if v >= 10.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.2} ms"),
        None => "–".into(),
    }
}

fn lat(l: &LatencySummary) -> String {
    format!("p50 {}, p99 {}", ms(l.p50_ms), ms(l.p99_ms))
}

enum Status {
    Met,
    Missed,
    NotApplicable(String),
}

fn status(s: Status) -> String {
    match s {
        Status::Met => "✅ met".into(),
        Status::Missed => "❌ **missed**".into(),
        Status::NotApplicable(why) => format!("— {why}"),
    }
}

fn check(ok: bool) -> Status {
    if ok { Status::Met } else { Status::Missed }
}

struct Row {
    measure: String,
    result: String,
    target: String,
    status: String,
}

fn rows(b: &BackendResult, scale: usize) -> Vec<Row> {
    let sqlite = b.backend == "sqlite";
    let full = scale == 1;
    let rate_target = if sqlite { 30_000.0 } else { 15_000.0 };
    let rate_label = if sqlite {
        "≥ 30,000/s".to_string()
    } else {
        "≥ 15,000/s (2 instances)".to_string()
    };
    let mut out = Vec::new();
    let mut row = |measure: String, result: String, target: String, st: Status| {
        out.push(Row {
            measure,
            result,
            target,
            status: status(st),
        })
    };
    if let Some(i) = &b.import {
        let target = if full {
            "< 20 s".to_string()
        } else {
            "≥ 100,000 rows/s (2,000,000 in 20 s)".to_string()
        };
        let ok = if full {
            i.seconds < 20.0
        } else {
            i.rows_per_second >= 100_000.0
        };
        row(
            format!("Import of {} members (CLI)", n(i.members as f64)),
            format!("{:.1} s ({} rows/s)", i.seconds, n(i.rows_per_second)),
            target,
            check(ok),
        );
    }
    if let Some(c) = &b.ceiling {
        row(
            format!(
                "Ceiling: `GET {}`, {} clients",
                c.result.endpoint, c.result.clients
            ),
            format!(
                "{} req/s, {}",
                n(c.result.per_second),
                lat(&c.result.latency)
            ),
            "reference".into(),
            Status::NotApplicable("reference".into()),
        );
    }
    if let Some(h) = &b.http {
        let r = &h.result;
        row(
            format!("Durable check-ins over HTTP, {} clients", r.clients),
            format!("{}/s", n(r.per_second)),
            rate_label.clone(),
            check(r.per_second >= rate_target),
        );
        if sqlite {
            row(
                "— their latency".into(),
                lat(&r.latency),
                "p99 < 25 ms".into(),
                check(r.latency.p99_ms.is_some_and(|p| p < 25.0)),
            );
            match h.ratio_to_ceiling {
                Some(ratio) => row(
                    "— share of the ceiling".into(),
                    format!("{:.0} %", ratio * 100.0),
                    "≥ 50 %".into(),
                    check(ratio >= 0.5),
                ),
                None => row(
                    "— share of the ceiling".into(),
                    "ceiling not measured".into(),
                    "≥ 50 %".into(),
                    Status::NotApplicable("run the ceiling phase".into()),
                ),
            }
        } else {
            row(
                "— their latency".into(),
                lat(&r.latency),
                "(p99 < 25 ms is a SQLite target)".into(),
                Status::NotApplicable("no target".into()),
            );
            if let Some(ratio) = h.ratio_to_ceiling {
                row(
                    "— share of the ceiling".into(),
                    format!("{:.0} %", ratio * 100.0),
                    "(SQLite target)".into(),
                    Status::NotApplicable("no target".into()),
                );
            }
        }
    }
    if let Some(w) = &b.ws {
        let c = &w.consoles;
        let full_target = TARGET_CONSOLES / scale;
        let still = c.open_after_idle.unwrap_or(c.connected);
        row(
            "Point consoles connected".into(),
            format!(
                "{} of {} ({} instance(s)){}",
                n(c.connected as f64),
                n(full_target as f64),
                b.instances,
                if still < c.connected {
                    format!(
                        "; **only {} still open after {:.0} s idle**",
                        n(still as f64),
                        w.idle_seconds
                    )
                } else {
                    format!("; all still open after {:.0} s idle", w.idle_seconds)
                }
            ),
            n(full_target as f64),
            if still < c.connected {
                Status::Missed
            } else if c.connected >= full_target {
                Status::Met
            } else if c.planned < c.target && c.connected >= c.planned {
                Status::NotApplicable("open-file limit of this machine, see below".into())
            } else {
                Status::Missed
            },
        );
        row(
            "Server memory per idle console".into(),
            format!(
                "{:.1} KB ({} MB → {} MB)",
                w.kb_per_console,
                fmt_mb(&w.rss_before_mb),
                fmt_mb(&w.rss_idle_mb)
            ),
            "< 20 KB".into(),
            check(w.kb_per_console < 20.0),
        );
        row(
            "Server memory with 40,000 idle consoles (extrapolated)".into(),
            format!("{} MB", n(w.extrapolated_40k_mb)),
            "< 800 MB".into(),
            check(w.extrapolated_40k_mb < 800.0),
        );
        if let Some(s) = &w.checkins {
            row(
                format!(
                    "Durable check-ins over {} console WebSockets",
                    n(s.consoles as f64)
                ),
                format!("{}/s, ack {}", n(s.per_second), lat(&s.latency)),
                rate_label.clone(),
                check(s.per_second >= rate_target),
            );
        }
    }
    if let Some(bu) = &b.burst {
        row(
            format!(
                "National session: {} check-ins, burst shape",
                n(bu.members as f64)
            ),
            format!(
                "{:.1} s ({}/s; {}/s in the rush){}",
                bu.ingest_seconds,
                n(bu.per_second),
                n(bu.rush_per_second),
                if (bu.acknowledged as usize) < bu.members {
                    format!(
                        " — **only {} of {} acknowledged** before the {:.0} s limit",
                        n(bu.acknowledged as f64),
                        n(bu.members as f64),
                        bu.deadline_seconds
                    )
                } else {
                    String::new()
                }
            ),
            "< 2 min at full scale".into(),
            if full {
                check(bu.ingest_seconds < 120.0 && bu.acknowledged as usize == bu.members)
            } else {
                Status::NotApplicable(format!("scale {scale}"))
            },
        );
        if let Some(v) = &bu.verification {
            row(
                "— nothing lost, nothing doubled".into(),
                format!(
                    "{} acknowledged; database {} rows ({} members); tally {}",
                    n(v.acknowledged as f64),
                    n(v.database_rows as f64),
                    n(v.database_members as f64),
                    v.tally_members
                        .iter()
                        .map(|t| n(*t as f64))
                        .collect::<Vec<_>>()
                        .join(" / ")
                ),
                "recorded = acknowledged".into(),
                check(v.ok),
            );
        }
    }
    if let Some(d) = &b.dashboards {
        row(
            format!("Dashboard staleness, {} dashboards", n(d.dashboards as f64)),
            lat(&d.latency),
            "p99 < 250 ms".into(),
            check(d.latency.p99_ms.is_some_and(|p| p < 250.0) && d.measured > 0),
        );
    }
    out
}

fn fmt_mb(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join("+")
}

fn title(b: &BackendResult) -> String {
    match b.backend.as_str() {
        "sqlite" => "SQLite, one instance".into(),
        "postgres" => format!("PostgreSQL, {} instances", b.instances),
        other => other.into(),
    }
}

fn cpu(c: &Option<crate::report::CpuUse>) -> String {
    match c {
        Some(c) => format!(
            "server {:.2} cores, load generator {:.2} cores",
            c.server_cores, c.generator_cores
        ),
        None => "–".into(),
    }
}

pub fn markdown(run: &RunReport, opts: &Options) -> String {
    let mut s = String::new();
    let m = &run.machine;
    let _ = writeln!(s, "# Benchmarks — a national session on one machine\n");
    let _ = writeln!(
        s,
        "Written by the benchmark itself (`benches/national`, issue 6); do not edit by hand — \
         the hand-written analysis is kept in `benches/national/NOTES.md` and copied at the end.\n"
    );
    if run.scale != 1 {
        let _ = writeln!(
            s,
            "> **Scale {}**: points and members divided by {} — a smoke run, not the national figures.\n",
            run.scale, run.scale
        );
    }
    let _ = writeln!(s, "## Command\n\n```sh\n{}\n```\n", run.command);
    let _ = writeln!(s, "## Machine\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| cores (`nproc`) | {} |", m.cores);
    let _ = writeln!(s, "| memory | {} GiB |", m.memory_gib);
    let _ = writeln!(s, "| CPU | {} |", m.cpu);
    let _ = writeln!(s, "| kernel | {} |", m.kernel);
    let _ = writeln!(s, "| date | {} |", run.started_at);
    let _ = writeln!(
        s,
        "| git commit | {}{} |",
        m.git_commit,
        if m.git_dirty.is_empty() {
            String::new()
        } else {
            format!(" + uncommitted changes in {}", m.git_dirty.join(", "))
        }
    );
    let _ = writeln!(s, "| load average at start | {} |", m.load_average_at_start);
    let _ = writeln!(
        s,
        "| open files per process (hard limit) | {} |",
        n(m.open_files_hard_limit as f64)
    );
    let _ = writeln!(s, "| Rust | {} |", m.rustc);
    let _ = writeln!(
        s,
        "\nThe server, the load generator and (for PostgreSQL) the database share these cores.\n"
    );
    if let Some(b) = run.backends.first() {
        let d = &b.dataset;
        let _ = writeln!(
            s,
            "## Dataset\n\n{} units: a national root (`VN`, Toàn quốc), {} provinces and {} communes \
             (`data/vn-units-2025.csv`); {} points in {} communes; {} members with Vietnamese names \
             and categories, each in a commune, checking in at points of their own commune.\n",
            n(d.units as f64),
            d.provinces,
            n(d.communes as f64),
            n(d.points as f64),
            n(d.communes_with_points as f64),
            n(d.members as f64)
        );
    }
    let _ = writeln!(s, "## Results against the targets\n");
    for b in &run.backends {
        let _ = writeln!(s, "### {}\n", title(b));
        if let Some(e) = &b.error {
            let _ = writeln!(
                s,
                "**The run stopped with an error:** `{}`\n",
                e.replace('`', "'")
            );
        }
        let _ = writeln!(s, "| measure | result | target | |\n|---|---|---|---|");
        for r in rows(b, run.scale) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                r.measure, r.result, r.target, r.status
            );
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Details\n");
    for b in &run.backends {
        details(&mut s, b);
    }
    let _ = writeln!(s, "## Method\n");
    method(&mut s, opts);
    let notes = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/national/NOTES.md");
    if let Ok(text) = std::fs::read_to_string(notes) {
        let _ = writeln!(
            s,
            "\n## Notes (hand-written, `benches/national/NOTES.md`)\n"
        );
        let _ = writeln!(s, "{}", text.trim());
    }
    s
}

fn details(s: &mut String, b: &BackendResult) {
    let _ = writeln!(s, "### {}\n", title(b));
    let _ = writeln!(s, "Whole run of this backend: {:.0} s.\n", b.wall_seconds);
    if let Some(i) = &b.import {
        let _ = writeln!(
            s,
            "- **Import**: {} — {} members, a {:.0} MB file, {:.1} s ({} rows/s); the {} units took {:.1} s. Output: “{}”.",
            i.via,
            n(i.members as f64),
            i.file_megabytes,
            i.seconds,
            n(i.rows_per_second),
            n(i.units as f64),
            i.units_seconds,
            i.output
        );
    }
    for step in &b.setup {
        let _ = writeln!(
            s,
            "- **Setup**: {}: {:.1} s ({}/s).",
            step.what,
            step.seconds,
            n(step.per_second)
        );
    }
    if let Some(c) = &b.ceiling {
        let r = &c.result;
        let _ = writeln!(
            s,
            "- **Ceiling**: `GET {}` from {} keep-alive connections for {:.0} s: {} answers, {}/s, {}, max {}; errors {:?}; CPU {}.",
            r.endpoint,
            r.clients,
            r.seconds,
            n(r.ok as f64),
            n(r.per_second),
            lat(&r.latency),
            ms(r.latency.max_ms),
            r.errors,
            cpu(&Some(c.cpu.clone()))
        );
    }
    if let Some(h) = &b.http {
        let r = &h.result;
        let _ = writeln!(
            s,
            "- **HTTP check-ins** ({}): {} clients, each request a distinct member at a point of their commune; \
             {} sent in {:.1} s, {} `checked_in` (the only answers counted), {} `already_checked_in`, failures {:?}; \
             {}/s, {}, max {}; QR tokens fetched {} times ({}); CPU {}.",
            h.method,
            r.clients,
            n(r.sent as f64),
            r.seconds,
            n(r.checked_in as f64),
            r.already_checked_in,
            r.failed,
            n(r.per_second),
            lat(&r.latency),
            ms(r.latency.max_ms),
            n(r.qr_fetches as f64),
            lat(&r.qr_latency),
            cpu(&Some(h.cpu.clone()))
        );
    }
    if let Some(w) = &b.ws {
        console_details(s, "Consoles (WebSocket phase)", &w.consoles);
        let _ = writeln!(
            s,
            "- **Memory**: server RSS {} MB before the consoles, {} MB once they were connected, {} MB after {:.0} s \
             idle with {} consoles connected (heartbeat every 15 s, a QR frame every 20 s): {:.1} KB per console \
             connected; 40,000 would need about {} MB. CPU while idle: {}.",
            fmt_mb(&w.rss_before_mb),
            fmt_mb(&w.rss_connected_mb),
            fmt_mb(&w.rss_idle_mb),
            w.idle_seconds,
            n(w.consoles.connected as f64),
            w.kb_per_console,
            n(w.extrapolated_40k_mb),
            cpu(&w.idle_cpu)
        );
        if let Some(c) = &w.checkins {
            load_details(
                s,
                "WebSocket check-ins (roster ticks, one in flight per console, at full speed)",
                c,
            );
            let _ = writeln!(
                s,
                "  CPU: {}; server RSS afterwards {} MB.",
                cpu(&w.cpu),
                fmt_mb(&w.rss_after_mb)
            );
        }
    }
    if let Some(bu) = &b.burst {
        console_details(s, "Consoles (national session)", &bu.consoles);
        let _ = writeln!(
            s,
            "- **National session**: {} members; {} from the consoles (roster ticks), {} by self check-in over HTTP \
             ({} clients; rooms where members scan the QR — one point in ten — and communes without a connected console). \
             {:.0} % of each source's check-ins spread at random over the first {:.0} s, the rest as fast as they are acknowledged. \
             {} acknowledged in {:.1} s from the start: {}/s overall, {}/s after the trickle, peak {}/s over one second. \
             Already checked in: {}; unanswered: {}; not sent: {}. CPU {}.",
            n(bu.members as f64),
            n(bu.via_consoles as f64),
            n(bu.via_http as f64),
            bu.http_clients,
            bu.trickle_share * 100.0,
            bu.trickle_seconds,
            n(bu.acknowledged as f64),
            bu.ingest_seconds,
            n(bu.per_second),
            n(bu.rush_per_second),
            n(bu.peak_per_second as f64),
            bu.already_checked_in,
            bu.unanswered,
            bu.not_sent,
            cpu(&bu.cpu)
        );
        if let Some(c) = &bu.consoles_result {
            load_details(s, "— from the consoles", c);
        }
        if let Some(h) = &bu.http_result {
            let _ = writeln!(
                s,
                "- **— over HTTP**: {} sent, {} `checked_in`, failures {:?}; {}.",
                n(h.sent as f64),
                n(h.checked_in as f64),
                h.failed,
                lat(&h.latency)
            );
        }
        if let Some(v) = &bu.verification {
            let _ = writeln!(
                s,
                "- **Verification** (after the last acknowledgement): acknowledged {}; `checkins` rows of the session {} \
                 for {} distinct members; tally API `headline.members` {}; lost {}, doubled {} → {}.",
                n(v.acknowledged as f64),
                n(v.database_rows as f64),
                n(v.database_members as f64),
                v.tally_members
                    .iter()
                    .map(|t| n(*t as f64))
                    .collect::<Vec<_>>()
                    .join(" and "),
                v.lost,
                v.doubled,
                if v.ok { "**exact**" } else { "**MISMATCH**" }
            );
        }
    }
    if let Some(d) = &b.dashboards {
        let _ = writeln!(
            s,
            "- **Dashboards**: {} subscribed to the national session (root unit, bearer token), split over the instances; \
             {} samples × {} dashboards = {} measurements ({} never showed the total), {}, max {}; \
             they received {} messages ({:.0} MB); {} closed early.",
            n(b.dashboards_subscribed as f64),
            d.samples,
            n(d.dashboards as f64),
            n(d.measured as f64),
            d.never,
            lat(&d.latency),
            ms(d.latency.max_ms),
            n(d.messages as f64),
            d.megabytes_received,
            d.closed_early
        );
    }
    let logs: Vec<String> = b
        .server_logs
        .iter()
        .map(|l| match l.split_once("/target/") {
            Some((_, rest)) => format!("`target/{rest}`"),
            None => format!("`{l}`"),
        })
        .collect();
    let _ = writeln!(s, "\nServer logs: {}.\n", logs.join(", "));
}

fn console_details(s: &mut String, what: &str, c: &ConsoleInfo) {
    let _ = writeln!(
        s,
        "- **{what}**: {} connected ({} per instance), {} failed, in {:.1} s, from {} worker process(es) on {}. \
         Why this many: {}.{}{}",
        n(c.connected as f64),
        c.per_instance
            .iter()
            .map(|x| n(*x as f64))
            .collect::<Vec<_>>()
            .join(" + "),
        c.failed,
        c.connect_seconds,
        c.workers,
        c.sources,
        c.why,
        if c.errors.is_empty() {
            String::new()
        } else {
            format!(" Errors: {:?}.", c.errors)
        },
        closes(c)
    );
}

fn closes(c: &ConsoleInfo) -> String {
    if c.open_after_idle.is_none() && c.open_at_end.is_none() && c.closes.is_empty() {
        return String::new();
    }
    let mut out = String::from(" Still open");
    if let Some(x) = c.open_after_idle {
        out.push_str(&format!(" after the idle window: {}", n(x as f64)));
    }
    if let Some(x) = c.open_at_end {
        out.push_str(&format!(", at the end: {}", n(x as f64)));
    }
    out.push_str(&format!(
        "; reconnections (new ticket, as the console page does): {}; connections closed before the end: ",
        n(c.reconnects as f64)
    ));
    if c.closes.is_empty() {
        out.push_str("none");
    } else {
        let list: Vec<String> = c
            .closes
            .iter()
            .map(|(why, count)| format!("{} × “{why}”", n(*count as f64)))
            .collect();
        out.push_str(&list.join(", "));
    }
    out.push('.');
    out
}

fn load_details(s: &mut String, what: &str, c: &LoadSummary) {
    let _ = writeln!(
        s,
        "- **{what}**: {} consoles, {} planned, {} sent in {:.1} s, {} acknowledged `checked_in`, {} `already_checked_in`, \
         refused {:?}, sent again after an `error` {}, unanswered {}, not sent {}, consoles disconnected {}; \
         {}/s, ack {}, max {}.",
        n(c.consoles as f64),
        n(c.planned as f64),
        n(c.sent as f64),
        c.seconds,
        n(c.checked_in as f64),
        c.already_checked_in,
        c.refused,
        c.retried,
        c.unanswered,
        c.not_sent,
        c.disconnected,
        n(c.per_second),
        lat(&c.latency),
        ms(c.latency.max_ms)
    );
}

fn method(s: &mut String, opts: &Options) {
    let _ = writeln!(
        s,
        "- One run per backend: a fresh database (a SQLite file in a temporary directory; a PostgreSQL database \
`diemcau_bench_<pid>` created on the test server and dropped at the end), the release `diemcau` binary started as \
child processes on 127.0.0.1 random ports — one with SQLite, two sharing PostgreSQL, with the load split between \
them. The first organizer comes from `diemcau admin create --password-stdin`, units and members from \
`diemcau import`; everything else goes through the HTTP API and the WebSockets, like any client.
- The load generator is this benchmark: a multi-threaded tokio runtime; HTTP with raw hyper 1 HTTP/1.1 keep-alive \
connections (no pool, no proxy), WebSockets with tokio-tungstenite. A process may hold {} open files here, so \
consoles and dashboards live in worker processes (this binary re-run with `--worker`, JSON lines on stdin/stdout), \
each connecting from its own source address (127.0.0.2, .3, …; about 28,000 ports each). One server process is \
subject to the same limit, so the number of consoles is the smaller of 40,000 and what the instances can hold; the \
per-console memory lets 40,000 be extrapolated.
- Latencies are measured at the client, from sending the request (or the `checkin` frame) to reading the whole \
answer (or the `ack`, sent by the server only once the check-in is committed). Only `200` answers whose result is \
`checked_in` count as durable check-ins; rates are those check-ins divided by the time from the first request to \
the last such answer. HTTP check-ins use {}.
- Ceiling: `GET {}` from the same number of clients, the same client, in the same run (`/healthz` asks the \
database for a trivial answer).
- Consoles speak protocol v1: a ticket, the WebSocket, the `welcome`, a `heartbeat` every 15 s, and roster \
check-ins of members of their own commune, one in flight each. With tens of thousands of consoles each \
keeping one check-in in flight, the ack latency is mostly queueing (Little's law: in-flight ÷ rate).
- National session: every member checks in once, most from the consoles, some by self check-in; a tenth of each \
source's check-ins trickle in at random moments over the first part, then the rest come as fast as they are \
acknowledged (the real start: a trickle during the hour before, most in the last ten minutes). Afterwards the \
tally API (on every instance) and a direct `SELECT COUNT(*)` of the session's live check-ins must equal the \
number acknowledged.
- Dashboard staleness: a global counter of acknowledged check-ins (all processes stamp acknowledgements with the \
shared wall clock, to the millisecond); for 200 sampled k, the time from the k-th acknowledgement to each \
dashboard's first message whose `headline.members` is at least k (negative times count as 0). The server \
coalesces dashboard updates to at most one per 100 ms (about eight a second each in a burst).
- `--scale N` keeps every unit but puts points and members in one commune in N, N times fewer of each (same \
points and members per commune as the full run); phase durations shrink with it.",
        n(crate::stats::proc::nofile_hard_limit().unwrap_or(0) as f64),
        opts.http_mode.describe(),
        opts.ceiling_path
    );
}
