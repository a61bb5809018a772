//! A chat room: `POST /messages` publishes to every open `GET /stream`, and
//! a browser that reconnects catches up from its `Last-Event-ID` (the
//! application is `sse_suite::chat`).
//!
//! `cargo run --example chat`, then open <http://127.0.0.1:3001/> in two
//! windows. `PORT=8081 cargo run --example chat` listens elsewhere.
//!
//! With `REDIS_URL=redis://127.0.0.1:6379`, the room lives in Redis: start
//! two instances on two ports and they share it, and a page that reconnects
//! to the other instance resumes where it was.
//!
//! `GET /metrics` serves the process's metrics in Prometheus's text format
//! (`sse_runtime::metrics` lists them).
//!
//! Private rooms: with `CHAT_JWT_SECRET` set (32 bytes or more), rooms
//! other than `public` need a token signed with it (HS256) that names
//! them. `CHAT_JWT_SECRET=.. cargo run --example chat -- token ROOM..`
//! prints one, valid for an hour; open
//! `http://127.0.0.1:3001/?room=ROOM#access_token=TOKEN`.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use sse_runtime::hub::{Hub, HubConfig, RedisOptions, RedisTransport};
use sse_runtime::Shutdown;
use sse_suite::chat;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("CHAT_JWT_SECRET").ok();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("token") {
        let secret = secret.ok_or("set CHAT_JWT_SECRET to sign a token")?;
        let rooms: Vec<&str> = args[1..].iter().map(String::as_str).collect();
        println!(
            "{}",
            chat::token(secret.as_bytes(), &rooms, Duration::from_secs(3600))?
        );
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    // The recorder first: the hub takes its metrics handles when built.
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    sse_runtime::metrics::describe();
    let config = HubConfig {
        name: "chat",
        ..HubConfig::default()
    };
    let hub = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let transport =
                RedisTransport::connect(&url, RedisOptions::new().prefix("chat")).await?;
            tracing::info!("chat room in Redis at {url}");
            Hub::with_transport(transport, config)
        }
        Err(_) => Hub::with_config(config),
    };
    let listener = sse_suite::bind_port_from_env(3001)?;
    tracing::info!("chat listening on http://{}/", listener.local_addr()?);
    let authorizer = match &secret {
        Some(secret) => {
            tracing::info!("private rooms need a token signed with CHAT_JWT_SECRET");
            chat::authorizer(secret.as_bytes())?
        }
        None => {
            tracing::info!("only the public room is open: set CHAT_JWT_SECRET for private rooms");
            chat::public_only()
        }
    };
    let shutdown = Shutdown::new();
    let app = chat::with_metrics(
        chat::app_with(hub, shutdown.clone(), authorizer),
        prometheus,
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.after(sse_runtime::ctrl_c_or_sigterm()))
        .await?;
    tracing::info!("chat stopped");
    Ok(())
}
