//! Live dashboards, in a worker process: each subscribes to the session's
//! dashboard WebSocket (`/api/sessions/{id}/live`, bearer token, the root
//! unit) and notes when its headline total of members changes. Staleness
//! is then measured against the global acknowledgement counter: for a
//! sampled k-th acknowledged check-in, the time from that acknowledgement to
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
    /// (Unix µs received, headline members) each time the total rose.
    points: Vec<(u64, i64)>,
    messages: u64,
    bytes: u64,
    closed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DashboardReport {
    pub timelines: Vec<Vec<(u64, i64)>>,
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
/// (an update carries the changed nodes too: kilobytes, four times a second).
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
    concurrency: usize,
) -> (DashboardSet, Event) {
    use futures_util::stream;
    let started = std::time::Instant::now();
    let alive = Arc::new(AtomicUsize::new(0));
    let opened: Vec<Result<Opened>> = stream::iter(targets)
        .map(|t| {
            let alive = alive.clone();
            async move {
                let mut last = None;
                for attempt in 0..3u64 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
                    }
                    match open_one(source, &t, alive.clone()).await {
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

async fn open_one(source: IpAddr, t: &DashboardTarget, alive: Arc<AtomicUsize>) -> Result<Opened> {
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
            v.points.push((now_us(), total));
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
                        if let Some(total) = total
                            && v.points.last().is_none_or(|(_, last)| total > *last)
                        {
                            v.points.push((at, total));
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
            r.timelines.push(v.points.clone());
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

/// For `samples` acknowledgements spread over the run, the time from the
/// k-th acknowledgement (all sources together) to each dashboard's first
/// total of at least `baseline + k`; negative times count as 0.
pub fn staleness(acks: &AckSeries, reports: &[DashboardReport], samples: usize) -> Staleness {
    let cumulative = acks.cumulative();
    let total = cumulative.last().map(|(_, n)| *n).unwrap_or(0);
    let timelines: Vec<&Vec<(u64, i64)>> =
        reports.iter().flat_map(|r| r.timelines.iter()).collect();
    let mut out = Staleness {
        dashboards: timelines.len(),
        messages: reports.iter().map(|r| r.messages).sum(),
        megabytes_received: (reports.iter().map(|r| r.bytes).sum::<u64>() as f64 / 1e6 * 10.0)
            .round()
            / 10.0,
        closed_early: reports.iter().map(|r| r.closed).sum(),
        ..Default::default()
    };
    if total == 0 || timelines.is_empty() {
        return out;
    }
    let mut hist = Histogram::default();
    let samples = samples.min(total as usize).max(1);
    for s in 0..samples {
        let k = 1 + (s as u64 * (total - 1)) / (samples.max(2) as u64 - 1).max(1);
        let k = k.min(total);
        // The millisecond in which the k-th acknowledgement arrived.
        let idx = cumulative.partition_point(|(_, n)| *n < k);
        let ack_us = cumulative[idx].0 * 1000 + 500;
        out.samples += 1;
        for tl in &timelines {
            let base = tl.first().map(|(_, n)| *n).unwrap_or(0);
            let want = base + k as i64;
            let at = tl.partition_point(|(_, n)| *n < want);
            match tl.get(at) {
                Some((seen_us, _)) => {
                    hist.record_us(seen_us.saturating_sub(ack_us));
                    out.measured += 1;
                }
                None => out.never += 1,
            }
        }
    }
    out.latency = hist.summary();
    out
}
