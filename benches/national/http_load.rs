//! The HTTP load: keep-alive HTTP/1.1 connections made with hyper (one per
//! client, no pool, no proxy), a trivial endpoint for the ceiling, and
//! durable check-ins — member self check-in with the point's current QR
//! token (`POST /api/checkin`), or the operator batch endpoint with one
//! check-in per request.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpSocket;

use crate::dataset::member_code;
use crate::stats::{AckSeries, Histogram, LatencySummary, now_us, round1};

/// A reply must come within this, or the request counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A QR token is accepted for its 20-second period and the next one.
const QR_REFRESH: Duration = Duration::from_secs(15);

/// Opens a TCP connection from `source` (any 127.0.0.x) to `to`.
pub async fn connect_tcp(to: SocketAddr, source: Option<IpAddr>) -> Result<tokio::net::TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = tokio::time::timeout(Duration::from_secs(20), socket.connect(to))
        .await
        .map_err(|_| anyhow!("connect to {to} timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    to: SocketAddr,
    source: Option<IpAddr>,
}

impl Conn {
    pub async fn open(to: SocketAddr, source: Option<IpAddr>) -> Result<Conn> {
        let stream = connect_tcp(to, source).await?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: to.to_string(),
            to,
            source,
        })
    }

    /// Sends one request; reconnects first if the connection was closed.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<String>,
    ) -> Result<(StatusCode, Bytes)> {
        if self.sender.is_closed() {
            *self = Conn::open(self.to, self.source).await?;
        }
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.host);
        if let Some(auth) = auth {
            req = req.header(hyper::header::AUTHORIZATION, auth);
        }
        let body = match body {
            Some(b) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(b))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body)?;
        let fut = async {
            self.sender.ready().await?;
            let resp = self.sender.send_request(req).await?;
            let status = resp.status();
            let bytes = resp.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((status, bytes))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| anyhow!("no reply within {REQUEST_TIMEOUT:?}"))?
    }
}

/// The `"code":"…"` of an error envelope (or of a refusal), cheaply.
pub fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.find("\"code\":\"")
        .and_then(|at| {
            let rest = &text[at + 8..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .unwrap_or_else(|| "no_code".into())
}

/// What a fixed-time run of a trivial endpoint measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CeilingResult {
    pub endpoint: String,
    pub clients: usize,
    pub seconds: f64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub per_second: f64,
    pub latency: LatencySummary,
}

/// `GET path` in a closed loop from `clients` connections (spread over the
/// instances) for `duration`.
pub async fn ceiling(
    instances: &[SocketAddr],
    clients: usize,
    path: &str,
    duration: Duration,
) -> Result<CeilingResult> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let to = instances[c % instances.len()];
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::default();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let mut ok = 0u64;
            let mut conn = match Conn::open(to, None).await {
                Ok(c) => c,
                Err(e) => {
                    errors.insert(format!("connect: {e}"), 1);
                    return (ok, hist, errors);
                }
            };
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match conn.send(Method::GET, &path, None, None).await {
                    Ok((status, _)) if status == StatusCode::OK => {
                        hist.record_us(t0.elapsed().as_micros() as u64);
                        ok += 1;
                    }
                    Ok((status, _)) => *errors.entry(status.as_u16().to_string()).or_insert(0) += 1,
                    Err(e) => {
                        *errors.entry(e.to_string()).or_insert(0) += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (ok, hist, errors)
        }));
    }
    let mut result = CeilingResult {
        endpoint: path.to_string(),
        clients,
        ..Default::default()
    };
    let mut hist = Histogram::default();
    for t in tasks {
        let (ok, h, errors) = t.await?;
        result.ok += ok;
        hist.merge(&h);
        for (k, v) in errors {
            *result.errors.entry(k).or_insert(0) += v;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    result.seconds = round1(secs);
    result.per_second = (result.ok as f64 / secs).round();
    result.latency = hist.summary();
    Ok(result)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpMode {
    /// `POST /api/checkin` with the point's QR token (the member's phone).
    SelfCheckin,
    /// `POST /api/operator/checkins` with one item (an operator's program).
    Operator,
}

impl HttpMode {
    pub fn describe(self) -> &'static str {
        match self {
            HttpMode::SelfCheckin => {
                "member self check-in, POST /api/checkin with the point's current QR token"
            }
            HttpMode::Operator => {
                "operator batch endpoint, POST /api/operator/checkins with one roster check-in per request"
            }
        }
    }
}

/// One check-in to make over HTTP.
#[derive(Clone, Copy)]
pub struct HttpItem {
    pub member: u32,
    /// Index into [`HttpPlan::points`].
    pub point: u32,
    /// Not before this offset from the start (the burst's trickle).
    pub not_before: Duration,
}

pub struct HttpPlan {
    pub mode: HttpMode,
    /// (point id, operator secret).
    pub points: Vec<(i64, String)>,
    pub items: Vec<HttpItem>,
    /// Prefix of the operation ids (distinct per phase).
    pub id_prefix: String,
}

/// What a run of HTTP check-ins measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HttpResult {
    pub mode: String,
    pub clients: usize,
    pub planned: usize,
    pub sent: u64,
    pub checked_in: u64,
    pub already_checked_in: u64,
    /// Non-200 answers and transport errors, by status/code.
    pub failed: BTreeMap<String, u64>,
    pub seconds: f64,
    pub per_second: f64,
    pub latency: LatencySummary,
    pub qr_fetches: u64,
    pub qr_latency: LatencySummary,
    #[serde(skip)]
    pub acks: AckSeries,
    #[serde(skip)]
    pub first_send_us: u64,
    #[serde(skip)]
    pub last_ack_us: u64,
    #[serde(skip)]
    pub hist: Histogram,
}

/// A point's QR token and when it was fetched.
type TokenSlot = Arc<tokio::sync::Mutex<Option<(String, Instant)>>>;

#[derive(Default)]
struct TokenCache {
    tokens: Mutex<HashMap<u32, TokenSlot>>,
}

/// Runs the plan's check-ins from `clients` connections (spread over the
/// instances), in order, each item once, until done or `deadline`.
pub async fn checkins(
    instances: &[SocketAddr],
    clients: usize,
    plan: Arc<HttpPlan>,
    start: Instant,
    deadline: Instant,
) -> Result<HttpResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let cache = Arc::new(TokenCache::default());
    let mut tasks = Vec::new();
    for c in 0..clients {
        let to = instances[c % instances.len()];
        let plan = plan.clone();
        let next = next.clone();
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            client_loop(to, plan, next, cache, start, deadline).await
        }));
    }
    let mut total = HttpResult {
        mode: format!("{:?}", plan.mode),
        clients,
        planned: plan.items.len(),
        first_send_us: u64::MAX,
        ..Default::default()
    };
    let mut qr_hist = Histogram::default();
    for t in tasks {
        let r = t.await?;
        total.sent += r.sent;
        total.checked_in += r.checked_in;
        total.already_checked_in += r.already_checked_in;
        for (k, v) in r.failed {
            *total.failed.entry(k).or_insert(0) += v;
        }
        total.hist.merge(&r.hist);
        total.acks.merge(&r.acks);
        total.qr_fetches += r.qr_fetches;
        qr_hist.merge(&r.qr_hist);
        total.first_send_us = total.first_send_us.min(r.first_send_us);
        total.last_ack_us = total.last_ack_us.max(r.last_ack_us);
    }
    if total.first_send_us == u64::MAX {
        total.first_send_us = 0;
    }
    let secs = if total.last_ack_us > total.first_send_us {
        (total.last_ack_us - total.first_send_us) as f64 / 1e6
    } else {
        start.elapsed().as_secs_f64()
    };
    total.seconds = round1(secs);
    total.per_second = if secs > 0.0 {
        (total.checked_in as f64 / secs).round()
    } else {
        0.0
    };
    total.latency = total.hist.summary();
    total.qr_latency = qr_hist.summary();
    Ok(total)
}

#[derive(Default)]
struct ClientResult {
    sent: u64,
    checked_in: u64,
    already_checked_in: u64,
    failed: BTreeMap<String, u64>,
    hist: Histogram,
    acks: AckSeries,
    qr_fetches: u64,
    qr_hist: Histogram,
    first_send_us: u64,
    last_ack_us: u64,
}

async fn client_loop(
    to: SocketAddr,
    plan: Arc<HttpPlan>,
    next: Arc<AtomicUsize>,
    cache: Arc<TokenCache>,
    start: Instant,
    deadline: Instant,
) -> ClientResult {
    let mut r = ClientResult {
        first_send_us: u64::MAX,
        ..Default::default()
    };
    let mut conn = match Conn::open(to, None).await {
        Ok(c) => c,
        Err(e) => {
            r.failed.insert(format!("connect: {e}"), 1);
            return r;
        }
    };
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(item) = plan.items.get(i).copied() else {
            break;
        };
        let due = start + item.not_before;
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        if Instant::now() >= deadline {
            break;
        }
        let (point_id, secret) = &plan.points[item.point as usize];
        let operator_auth = format!("Operator {secret}");
        let code = member_code(item.member as usize);
        let client_id = format!("{}{}", plan.id_prefix, item.member);
        let (path, auth, body) = match plan.mode {
            HttpMode::SelfCheckin => {
                let token =
                    match qr_token(&cache, &mut conn, item.point, &operator_auth, &mut r).await {
                        Ok(t) => t,
                        Err(e) => {
                            *r.failed.entry(format!("qr: {e}")).or_insert(0) += 1;
                            continue;
                        }
                    };
                (
                    "/api/checkin",
                    None,
                    // Each member's own phone, with the id the check-in page keeps on it.
                    format!(
                        r#"{{"token":"{token}","member_code":"{code}","client_id":"{client_id}","device":"phone-{:09}"}}"#,
                        item.member
                    ),
                )
            }
            HttpMode::Operator => (
                "/api/operator/checkins",
                Some(operator_auth.as_str()),
                format!(
                    r#"{{"items":[{{"id":"{client_id}","method":"roster","member_code":"{code}","point_id":{point_id}}}]}}"#
                ),
            ),
        };
        let t0 = Instant::now();
        r.first_send_us = r.first_send_us.min(now_us());
        r.sent += 1;
        let mut answer = conn
            .send(Method::POST, path, auth, Some(body.clone()))
            .await;
        if answer.is_err() {
            // The server may close an idle keep-alive connection just as a
            // request leaves: once more on a new connection (the operation
            // id makes a repeat harmless).
            if let Ok(fresh) = Conn::open(to, None).await {
                conn = fresh;
                answer = conn.send(Method::POST, path, auth, Some(body)).await;
            }
        }
        match answer {
            Ok((status, bytes)) if status == StatusCode::OK => {
                let took = t0.elapsed().as_micros() as u64;
                let text = &bytes[..];
                if contains(text, br#""result":"checked_in""#) {
                    let at = now_us();
                    r.checked_in += 1;
                    r.hist.record_us(took);
                    r.acks.record(at);
                    r.last_ack_us = r.last_ack_us.max(at);
                } else if contains(text, br#""result":"already_checked_in""#) {
                    r.already_checked_in += 1;
                } else {
                    *r.failed
                        .entry(format!("200 {}", error_code(text)))
                        .or_insert(0) += 1;
                }
            }
            Ok((status, bytes)) => {
                *r.failed
                    .entry(format!("{} {}", status.as_u16(), error_code(&bytes)))
                    .or_insert(0) += 1;
            }
            Err(e) => {
                *r.failed.entry(format!("transport: {e}")).or_insert(0) += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    r
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The point's current QR token, fetched from the operator API at most once
/// per [`QR_REFRESH`] (as the room screen shows it).
async fn qr_token(
    cache: &TokenCache,
    conn: &mut Conn,
    point: u32,
    operator_auth: &str,
    r: &mut ClientResult,
) -> Result<String> {
    let slot = cache
        .tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(point)
        .or_default()
        .clone();
    let mut slot = slot.lock().await;
    if let Some((token, at)) = slot.as_ref()
        && at.elapsed() < QR_REFRESH
    {
        return Ok(token.clone());
    }
    let t0 = Instant::now();
    let (status, bytes) = conn
        .send(Method::GET, "/api/operator/qr", Some(operator_auth), None)
        .await?;
    if status != StatusCode::OK {
        return Err(anyhow!("{} {}", status.as_u16(), error_code(&bytes)));
    }
    r.qr_fetches += 1;
    r.qr_hist.record_us(t0.elapsed().as_micros() as u64);
    #[derive(Deserialize)]
    struct Qr {
        token: String,
    }
    let qr: Qr = serde_json::from_slice(&bytes)?;
    *slot = Some((qr.token.clone(), Instant::now()));
    Ok(qr.token)
}
