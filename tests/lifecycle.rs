//! How streams end: graceful shutdown, close reasons, disconnect detection,
//! HTTP/2. Loopback only; every loop is bounded.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::{CloseReason, Shutdown, ShutdownSignal, StreamSummary};
use support::{fields, get as request, get_h2, serve, serve_until, within};
use tokio::sync::oneshot;

#[sse_handler(keep_alive = "1s")]
async fn endless() {
    yield_!(event!("open"));
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_thousand_open_streams_cleanly() {
    const STREAMS: usize = 1000;
    let shutdown = Shutdown::new().final_event(event!(data: "bye", event: "shutdown").unwrap());
    let app = Router::new()
        .route("/", get(endless))
        .layer(Extension(shutdown.clone()));
    let (trigger, triggered) = oneshot::channel::<()>();
    let (addr, server) = serve_until(app, &shutdown, async move {
        let _ = triggered.await;
    });
    let mut clients = Vec::with_capacity(STREAMS);
    for chunk in 0..STREAMS / 100 {
        let opened = join_all((0..100).map(|_| async {
            let mut events = request(addr, "/", &[]).await.events();
            assert_eq!(events.next().await.expect("first event").data, "open");
            events
        }))
        .await;
        clients.extend(opened);
        assert_eq!(clients.len(), (chunk + 1) * 100);
    }
    assert!(sse_runtime::open_streams() >= STREAMS);
    let started = Instant::now();
    trigger.send(()).unwrap();
    // Every client sees the final event and then a clean end of body (a
    // reset would surface as an error and fail `next`).
    let endings = join_all(clients.into_iter().map(|mut events| async move {
        let last = events.next().await.expect("final event");
        assert_eq!(
            (last.event.as_str(), last.data.as_str()),
            ("shutdown", "bye")
        );
        assert!(events.next().await.is_none(), "stream ended");
    }));
    within(endings).await;
    within(server).await.expect("server stopped");
    eprintln!(
        "graceful shutdown of {STREAMS} open streams took {:?}",
        started.elapsed()
    );
}

#[sse_handler]
async fn saves_on_shutdown(mut shutdown: ShutdownSignal) {
    yield_!(event!("open"));
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            _ = shutdown.wait() => {
                yield_!(event!(data: format!("saved after {ticks} ticks"), event: "saved"));
                return;
            }
            _ = tokio::time::sleep(Duration::from_millis(10)) => ticks += 1,
        }
    }
}

#[tokio::test]
async fn a_body_can_observe_shutdown_before_its_stream_ends() {
    let shutdown = Shutdown::new();
    let app = Router::new()
        .route("/", get(saves_on_shutdown))
        .layer(Extension(shutdown.clone()));
    let (trigger, triggered) = oneshot::channel::<()>();
    let (addr, server) = serve_until(app, &shutdown, async move {
        let _ = triggered.await;
    });
    let mut events = request(addr, "/", &[]).await.events();
    assert_eq!(events.next().await.unwrap().data, "open");
    trigger.send(()).unwrap();
    let saved = events.next().await.expect("the body's last event");
    assert_eq!(saved.event, "saved");
    assert!(saved.data.starts_with("saved after "));
    assert!(events.next().await.is_none());
    within(server).await.unwrap();
}

/// Summaries of ended streams, by route, for the `on_close` tests.
static CLOSED: Mutex<Vec<StreamSummary>> = Mutex::new(Vec::new());

fn record_close(summary: &StreamSummary) {
    CLOSED.lock().unwrap().push(summary.clone());
}

async fn wait_for_close(route: &str) -> StreamSummary {
    within(async {
        loop {
            let found = CLOSED
                .lock()
                .unwrap()
                .iter()
                .find(|summary| summary.route.as_deref() == Some(route))
                .cloned();
            if let Some(summary) = found {
                return summary;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Closed streams, by user, as an application's metrics would count them.
#[derive(Clone, Default)]
struct Closes(Arc<Mutex<Vec<(String, u64, CloseReason)>>>);

#[derive(serde::Deserialize)]
struct Visitor {
    user: String,
}

/// `on_close` may be a closure that holds what it needs: here the app's
/// counter and the request's user, taken from the handler's own
/// arguments (the expression is evaluated in the handler, where they are
/// in scope).
#[sse_handler(on_close = {
    let (closes, user) = (closes.clone(), user.clone());
    move |summary: &StreamSummary| {
        closes.0.lock().unwrap().push((user.clone(), summary.events, summary.reason));
    }
})]
async fn counted(State(closes): State<Closes>, Query(Visitor { user }): Query<Visitor>) {
    yield_!(event!("a"));
    yield_!(event!("b"));
}

#[tokio::test]
async fn on_close_takes_a_closure_that_holds_state() {
    let closes = Closes::default();
    let app = Router::new()
        .route("/counted", get(counted))
        .with_state(closes.clone());
    let addr = serve(app).await;
    for user in ["ann", "bob"] {
        let events = request(addr, &format!("/counted?user={user}"), &[])
            .await
            .events()
            .all()
            .await;
        assert_eq!(events.len(), 2);
    }
    support::wait_while(|| closes.0.lock().unwrap().len() < 2).await;
    let mut seen = closes.0.lock().unwrap().clone();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            ("ann".to_owned(), 2, CloseReason::Completed),
            ("bob".to_owned(), 2, CloseReason::Completed)
        ]
    );
}

#[derive(serde::Deserialize)]
struct Mode {
    mode: String,
}

#[sse_handler(on_close = record_close, keep_alive = "50ms")]
async fn reasons(Query(Mode { mode }): Query<Mode>) -> Result<(), String> {
    yield_!(event!("one"));
    yield_!(event!("two"));
    match mode.as_str() {
        "error" => Err("failed on purpose".to_owned()),
        "wait" => {
            std::future::pending::<()>().await;
            Ok(())
        }
        _ => Ok(()),
    }
}

#[tokio::test]
async fn each_stream_reports_why_it_ended() {
    let shutdown = Shutdown::new();
    let app = Router::new()
        .route("/completed", get(reasons))
        .route("/error", get(reasons))
        .route("/disconnected", get(reasons))
        .route("/shutdown", get(reasons))
        .layer(Extension(shutdown.clone()));
    let (trigger, triggered) = oneshot::channel::<()>();
    let (addr, server) = serve_until(app, &shutdown, async move {
        let _ = triggered.await;
    });

    let done = request(addr, "/completed?mode=ok", &[])
        .await
        .events()
        .all()
        .await;
    assert_eq!(done.len(), 2);
    let completed = wait_for_close("/completed").await;
    assert_eq!(completed.reason, CloseReason::Completed);
    assert_eq!((completed.events, completed.bytes), (2, 22));

    request(addr, "/error?mode=error", &[])
        .await
        .events()
        .all()
        .await;
    assert_eq!(wait_for_close("/error").await.reason, CloseReason::Error);

    let mut events = request(addr, "/disconnected?mode=wait", &[]).await.events();
    events.take(2).await;
    drop(events);
    assert_eq!(
        wait_for_close("/disconnected").await.reason,
        CloseReason::ClientDisconnected
    );

    let mut events = request(addr, "/shutdown?mode=wait", &[]).await.events();
    events.take(2).await;
    trigger.send(()).unwrap();
    assert!(events.next().await.is_none());
    assert_eq!(
        wait_for_close("/shutdown").await.reason,
        CloseReason::Shutdown
    );
    within(server).await.unwrap();
}

/// Signals when dropped.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

type DropSlot = Arc<Mutex<Option<oneshot::Sender<()>>>>;

#[sse_handler(keep_alive = "100ms")]
async fn idle(Extension(slot): Extension<DropSlot>) {
    let _guard = DropSignal(slot.lock().unwrap().take());
    yield_!(event!("open"));
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// Opens a stream on a raw socket, reads until the first event, then closes
/// the socket (resetting it when `reset`), and returns how long the server
/// took to drop the handler body.
async fn drop_delay_after_close(reset: bool) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let slot: DropSlot = Arc::new(Mutex::new(Some(dropped_tx)));
    let app = Router::new().route("/", get(idle)).layer(Extension(slot));
    let addr = serve(app).await;
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.windows(12).any(|w| w == b"data: open\n\n") {
        let mut buffer = [0u8; 1024];
        let n = within(socket.read(&mut buffer)).await.unwrap();
        assert!(n > 0, "connection closed early");
        seen.extend_from_slice(&buffer[..n]);
    }
    if reset {
        socket.set_zero_linger().unwrap();
    }
    let closed = Instant::now();
    drop(socket);
    within(dropped_rx).await.expect("body dropped");
    closed.elapsed()
}

#[tokio::test]
async fn a_vanished_client_is_noticed_within_a_keep_alive_interval() {
    let normal = drop_delay_after_close(false).await;
    let reset = drop_delay_after_close(true).await;
    // The bound is one keep-alive interval (100 ms) plus scheduling; the
    // figures are printed rather than asserted tightly, since the machines
    // running tests are shared.
    eprintln!("body dropped {normal:?} after a normal close, {reset:?} after a reset");
    assert!(normal < Duration::from_secs(5) && reset < Duration::from_secs(5));
}

#[sse_handler]
async fn numbered() {
    for i in 1..=5 {
        yield_!(event!(data: format!("line {i}\nsecond"), event: "n", id: i));
    }
}

#[tokio::test]
async fn http1_and_http2_deliver_the_same_events() {
    let addr = serve(Router::new().route("/", get(numbered))).await;
    let h1 = request(addr, "/", &[]).await;
    let h2 = get_h2(addr, "/").await;
    assert_eq!(h2.inner.version(), axum::http::Version::HTTP_2);
    assert_eq!(h2.header("content-type"), Some("text/event-stream"));
    let h1_events = h1.events().all().await;
    let h2_events = h2.events().all().await;
    assert_eq!(h1_events.len(), 5);
    assert_eq!(
        h1_events.iter().map(fields).collect::<Vec<_>>(),
        h2_events.iter().map(fields).collect::<Vec<_>>()
    );
}
