//! Worker processes of the load generator. One process may hold only about
//! 20,000 open files on this machine, so tens of thousands of consoles are
//! spread over several copies of the benchmark binary itself, started with
//! `--worker`, each given its own source address (127.0.0.x) and told what
//! to do in JSON lines on stdin; they answer in JSON lines on stdout.
//!
//! A worker ends when its stdin closes (the controller ended, however it
//! ended) and after [`MAX_LIFETIME`] whatever happens.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::consoles::{self, ConsoleSet, LoadReport};
use crate::dashboards::{self, DashboardSet};
use crate::stats::now_us;

/// A worker never outlives this, whatever it is doing.
const MAX_LIFETIME: Duration = Duration::from_secs(4 * 3600);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsoleTarget {
    pub addr: SocketAddr,
    pub point_id: i64,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DashboardTarget {
    pub addr: SocketAddr,
    pub session: i64,
    pub token: String,
}

/// What the controller tells a worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Order {
    /// Open these consoles (ticket, then WebSocket) from `source`.
    Consoles {
        source: IpAddr,
        targets: Vec<ConsoleTarget>,
        concurrency: usize,
    },
    /// Open these dashboards from `source`; note when each first shows a
    /// total of its first one plus each of `thresholds`.
    Dashboards {
        source: IpAddr,
        targets: Vec<DashboardTarget>,
        thresholds: Vec<i64>,
        concurrency: usize,
    },
    /// The check-ins each console will send (member indices, by console
    /// in the order of `Consoles`); the first `trickle_share` of each
    /// console's list is spread over `trickle_ms`, the rest as fast as
    /// acknowledgements come back.
    Plan {
        items: Vec<Vec<u32>>,
        id_prefix: String,
        trickle_share: f64,
        trickle_ms: u64,
    },
    /// Start the plan at `start_at_us` (Unix µs); send nothing after
    /// `deadline_ms`; wait at most `ack_timeout_ms` for each answer.
    Go {
        start_at_us: u64,
        deadline_ms: u64,
        ack_timeout_ms: u64,
    },
    /// The dashboards' timelines so far.
    DashboardReport,
    /// How many consoles are open, and why the others closed.
    Status,
    /// Close every console and dashboard.
    Close,
}

/// What a worker answers (externally tagged: the histograms inside have
/// integer map keys, which an internally tagged enum cannot read back).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Ready {
        opened: usize,
        failed: usize,
        /// Indices (in the order given) of those that could not be opened.
        failed_indices: Vec<usize>,
        errors: BTreeMap<String, usize>,
        seconds: f64,
    },
    Planned {
        items: usize,
    },
    Done {
        report: Box<LoadReport>,
    },
    Dashboards {
        report: Box<dashboards::DashboardReport>,
    },
    Closed {
        still_open: usize,
    },
    Status {
        open: usize,
        closes: BTreeMap<String, u64>,
        reconnects: usize,
    },
    Failed {
        message: String,
    },
}

/// Worker mode: read commands, run them one at a time, answer each.
pub fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
            // The controller is gone: so is this worker.
            std::process::exit(0);
        });
        std::thread::spawn(|| {
            std::thread::sleep(MAX_LIFETIME);
            eprintln!("worker: maximum lifetime reached, exiting");
            std::process::exit(3);
        });
        let mut consoles: Option<ConsoleSet> = None;
        let mut dashboards: Option<DashboardSet> = None;
        let mut plan: Option<consoles::Plan> = None;
        while let Some(line) = rx.recv().await {
            let cmd: Order = match serde_json::from_str(&line) {
                Ok(c) => c,
                Err(e) => {
                    emit(&Event::Failed {
                        message: format!("bad command: {e}"),
                    });
                    continue;
                }
            };
            let event = match cmd {
                Order::Consoles {
                    source,
                    targets,
                    concurrency,
                } => {
                    let (set, ready) = consoles::open_all(source, targets, concurrency).await;
                    consoles = Some(set);
                    ready
                }
                Order::Dashboards {
                    source,
                    targets,
                    thresholds,
                    concurrency,
                } => {
                    let (set, ready) =
                        dashboards::open_all(source, targets, thresholds, concurrency).await;
                    dashboards = Some(set);
                    ready
                }
                Order::Plan {
                    items,
                    id_prefix,
                    trickle_share,
                    trickle_ms,
                } => {
                    let n = items.iter().map(Vec::len).sum();
                    plan = Some(consoles::Plan {
                        items,
                        id_prefix,
                        trickle_share,
                        trickle: Duration::from_millis(trickle_ms),
                    });
                    Event::Planned { items: n }
                }
                Order::Go {
                    start_at_us,
                    deadline_ms,
                    ack_timeout_ms,
                } => match (&consoles, plan.take()) {
                    (Some(set), Some(p)) => {
                        let wait = Duration::from_micros(start_at_us.saturating_sub(now_us()));
                        let start = tokio::time::Instant::now() + wait;
                        let report = set
                            .run(
                                p,
                                start,
                                Duration::from_millis(deadline_ms),
                                Duration::from_millis(ack_timeout_ms),
                            )
                            .await;
                        Event::Done {
                            report: Box::new(report),
                        }
                    }
                    _ => Event::Failed {
                        message: "go without consoles or plan".into(),
                    },
                },
                Order::DashboardReport => match &dashboards {
                    Some(set) => Event::Dashboards {
                        report: Box::new(set.report()),
                    },
                    None => Event::Failed {
                        message: "no dashboards".into(),
                    },
                },
                Order::Status => match &consoles {
                    Some(set) => {
                        let (open, closes, reconnects) = set.status();
                        Event::Status {
                            open,
                            closes,
                            reconnects,
                        }
                    }
                    None => Event::Status {
                        open: 0,
                        closes: BTreeMap::new(),
                        reconnects: 0,
                    },
                },
                Order::Close => {
                    let mut still_open = 0;
                    if let Some(set) = consoles.take() {
                        still_open += set.close().await;
                    }
                    if let Some(set) = dashboards.take() {
                        still_open += set.close().await;
                    }
                    Event::Closed { still_open }
                }
            };
            emit(&event);
        }
        Ok(())
    })
}

fn emit(event: &Event) {
    let line = serde_json::to_string(event).expect("events serialize");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The controller's side of one worker process.
pub struct Worker {
    pub name: String,
    pub source: IpAddr,
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::UnboundedReceiver<Result<Event, String>>,
}

impl Worker {
    /// Starts a copy of this binary in worker mode with the hard limit of
    /// open files as its soft limit.
    pub fn spawn(name: &str, source: IpAddr) -> Result<Worker> {
        let exe = std::env::current_exe().context("locating the benchmark binary")?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@""#)
            .arg(&exe)
            .arg("--worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting a worker")?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, events) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event = serde_json::from_str::<Event>(&line).map_err(|e| {
                    format!(
                        "unreadable worker answer ({e}): {}",
                        &line[..line.len().min(200)]
                    )
                });
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(Worker {
            name: name.to_string(),
            source,
            stdin: child.stdin.take(),
            child,
            events,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a command (a blocking write of one line, on a helper thread).
    pub async fn send(&mut self, cmd: &Order) -> Result<()> {
        let mut line = serde_json::to_string(cmd)?;
        line.push('\n');
        let mut stdin = self
            .stdin
            .take()
            .ok_or_else(|| anyhow!("worker {} has no stdin", self.name))?;
        let (stdin, res) = tokio::task::spawn_blocking(move || {
            let res = stdin.write_all(line.as_bytes()).and_then(|_| stdin.flush());
            (stdin, res)
        })
        .await?;
        self.stdin = Some(stdin);
        res.with_context(|| format!("writing to worker {}", self.name))
    }

    /// The next answer, within `limit`.
    pub async fn recv(&mut self, limit: Duration) -> Result<Event> {
        match tokio::time::timeout(limit, self.events.recv()).await {
            Ok(Some(Ok(Event::Failed { message }))) => bail!("worker {}: {message}", self.name),
            Ok(Some(Ok(event))) => Ok(event),
            Ok(Some(Err(e))) => bail!("worker {}: {e}", self.name),
            Ok(None) => bail!("worker {} exited", self.name),
            Err(_) => bail!("worker {} did not answer within {limit:?}", self.name),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stdin.take();
        // `sh` exec'd the binary: this pid is the worker itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each worker its command and collects one answer from each, all at
/// once.
pub async fn all<F>(workers: &mut [Worker], limit: Duration, mut make: F) -> Result<Vec<Event>>
where
    F: FnMut(usize, &Worker) -> Order,
{
    for (i, w) in workers.iter_mut().enumerate() {
        let cmd = make(i, w);
        w.send(&cmd).await?;
    }
    let mut out = Vec::with_capacity(workers.len());
    let futures = workers.iter_mut().map(|w| w.recv(limit));
    for r in futures_util::future::join_all(futures).await {
        out.push(r?);
    }
    Ok(out)
}
