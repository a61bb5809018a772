//! An OpenAI-compatible streaming endpoint over resumable runs (the
//! application is `sse_suite::llm`): `POST /v1/chat/completions` with
//! `"stream": true`, and a page at `/` that streams an answer and survives
//! a reload mid-answer.
//!
//! `cargo run --example llm`, then open <http://127.0.0.1:3003/>, or point
//! an OpenAI client at `http://127.0.0.1:3003/v1`. `PORT` listens elsewhere.

use std::time::Duration;

use axum::Extension;
use sse_runtime::hub::Hub;
use sse_runtime::Shutdown;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let listener = sse_suite::bind_port_from_env(3003)?;
    tracing::info!("llm listening on http://{}/", listener.local_addr()?);
    // Ends open answers on Ctrl-C or SIGTERM, so the server stops at once
    // instead of waiting for every run to finish.
    let shutdown = Shutdown::new();
    let app = sse_suite::llm::app(Hub::new(), Duration::from_millis(60))
        .layer(Extension(shutdown.clone()));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.after(sse_runtime::ctrl_c_or_sigterm()))
        .await?;
    tracing::info!("llm stopped");
    Ok(())
}
