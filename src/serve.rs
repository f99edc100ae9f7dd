//! Serving HTTP/1.1 connections with limits that a slow or hostile client
//! cannot outlast (`axum::serve` sets none of them):
//!
//! - a request head must arrive within [`ConnLimits::header_read_timeout`]
//!   (slowloris); hyper runs the same timer while a keep-alive connection
//!   waits for its next request, so it is also the idle keep-alive timeout;
//! - a request head larger than [`ConnLimits::max_header_bytes`], or with more
//!   than 100 header fields, is answered `431` and the connection closed;
//! - at most [`ConnLimits::max_connections`] connections are open at once,
//!   WebSockets included (the permit travels with the socket); beyond that
//!   the server stops accepting and the kernel queues new ones;
//! - a peer that stops reading (responses or WebSocket messages pile up in
//!   the kernel) is disconnected once no byte could be written for
//!   [`ConnLimits::write_stall_timeout`], so its task and buffers go too.
//!
//! Request bodies and handlers are bounded by the layers in `app.rs` (60 s
//! timeout, body size limits); WebSocket message sizes by each socket.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Sleep;
use tower::ServiceExt;

use crate::error::AppError;

/// Connection limits; [`ConnLimits::default`] is what the server runs with.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Time to send a whole request head, and to start the next request on
    /// a kept-alive connection.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers).
    pub max_header_bytes: usize,
    /// Open connections at most. An instance holds ~20,000 console
    /// WebSockets plus dashboards and pages; the process's file descriptor
    /// limit (`ulimit -n`) must be above this.
    pub max_connections: usize,
    /// A peer that takes no byte for this long is disconnected.
    pub write_stall_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 50_000,
            write_stall_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting, lets requests in flight finish and returns once every HTTP
/// connection has closed (upgraded WebSockets are closed by their own tasks).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Each connection task holds a receiver: all dropped = all closed.
    let (closed_tx, closed_rx) = watch::channel(());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, mostly: wait, do not spin.
                        tracing::error!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Guarded {
            inner: stream,
            _permit: permit,
            stall_limit: limits.write_stall_timeout,
            stall: None,
        });
        let router = router.clone();
        let max_head = limits.max_header_bytes;
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            let router = router.clone();
            async move {
                if head_size(&req) > max_head {
                    return Ok(head_too_large());
                }
                router.oneshot(req).await
            }
        });
        let http1 = http1.clone();
        let mut stop = stop_rx.clone();
        let closed = closed_rx.clone();
        tokio::spawn(async move {
            let mut conn = pin!(http1.serve_connection(io, service).with_upgrades());
            tokio::select! {
                result = conn.as_mut() => log_end(result),
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    log_end(conn.await);
                }
            }
            drop(closed);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(closed_rx);
    closed_tx.closed().await;
    Ok(())
}

/// Bytes of the request line and headers, about as sent.
fn head_size<B>(req: &hyper::Request<B>) -> usize {
    let uri = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    uri + 16
        + req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>()
}

/// hyper's buffer limit is approximate (a head up to about twice it can get
/// through): this makes the limit exact, with the usual error envelope.
fn head_too_large() -> Response {
    let mut res = AppError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request.headers_too_large",
        "Phần đầu (header) của yêu cầu quá lớn.",
    )
    .into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended");
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A client's TCP stream, holding its connection permit and timing out
/// writes that make no progress.
struct Guarded {
    inner: TcpStream,
    _permit: OwnedSemaphorePermit,
    stall_limit: Duration,
    /// Running while the kernel's send buffer is full.
    stall: Option<Pin<Box<Sleep>>>,
}

impl Guarded {
    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stall = None;
            return poll;
        }
        let limit = self.stall_limit;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.after_write(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.after_write(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_size_counts_the_target_and_every_header() {
        let req = hyper::Request::get("/api/units?q=ha")
            .header("cookie", "a".repeat(1000))
            .body(())
            .unwrap();
        let size = head_size(&req);
        assert!((1000 + 6..1000 + 60).contains(&size), "{size}");
    }

    #[test]
    fn too_large_a_head_gets_431_and_closes() {
        let res = head_too_large();
        assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(res.headers()[header::CONNECTION], "close");
    }
}
