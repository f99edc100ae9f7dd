//! The national-scale benchmark of diemcau (issue 6).
//!
//! ```sh
//! cargo bench --bench national -- [--backend sqlite|postgres|both] [--scale N]
//!     [--phases import,ceiling,http,ws,burst,dashboards] [--http-mode self|operator]
//! ```
//!
//! It builds the national dataset (34 provinces, 3,321 communes, 40,000
//! points, 2,000,000 members; `--scale N` divides the points and members by
//! N), runs the real release server as child processes on 127.0.0.1 with a
//! fresh database, measures import, the ceiling of a trivial endpoint,
//! durable check-ins over HTTP and over console WebSockets, server memory
//! per console, a whole national session in the burst shape of a real
//! start, and dashboard staleness — on SQLite with one instance, and on
//! PostgreSQL with two. It prints the results as JSON on stdout and writes
//! BENCHMARKS.md (see `report.rs`). Progress goes to stderr.
//!
//! Only loopback addresses are used; every loop is bounded in count and
//! time; the servers and workers die with it.

mod consoles;
mod dashboards;
mod dataset;
mod http_load;
mod report;
mod server;
mod stats;
mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::consoles::LoadReport;
use crate::dataset::Dataset;
use crate::http_load::{HttpItem, HttpMode, HttpPlan};
use crate::report::*;
use crate::server::{Backend, Database, Instance, Org};
use crate::stats::{now_us, proc, round1, round2};
use crate::worker::{ConsoleTarget, DashboardTarget, Event, Order, Worker};

pub const PHASES: [&str; 6] = ["import", "ceiling", "http", "ws", "burst", "dashboards"];

/// What the issue asks for at full scale.
pub const TARGET_CONSOLES: usize = 40_000;
pub const TARGET_DASHBOARDS: usize = 1_000;
/// Acknowledgement counts at which dashboard staleness is measured.
const STALENESS_SAMPLES: usize = 200;

#[derive(Clone, Debug)]
pub struct Options {
    pub backends: Vec<Backend>,
    pub scale: usize,
    pub phases: BTreeSet<String>,
    pub http_mode: HttpMode,
    pub clients: usize,
    pub dashboards: usize,
    pub ceiling_path: String,
    pub postgres_url: String,
    pub out: Option<PathBuf>,
    pub write: bool,
    pub command: String,
}

const USAGE: &str = "\
cargo bench --bench national -- [options]

  --backend sqlite|postgres|both   databases to measure (default both)
  --scale N                        divide points and members by N (default 1: the whole
                                   country; 50 is a one-minute smoke run)
  --phases LIST                    comma-separated, of import,ceiling,http,ws,burst,dashboards
                                   (default all; the members are imported whatever is chosen;
                                   dashboards are measured during the burst, which they imply)
  --http-mode self|operator        HTTP check-ins: member self check-in with the point's QR
                                   token (default), or the operator endpoint, one per request
  --clients N                      concurrent HTTP clients (default 64)
  --dashboards N                   dashboards subscribed during the burst (default 1000)
  --ceiling-path PATH              the trivial endpoint of the ceiling (default /healthz)
  --postgres-url URL               server to create the benchmark database on (default
                                   $DIEMCAU_BENCH_POSTGRES_URL or
                                   postgres://postgres@127.0.0.1:5432/test; loopback only)
  --out PATH                       where to write the report (default BENCHMARKS.md at
                                   scale 1, target/national-bench/BENCHMARKS-scale-N.md otherwise)
  --no-write                       print the JSON only

  $DIEMCAU_BENCH_SERVER            the diemcau binary to measure (default: the one built
                                   with the benchmark); for back-to-back comparisons
";

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            backends: vec![Backend::Sqlite, Backend::Postgres],
            scale: 1,
            phases: PHASES.iter().map(|s| s.to_string()).collect(),
            http_mode: HttpMode::SelfCheckin,
            clients: 64,
            dashboards: TARGET_DASHBOARDS,
            ceiling_path: "/healthz".into(),
            postgres_url: std::env::var("DIEMCAU_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
            out: None,
            write: true,
            command: String::new(),
        };
        let mut shown = vec!["cargo bench --bench national --".to_string()];
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| -> Result<String> {
                it.next()
                    .cloned()
                    .ok_or_else(|| anyhow!("{name} needs a value"))
            };
            match arg.as_str() {
                // cargo bench passes --bench to every bench binary.
                "--bench" => continue,
                "--help" | "-h" => {
                    eprint!("{USAGE}");
                    std::process::exit(0);
                }
                "--backend" => {
                    let v = value(arg)?;
                    o.backends = match v.as_str() {
                        "sqlite" => vec![Backend::Sqlite],
                        "postgres" => vec![Backend::Postgres],
                        "both" => vec![Backend::Sqlite, Backend::Postgres],
                        other => bail!("--backend {other}: sqlite, postgres or both"),
                    };
                    shown.push(format!("--backend {v}"));
                }
                "--scale" => {
                    let v = value(arg)?;
                    o.scale = v.parse().context("--scale takes a whole number")?;
                    if o.scale == 0 || o.scale > 3321 {
                        bail!("--scale is between 1 and 3321");
                    }
                    shown.push(format!("--scale {v}"));
                }
                "--phases" => {
                    let v = value(arg)?;
                    o.phases = v
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    for p in &o.phases {
                        if !PHASES.contains(&p.as_str()) {
                            bail!("unknown phase {p:?} (known: {})", PHASES.join(","));
                        }
                    }
                    shown.push(format!("--phases {v}"));
                }
                "--http-mode" => {
                    let v = value(arg)?;
                    o.http_mode = match v.as_str() {
                        "self" => HttpMode::SelfCheckin,
                        "operator" => HttpMode::Operator,
                        other => bail!("--http-mode {other}: self or operator"),
                    };
                    shown.push(format!("--http-mode {v}"));
                }
                "--clients" => {
                    let v = value(arg)?;
                    o.clients = v.parse().context("--clients")?;
                    o.clients = o.clients.clamp(1, 1024);
                    shown.push(format!("--clients {v}"));
                }
                "--dashboards" => {
                    let v = value(arg)?;
                    o.dashboards = v.parse().context("--dashboards")?;
                    o.dashboards = o.dashboards.min(10_000);
                    shown.push(format!("--dashboards {v}"));
                }
                "--ceiling-path" => {
                    let v = value(arg)?;
                    if !v.starts_with('/') {
                        bail!("--ceiling-path is a path such as /healthz");
                    }
                    shown.push(format!("--ceiling-path {v}"));
                    o.ceiling_path = v;
                }
                "--postgres-url" => {
                    o.postgres_url = value(arg)?;
                    shown.push("--postgres-url …".into());
                }
                "--out" => {
                    let v = value(arg)?;
                    o.out = Some(PathBuf::from(&v));
                    shown.push(format!("--out {v}"));
                }
                "--no-write" => {
                    o.write = false;
                    shown.push("--no-write".into());
                }
                other => bail!("unknown argument {other:?}\n\n{USAGE}"),
            }
        }
        if o.phases.contains("dashboards") {
            o.phases.insert("burst".into());
        }
        o.command = shown.join(" ");
        Ok(o)
    }

    pub fn has(&self, phase: &str) -> bool {
        self.phases.contains(phase)
    }

    /// A duration that is `full` seconds at scale 1, shorter on smaller
    /// runs, never under `min`.
    fn secs(&self, full: f64, min: f64) -> Duration {
        Duration::from_secs_f64((full / self.scale as f64).max(min))
    }

    fn report_path(&self) -> PathBuf {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        match &self.out {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => std::env::current_dir().unwrap_or(root).join(p),
            None if self.scale == 1 => root.join("BENCHMARKS.md"),
            None => root
                .join("target/national-bench")
                .join(format!("BENCHMARKS-scale-{}.md", self.scale)),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--worker") {
        if let Err(e) = worker::main() {
            eprintln!("worker: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let opts = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(async {
        tokio::select! {
            r = run(opts.clone()) => match r {
                Ok(all_ok) => if all_ok { 0 } else { 1 },
                Err(e) => {
                    eprintln!("benchmark failed: {e:#}");
                    1
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted: stopping the servers and dropping the benchmark database");
                if opts.backends.contains(&Backend::Postgres) {
                    let _ = tokio::time::timeout(Duration::from_secs(10), drop_pg(&opts.postgres_url)).await;
                }
                130
            }
        }
    });
    // Children (servers under their watchdogs, workers) end when our pipes close.
    std::process::exit(code);
}

async fn drop_pg(admin: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let name = format!("diemcau_bench_{}", std::process::id());
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

pub fn log(backend: Backend, msg: impl AsRef<str>) {
    eprintln!(
        "[{} {}] {}",
        chrono::Local::now().format("%H:%M:%S"),
        backend.name(),
        msg.as_ref()
    );
}

async fn run(opts: Options) -> Result<bool> {
    let started = chrono::Local::now();
    let machine = Machine::probe();
    eprintln!(
        "national benchmark: scale {}, phases {}, backends {}; {} cores, {}",
        opts.scale,
        opts.phases.iter().cloned().collect::<Vec<_>>().join(","),
        opts.backends
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join("+"),
        machine.cores,
        machine.cpu
    );
    let mut backends = Vec::new();
    for &backend in &opts.backends {
        let t0 = Instant::now();
        let mut res = BackendResult::new(backend);
        if let Err(e) = run_backend(backend, &opts, &mut res).await {
            log(backend, format!("FAILED: {e:#}"));
            res.error = Some(format!("{e:#}"));
        }
        res.wall_seconds = round1(t0.elapsed().as_secs_f64());
        backends.push(res);
    }
    let all_ok = backends.iter().all(|b| b.error.is_none());
    let run = RunReport {
        command: opts.command.clone(),
        scale: opts.scale,
        phases: opts.phases.iter().cloned().collect(),
        started_at: started.to_rfc3339(),
        machine,
        backends,
    };
    println!("{}", serde_json::to_string_pretty(&run)?);
    let json_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/national-bench");
    let _ = std::fs::create_dir_all(&json_dir);
    let _ = std::fs::write(
        json_dir.join(format!("results-scale-{}.json", opts.scale)),
        serde_json::to_string_pretty(&run)?,
    );
    if opts.write {
        let path = opts.report_path();
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&path, markdown(&run, &opts))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(all_ok)
}

/// The running servers of one backend and what the phases share.
struct Bench<'a> {
    opts: &'a Options,
    backend: Backend,
    ds: Dataset,
    db: Database,
    dir: tempfile::TempDir,
    instances: Vec<Instance>,
    addrs: Vec<SocketAddr>,
    bases: Vec<String>,
    org: Option<Org>,
}

async fn run_backend(backend: Backend, opts: &Options, res: &mut BackendResult) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("diemcau-national-")
        .tempdir()
        .context("temporary directory")?;
    log(
        backend,
        format!("building the dataset (scale {})", opts.scale),
    );
    let ds = Dataset::build(opts.scale)?;
    res.dataset = DatasetInfo {
        units: ds.units.len(),
        provinces: ds.provinces,
        communes: ds.all_communes,
        communes_with_points: ds.communes.len(),
        points: ds.points.len(),
        members: ds.members,
    };
    let db = Database::create(backend, dir.path(), &opts.postgres_url).await?;
    let mut bench = Bench {
        opts,
        backend,
        ds,
        db,
        dir,
        instances: Vec::new(),
        addrs: Vec::new(),
        bases: Vec::new(),
        org: None,
    };
    let outcome = bench.phases(res).await;
    for i in &mut bench.instances {
        i.stop(Duration::from_secs(15));
    }
    bench.db.drop_now().await;
    // Keep the servers' logs (the temporary directory goes).
    let logs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/national-bench/logs");
    let _ = std::fs::create_dir_all(&logs);
    for (i, inst) in bench.instances.iter().enumerate() {
        let to = logs.join(format!(
            "{}-scale-{}-server-{i}.log",
            backend.name(),
            opts.scale
        ));
        if std::fs::copy(&inst.log, &to).is_ok() {
            res.server_logs.push(to.display().to_string());
        }
    }
    outcome
}

/// CPU seconds of the servers and of the load generator at one moment.
struct CpuMark {
    at: Instant,
    server: f64,
    generator: f64,
}

impl Bench<'_> {
    fn log(&self, msg: impl AsRef<str>) {
        log(self.backend, msg);
    }

    fn org(&self) -> &Org {
        self.org.as_ref().expect("signed in")
    }

    fn cpu_mark(&self, workers: &[&Worker]) -> CpuMark {
        let server = self.instances.iter().filter_map(|i| i.cpu_seconds()).sum();
        let generator = proc::cpu_seconds(std::process::id()).unwrap_or(0.0)
            + workers
                .iter()
                .filter_map(|w| proc::cpu_seconds(w.pid()))
                .sum::<f64>();
        CpuMark {
            at: Instant::now(),
            server,
            generator,
        }
    }

    fn cpu_since(&self, mark: &CpuMark, workers: &[&Worker]) -> CpuUse {
        let now = self.cpu_mark(workers);
        let wall = now.at.duration_since(mark.at).as_secs_f64().max(1e-3);
        CpuUse {
            server_cores: round2((now.server - mark.server) / wall),
            generator_cores: round2((now.generator - mark.generator) / wall),
        }
    }

    fn rss_mb(&self) -> Vec<f64> {
        self.instances
            .iter()
            .map(|i| round1(i.rss_kb().unwrap_or(0) as f64 / 1024.0))
            .collect()
    }

    async fn phases(&mut self, res: &mut BackendResult) -> Result<()> {
        self.setup(res).await?;
        if self.opts.has("ceiling") {
            self.log(format!("ceiling: GET {}", self.opts.ceiling_path));
            let mark = self.cpu_mark(&[]);
            let c = http_load::ceiling(
                &self.addrs,
                self.opts.clients,
                &self.opts.ceiling_path,
                self.opts.secs(15.0, 3.0),
            )
            .await?;
            let cpu = self.cpu_since(&mark, &[]);
            self.log(format!(
                "ceiling: {} req/s, p99 {:?} ms",
                c.per_second, c.latency.p99_ms
            ));
            res.ceiling = Some(CeilingPhase { result: c, cpu });
        }
        let s1 = if self.opts.has("http") || self.opts.has("ws") {
            Some(
                self.session_with_points("Học tập chuyên đề 2026 — đo HTTP và bàn điều khiển", res)
                    .await?,
            )
        } else {
            None
        };
        if let (true, Some((session, points))) = (self.opts.has("http"), &s1) {
            res.http = Some(
                self.http_phase(*session, points, res.ceiling.as_ref())
                    .await?,
            );
        }
        if let (true, Some((session, points))) = (self.opts.has("ws"), &s1) {
            let mut ws = WsPhase::default();
            let outcome = self.ws_phase(*session, points, &mut ws).await;
            res.ws = Some(ws);
            outcome?;
        }
        if self.opts.has("burst") {
            let (session, points) = self
                .session_with_points("Hội nghị học tập chuyên đề toàn quốc 2026", res)
                .await?;
            let mut burst = BurstPhase::default();
            let outcome = self.burst_phase(session, &points, &mut burst, res).await;
            res.burst = Some(burst);
            outcome?;
        }
        Ok(())
    }

    async fn setup(&mut self, res: &mut BackendResult) -> Result<()> {
        let url = self.db.url.clone();
        let dir = self.dir.path().to_path_buf();
        self.log("creating the first organizer (diemcau admin create --password-stdin)");
        server::run_cli(
            &[
                "admin",
                "create",
                "--username",
                server::ORGANIZER,
                "--password-stdin",
                "--database-url",
                &url,
            ],
            Some(&format!("{}\n", server::PASSWORD)),
            Duration::from_secs(300),
        )?;
        let units_file = dir.join("units.csv");
        std::fs::write(&units_file, self.ds.units_csv())?;
        let (units_took, _) = server::run_cli(
            &[
                "import",
                "units",
                units_file.to_str().unwrap_or_default(),
                "--database-url",
                &url,
            ],
            None,
            Duration::from_secs(600),
        )?;
        self.log(format!(
            "imported {} units in {:.1} s",
            self.ds.units.len(),
            units_took.as_secs_f64()
        ));
        let members_file = dir.join("members.csv");
        let t0 = Instant::now();
        let bytes = self.ds.write_members_csv(&members_file)?;
        let gen_secs = t0.elapsed().as_secs_f64();
        self.log(format!(
            "wrote {} members ({:.0} MB) in {:.1} s; importing (diemcau import members)",
            self.ds.members,
            bytes as f64 / 1e6,
            gen_secs
        ));
        let limit = Duration::from_secs(3600);
        let (took, out) = server::run_cli(
            &[
                "import",
                "members",
                members_file.to_str().unwrap_or_default(),
                "--database-url",
                &url,
            ],
            None,
            limit,
        )?;
        let secs = took.as_secs_f64();
        self.log(format!(
            "import: {} members in {secs:.1} s — {out}",
            self.ds.members
        ));
        res.import = Some(ImportPhase {
            via: "command line: diemcau import members <file.csv> (parse + one transaction), process wall time".into(),
            members: self.ds.members,
            file_megabytes: round1(bytes as f64 / 1e6),
            seconds: round2(secs),
            rows_per_second: (self.ds.members as f64 / secs).round(),
            output: out,
            units: self.ds.units.len(),
            units_seconds: round2(units_took.as_secs_f64()),
        });
        let _ = std::fs::remove_file(&members_file);

        let n = match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        };
        for i in 0..n {
            let inst = Instance::start(&url, dir.join(format!("server-{i}.log")))?;
            self.log(format!(
                "server {i} at {} (pid {})",
                inst.base_url, inst.pid
            ));
            self.addrs.push(inst.addr);
            self.bases.push(inst.base_url.clone());
            self.instances.push(inst);
        }
        res.instances = n;
        self.org = Some(Org::sign_in(&self.bases[0]).await?);
        Ok(())
    }

    /// A session of the whole country, open, with every point registered.
    async fn session_with_points(
        &self,
        theme: &str,
        res: &mut BackendResult,
    ) -> Result<(i64, Arc<Vec<(i64, String)>>)> {
        let session = self.org().open_session(&self.bases[0], theme).await?;
        let t0 = Instant::now();
        let points = self
            .org()
            .create_points(&self.bases, &self.ds, session)
            .await?;
        let secs = t0.elapsed().as_secs_f64();
        self.log(format!(
            "session {session}: {} points registered in {secs:.1} s ({:.0}/s)",
            points.len(),
            points.len() as f64 / secs
        ));
        res.setup.push(SetupStep {
            what: format!("session {session}: register {} points (POST /api/sessions/{{id}}/points, 64 at a time)", points.len()),
            seconds: round1(secs),
            per_second: (points.len() as f64 / secs).round(),
        });
        Ok((session, Arc::new(points)))
    }

    async fn http_phase(
        &self,
        session: i64,
        points: &Arc<Vec<(i64, String)>>,
        ceiling: Option<&CeilingPhase>,
    ) -> Result<HttpPhase> {
        // Even members check in over HTTP, odd ones from the consoles (same session).
        let by_point = self.ds.members_by_point(|m| m % 2 == 0);
        let mut order: Vec<usize> = (0..self.ds.points.len()).collect();
        order.sort_by_key(|p| dataset::mix(*p as u64 ^ 0x4774));
        let items: Vec<HttpItem> = order
            .iter()
            .flat_map(|&p| {
                by_point[p].iter().map(move |&m| HttpItem {
                    member: m,
                    point: p as u32,
                    not_before: Duration::ZERO,
                })
            })
            .collect();
        let plan = Arc::new(HttpPlan {
            mode: self.opts.http_mode,
            points: points.as_ref().clone(),
            items,
            id_prefix: "h-".into(),
        });
        let limit = self.opts.secs(20.0, 5.0);
        self.log(format!(
            "http: {} clients, {} members available, at most {:.0} s ({:?})",
            self.opts.clients,
            plan.items.len(),
            limit.as_secs_f64(),
            self.opts.http_mode
        ));
        let mark = self.cpu_mark(&[]);
        let start = Instant::now();
        let r =
            http_load::checkins(&self.addrs, self.opts.clients, plan, start, start + limit).await?;
        let cpu = self.cpu_since(&mark, &[]);
        self.log(format!(
            "http: {} checked in in {} s = {}/s, p50 {:?} ms, p99 {:?} ms, failed {:?}",
            r.checked_in, r.seconds, r.per_second, r.latency.p50_ms, r.latency.p99_ms, r.failed
        ));
        let ratio = ceiling
            .filter(|c| c.result.per_second > 0.0)
            .map(|c| round2(r.per_second / c.result.per_second));
        Ok(HttpPhase {
            session,
            method: self.opts.http_mode.describe().into(),
            result: r,
            ratio_to_ceiling: ratio,
            cpu,
        })
    }

    /// How many more sockets each server may open: its limit, less what it
    /// holds now, less `reserve` (sockets still to come) and a margin.
    fn socket_room(&self, reserve: usize) -> Vec<(usize, usize, usize)> {
        self.instances
            .iter()
            .map(|i| {
                let limit = nofile_limit_of(i.pid).unwrap_or(1024);
                let open = proc::open_fds(i.pid).unwrap_or(0);
                (limit, open, limit.saturating_sub(open + reserve + 100))
            })
            .collect()
    }

    /// Opens consoles on as many points as the servers can hold (at most one
    /// per point, at most 40,000 / scale), over worker processes.
    async fn open_consoles(
        &self,
        points: &Arc<Vec<(i64, String)>>,
        reserve: usize,
        first_source: u8,
        info: &mut ConsoleInfo,
    ) -> Result<Consoles> {
        let wanted = (TARGET_CONSOLES / self.opts.scale).min(self.ds.points.len());
        let room = self.socket_room(reserve);
        let per_instance = room.iter().map(|r| r.2).min().unwrap_or(0);
        let n = wanted.min(per_instance * self.instances.len());
        info.target = wanted;
        info.planned = n;
        info.server_fd_limit = room.first().map(|r| r.0).unwrap_or(0);
        info.why = if n < wanted {
            format!(
                "{n} of {wanted}: a server process may hold at most {} open files here (hard limit, \
                 cannot be raised without CAP_SYS_RESOURCE); each of the {} instance(s) already held {:?} \
                 and keeps {} for other clients and a margin of 100, leaving room for {per_instance} consoles each",
                info.server_fd_limit,
                self.instances.len(),
                room.iter().map(|r| r.1).collect::<Vec<_>>(),
                reserve
            )
        } else {
            format!("all {wanted} wanted (one per point)")
        };
        let chosen: Vec<usize> = self.ds.points_by_rank().into_iter().take(n).collect();
        let own_limit = proc::nofile_hard_limit().unwrap_or(1024);
        // Well under a process's open-file limit and a source address's
        // ~28,000 ports.
        let per_worker = own_limit.saturating_sub(300).clamp(100, 15_000);
        let workers_n = n.div_ceil(per_worker).max(1);
        let chunk = n.div_ceil(workers_n);
        info.workers = workers_n;
        self.log(format!(
            "consoles: opening {n} (wanted {wanted}) over {workers_n} worker(s) from 127.0.0.{first_source}..; {}",
            info.why
        ));
        let mut workers = Vec::new();
        for w in 0..workers_n {
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, first_source + w as u8));
            workers.push(Worker::spawn(&format!("consoles-{w}"), ip)?);
        }
        let rss_before = self.rss_mb();
        let t0 = Instant::now();
        let chunks: Vec<Vec<usize>> = chosen.chunks(chunk.max(1)).map(|c| c.to_vec()).collect();
        let addrs = self.addrs.clone();
        let limit = Duration::from_secs(1800);
        let events = worker::all(&mut workers, limit, |w, worker| {
            let targets = chunks
                .get(w)
                .map(|c| {
                    c.iter()
                        .enumerate()
                        .map(|(k, &p)| ConsoleTarget {
                            // Consoles alternate between the instances.
                            addr: addrs[(w * chunk + k) % addrs.len()],
                            point_id: points[p].0,
                            secret: points[p].1.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Order::Consoles {
                source: worker.source,
                targets,
                concurrency: (64 / workers_n).max(8),
            }
        })
        .await?;
        let mut opened_mask = Vec::new();
        for (w, ev) in events.into_iter().enumerate() {
            match ev {
                Event::Ready {
                    opened,
                    failed,
                    failed_indices,
                    errors,
                    ..
                } => {
                    info.connected += opened;
                    info.failed += failed;
                    for (k, v) in errors {
                        *info.errors.entry(k).or_insert(0) += v;
                    }
                    let len = chunks.get(w).map(Vec::len).unwrap_or(0);
                    let mut mask = vec![true; len];
                    for i in failed_indices {
                        if i < len {
                            mask[i] = false;
                        }
                    }
                    opened_mask.push(mask);
                }
                other => bail!("unexpected worker answer {other:?}"),
            }
        }
        info.connect_seconds = round1(t0.elapsed().as_secs_f64());
        info.per_instance = (0..self.instances.len())
            .map(|i| {
                let mut count = 0;
                for (w, mask) in opened_mask.iter().enumerate() {
                    for (k, ok) in mask.iter().enumerate() {
                        if *ok && (w * chunk + k) % self.instances.len() == i {
                            count += 1;
                        }
                    }
                }
                count
            })
            .collect();
        info.sources = format!(
            "127.0.0.{}–127.0.0.{}",
            first_source,
            first_source as usize + workers_n - 1
        );
        self.log(format!(
            "consoles: {} connected, {} failed in {} s {:?}",
            info.connected, info.failed, info.connect_seconds, info.errors
        ));
        Ok(Consoles {
            workers,
            chunks,
            opened_mask,
            rss_before,
        })
    }

    async fn ws_phase(
        &self,
        session: i64,
        points: &Arc<Vec<(i64, String)>>,
        out: &mut WsPhase,
    ) -> Result<()> {
        out.session = session;
        let mut consoles = self.open_consoles(points, 64, 2, &mut out.consoles).await?;
        out.rss_before_mb = consoles.rss_before.clone();
        out.rss_connected_mb = self.rss_mb();
        // Idle: heartbeats every 15 s, a QR frame every 20 s.
        let idle = self.opts.secs(25.0, 3.0);
        self.log(format!("ws: idle for {:.0} s", idle.as_secs_f64()));
        let worker_refs: Vec<&Worker> = consoles.workers.iter().collect();
        let mark = self.cpu_mark(&worker_refs);
        tokio::time::sleep(idle).await;
        out.idle_cpu = Some(self.cpu_since(&mark, &worker_refs));
        out.idle_seconds = idle.as_secs_f64();
        out.rss_idle_mb = self.rss_mb();
        let (open, closes, _) = console_status(&mut consoles.workers).await?;
        out.consoles.open_after_idle = Some(open);
        if open < out.consoles.connected {
            self.log(format!(
                "ws: only {open} of {} consoles still open after the idle window: {closes:?}",
                out.consoles.connected
            ));
        }
        // Per console connected: the server's RSS hardly shrinks when some
        // close (freed memory stays with the allocator), so what it reached
        // is what all of them cost.
        let connected = out.consoles.connected.max(1) as f64;
        let grown: f64 = out
            .rss_idle_mb
            .iter()
            .zip(&out.rss_before_mb)
            .map(|(a, b)| a - b)
            .sum();
        out.kb_per_console = round1(grown * 1024.0 / connected);
        let base: f64 = out.rss_before_mb.iter().sum();
        out.extrapolated_40k_mb =
            round1(base + out.kb_per_console * TARGET_CONSOLES as f64 / 1024.0);
        self.log(format!(
            "ws: RSS {:?} MB before, {:?} MB with {} idle consoles: {} KB each; 40,000 would take about {} MB",
            out.rss_before_mb, out.rss_idle_mb, out.consoles.connected, out.kb_per_console, out.extrapolated_40k_mb
        ));

        // Check-ins from the consoles: odd members, each at a console of its own commune.
        let plans = self.console_plans(&consoles, |m| m % 2 == 1, |_| true);
        let planned: usize = plans.iter().flatten().map(Vec::len).sum();
        let limit = self.opts.secs(20.0, 5.0);
        self.log(format!(
            "ws: {planned} check-ins planned, at most {:.0} s",
            limit.as_secs_f64()
        ));
        let worker_refs: Vec<&Worker> = consoles.workers.iter().collect();
        let mark = self.cpu_mark(&worker_refs);
        let report = run_plans(
            &mut consoles.workers,
            plans,
            "w-",
            0.0,
            Duration::ZERO,
            limit,
            Duration::from_secs(30),
            None,
        )
        .await?;
        let worker_refs: Vec<&Worker> = consoles.workers.iter().collect();
        out.cpu = Some(self.cpu_since(&mark, &worker_refs));
        out.checkins = Some(LoadSummary::of(&report.consoles));
        out.rss_after_mb = self.rss_mb();
        let (open, closes, reconnects) = console_status(&mut consoles.workers).await?;
        out.consoles.open_at_end = Some(open);
        out.consoles.closes = closes;
        out.consoles.reconnects = reconnects;
        if let Some(s) = &out.checkins {
            self.log(format!(
                "ws: {} checked in in {} s = {}/s, ack p50 {:?} ms, p99 {:?} ms; refused {:?}, unanswered {}",
                s.checked_in, s.seconds, s.per_second, s.latency.p50_ms, s.latency.p99_ms, s.refused, s.unanswered
            ));
        }
        close_workers(&mut consoles.workers).await;
        Ok(())
    }

    /// Check-ins for each opened console: the members kept by `member`, of
    /// points kept by `point`, each given to a console of its own commune
    /// (in turn). Returns, per worker, per console, the member indices.
    fn console_plans(
        &self,
        consoles: &Consoles,
        member: impl Fn(usize) -> bool,
        point: impl Fn(usize) -> bool,
    ) -> Vec<Vec<Vec<u32>>> {
        let mut by_commune: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.ds.communes.len()];
        for (w, chunk) in consoles.chunks.iter().enumerate() {
            for (k, &p) in chunk.iter().enumerate() {
                if consoles.opened_mask[w][k] {
                    by_commune[self.ds.points[p].commune].push((w, k));
                }
            }
        }
        let mut plans: Vec<Vec<Vec<u32>>> = consoles
            .chunks
            .iter()
            .map(|c| vec![Vec::new(); c.len()])
            .collect();
        for (c, commune) in self.ds.communes.iter().enumerate() {
            let here = &by_commune[c];
            if here.is_empty() {
                continue;
            }
            let mut turn = 0;
            for m in commune.member_start..commune.member_start + commune.members {
                if member(m) && point(self.ds.point_of(m)) {
                    let (w, k) = here[turn % here.len()];
                    plans[w][k].push(m as u32);
                    turn += 1;
                }
            }
        }
        plans
    }

    async fn burst_phase(
        &self,
        session: i64,
        points: &Arc<Vec<(i64, String)>>,
        out: &mut BurstPhase,
        res: &mut BackendResult,
    ) -> Result<()> {
        out.session = session;
        out.members = self.ds.members;
        let n_inst = self.instances.len();
        // Dashboards first: they watch the whole burst.
        let mut dash_worker = None;
        // Staleness is sampled at totals spread over the session.
        let thresholds: Vec<i64> = (0..STALENESS_SAMPLES)
            .map(|i| {
                let k = self.ds.members as f64 * (i as f64 + 0.5) / STALENESS_SAMPLES as f64;
                (k.ceil() as i64).max(1)
            })
            .collect();
        if self.opts.has("dashboards") && self.opts.dashboards > 0 {
            let mut w = Worker::spawn("dashboards", IpAddr::V4(Ipv4Addr::new(127, 0, 0, 100)))?;
            let targets: Vec<DashboardTarget> = (0..self.opts.dashboards)
                .map(|d| DashboardTarget {
                    addr: self.addrs[d % n_inst],
                    session,
                    token: self.org().token.clone(),
                })
                .collect();
            self.log(format!(
                "dashboards: subscribing {} to session {session}",
                targets.len()
            ));
            w.send(&Order::Dashboards {
                source: w.source,
                targets,
                thresholds: thresholds.clone(),
                concurrency: 32,
            })
            .await?;
            match w.recv(Duration::from_secs(600)).await? {
                Event::Ready {
                    opened,
                    failed,
                    errors,
                    seconds,
                    ..
                } => {
                    self.log(format!("dashboards: {opened} subscribed, {failed} failed in {seconds:.1} s {errors:?}"));
                    res.dashboards_subscribed = opened;
                    if opened == 0 {
                        bail!("no dashboard could subscribe: {errors:?}");
                    }
                }
                other => bail!("unexpected answer {other:?}"),
            }
            dash_worker = Some(w);
        }
        let http_clients = (self.opts.clients / 4).max(2);
        let mut consoles = self
            .open_consoles(
                points,
                http_clients.div_ceil(n_inst) + 16,
                2,
                &mut out.consoles,
            )
            .await?;
        // Rooms where members scan the QR code themselves: one point in ten.
        let self_points = |p: usize| p % 10 == 0;
        let plans = self.console_plans(&consoles, |_| true, |p| !self_points(p));
        let via_consoles: usize = plans.iter().flatten().map(Vec::len).sum();
        // Everyone else over HTTP, at their own point: the self check-in
        // rooms, and communes whose consoles could not all be connected.
        let mut covered = vec![false; self.ds.members];
        for m in plans.iter().flatten().flatten() {
            covered[*m as usize] = true;
        }
        let trickle = self.opts.secs(30.0, 3.0);
        let share = 0.1;
        let mut items: Vec<HttpItem> = (0..self.ds.members)
            .filter(|m| !covered[*m])
            .map(|m| {
                let r = dataset::mix(m as u64 ^ 0xB0B0);
                let not_before = if (r % 1000) < (share * 1000.0) as u64 {
                    Duration::from_millis((r >> 12) % (trickle.as_millis().max(1) as u64))
                } else {
                    trickle
                };
                HttpItem {
                    member: m as u32,
                    point: self.ds.point_of(m) as u32,
                    not_before,
                }
            })
            .collect();
        items.sort_by_key(|i| (i.not_before, i.point));
        out.via_consoles = via_consoles;
        out.via_http = items.len();
        out.trickle_seconds = trickle.as_secs_f64();
        out.trickle_share = share;
        out.http_clients = http_clients;
        out.http_method = HttpMode::SelfCheckin.describe().into();
        self.log(format!(
            "burst: {} check-ins, {} from {} consoles and {} over HTTP ({} clients); {:.0}% spread over {:.0} s, then the rush",
            self.ds.members, via_consoles, out.consoles.connected, items.len(), http_clients, share * 100.0, trickle.as_secs_f64()
        ));
        let plan = Arc::new(HttpPlan {
            mode: HttpMode::SelfCheckin,
            points: points.as_ref().clone(),
            items,
            id_prefix: "s-".into(),
        });
        let mut refs: Vec<&Worker> = consoles.workers.iter().collect();
        if let Some(w) = &dash_worker {
            refs.push(w);
        }
        let mark = self.cpu_mark(&refs);
        let deadline = self.opts.secs(1800.0, 120.0);
        out.deadline_seconds = deadline.as_secs_f64();
        let addrs = self.addrs.clone();
        let http = HttpRun {
            addrs,
            clients: http_clients,
            plan,
        };
        let report = run_plans(
            &mut consoles.workers,
            plans,
            "b-",
            share,
            trickle,
            deadline,
            Duration::from_secs(60),
            Some(http),
        )
        .await?;
        let mut refs: Vec<&Worker> = consoles.workers.iter().collect();
        if let Some(w) = &dash_worker {
            refs.push(w);
        }
        out.cpu = Some(self.cpu_since(&mark, &refs));
        let PlanOutcome {
            consoles: consoles_report,
            http: http_result,
            start_us,
        } = report;
        let mut acks = consoles_report.acks.clone();
        let http_result = http_result.expect("http ran");
        acks.merge(&http_result.acks);
        let acknowledged = consoles_report.checked_in + http_result.checked_in;
        let last = consoles_report.last_ack_us.max(http_result.last_ack_us);
        out.acknowledged = acknowledged;
        out.ingest_seconds = round1(last.saturating_sub(start_us) as f64 / 1e6);
        out.per_second = if out.ingest_seconds > 0.0 {
            (acknowledged as f64 / out.ingest_seconds).round()
        } else {
            0.0
        };
        out.peak_per_second = acks.peak_per_second();
        let rush_start_ms = (start_us + trickle.as_micros() as u64) / 1000;
        let rush = acks.since(rush_start_ms);
        let rush_secs = (last / 1000).saturating_sub(rush_start_ms) as f64 / 1000.0;
        out.rush_per_second = if rush_secs > 0.0 {
            (rush as f64 / rush_secs).round()
        } else {
            0.0
        };
        out.consoles_result = Some(LoadSummary::of(&consoles_report));
        out.http_result = Some(http_result.clone());
        out.already_checked_in =
            consoles_report.already_checked_in + http_result.already_checked_in;
        out.unanswered = consoles_report.unanswered;
        out.not_sent = consoles_report.not_sent
            + (http_result.planned as u64).saturating_sub(http_result.sent);
        self.log(format!(
            "burst: {acknowledged} acknowledged in {} s ({}/s overall, {}/s in the rush, peak {}/s)",
            out.ingest_seconds, out.per_second, out.rush_per_second, out.peak_per_second
        ));

        // Dashboards: let them catch up, then measure.
        if let Some(w) = dash_worker.as_mut() {
            let until = Instant::now() + Duration::from_secs(10);
            let mut reports;
            loop {
                w.send(&Order::DashboardReport).await?;
                reports = match w.recv(Duration::from_secs(120)).await? {
                    Event::Dashboards { report } => *report,
                    other => bail!("unexpected answer {other:?}"),
                };
                let caught_up = reports
                    .last_totals
                    .iter()
                    .all(|t| *t as u64 >= acknowledged);
                if caught_up || Instant::now() > until {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let s = dashboards::staleness(&acks, &reports, &thresholds);
            self.log(format!(
                "dashboards: staleness p50 {:?} ms, p99 {:?} ms over {} samples × {} dashboards (never: {})",
                s.latency.p50_ms, s.latency.p99_ms, s.samples, s.dashboards, s.never
            ));
            res.dashboards = Some(s);
            w.send(&Order::Close).await?;
            let _ = w.recv(Duration::from_secs(60)).await;
        }
        let (open, closes, reconnects) = console_status(&mut consoles.workers).await?;
        out.consoles.open_at_end = Some(open);
        out.consoles.closes = closes;
        out.consoles.reconnects = reconnects;
        close_workers(&mut consoles.workers).await;

        // Verification: the server's figures against the acknowledgements.
        let mut v = Verification {
            acknowledged,
            ..Default::default()
        };
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            v.tally_members.clear();
            for base in &self.bases {
                v.tally_members
                    .push(self.org().tally_members(base, session).await?);
            }
            if v.tally_members.iter().all(|t| *t as u64 == acknowledged) || Instant::now() > until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let (rows, distinct) = self.db.count_checkins(session).await?;
        v.database_rows = rows;
        v.database_members = distinct;
        v.unanswered = out.unanswered;
        v.lost = (acknowledged as i64 - rows).max(0);
        v.doubled = (rows - distinct).max(0) + out.already_checked_in as i64;
        v.ok = rows as u64 >= acknowledged
            && rows as u64 <= acknowledged + out.unanswered
            && rows == distinct
            && out.already_checked_in == 0
            && v.tally_members.iter().all(|t| *t == rows);
        self.log(format!(
            "verify: acknowledged {acknowledged}, database {rows} rows / {distinct} members, tally {:?}: {}",
            v.tally_members,
            if v.ok { "OK" } else { "MISMATCH" }
        ));
        out.verification = Some(v);
        Ok(())
    }
}

fn nofile_limit_of(pid: u32) -> Option<usize> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Consoles held by worker processes.
struct Consoles {
    workers: Vec<Worker>,
    /// Dataset point indices of each worker's consoles, in order.
    chunks: Vec<Vec<usize>>,
    opened_mask: Vec<Vec<bool>>,
    rss_before: Vec<f64>,
}

struct HttpRun {
    addrs: Vec<SocketAddr>,
    clients: usize,
    plan: Arc<HttpPlan>,
}

struct PlanOutcome {
    consoles: LoadReport,
    http: Option<http_load::HttpResult>,
    start_us: u64,
}

/// Gives each worker its consoles' check-ins, starts them all at the same
/// moment (with the HTTP clients, if any), and gathers the reports.
#[allow(clippy::too_many_arguments)]
async fn run_plans(
    workers: &mut [Worker],
    plans: Vec<Vec<Vec<u32>>>,
    prefix: &str,
    trickle_share: f64,
    trickle: Duration,
    deadline: Duration,
    ack_timeout: Duration,
    http: Option<HttpRun>,
) -> Result<PlanOutcome> {
    let mut plans = plans.into_iter();
    worker::all(workers, Duration::from_secs(600), |_, _| Order::Plan {
        items: plans.next().unwrap_or_default(),
        id_prefix: prefix.to_string(),
        trickle_share,
        trickle_ms: trickle.as_millis() as u64,
    })
    .await?;
    let start_us = now_us() + 1_000_000;
    for w in workers.iter_mut() {
        w.send(&Order::Go {
            start_at_us: start_us,
            deadline_ms: deadline.as_millis() as u64,
            ack_timeout_ms: ack_timeout.as_millis() as u64,
        })
        .await?;
    }
    let start = Instant::now() + Duration::from_micros(start_us.saturating_sub(now_us()));
    let limit = deadline + ack_timeout + Duration::from_secs(60);
    let http_fut = async {
        match http {
            Some(h) => Some(
                http_load::checkins(&h.addrs, h.clients, h.plan, start, start + deadline).await,
            ),
            None => None,
        }
    };
    let workers_fut = futures_util::future::join_all(workers.iter_mut().map(|w| w.recv(limit)));
    let (http_result, events) = tokio::join!(http_fut, workers_fut);
    let mut total = LoadReport::default();
    for ev in events {
        match ev? {
            Event::Done { report } => total.merge(&report),
            other => bail!("unexpected worker answer {other:?}"),
        }
    }
    Ok(PlanOutcome {
        consoles: total,
        http: http_result.transpose()?,
        start_us,
    })
}

/// How many consoles the workers hold open, and why the others closed.
async fn console_status(workers: &mut [Worker]) -> Result<(usize, BTreeMap<String, u64>, usize)> {
    let mut open = 0;
    let mut reconnects = 0;
    let mut closes = BTreeMap::new();
    for ev in worker::all(workers, Duration::from_secs(60), |_, _| Order::Status).await? {
        if let Event::Status {
            open: o,
            closes: c,
            reconnects: r,
        } = ev
        {
            open += o;
            reconnects += r;
            for (k, v) in c {
                *closes.entry(k).or_insert(0) += v;
            }
        }
    }
    Ok((open, closes, reconnects))
}

async fn close_workers(workers: &mut [Worker]) {
    let _ = worker::all(workers, Duration::from_secs(60), |_, _| Order::Close).await;
}

impl LoadSummary {
    fn of(r: &LoadReport) -> LoadSummary {
        let secs = if r.last_ack_us > r.first_send_us {
            (r.last_ack_us - r.first_send_us) as f64 / 1e6
        } else {
            0.0
        };
        LoadSummary {
            consoles: r.consoles,
            planned: r.planned,
            sent: r.sent,
            checked_in: r.checked_in,
            already_checked_in: r.already_checked_in,
            refused: r.refused.clone(),
            unanswered: r.unanswered,
            retried: r.retried,
            not_sent: r.not_sent,
            disconnected: r.disconnected,
            seconds: round1(secs),
            per_second: if secs > 0.0 {
                (r.checked_in as f64 / secs).round()
            } else {
                0.0
            },
            latency: r.latency.summary(),
        }
    }
}
