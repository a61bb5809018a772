//! The demo stops on SIGTERM as it does in production: every open stream
//! ends cleanly (the client sees the end of the body, not a reset) and the
//! server returns. Alone in its binary, since it signals its own process.

mod support;

use sse_suite::demo;

use sse_runtime::Shutdown;
use support::{get as request, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_streams_and_stops_the_demo() {
    let listener = support::listener();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let signal = shutdown.after(sse_runtime::ctrl_c_or_sigterm());
    let server = tokio::spawn(async move {
        axum::serve(listener, demo::app(shutdown))
            .with_graceful_shutdown(signal)
            .await
            .unwrap();
    });
    let mut clock = request(addr, "/clock?interval_ms=50", &[]).await.events();
    let notifications = request(addr, "/notifications", &[]).await;
    assert_eq!(clock.next().await.unwrap().event, "time");
    assert_eq!(notifications.inner.status(), 200);
    // The server has been polled, so its signal handler is installed.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    within(server).await.expect("server stopped");
    // Both bodies ended cleanly: `all` and `text` fail on a reset.
    clock.all().await;
    notifications.text().await;
}
