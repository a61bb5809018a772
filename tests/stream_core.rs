//! Attacks on the stream core's shared state: the outbox lent through a
//! thread-local, the per-stream keep-alive timer, and the close callback
//! that runs from the body's `Drop`. Each test tries to break one of them
//! the way real code could: a panicking callback, thread churn under
//! `block_in_place`, a handler that polls another stream, an emitter
//! smuggled into a spawned task.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use sse_runtime::prelude::*;
use sse_runtime::StreamSummary;
use support::{fields, get as request, serve, within};

static ON_CLOSE_CALLS: AtomicUsize = AtomicUsize::new(0);

fn panicking_on_close(_summary: &StreamSummary) {
    ON_CLOSE_CALLS.fetch_add(1, Ordering::SeqCst);
    panic!("on_close fails on purpose");
}

#[sse_handler(on_close = panicking_on_close)]
async fn three_then_end() {
    for n in 1..=3 {
        yield_!(event!(data: n.to_string()));
    }
}

#[tokio::test]
async fn a_panicking_on_close_loses_nothing_of_the_response() {
    let addr = serve(Router::new().route("/", get(three_then_end))).await;
    for _ in 0..3 {
        let response = request(addr, "/", &[]).await;
        assert_eq!(response.inner.status(), 200);
        let events = response.events().all().await;
        let data: Vec<_> = events.iter().map(|event| event.data.as_str()).collect();
        assert_eq!(data, ["1", "2", "3"], "every event, then a clean end");
    }
    support::wait_while(|| ON_CLOSE_CALLS.load(Ordering::SeqCst) < 3).await;
}

static UNWIND_CALLS: AtomicUsize = AtomicUsize::new(0);

fn counting_panicking_on_close(_summary: &StreamSummary) {
    UNWIND_CALLS.fetch_add(1, Ordering::SeqCst);
    panic!("on_close fails on purpose");
}

/// A body dropped while its thread unwinds from another panic: were the
/// callback's panic to escape there, the process would abort (and this test
/// binary with it).
#[test]
fn a_body_dropped_while_unwinding_never_aborts() {
    let body = sse_runtime::SseResponse::new(|mut emitter| async move {
        emitter.send(Event::data("x")).await;
    })
    .with_config(SseConfig::new().on_close(counting_panicking_on_close))
    .into_body();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _body = body;
        panic!("the connection task fails");
    }));
    assert!(unwound.is_err());
    assert_eq!(
        UNWIND_CALLS.load(Ordering::SeqCst),
        0,
        "not called while unwinding"
    );

    // Dropped normally, the callback runs, and its panic is caught.
    let body = sse_runtime::SseResponse::new(|mut emitter| async move {
        emitter.send(Event::data("x")).await;
    })
    .with_config(SseConfig::new().on_close(counting_panicking_on_close))
    .into_body();
    drop(body);
    assert_eq!(UNWIND_CALLS.load(Ordering::SeqCst), 1);
}

/// Moves its thread into the blocking pool on every stream, so that tokio
/// starts fresh worker threads round after round.
#[sse_handler(keep_alive = "20ms")]
async fn blocks_in_place() {
    tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(2)));
    yield_!(event!("after blocking"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    yield_!(event!("done"));
}

/// Keep-alive timers are per stream and end with it: thread churn leaves
/// no task behind (an earlier design ran one timer task per thread and
/// runtime, which grew with every new worker thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_leaves_no_tasks_behind_under_thread_churn() {
    let addr = serve(Router::new().route("/", get(blocks_in_place))).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut alive_after_round = Vec::new();
    for _round in 0..8 {
        let streams = (0..8).map(|_| async {
            let events = request(addr, "/", &[]).await.events().all().await;
            assert!(events.iter().any(|event| event.event == "message"));
            assert_eq!(events.last().map(|event| event.data.as_str()), Some("done"));
        });
        futures_util::future::join_all(streams).await;
        // Let the connection tasks finish.
        support::wait_while(|| sse_runtime::open_streams() > 0).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        alive_after_round.push(metrics.num_alive_tasks());
    }
    // The server's accept loop, and nothing per thread.
    let first = alive_after_round[0];
    assert!(
        alive_after_round.iter().all(|&alive| alive <= first),
        "live tasks grew with thread churn: {alive_after_round:?}"
    );
    assert!(first <= 2, "{alive_after_round:?}");
}

/// Relays another stream's body, polled inside this handler: a proxy or a
/// merger. The inner body lends its own outbox while this one's is lent.
#[sse_handler]
async fn relay() {
    let inner = sse_runtime::SseResponse::new(|mut emitter| async move {
        for n in 1..=3 {
            emitter.send(event!(data: format!("inner {n}"))).await;
            tokio::task::yield_now().await;
        }
    })
    .into_body();
    yield_!(event!(data: "outer before", event: "outer"));
    let mut inner = std::pin::pin!(inner);
    while let Some(frame) = inner.frame().await {
        let data = frame.expect("infallible").into_data().expect("data");
        let text = String::from_utf8(data.to_vec()).expect("utf-8");
        for line in text.lines().filter_map(|line| line.strip_prefix("data: ")) {
            yield_!(event!(data: line, event: "relayed"));
        }
    }
    yield_!(event!(data: "outer after", event: "outer"));
}

#[tokio::test]
async fn a_handler_can_poll_another_stream_inside_its_own() {
    let addr = serve(Router::new().route("/", get(relay))).await;
    let events = request(addr, "/", &[]).await.events().all().await;
    let got: Vec<_> = events
        .iter()
        .map(|event| {
            let (kind, data, _, _) = fields(event);
            (kind, data)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("outer", "outer before"),
            ("relayed", "inner 1"),
            ("relayed", "inner 2"),
            ("relayed", "inner 3"),
            ("outer", "outer after"),
        ]
    );
}

/// An emitter moved into a spawned task cannot reach its stream: the send
/// fails loudly there instead of losing the event in silence.
#[tokio::test]
async fn an_emitter_used_outside_its_handler_fails_visibly() {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let response = sse_runtime::SseResponse::new(|mut emitter| async move {
        let task = tokio::spawn(async move {
            emitter.send(Event::data("lost?")).await;
        });
        let _ = sender.send(task.await);
    });
    let body = response.into_body();
    let bytes = within(body.collect()).await.unwrap().to_bytes();
    assert!(bytes.is_empty(), "nothing was sent: {bytes:?}");
    let joined = within(receiver).await.expect("the handler ran");
    let panic = joined.expect_err("the spawned send panics").into_panic();
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default();
    assert!(
        message.contains("outside the handler it was given to"),
        "{message}"
    );
}

/// A refused event made in one branch of a `select!` that another branch
/// wins: the handler goes on, in the same poll, to send more. The refused
/// event ends the stream, and nothing sent after it reaches the client.
#[tokio::test]
async fn nothing_sent_after_a_refused_event_reaches_the_client() {
    let body = sse_runtime::SseResponse::new(|mut emitter| async move {
        emitter.send(Event::data("before")).await;
        tokio::select! {
            biased;
            () = std::future::ready(()) => {}
            () = emitter.send(Event::builder().event("bad\nname").data("x")) => {}
        }
        emitter.send(Event::data("after the refused event")).await;
        std::future::pending::<()>().await;
    })
    .with_config(SseConfig::new().keep_alive(None).error_event(true))
    .into_body();
    let bytes = within(body.collect()).await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.starts_with("data: before\n\n"), "{text:?}");
    assert!(!text.contains("after the refused event"), "{text:?}");
    assert!(text.contains("event: error\n"), "{text:?}");
}

/// A handler's local whose destructor panics (a guard that asserts, a
/// client that blocks on a runtime in `Drop`).
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a handler's local fails as it is dropped");
        }
    }
}

static DROP_PANIC_CLOSES: AtomicUsize = AtomicUsize::new(0);

fn count_drop_panic_closes(_summary: &StreamSummary) {
    DROP_PANIC_CLOSES.fetch_add(1, Ordering::SeqCst);
}

/// The handler is dropped when its stream ends (here, for a refused event)
/// and when the client goes away; a panic in one of its locals' destructors
/// then ends that stream only, as a panic in the handler does: the stream
/// still ends with its final frames, and the close is still reported.
#[tokio::test]
async fn a_handler_local_that_panics_when_dropped_ends_only_its_stream() {
    let config = SseConfig::new()
        .keep_alive(None)
        .error_event(true)
        .on_close(count_drop_panic_closes);
    let body = sse_runtime::SseResponse::new(|mut emitter| async move {
        let _guard = PanicsWhenDropped;
        emitter.send(Event::data("kept")).await;
        emitter
            .send(Event::builder().event("bad\nname").data("x"))
            .await;
    })
    .with_config(config.clone())
    .into_body();
    let collected = tokio::spawn(body.collect());
    let bytes = within(collected)
        .await
        .expect("the panic stays in the stream")
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.starts_with("data: kept\n\n"), "{text:?}");
    assert!(text.contains("event: error\n"), "{text:?}");
    assert_eq!(DROP_PANIC_CLOSES.load(Ordering::SeqCst), 1);

    // The client goes away mid-stream: the body is dropped.
    let mut body = Box::pin(
        sse_runtime::SseResponse::new(|mut emitter| async move {
            let _guard = PanicsWhenDropped;
            emitter.send(Event::data("open")).await;
            std::future::pending::<()>().await;
        })
        .with_config(config)
        .into_body(),
    );
    let frame = within(body.frame()).await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "data: open\n\n");
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(body)));
    assert!(dropped.is_ok(), "dropping the body panicked");
    assert_eq!(DROP_PANIC_CLOSES.load(Ordering::SeqCst), 2);
}

static ON_CLOSE_POLLED: AtomicUsize = AtomicUsize::new(0);

/// A close callback that runs a stream of its own: polls another body to
/// its first frame.
fn polls_a_stream_on_close(_summary: &StreamSummary) {
    let body = sse_runtime::SseResponse::new(|mut emitter| async move {
        emitter.send(Event::data("from on_close")).await;
    })
    .with_config(SseConfig::new().keep_alive(None))
    .into_body();
    let mut body = std::pin::pin!(body);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match hyper::body::Body::poll_frame(body.as_mut(), &mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => {
            assert_eq!(frame.into_data().unwrap(), "data: from on_close\n\n");
            ON_CLOSE_POLLED.fetch_add(1, Ordering::SeqCst);
        }
        other => panic!("{other:?}"),
    }
}

/// Drops a relayed stream mid-way, inside its own poll: the relayed
/// stream's close callback runs there, with this stream's outbox lent, and
/// polls a third stream.
#[sse_handler(keep_alive = "1ms")]
async fn relay_then_drop() {
    yield_!(event!("outer 1"));
    {
        let inner = sse_runtime::SseResponse::new(|mut emitter| async move {
            emitter.send(Event::data("inner")).await;
            std::future::pending::<()>().await;
        })
        .with_config(SseConfig::new().on_close(polls_a_stream_on_close))
        .into_body();
        let mut inner = std::pin::pin!(inner);
        let frame = inner.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "data: inner\n\n");
        yield_!(event!("relayed"));
    }
    yield_!(event!("outer 2"));
}

#[tokio::test]
async fn an_on_close_that_polls_a_stream_inside_another_handler() {
    let addr = serve(Router::new().route("/", get(relay_then_drop))).await;
    let events = request(addr, "/", &[]).await.events().all().await;
    let data: Vec<_> = events.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data, ["outer 1", "relayed", "outer 2"]);
    assert_eq!(ON_CLOSE_POLLED.load(Ordering::SeqCst), 1);
}

/// Never waits on anything but its client: every poll fills the outbox.
#[sse_handler(keep_alive = "1ms")]
async fn firehose() {
    let chunk = "f".repeat(1024);
    loop {
        yield_!(event!(data: &chunk));
    }
}

/// Shutdown while a handler is mid-burst, with a 1 ms keep-alive: the
/// stream ends promptly with the final event after whole events, and no
/// keep-alive ever interrupts the burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_stream_mid_burst() {
    let shutdown =
        sse_runtime::Shutdown::new().final_event(event!(data: "bye", event: "shutdown").unwrap());
    let app = Router::new()
        .route("/", get(firehose))
        .layer(axum::Extension(shutdown.clone()));
    let (trigger, triggered) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = support::serve_until(app, &shutdown, async move {
        let _ = triggered.await;
    });
    let mut chunks = request(addr, "/", &[]).await.chunks();
    let mut text = String::new();
    while text.len() < 256 * 1024 {
        text.push_str(std::str::from_utf8(&chunks.next().await.unwrap()).unwrap());
    }
    trigger.send(()).unwrap();
    while let Some(chunk) = chunks.next().await {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        text.ends_with("event: shutdown\ndata: bye\n\n"),
        "{:?}",
        &text[text.len().saturating_sub(100)..]
    );
    let events: Vec<_> = text.split_terminator("\n\n").collect();
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|event| event.len() == "data: ".len() + 1024),
        "only whole events before the final one, no keep-alive"
    );
    within(server).await.unwrap();
}

/// Relays a stream whose handler panics mid-burst, polled inside this
/// handler's own poll: that stream ends with its error, this one goes on.
#[sse_handler]
async fn relay_a_panicking_stream() {
    let inner = sse_runtime::SseResponse::new(|mut emitter| async move {
        for n in 0..100 {
            emitter.send(event!(data: format!("inner {n}"))).await;
            if n == 40 {
                panic!("the relayed handler fails mid-burst");
            }
        }
    })
    .with_config(SseConfig::new().error_event(true))
    .into_body();
    let mut inner = std::pin::pin!(inner);
    let mut relayed = String::new();
    while let Some(frame) = inner.frame().await {
        relayed.push_str(std::str::from_utf8(&frame.unwrap().into_data().unwrap()).unwrap());
    }
    let lines = relayed
        .lines()
        .filter(|line| line.starts_with("data: inner"))
        .count();
    yield_!(event!(data: lines.to_string(), event: "relayed"));
    yield_!(event!(data: relayed.contains("event: error\n").to_string(), event: "error seen"));
    yield_!(event!(data: "outer goes on"));
}

#[tokio::test]
async fn a_relayed_stream_that_panics_ends_only_itself() {
    let addr = serve(Router::new().route("/", get(relay_a_panicking_stream))).await;
    let events = request(addr, "/", &[]).await.events().all().await;
    let got: Vec<_> = events
        .iter()
        .map(|event| (event.event.as_str(), event.data.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("relayed", "41"),
            ("error seen", "true"),
            ("message", "outer goes on")
        ]
    );
}
