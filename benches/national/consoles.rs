//! Point consoles, in a worker process: each takes a ticket with its
//! operator secret, connects the console WebSocket from the worker's source
//! address, reads its `welcome`, and then behaves like the console page: a
//! heartbeat every 15 s, the `qr` frames read and dropped, and — when told —
//! roster check-ins of its own commune's members, one at a time, the next
//! sent when the previous is acknowledged (docs/console-protocol.md).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::dataset::{member_code, mix};
use crate::http_load::{Conn, connect_tcp, error_code};
use crate::stats::{AckSeries, Histogram, now_us};
use crate::worker::{ConsoleTarget, Event};

type Ws = WebSocketStream<tokio::net::TcpStream>;

const HEARTBEAT: Duration = Duration::from_secs(15);

/// Small buffers: a console exchanges frames of a few kilobytes, and a
/// worker holds up to 20,000 of them.
pub fn ws_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
        .max_message_size(Some(4 << 20))
}

/// Whether a frame's text contains `needle`.
pub fn has(text: &[u8], needle: &[u8]) -> bool {
    text.windows(needle.len()).any(|w| w == needle)
}

enum Order {
    Run(Arc<Job>, usize),
    Close,
}

pub struct Plan {
    pub items: Vec<Vec<u32>>,
    pub id_prefix: String,
    pub trickle_share: f64,
    pub trickle: Duration,
}

struct Job {
    plan: Plan,
    start: Instant,
    deadline: Instant,
    ack_timeout: Duration,
    total: Mutex<LoadReport>,
    finished: mpsc::UnboundedSender<()>,
}

/// What a worker's consoles measured while checking members in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadReport {
    pub consoles: usize,
    pub planned: u64,
    pub sent: u64,
    pub checked_in: u64,
    pub already_checked_in: u64,
    /// Refusals and errors, by code.
    pub refused: BTreeMap<String, u64>,
    /// Sent, no answer before the timeout or the connection dropped.
    pub unanswered: u64,
    /// Check-ins sent again after an `error` (not durable: the console
    /// keeps them queued and retries, as the protocol says).
    pub retried: u64,
    /// Not sent because the deadline came first.
    pub not_sent: u64,
    pub disconnected: u64,
    pub latency: Histogram,
    pub acks: AckSeries,
    pub first_send_us: u64,
    pub last_ack_us: u64,
    /// Check-ins sent in the trickle (before the rush).
    pub trickle_sent: u64,
}

impl LoadReport {
    pub fn merge(&mut self, o: &LoadReport) {
        self.consoles += o.consoles;
        self.planned += o.planned;
        self.sent += o.sent;
        self.checked_in += o.checked_in;
        self.already_checked_in += o.already_checked_in;
        for (k, v) in &o.refused {
            *self.refused.entry(k.clone()).or_insert(0) += v;
        }
        self.unanswered += o.unanswered;
        self.retried += o.retried;
        self.not_sent += o.not_sent;
        self.disconnected += o.disconnected;
        self.latency.merge(&o.latency);
        self.acks.merge(&o.acks);
        self.first_send_us = match (self.first_send_us, o.first_send_us) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        };
        self.last_ack_us = self.last_ack_us.max(o.last_ack_us);
        self.trickle_sent += o.trickle_sent;
    }
}

/// Why consoles closed, by close code and reason (or transport error).
pub type Closes = Arc<Mutex<BTreeMap<String, u64>>>;

fn note_close(closes: &Closes, why: String) {
    *closes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(why)
        .or_insert(0) += 1;
}

/// Why a read ended the connection, or None if it did not.
fn ended(frame: &Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Option<String> {
    match frame {
        Some(Ok(Message::Close(Some(cf)))) => Some(format!(
            "closed by the server: {} {}",
            u16::from(cf.code),
            cf.reason.as_str()
        )),
        Some(Ok(Message::Close(None))) => Some("closed by the server without a code".into()),
        Some(Err(e)) => Some(format!(
            "error: {}",
            e.to_string().chars().take(80).collect::<String>()
        )),
        None => Some("connection ended".into()),
        Some(Ok(_)) => None,
    }
}

/// A worker's consoles.
pub struct ConsoleSet {
    handles: Vec<mpsc::UnboundedSender<Order>>,
    alive: Arc<AtomicUsize>,
    closes: Closes,
    reconnects: Arc<AtomicUsize>,
}

/// Opens every console (at most `concurrency` handshakes at a time).
pub async fn open_all(
    source: IpAddr,
    targets: Vec<ConsoleTarget>,
    concurrency: usize,
) -> (ConsoleSet, Event) {
    let started = std::time::Instant::now();
    let targets = Arc::new(targets);
    let next = Arc::new(AtomicUsize::new(0));
    let alive = Arc::new(AtomicUsize::new(0));
    let closes: Closes = Arc::default();
    let reconnects = Arc::new(AtomicUsize::new(0));
    let slots: Arc<Mutex<Vec<Option<mpsc::UnboundedSender<Order>>>>> =
        Arc::new(Mutex::new(vec![None; targets.len()]));
    let errors: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (targets, next, slots, errors, alive, closes, reconnects) = (
            targets.clone(),
            next.clone(),
            slots.clone(),
            errors.clone(),
            alive.clone(),
            closes.clone(),
            reconnects.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conns: BTreeMap<SocketAddr, Conn> = BTreeMap::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(target) = targets.get(i) else { break };
                let mut last = String::new();
                for attempt in 0..4 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    match open_one(source, target, &mut conns).await {
                        Ok(ws) => {
                            let (tx, rx) = mpsc::unbounded_channel();
                            alive.fetch_add(1, Ordering::Relaxed);
                            let link = Link {
                                ws,
                                source,
                                target: target.clone(),
                                closes: closes.clone(),
                                reconnects: reconnects.clone(),
                            };
                            tokio::spawn(console_task(link, rx, i, alive.clone()));
                            slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(tx);
                            last.clear();
                            break;
                        }
                        Err(e) => {
                            conns.remove(&target.addr);
                            last = e.to_string();
                        }
                    }
                }
                if !last.is_empty() {
                    *errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(last.chars().take(160).collect())
                        .or_insert(0) += 1;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let slots = std::mem::take(&mut *slots.lock().unwrap_or_else(|e| e.into_inner()));
    let opened = slots.iter().filter(|s| s.is_some()).count();
    let errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|e| e.into_inner()));
    let failed = slots.len() - opened;
    let failed_indices = (0..slots.len()).filter(|i| slots[*i].is_none()).collect();
    // A console that failed keeps an empty slot: the plan's indices stay put.
    let handles = slots
        .into_iter()
        .map(|s| s.unwrap_or_else(|| mpsc::unbounded_channel().0))
        .collect();
    (
        ConsoleSet {
            handles,
            alive,
            closes,
            reconnects,
        },
        Event::Ready {
            opened,
            failed,
            failed_indices,
            errors,
            seconds: started.elapsed().as_secs_f64(),
        },
    )
}

async fn open_one(
    source: IpAddr,
    target: &ConsoleTarget,
    conns: &mut BTreeMap<SocketAddr, Conn>,
) -> Result<Ws> {
    let conn = match conns.entry(target.addr) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(Conn::open(target.addr, Some(source)).await?)
        }
    };
    let (status, body) = conn
        .send(
            Method::POST,
            "/api/operator/ws-ticket",
            Some(&format!("Operator {}", target.secret)),
            None,
        )
        .await?;
    if status != StatusCode::OK {
        bail!("ticket: {} {}", status.as_u16(), error_code(&body));
    }
    #[derive(Deserialize)]
    struct Ticket {
        ticket: String,
    }
    let ticket: Ticket = serde_json::from_slice(&body)?;
    let stream = connect_tcp(target.addr, Some(source)).await?;
    let url = format!(
        "ws://{}/api/operator/ws?ticket={}&v=1",
        target.addr, ticket.ticket
    );
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config(8 * 1024))),
    )
    .await
    .map_err(|_| anyhow!("WebSocket handshake timed out"))??;
    // The first text frame is the welcome.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("no welcome within 30 s"))?;
        match frame {
            Some(Ok(Message::Text(t))) if has(t.as_bytes(), br#""type":"welcome""#) => {
                return Ok(ws);
            }
            Some(Ok(Message::Text(t))) => bail!(
                "first frame is not a welcome: {}",
                &t.as_str()[..t.len().min(120)]
            ),
            Some(Ok(Message::Close(c))) => bail!("closed before the welcome: {c:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("WebSocket: {e}"),
            None => bail!("closed before the welcome"),
        }
    }
}

fn heartbeat_interval(i: usize) -> Interval {
    // Spread the consoles' heartbeats over the 15 s.
    let offset = Duration::from_millis(mix(i as u64) % 15_000);
    let mut iv = tokio::time::interval_at(Instant::now() + offset, HEARTBEAT);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    iv
}

fn heartbeat() -> Message {
    Message::text(r#"{"type":"heartbeat"}"#)
}

/// A console's connection, and what it takes to open it again.
struct Link {
    ws: Ws,
    source: IpAddr,
    target: ConsoleTarget,
    closes: Closes,
    reconnects: Arc<AtomicUsize>,
}

impl Link {
    /// After the connection ended for `why`: reconnect as the console page
    /// does (a new ticket, with backoff) — unless the server closed it with
    /// 4401, link revoked: then the console stops. True if connected again.
    async fn recover(&mut self, why: String) -> bool {
        let revoked = why.contains(" 4401 ");
        note_close(&self.closes, why);
        if revoked {
            return false;
        }
        for attempt in 0..5u32 {
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            let mut conns = BTreeMap::new();
            if let Ok(ws) = open_one(self.source, &self.target, &mut conns).await {
                self.ws = ws;
                self.reconnects.fetch_add(1, Ordering::Relaxed);
                return true;
            }
        }
        false
    }
}

async fn console_task(
    mut link: Link,
    mut orders: mpsc::UnboundedReceiver<Order>,
    index: usize,
    alive: Arc<AtomicUsize>,
) {
    let mut beat = heartbeat_interval(index);
    loop {
        tokio::select! {
            order = orders.recv() => match order {
                Some(Order::Run(job, me)) => {
                    let connected = run_job(&mut link, &mut beat, &job, me).await;
                    let _ = job.finished.send(());
                    if !connected {
                        break;
                    }
                }
                Some(Order::Close) | None => {
                    let _ = tokio::time::timeout(Duration::from_secs(5), link.ws.close(None)).await;
                    break;
                }
            },
            frame = link.ws.next() => {
                if let Some(why) = ended(&frame)
                    && !link.recover(why).await
                {
                    break;
                }
            }
            _ = beat.tick() => {
                if let Err(e) = link.ws.send(heartbeat()).await
                    && !link.recover(format!("error sending a heartbeat: {e}")).await
                {
                    break;
                }
            }
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
}

/// Serves the connection (frames, heartbeats) until `until`, reconnecting
/// if it drops; false if it is gone for good.
async fn idle_until(link: &mut Link, beat: &mut Interval, until: Instant) -> bool {
    loop {
        tokio::select! {
            _ = sleep_until(until) => return true,
            frame = link.ws.next() => {
                if let Some(why) = ended(&frame)
                    && !link.recover(why).await
                {
                    return false;
                }
            }
            _ = beat.tick() => {
                if let Err(e) = link.ws.send(heartbeat()).await
                    && !link.recover(format!("error sending a heartbeat: {e}")).await
                {
                    return false;
                }
            }
        }
    }
}

/// How one check-in was answered.
enum Answer {
    Ack,
    /// An `error` frame: not durable, to be sent again.
    Error,
    TimedOut,
    Gone(String),
}

/// Runs this console's share of the job; false if the connection is gone
/// for good.
async fn run_job(link: &mut Link, beat: &mut Interval, job: &Job, me: usize) -> bool {
    /// Sends of one check-in (after `error` answers or reconnections), at most.
    const ATTEMPTS: u32 = 4;
    let items = &job.plan.items[me];
    let mut r = LoadReport {
        consoles: 1,
        planned: items.len() as u64,
        ..Default::default()
    };
    // The first share of the list is spread over the trickle, at random
    // moments (the same ones each run).
    let trickle_n = ((items.len() as f64 * job.plan.trickle_share)
        + (mix(me as u64 ^ 0x7121) % 1000) as f64 / 1000.0)
        .floor() as usize;
    let trickle_n = trickle_n.min(items.len());
    let mut moments: Vec<Duration> = (0..trickle_n)
        .map(|k| {
            let ms = job.plan.trickle.as_millis().max(1) as u64;
            Duration::from_millis(mix(((me as u64) << 20) ^ k as u64) % ms)
        })
        .collect();
    moments.sort();
    let rush = job.start + job.plan.trickle;
    let mut connected = true;
    // Each acknowledgement's millisecond: added to the worker's series at
    // the end (a dense series per console would take megabytes each).
    let mut ack_ms: Vec<u64> = Vec::new();
    let mut k = 0;
    'items: while k < items.len() {
        let member = items[k] as usize;
        let due = match moments.get(k) {
            Some(m) => job.start + *m,
            None => rush,
        };
        if due > Instant::now() && !idle_until(link, beat, due).await {
            connected = false;
            break;
        }
        if Instant::now() >= job.deadline {
            break;
        }
        let id = format!("{}{member}", job.plan.id_prefix);
        let text = format!(
            r#"{{"type":"checkin","id":"{id}","method":"roster","member_code":"{}"}}"#,
            member_code(member)
        );
        let ack_id = format!(r#""id":"{id}""#);
        let first_sent = Instant::now();
        if r.first_send_us == 0 {
            r.first_send_us = now_us();
        }
        if k < trickle_n {
            r.trickle_sent += 1;
        }
        r.sent += 1;
        k += 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = match link.ws.send(Message::text(text.clone())).await {
                Err(e) => Answer::Gone(format!("error sending a check-in: {e}")),
                Ok(()) => {
                    let give_up = Instant::now() + job.ack_timeout;
                    loop {
                        tokio::select! {
                            frame = link.ws.next() => {
                                if let Some(why) = ended(&frame) {
                                    break Answer::Gone(why);
                                }
                                let Some(Ok(Message::Text(t))) = frame else { continue };
                                let b = t.as_bytes();
                                if !has(b, ack_id.as_bytes()) {
                                    continue; // qr, heartbeat
                                }
                                if !b.starts_with(br#"{"type":"ack""#) {
                                    let code = error_code(b);
                                    if attempt >= ATTEMPTS {
                                        *r.refused
                                            .entry(format!("error {code} ({ATTEMPTS} times)"))
                                            .or_insert(0) += 1;
                                    }
                                    break Answer::Error;
                                }
                                if has(b, br#""result":"checked_in""#) {
                                    let at = now_us();
                                    r.checked_in += 1;
                                    r.latency.record_us(first_sent.elapsed().as_micros() as u64);
                                    ack_ms.push(at / 1000);
                                    r.last_ack_us = r.last_ack_us.max(at);
                                } else if has(b, br#""result":"already_checked_in""#) {
                                    r.already_checked_in += 1;
                                } else {
                                    *r.refused.entry(format!("refused {}", error_code(b))).or_insert(0) += 1;
                                }
                                break Answer::Ack;
                            }
                            _ = beat.tick() => {
                                if let Err(e) = link.ws.send(heartbeat()).await {
                                    break Answer::Gone(format!("error sending a heartbeat: {e}"));
                                }
                            }
                            _ = sleep_until(give_up) => break Answer::TimedOut,
                        }
                    }
                }
            };
            match answer {
                Answer::Ack => break,
                Answer::TimedOut => {
                    r.unanswered += 1;
                    break;
                }
                Answer::Error if attempt < ATTEMPTS => {
                    // Not durable: the console keeps it queued and sends it
                    // again, with the same id.
                    r.retried += 1;
                    let pause = Instant::now() + Duration::from_millis(250 * u64::from(attempt));
                    if !idle_until(link, beat, pause).await {
                        r.unanswered += 1;
                        connected = false;
                        break 'items;
                    }
                }
                Answer::Error => break,
                Answer::Gone(why) => {
                    // Reconnect and send it again with the same id: the
                    // server answers a repeated id with its first answer.
                    if attempt < ATTEMPTS && link.recover(why).await {
                        r.retried += 1;
                        continue;
                    }
                    r.unanswered += 1;
                    connected = false;
                    break 'items;
                }
            }
        }
    }
    r.not_sent = (items.len() - k) as u64;
    if !connected {
        r.disconnected = 1;
    }
    let mut total = job.total.lock().unwrap_or_else(|e| e.into_inner());
    total.merge(&r);
    for ms in ack_ms {
        total.acks.add(ms, 1);
    }
    connected
}

impl ConsoleSet {
    /// Runs the plan on every console from `start`; returns when each has
    /// finished (or the deadline plus the answer timeout has passed).
    pub async fn run(
        &self,
        plan: Plan,
        start: Instant,
        deadline: Duration,
        ack_timeout: Duration,
    ) -> LoadReport {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let consoles = plan.items.len().min(self.handles.len());
        let planned: u64 = plan.items.iter().map(|v| v.len() as u64).sum();
        let job = Arc::new(Job {
            plan,
            start,
            deadline: start + deadline,
            ack_timeout,
            total: Mutex::new(LoadReport {
                // Starts before any acknowledgement: the series only grows at its end.
                acks: AckSeries::starting_at(now_us() / 1000 - 5_000),
                ..Default::default()
            }),
            finished: tx,
        });
        let mut waiting = 0;
        for (i, handle) in self.handles.iter().enumerate().take(consoles) {
            if job.plan.items[i].is_empty() {
                continue;
            }
            if handle.send(Order::Run(job.clone(), i)).is_ok() {
                waiting += 1;
            }
        }
        let hard_stop = start + deadline + ack_timeout + Duration::from_secs(10);
        while waiting > 0 {
            match tokio::time::timeout_at(hard_stop, rx.recv()).await {
                Ok(Some(())) => waiting -= 1,
                _ => break,
            }
        }
        let mut report = std::mem::take(&mut *job.total.lock().unwrap_or_else(|e| e.into_inner()));
        // Consoles that never started (closed before) count as not sent.
        let counted = report.planned;
        report.not_sent += planned.saturating_sub(counted);
        report.planned = planned;
        report
    }

    /// Closes every console; returns how many were still open at the end.
    pub async fn close(self) -> usize {
        for h in &self.handles {
            let _ = h.send(Order::Close);
        }
        let until = Instant::now() + Duration::from_secs(20);
        while self.alive.load(Ordering::Relaxed) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.alive.load(Ordering::Relaxed)
    }

    /// How many are open, why connections closed, how many reconnected.
    pub fn status(&self) -> (usize, BTreeMap<String, u64>, usize) {
        (
            self.alive.load(Ordering::Relaxed),
            self.closes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            self.reconnects.load(Ordering::Relaxed),
        )
    }
}
