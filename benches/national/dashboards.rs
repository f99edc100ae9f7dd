//! Live dashboards, in a worker process: each subscribes to the session's
//! dashboard WebSocket (`/api/sessions/{id}/live`, bearer token, the root
//! unit) and notes when its headline total of members first reaches each of
//! the sampled thresholds k. Staleness is then measured against the global
//! acknowledgement counter: the time from the k-th acknowledged check-in to
//! each dashboard first showing a total of at least k (docs/live-protocol.md).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::consoles::{has, ws_config};
use crate::http_load::connect_tcp;
use crate::stats::{AckSeries, Histogram, LatencySummary, now_us};
use crate::worker::{DashboardTarget, Event};

/// One dashboard's view over time.
#[derive(Debug, Clone, Default)]
struct Timeline {
    /// The total of the first snapshot: thresholds count from it.
    base: i64,
    last: i64,
    /// Unix µs at which the total first reached `base + thresholds[i]` (0: not yet).
    firsts: Vec<u64>,
    next: usize,
    messages: u64,
    bytes: u64,
    closed: bool,
}

impl Timeline {
    fn saw(&mut self, at: u64, total: i64, thresholds: &[i64]) {
        self.last = self.last.max(total);
        while self.next < thresholds.len() && total >= self.base + thresholds[self.next] {
            self.firsts[self.next] = at;
            self.next += 1;
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DashboardReport {
    /// Per dashboard, per threshold: Unix µs first seen (0: never).
    pub firsts: Vec<Vec<u64>>,
    /// Per dashboard: the last total seen, less the first.
    pub last_totals: Vec<i64>,
    pub messages: u64,
    pub bytes: u64,
    pub closed: usize,
}

/// An open dashboard: its timeline, and the way to stop it.
type Opened = (Arc<Mutex<Timeline>>, mpsc::UnboundedSender<()>);

pub struct DashboardSet {
    views: Vec<Arc<Mutex<Timeline>>>,
    stop: Vec<mpsc::UnboundedSender<()>>,
    alive: Arc<AtomicUsize>,
}

/// The `"members":N` of the message's headline, without parsing the rest
/// (an update carries the changed nodes too: kilobytes, up to ten times a second).
pub fn headline_members(text: &str) -> Option<i64> {
    let at = text.find("\"headline\":{")?;
    let rest = &text[at..];
    let m = rest.find("\"members\":")?;
    let digits: String = rest[m + 10..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

pub async fn open_all(
    source: IpAddr,
    targets: Vec<DashboardTarget>,
    thresholds: Vec<i64>,
    concurrency: usize,
) -> (DashboardSet, Event) {
    let thresholds = Arc::new(thresholds);
    use futures_util::stream;
    let started = std::time::Instant::now();
    let alive = Arc::new(AtomicUsize::new(0));
    let opened: Vec<Result<Opened>> = stream::iter(targets)
        .map(|t| {
            let alive = alive.clone();
            let thresholds = thresholds.clone();
            async move {
                let mut last = None;
                for attempt in 0..3u64 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
                    }
                    match open_one(source, &t, thresholds.clone(), alive.clone()).await {
                        Ok(v) => return Ok(v),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.expect("tried"))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut set = DashboardSet {
        views: Vec::new(),
        stop: Vec::new(),
        alive,
    };
    let mut errors = BTreeMap::new();
    let mut failed = 0;
    let failed_indices = Vec::new();
    for r in opened {
        match r {
            Ok((view, stop)) => {
                set.views.push(view);
                set.stop.push(stop);
            }
            Err(e) => {
                failed += 1;
                *errors
                    .entry(e.to_string().chars().take(160).collect())
                    .or_insert(0) += 1;
            }
        }
    }
    let ready = Event::Ready {
        opened: set.views.len(),
        failed,
        failed_indices,
        errors,
        seconds: started.elapsed().as_secs_f64(),
    };
    (set, ready)
}

async fn open_one(
    source: IpAddr,
    t: &DashboardTarget,
    thresholds: Arc<Vec<i64>>,
    alive: Arc<AtomicUsize>,
) -> Result<Opened> {
    let stream = connect_tcp(t.addr, Some(source)).await?;
    let mut req =
        format!("ws://{}/api/sessions/{}/live", t.addr, t.session).into_client_request()?;
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {}", t.token))?,
    );
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::client_async_with_config(req, stream, Some(ws_config(16 * 1024))),
    )
    .await
    .map_err(|_| anyhow!("dashboard handshake timed out"))??;
    // The first message is the snapshot.
    let first = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .map_err(|_| anyhow!("no snapshot within 30 s"))?;
    let view = Arc::new(Mutex::new(Timeline::default()));
    match first {
        Some(Ok(Message::Text(t))) if has(t.as_bytes(), br#""type":"snapshot""#) => {
            let total = headline_members(t.as_str())
                .ok_or_else(|| anyhow!("snapshot without a headline"))?;
            let mut v = view.lock().unwrap_or_else(|e| e.into_inner());
            v.base = total;
            v.last = total;
            v.firsts = vec![0; thresholds.len()];
            v.messages += 1;
            v.bytes += t.len() as u64;
        }
        other => bail!("first dashboard frame is not a snapshot: {other:?}"),
    }
    let (stop_tx, mut stop_rx) = mpsc::unbounded_channel::<()>();
    alive.fetch_add(1, Ordering::Relaxed);
    let task_view = view.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop_rx.recv() => {
                    let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
                    break;
                }
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(t))) => {
                        let at = now_us();
                        let total = headline_members(t.as_str());
                        let mut v = task_view.lock().unwrap_or_else(|e| e.into_inner());
                        v.messages += 1;
                        v.bytes += t.len() as u64;
                        if let Some(total) = total {
                            v.saw(at, total, &thresholds);
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        task_view.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
                        break;
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
        alive.fetch_sub(1, Ordering::Relaxed);
    });
    Ok((view, stop_tx))
}

impl DashboardSet {
    pub fn report(&self) -> DashboardReport {
        let mut r = DashboardReport::default();
        for v in &self.views {
            let v = v.lock().unwrap_or_else(|e| e.into_inner());
            r.firsts.push(v.firsts.clone());
            r.last_totals.push(v.last - v.base);
            r.messages += v.messages;
            r.bytes += v.bytes;
            r.closed += usize::from(v.closed);
        }
        r
    }

    pub async fn close(self) -> usize {
        for s in &self.stop {
            let _ = s.send(());
        }
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.alive.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.alive.load(Ordering::Relaxed)
    }
}

/// Dashboard staleness over a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Staleness {
    pub dashboards: usize,
    /// Acknowledged check-ins sampled.
    pub samples: usize,
    /// (sample, dashboard) pairs measured.
    pub measured: u64,
    /// Pairs where the dashboard never showed the total (closed, or ended).
    pub never: u64,
    pub latency: LatencySummary,
    pub messages: u64,
    pub megabytes_received: f64,
    pub closed_early: usize,
}

/// For each threshold k reached by the acknowledgements (all sources
/// together), the time from the k-th acknowledgement to each dashboard's
/// first total of at least k; negative times count as 0.
pub fn staleness(acks: &AckSeries, report: &DashboardReport, thresholds: &[i64]) -> Staleness {
    let total = acks.total();
    let mut out = Staleness {
        dashboards: report.firsts.len(),
        messages: report.messages,
        megabytes_received: (report.bytes as f64 / 1e6 * 10.0).round() / 10.0,
        closed_early: report.closed,
        ..Default::default()
    };
    let mut hist = Histogram::default();
    for (i, &k) in thresholds.iter().enumerate() {
        if k < 1 || k as u64 > total {
            continue;
        }
        let Some(ms) = acks.ms_of(k as u64) else {
            continue;
        };
        // The middle of the millisecond the k-th acknowledgement arrived in.
        let ack_us = ms * 1000 + 500;
        out.samples += 1;
        for firsts in &report.firsts {
            match firsts.get(i).copied().unwrap_or(0) {
                0 => out.never += 1,
                seen => {
                    hist.record_us(seen.saturating_sub(ack_us));
                    out.measured += 1;
                }
            }
        }
    }
    out.latency = hist.summary();
    out
}
