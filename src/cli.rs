//! The command line: `serve`, `demo`, `admin create`, `import units|members`.

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::domain::{Role, import};
use crate::store::{Db, Scope};
use crate::{demo, security, telemetry};

/// diemcau — học tập chuyên đề trực tuyến từ tỉnh đến xã: điểm cầu, điểm danh, số liệu trực tiếp.
#[derive(Parser, Debug)]
#[command(name = "diemcau", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(
        long,
        env = "DIEMCAU_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the server.
    Serve(ServeArgs),
    /// Start the server with a fresh demo (same as `serve --demo`).
    Demo(ServeArgs),
    /// Manage accounts from the command line.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import a CSV file into the database (all or nothing).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Remove the personal data of sessions that ended long ago, keeping
    /// their figures (docs/retention.md).
    Retention {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Sessions that ended more than this many days ago.
        #[arg(long)]
        older_than_days: u32,
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Database: a SQLite file path or sqlite:// URL, or a postgres:// URL.
    /// Default: diemcau.db in the current directory (diemcau-demo.db with --demo).
    #[arg(long, env = "DIEMCAU_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| "sqlite://diemcau.db".into())
    }
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "DIEMCAU_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public address used in links and QR codes (default: http://<listen>).
    #[arg(long, env = "DIEMCAU_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Serve Prometheus metrics on this separate address instead of /metrics.
    #[arg(long, env = "DIEMCAU_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Load a fresh demo (into diemcau-demo.db unless --database-url is given).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an organizer account (the first one is made this way).
    Create {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Units: code,name,kind,parent_code[,expected_<category>…]
    Units {
        #[command(flatten)]
        db: DatabaseArgs,
        file: PathBuf,
    },
    /// Members: member_code,full_name,category,unit_code
    Members {
        #[command(flatten)]
        db: DatabaseArgs,
        file: PathBuf,
    },
}

pub async fn main(cli: Cli) -> anyhow::Result<()> {
    telemetry::init_logs(cli.log_format == LogFormat::Json);
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(mut args) => {
            args.demo = true;
            serve(args).await
        }
        Command::Admin(AdminCommand::Create {
            db,
            username,
            display_name,
            password_stdin,
        }) => {
            admin_create(
                &db.url(),
                &username,
                display_name.as_deref(),
                password_stdin,
            )
            .await
        }
        Command::Retention {
            db,
            older_than_days,
            dry_run,
        } => retention(&db.url(), older_than_days, dry_run).await,
        Command::Import(ImportCommand::Units { db, file }) => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("không đọc được tệp {}", file.display()))?;
            let parsed = import::parse_units(&bytes, crate::http::units::UNIT_IMPORT_MAX_ROWS)
                .map_err(report_problems)?;
            let db = Db::connect(&db.url()).await?;
            let report = db
                .import_units(&parsed.rows, &Scope::All)
                .await?
                .map_err(report_problems)?;
            println!(
                "Đã nhập đơn vị: {} mới, {} cập nhật.",
                report.created, report.updated
            );
            db.close().await;
            Ok(())
        }
        Command::Import(ImportCommand::Members { db, file }) => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("không đọc được tệp {}", file.display()))?;
            let db = Db::connect(&db.url()).await?;
            let started = std::time::Instant::now();
            let report = db
                .import_members_csv(
                    bytes,
                    crate::http::members::MEMBER_IMPORT_MAX_ROWS,
                    &Scope::All,
                )
                .await?
                .map_err(report_problems)?;
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "members imported"
            );
            println!(
                "Đã nhập thành viên: {} mới, {} cập nhật.",
                report.created, report.updated
            );
            db.close().await;
            Ok(())
        }
    }
}

fn report_problems(problems: Vec<import::LineProblem>) -> anyhow::Error {
    for p in &problems {
        eprintln!("dòng {}: {} [{}]", p.line, p.message, p.code);
    }
    anyhow::anyhow!(
        "tệp bị từ chối, không dòng nào được nhập ({} lỗi)",
        problems.len()
    )
}

async fn admin_create(
    url: &str,
    username: &str,
    display_name: Option<&str>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let username = crate::http::accounts::parse_username(username)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let password = if password_stdin || !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("Mật khẩu (ít nhất 10 ký tự): ")?;
        let again = rpassword::prompt_password("Nhập lại mật khẩu: ")?;
        if first != again {
            bail!("hai lần nhập mật khẩu không khớp");
        }
        first
    };
    security::check_password_strength(&password).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let db = Db::connect(url).await?;
    let hash = security::hash_password(password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let display = display_name.unwrap_or(&username);
    match db
        .create_account(&username, display, &hash, Role::Organizer, None)
        .await
    {
        Ok(id) => println!("Đã tạo tài khoản ban tổ chức \"{username}\" (id {id})."),
        Err(e) if crate::store::is_unique_violation(&e) => {
            bail!("tên đăng nhập \"{username}\" đã được dùng")
        }
        Err(e) => return Err(e.into()),
    }
    db.close().await;
    Ok(())
}

async fn retention(url: &str, days: u32, dry_run: bool) -> anyhow::Result<()> {
    if days < 30 {
        bail!("--older-than-days phải từ 30 trở lên (giữ số liệu ít nhất một tháng để báo cáo)");
    }
    let db = Db::connect(url).await?;
    let cutoff = crate::domain::time::now_ms() - i64::from(days) * 24 * 3600 * 1000;
    let sessions = db.sessions_to_purge(cutoff).await?;
    println!(
        "{} buổi học kết thúc trước {} còn dữ liệu cá nhân.",
        sessions.len(),
        crate::domain::time::to_local(cutoff).format("%d/%m/%Y")
    );
    for s in &sessions {
        let tally =
            crate::domain::tally::Tally::build(db.tally_source(s.id, &s.scope_unit_path).await?);
        let connected = db
            .connected_points(s.id)
            .await?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let rows = crate::domain::report::rows(&tally, s.scope_unit_id, &connected);
        let top = &rows[0];
        let summary =
            crate::domain::report::summary(&top.name, top.points_connected, top.participants_live);
        println!(
            "  #{} {} — {}",
            s.id,
            crate::domain::time::to_local(s.starts_at).format("%d/%m/%Y"),
            summary
        );
        if !dry_run {
            let figures = serde_json::json!({"summary": summary, "rows": rows}).to_string();
            let purged = db.purge_session(s.id, &figures).await?;
            println!(
                "    đã xóa: {} lượt điểm danh, {} báo vắng, {} báo số người, {} người xem tại nhà, {} tiến độ học bù",
                purged.checkins,
                purged.absences,
                purged.head_counts,
                purged.public_viewers,
                purged.makeup
            );
        }
    }
    if !dry_run {
        let (ops, hooks) = db.purge_old_records(cutoff).await?;
        println!("Đã xóa {ops} bản ghi thao tác và {hooks} lượt gửi webhook cũ.");
    } else {
        println!("(chạy thử: chưa xóa gì)");
    }
    db.close().await;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let url = match (&args.db.database_url, args.demo) {
        (Some(url), _) => url.clone(),
        (None, true) => {
            // The demo starts fresh each time, with new passwords.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("diemcau-demo.db{suffix}"));
            }
            "sqlite://diemcau-demo.db".to_string()
        }
        (None, false) => args.db.url(),
    };
    let db = Db::connect(&url).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("không mở được cổng {}", args.listen))?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| default_public_url(local));
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("không mở được cổng {addr}"))?,
        ),
        None => None,
    };
    let config = ServerConfig::new(&public_url, metrics_listener.is_none());
    let base = config.public_url().to_string();

    let demo = if args.demo {
        Some(demo::load(&db, &base).await?)
    } else {
        None
    };
    print_banner(
        &base,
        &db,
        demo.as_ref(),
        metrics_listener.as_ref().and_then(|l| l.local_addr().ok()),
    )
    .await?;
    crate::run(config, db, listener, metrics_listener, shutdown_signal()).await
}

fn default_public_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

async fn print_banner(
    base: &str,
    db: &Db,
    demo: Option<&demo::DemoInfo>,
    metrics: Option<SocketAddr>,
) -> anyhow::Result<()> {
    println!();
    println!(
        "  diemcau {} — đang chạy / running ({})",
        env!("CARGO_PKG_VERSION"),
        db.backend()
    );
    println!();
    println!("  Trang quản trị / Admin:        {base}/");
    println!("  Đăng nhập / Sign in:           {base}/dang-nhap");
    println!("  Tài liệu API / API docs:       {base}/api/docs   ({base}/api/openapi.json)");
    println!("  Kiểm tra / Health:             {base}/healthz");
    match metrics {
        Some(addr) => println!("  Số đo / Metrics:               http://{addr}/metrics"),
        None => println!("  Số đo / Metrics:               {base}/metrics"),
    }
    if let Some(demo) = demo {
        println!();
        println!(
            "  DEMO — Tỉnh Thái Nguyên, buổi học tập chuyên đề hôm nay (id {}), {} điểm cầu",
            demo.session_id,
            demo.operator_links.len()
        );
        let id = demo.session_id;
        println!("  Theo dõi trực tiếp / Live dashboard: {base}/truc-tiep/{id}");
        println!("  Trang công khai / Public page:       {base}/s/{id}");
        println!("  Lớp phủ truyền hình / TV overlay:    {base}/tv/{id}/overlay");
        println!("  Điểm danh tại nhà / Home check-in:   {base}/tv/{id}");
        println!(
            "  Tài khoản demo / Demo accounts (mật khẩu mới mỗi lần chạy / new passwords each start):"
        );
        for a in &demo.accounts {
            let role = match a.role {
                Role::Organizer => "ban tổ chức / organizer".to_string(),
                Role::Manager => format!(
                    "quản lý đơn vị {} / unit manager",
                    a.unit.as_deref().unwrap_or("")
                ),
            };
            println!("    {:<16} {:<16} {role}", a.username, a.password);
        }
        println!(
            "  Đường dẫn điểm cầu / Point operator links (3 of {}):",
            demo.operator_links.len()
        );
        for (name, link) in demo.operator_links.iter().take(3) {
            println!("    {name}: {link}");
        }
    } else if db.organizer_count().await? == 0 {
        println!();
        println!("  Chưa có tài khoản ban tổ chức. Tạo bằng / Create the first organizer with:");
        println!("    diemcau admin create --username <tên>");
    }
    println!();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
