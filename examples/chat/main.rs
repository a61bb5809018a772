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

use sse_runtime::hub::{Hub, HubConfig, RedisOptions, RedisTransport};
use sse_runtime::Shutdown;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let hub = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let transport =
                RedisTransport::connect(&url, RedisOptions::new().prefix("chat")).await?;
            tracing::info!("chat room in Redis at {url}");
            Hub::with_transport(transport, HubConfig::default())
        }
        Err(_) => Hub::new(),
    };
    let listener = sse_suite::bind_port_from_env(3001)?;
    tracing::info!("chat listening on http://{}/", listener.local_addr()?);
    let shutdown = Shutdown::new();
    axum::serve(listener, sse_suite::chat::app(hub, shutdown.clone()))
        .with_graceful_shutdown(shutdown.after(sse_runtime::ctrl_c_or_sigterm()))
        .await?;
    tracing::info!("chat stopped");
    Ok(())
}
