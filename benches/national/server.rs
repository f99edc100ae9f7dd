//! The server under test: a fresh database (a SQLite file in the run's
//! temporary directory, or a new PostgreSQL database dropped at the end),
//! the command line for the first organizer and the imports, and `diemcau
//! serve` processes on 127.0.0.1 random ports.
//!
//! Each server runs under a small `sh` watchdog that reads our pipe and
//! kills the server when the pipe closes, so the servers die with the
//! benchmark whatever way it ends (even SIGKILL).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::dataset::{self, Dataset};
use crate::stats::proc;

pub const ORGANIZER: &str = "bantochuc";
pub const PASSWORD: &str = "Mat-khau-do-hieu-nang-2026";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The `diemcau` binary built with this benchmark, or the one named by
/// `DIEMCAU_BENCH_SERVER`: comparing two builds back to back needs one
/// benchmark and two servers.
pub fn server_exe() -> &'static str {
    static EXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        std::env::var("DIEMCAU_BENCH_SERVER")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_diemcau").to_string())
    })
}

/// A database made for this run; dropped (PostgreSQL) by [`Database::drop_now`].
pub struct Database {
    pub url: String,
    admin: Option<(String, String)>,
}

/// Refuses any database that is not on a loopback address: the benchmark
/// sends traffic to 127.0.0.0/8 only.
fn check_loopback_url(url: &str) -> Result<()> {
    let after = url.split("://").nth(1).unwrap_or("");
    let host_port = after.split('/').next().unwrap_or("");
    let host = host_port.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    if host == "localhost" || host.starts_with("127.") {
        Ok(())
    } else {
        bail!("the PostgreSQL server must be on a loopback address (127.0.0.0/8), not {host:?}")
    }
}

impl Database {
    pub async fn create(backend: Backend, dir: &Path, pg_admin: &str) -> Result<Database> {
        match backend {
            Backend::Sqlite => Ok(Database {
                url: format!("sqlite://{}", dir.join("national.db").display()),
                admin: None,
            }),
            Backend::Postgres => {
                use sqlx::Connection;
                check_loopback_url(pg_admin)?;
                let name = format!("diemcau_bench_{}", std::process::id());
                let mut conn = sqlx::PgConnection::connect(pg_admin)
                    .await
                    .with_context(|| format!("PostgreSQL at {pg_admin} is not reachable"))?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .context("creating the benchmark database")?;
                conn.close().await?;
                let (base, _) = pg_admin
                    .rsplit_once('/')
                    .ok_or_else(|| anyhow!("the PostgreSQL URL has no database name"))?;
                Ok(Database {
                    url: format!("{base}/{name}"),
                    admin: Some((pg_admin.to_string(), name)),
                })
            }
        }
    }

    /// Drops the PostgreSQL database (nothing to do for SQLite: the
    /// temporary directory goes).
    pub async fn drop_now(&mut self) {
        use sqlx::Connection;
        if let Some((admin, name)) = self.admin.take() {
            match sqlx::PgConnection::connect(&admin).await {
                Ok(mut conn) => {
                    if let Err(e) =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await
                    {
                        eprintln!("! could not drop database {name}: {e}");
                    }
                    let _ = conn.close().await;
                }
                Err(e) => eprintln!("! could not drop database {name}: {e}"),
            }
        }
    }

    /// Check-ins recorded for a session, read straight from the database:
    /// (live rows, distinct members).
    pub async fn count_checkins(&self, session: i64) -> Result<(i64, i64)> {
        let sql = format!(
            "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM checkins \
             WHERE session_id = {session} AND annulled_at IS NULL"
        );
        if self.url.starts_with("postgres") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&self.url)
                .await?;
            let row: (i64, i64) = sqlx::query_as(&sql).fetch_one(&pool).await?;
            pool.close().await;
            Ok(row)
        } else {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&self.url)
                .await?;
            let row: (i64, i64) = sqlx::query_as(&sql).fetch_one(&pool).await?;
            pool.close().await;
            Ok(row)
        }
    }
}

/// Runs the server's command line to completion (at most `limit`).
pub fn run_cli(args: &[&str], stdin: Option<&str>, limit: Duration) -> Result<(Duration, String)> {
    let started = Instant::now();
    let mut child = Command::new(server_exe())
        .args(args)
        .env("DIEMCAU_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", server_exe()))?;
    if let Some(mut input) = child.stdin.take() {
        if let Some(text) = stdin {
            input.write_all(text.as_bytes())?;
        }
    }
    let out = child.stdout.take().expect("piped");
    let err = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err_reader = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "`diemcau {}` did not finish within {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "`diemcau {}` failed ({status}): {}{}",
            args.first().copied().unwrap_or(""),
            stdout.trim(),
            stderr.chars().take(2000).collect::<String>()
        );
    }
    Ok((took, stdout.trim().to_string()))
}

/// A `diemcau serve` process.
pub struct Instance {
    pub base_url: String,
    pub addr: std::net::SocketAddr,
    /// The server's own pid (for RSS and CPU), not the watchdog's.
    pub pid: u32,
    watchdog: Child,
    /// Closing it makes the watchdog kill the server.
    lifeline: Option<ChildStdin>,
    pub log: PathBuf,
}

impl Instance {
    pub fn start(database_url: &str, log: PathBuf) -> Result<Instance> {
        const SCRIPT: &str = r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null
"$0" "$@" </dev/null 2>>"$DIEMCAU_BENCH_LOG" &
echo "diemcau-bench-pid $!"
while read -r _; do :; done
kill -9 $! 2>/dev/null"#;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg(server_exe())
            .args([
                "serve",
                "--database-url",
                database_url,
                "--listen",
                "127.0.0.1:0",
            ])
            .env("DIEMCAU_BENCH_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        let lifeline = watchdog.stdin.take();
        let stdout = watchdog.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut pid = None;
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(p) = line.strip_prefix("diemcau-bench-pid ") {
                    pid = p.trim().parse::<u32>().ok();
                } else if let Some(at) = line.find("http://127.0.0.1:") {
                    let url = line[at..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_end_matches('/')
                        .to_string();
                    let _ = tx.send((pid, url));
                    break;
                }
            }
            // Keep reading, or the server dies writing to a closed pipe.
            for _ in lines {}
        });
        let mut instance = Instance {
            base_url: String::new(),
            addr: "127.0.0.1:1".parse().expect("address"),
            pid: 0,
            watchdog,
            lifeline,
            log,
        };
        let (pid, url) = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
            anyhow!(
                "the server did not print its address within 2 minutes (log: {})",
                instance.log.display()
            )
        })?;
        instance.pid = pid.ok_or_else(|| anyhow!("the watchdog did not print the pid"))?;
        instance.addr = url
            .trim_start_matches("http://")
            .parse()
            .with_context(|| format!("server address {url}"))?;
        instance.base_url = url;
        Ok(instance)
    }

    pub fn rss_kb(&self) -> Option<u64> {
        proc::rss_kb(self.pid)
    }

    pub fn cpu_seconds(&self) -> Option<f64> {
        proc::cpu_seconds(self.pid)
    }

    fn alive(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
                .unwrap_or(true),
            Err(_) => false,
        }
    }

    /// SIGTERM (graceful: consoles get 1001, the pool closes), then the
    /// watchdog's SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.pid != 0 && self.alive() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status();
            let started = Instant::now();
            while self.alive() && started.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.lifeline.take();
        let _ = self.watchdog.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Kill the server itself, then let the watchdog end on its own (it
        // reaps the server): killing the watchdog first would orphan it.
        if self.pid != 0 && self.alive() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
        self.lifeline.take();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.watchdog.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// The organizer's API client (setup only; the hot loops use hyper).
#[derive(Clone)]
pub struct Org {
    pub http: reqwest::Client,
    pub token: String,
}

fn client(cookies: bool) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .cookie_store(cookies)
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(128)
        .build()?)
}

async fn answer(resp: reqwest::Response, what: &str, want: u16) -> Result<Value> {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.as_u16() != want {
        bail!(
            "{what}: answered {status}: {}",
            text.chars().take(500).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl Org {
    /// Signs the organizer in and makes a bearer token.
    pub async fn sign_in(base: &str) -> Result<Org> {
        let web = client(true)?;
        let login = answer(
            web.post(format!("{base}/api/auth/login"))
                .json(&json!({"username": ORGANIZER, "password": PASSWORD}))
                .send()
                .await?,
            "sign-in",
            200,
        )
        .await?;
        let csrf = login["csrf_token"].as_str().unwrap_or_default().to_string();
        let created = answer(
            web.post(format!("{base}/api/auth/tokens"))
                .header("X-CSRF-Token", csrf)
                .json(&json!({"name": "Đo hiệu năng toàn quốc"}))
                .send()
                .await?,
            "bearer token",
            201,
        )
        .await?;
        Ok(Org {
            http: client(false)?,
            token: created["token"]
                .as_str()
                .ok_or_else(|| anyhow!("no token in {created}"))?
                .to_string(),
        })
    }

    async fn post(&self, url: String, body: Value, what: &str, want: u16) -> Result<Value> {
        let resp = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .with_context(|| what.to_string())?;
        answer(resp, what, want).await
    }

    pub async fn get(&self, url: String, what: &str) -> Result<Value> {
        let resp = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| what.to_string())?;
        answer(resp, what, 200).await
    }

    /// A session of the whole country, running now, open for check-in.
    pub async fn open_session(&self, base: &str, theme: &str) -> Result<i64> {
        let now = chrono::Utc::now();
        let vn = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
        let at = |minutes: i64| {
            (now + chrono::Duration::minutes(minutes))
                .with_timezone(&vn)
                .to_rfc3339()
        };
        let created = self
            .post(
                format!("{base}/api/sessions"),
                json!({
                    "theme": theme,
                    "host_unit_code": dataset::ROOT_CODE,
                    "scope_unit_code": dataset::ROOT_CODE,
                    "starts_at": at(-30),
                    "ends_at": at(180),
                }),
                "creating the session",
                201,
            )
            .await?;
        let id = created["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("no session id in {created}"))?;
        self.post(
            format!("{base}/api/sessions/{id}/status"),
            json!({"status": "open"}),
            "opening check-in",
            200,
        )
        .await?;
        Ok(id)
    }

    /// Registers every point of the dataset for `session` (64 at a time,
    /// spread over the instances); returns (point id, operator secret) by
    /// dataset point index.
    pub async fn create_points(
        &self,
        bases: &[String],
        ds: &Dataset,
        session: i64,
    ) -> Result<Vec<(i64, String)>> {
        use futures_util::StreamExt;
        let bodies: Vec<Value> = (0..ds.points.len())
            .map(|p| {
                json!({
                    "unit_code": ds.communes[ds.points[p].commune].code,
                    "name": ds.point_name(p),
                    "operator_phone": dataset::operator_phone(p),
                    "capacity": 60 + (dataset::mix(p as u64) % 200) as i64,
                })
            })
            .collect();
        let results: Vec<Result<(i64, String)>> =
            futures_util::stream::iter(bodies.into_iter().enumerate())
                .map(|(p, body)| {
                    let base = &bases[p % bases.len()];
                    async move {
                        let mut last = None;
                        // A few tries: a busy server may time a request out.
                        for _ in 0..3 {
                            match self
                                .post(
                                    format!("{base}/api/sessions/{session}/points"),
                                    body.clone(),
                                    "registering a point",
                                    201,
                                )
                                .await
                            {
                                Ok(created) => {
                                    let id = created["point"]["id"].as_i64().unwrap_or(0);
                                    let link = created["operator_link"].as_str().unwrap_or("");
                                    let secret = link
                                        .split_once("/diem-cau#")
                                        .map(|(_, s)| s.to_string())
                                        .unwrap_or_default();
                                    if id == 0 || secret.is_empty() {
                                        return Err(anyhow!("no point id or secret in {created}"));
                                    }
                                    return Ok((id, secret));
                                }
                                Err(e) => last = Some(e),
                            }
                        }
                        Err(last.expect("tried"))
                    }
                })
                .buffered(64)
                .collect()
                .await;
        results.into_iter().collect()
    }

    /// The session's headline from the tally API: members checked in.
    pub async fn tally_members(&self, base: &str, session: i64) -> Result<i64> {
        let tally = self
            .get(format!("{base}/api/sessions/{session}/tally"), "tally")
            .await?;
        tally["headline"]["members"]
            .as_i64()
            .ok_or_else(|| anyhow!("no headline.members in the tally"))
    }
}
