//! diemcau: online study sessions from a province down to every commune —
//! connection points, attendance and live tallies.
//!
//! `main.rs` parses the command line; everything else lives here so that
//! tests can start the real server on a listener of their own.

pub mod app;
pub mod attendance;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod keys;
pub mod limits;
pub mod live;
pub mod security;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod ws;

use std::future::Future;

use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::store::Db;

/// Serves the application on `listener` (and metrics on `metrics_listener`,
/// if any) until `shutdown` completes, then drains requests and closes the
/// database.
pub async fn run(
    config: ServerConfig,
    db: Db,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = serve::ConnLimits::default();
    run_with_limits(config, db, listener, metrics_listener, limits, shutdown).await
}

/// [`run`] with other connection limits (tests use short timeouts).
pub async fn run_with_limits(
    config: ServerConfig,
    db: Db,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    limits: serve::ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = telemetry::metrics_handle();
    // Warm the dummy hash now, not during the first failed login.
    let _ = tokio::task::spawn_blocking(|| security::DUMMY_PASSWORD_HASH.len()).await;
    let keys = keys::Keys::load_or_create(&db).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (app, state) = app::build(db.clone(), config, metrics.clone(), keys, stop_rx.clone());
    webhooks::spawn(state.clone());
    live::cluster::spawn(state.clone());

    if let Some(metrics_listener) = metrics_listener {
        let mut stop = stop_rx.clone();
        let metrics_app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move { metrics.render() }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(metrics_listener, metrics_app)
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await;
        });
    }
    serve::serve(listener, app, limits, async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight, closing consoles");
        let _ = stop_tx.send(true);
    })
    .await?;
    // Give open WebSockets a moment to send their close frames.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while state.open_sockets() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
