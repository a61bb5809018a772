//! The demo server: one route per example of the reference design, and a
//! page at `/` that shows them all live (the application is
//! `sse_suite::demo`).
//!
//! `cargo run --example demo`, then open <http://127.0.0.1:3000/>.
//! `PORT=8080 cargo run --example demo` listens elsewhere.

use sse_runtime::Shutdown;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sse_runtime=debug".into()),
        )
        .init();
    let listener = sse_suite::bind_port_from_env(3000)?;
    tracing::info!("demo listening on http://{}/", listener.local_addr()?);
    // On Ctrl-C or SIGTERM, every open stream ends cleanly (clients see the
    // end of the body and reconnect elsewhere after `retry`), then we exit.
    let shutdown = Shutdown::new();
    axum::serve(listener, sse_suite::demo::app(shutdown.clone()))
        .with_graceful_shutdown(shutdown.after(sse_runtime::ctrl_c_or_sigterm()))
        .await?;
    tracing::info!("demo stopped");
    Ok(())
}
