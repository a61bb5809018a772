//! Handlers written with both macro forms, served over TCP on 127.0.0.1 and
//! read back with `eventsource-stream`.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sse_runtime::prelude::*;
use support::{fields, get as request, serve, within};
use tokio::sync::Notify;

#[derive(Serialize)]
struct Count {
    count: u32,
}

#[sse_handler]
async fn basic() {
    yield_!(event!("Hello, SSE!"));
    yield_!(comment!("between"));
    yield_!(event!(json: Count { count: 1 }, event: "update", id: 1, retry: 5000));
    yield_!(event!(data: "second", id: "abc"));
    yield_!(keep_alive!());
}

sse_handlers! {
    async fn block_form() {
        for count in 1..=3 {
            yield event!(json: Count { count }, event: "tick", id: count);
        }
        yield comment!("done");
    }
}

#[tokio::test]
async fn attribute_form_sends_every_kind_of_item_and_ends() {
    let addr = serve(Router::new().route("/", get(basic))).await;
    let response = request(addr, "/", &[]).await;
    assert_eq!(response.inner.status(), 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert_eq!(response.header("cache-control"), Some("no-cache"));
    assert_eq!(response.header("x-accel-buffering"), Some("no"));
    assert_eq!(response.header("connection"), None);
    let events = response.events().all().await;
    let got: Vec<_> = events.iter().map(fields).collect();
    assert_eq!(
        got,
        [
            ("message", "Hello, SSE!", "", None),
            (
                "update",
                r#"{"count":1}"#,
                "1",
                Some(Duration::from_millis(5000))
            ),
            ("message", "second", "abc", None),
        ]
    );
}

#[tokio::test]
async fn attribute_form_wire_bytes_are_exact() {
    let addr = serve(Router::new().route("/", get(basic))).await;
    let body = request(addr, "/", &[]).await.text().await;
    assert_eq!(
        body,
        "data: Hello, SSE!\n\n\
         : between\n\n\
         event: update\nid: 1\nretry: 5000\ndata: {\"count\":1}\n\n\
         id: abc\ndata: second\n\n\
         :\n\n"
    );
}

#[tokio::test]
async fn block_form_yields_literally() {
    let addr = serve(Router::new().route("/", get(block_form))).await;
    let events = request(addr, "/", &[]).await.events().all().await;
    let got: Vec<_> = events.iter().map(fields).collect();
    assert_eq!(
        got,
        [
            ("tick", r#"{"count":1}"#, "1", None),
            ("tick", r#"{"count":2}"#, "2", None),
            ("tick", r#"{"count":3}"#, "3", None),
        ]
    );
}

#[derive(Clone)]
struct App {
    greeting: &'static str,
}

#[derive(serde::Deserialize)]
struct Times {
    times: u32,
}

/// Doc comments and visibility survive the macro.
#[sse_handler(keep_alive = "30s")]
pub async fn extractors(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(Times { times }): Query<Times>,
    headers: HeaderMap,
    last: LastEventId,
) {
    let agent = headers
        .get("x-agent")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("?")
        .to_owned();
    for i in 0..times {
        yield_!(event!(data: format!("{} {name} from {agent} #{i}", app.greeting)));
    }
    yield_!(event!(data: last.as_str().unwrap_or("<none>"), event: "last"));
}

#[tokio::test]
async fn extractors_are_kept() {
    let app = Router::new()
        .route("/greet/{name}", get(extractors))
        .with_state(App { greeting: "hi" });
    let addr = serve(app).await;
    let events = request(
        addr,
        "/greet/ada?times=2",
        &[("x-agent", b"test"), ("last-event-id", b"41")],
    )
    .await
    .events()
    .all()
    .await;
    let data: Vec<_> = events
        .iter()
        .map(|event| (event.event.as_str(), event.data.as_str()))
        .collect();
    assert_eq!(
        data,
        [
            ("message", "hi ada from test #0"),
            ("message", "hi ada from test #1"),
            ("last", "41"),
        ]
    );
}

#[sse_handler]
async fn tricky_data(Query(params): Query<HashMap<String, String>>) {
    yield_!(event!(data: params.get("data").cloned().unwrap_or_default(), event: "echo"));
}

#[tokio::test]
async fn data_arrives_exactly_as_given() {
    let addr = serve(Router::new().route("/", get(tricky_data))).await;
    let cases = [
        ("", ""),
        ("plain", "plain"),
        ("a%0Ab", "a\nb"),
        ("a%0Db", "a\nb"),
        ("a%0D%0Ab", "a\nb"),
        ("a%0A%0Db", "a\n\nb"),
        ("%0A", "\n"),
        ("trailing%0D%0A", "trailing\n"),
        ("%20%20leading%20spaces", "  leading spaces"),
        (":colon%20first", ":colon first"),
        (
            "data:%20inner%0Aevent:%20forged%0A%0Aid:%201",
            "data: inner\nevent: forged\n\nid: 1",
        ),
        ("%F0%9F%A6%80%20caf%C3%A9", "🦀 café"),
    ];
    for (query, expected) in cases {
        let events = request(addr, &format!("/?data={query}"), &[])
            .await
            .events()
            .all()
            .await;
        assert_eq!(events.len(), 1, "one event for {query:?}: {events:?}");
        assert_eq!(events[0].event, "echo", "type for {query:?}");
        assert_eq!(events[0].data, expected, "data for {query:?}");
        assert_eq!(events[0].id, "", "no id forged for {query:?}");
    }
}

#[sse_handler]
async fn early_return(Query(params): Query<HashMap<String, String>>) {
    yield_!(event!("first"));
    if params.contains_key("stop") {
        return;
    }
    yield_!(event!("second"));
}

#[tokio::test]
async fn explicit_return_ends_the_stream() {
    let addr = serve(Router::new().route("/", get(early_return))).await;
    let stopped = request(addr, "/?stop", &[]).await.events().all().await;
    assert_eq!(
        stopped.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    let full = request(addr, "/", &[]).await.events().all().await;
    assert_eq!(
        full.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
}

#[sse_handler]
async fn fails_quietly() -> Result<(), std::num::ParseIntError> {
    yield_!(event!("before"));
    let n: u32 = "not a number".parse()?;
    yield_!(event!(data: n.to_string()));
    Ok(())
}

#[sse_handler(error_event = true)]
async fn fails_loudly() -> Result<(), std::num::ParseIntError> {
    yield_!(event!("before"));
    let n: u32 = "not a number".parse()?;
    yield_!(event!(data: n.to_string()));
    Ok(())
}

#[tokio::test]
async fn an_error_ends_the_stream_and_is_sent_only_when_asked() {
    let app = Router::new()
        .route("/quiet", get(fails_quietly))
        .route("/loud", get(fails_loudly));
    let addr = serve(app).await;
    let quiet = request(addr, "/quiet", &[]).await.events().all().await;
    assert_eq!(
        quiet.iter().map(fields).collect::<Vec<_>>(),
        [("message", "before", "", None)]
    );
    let loud = request(addr, "/loud", &[]).await.events().all().await;
    assert_eq!(
        loud.iter().map(fields).collect::<Vec<_>>(),
        [
            ("message", "before", "", None),
            ("error", "invalid digit found in string", "", None),
        ]
    );
}

#[sse_handler(error_event = true)]
async fn refused_values(Query(params): Query<HashMap<String, String>>) {
    yield_!(event!("before"));
    let name = params.get("event").cloned().unwrap_or_default();
    let id = params.get("id").cloned().unwrap_or_default();
    yield_!(event!(data: "never sent", event: name, id: id));
    yield_!(event!("after"));
}

#[tokio::test]
async fn refused_event_names_and_ids_end_the_stream_without_forging() {
    let addr = serve(Router::new().route("/", get(refused_values))).await;
    let cases = [
        (
            "event=a%0Aid:%20forged",
            "event refused: event name contains a line break (CR or LF)",
        ),
        (
            "event=a%0Db",
            "event refused: event name contains a line break (CR or LF)",
        ),
        (
            "id=1%0D%0Adata:%20x",
            "event refused: event id contains a line break (CR or LF)",
        ),
        (
            "id=1%00",
            "event refused: event id contains a NUL character",
        ),
    ];
    for (query, reason) in cases {
        let events = request(addr, &format!("/?{query}"), &[])
            .await
            .events()
            .all()
            .await;
        assert_eq!(
            events.iter().map(fields).collect::<Vec<_>>(),
            [("message", "before", "", None), ("error", reason, "", None)],
            "for {query}"
        );
    }
}

struct NotJson;

impl Serialize for NotJson {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be serialized",
        ))
    }
}

#[sse_handler(error_event = true)]
async fn bad_json() {
    yield_!(event!("before"));
    yield_!(event!(json: NotJson, event: "never"));
}

#[tokio::test]
async fn json_failure_ends_the_stream() {
    let addr = serve(Router::new().route("/", get(bad_json))).await;
    let events = request(addr, "/", &[]).await.events().all().await;
    assert_eq!(
        events.iter().map(fields).collect::<Vec<_>>(),
        [
            ("message", "before", "", None),
            (
                "error",
                "event refused: event data could not be serialized as JSON: this value refuses to be serialized",
                "",
                None
            ),
        ]
    );
}

#[sse_handler]
async fn panics(Query(params): Query<HashMap<String, String>>) {
    yield_!(event!("before"));
    if params.contains_key("panic") {
        panic!("handler bug");
    }
    yield_!(event!("after"));
}

#[tokio::test]
async fn a_panic_ends_that_stream_only() {
    let addr = serve(Router::new().route("/", get(panics))).await;
    let mut open = request(addr, "/?other", &[]).await;
    // The first stream is still open on its own connection.
    let _ = &mut open;
    let broken = request(addr, "/?panic", &[]).await.events().all().await;
    assert_eq!(
        broken.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["before"]
    );
    let healthy = request(addr, "/", &[]).await.events().all().await;
    assert_eq!(
        healthy.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["before", "after"]
    );
    let other = open.events().all().await;
    assert_eq!(
        other.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["before", "after"]
    );
}

/// Counts drops, and signals each one.
#[derive(Clone, Default)]
struct DropProbe {
    started: Arc<Notify>,
    dropped: Arc<Notify>,
    drops: Arc<AtomicUsize>,
}

struct Guard(DropProbe);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, Ordering::SeqCst);
        self.0.dropped.notify_one();
    }
}

#[sse_handler(keep_alive = "100ms")]
async fn idle_forever(State(probe): State<DropProbe>) {
    let _guard = Guard(probe.clone());
    yield_!(event!("started"));
    probe.started.notify_one();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    yield_!(event!("never"));
}

#[tokio::test]
async fn client_disconnect_drops_an_idle_body() {
    let probe = DropProbe::default();
    let app = Router::new()
        .route("/", get(idle_forever))
        .with_state(probe.clone());
    let addr = serve(app).await;
    let mut events = request(addr, "/", &[]).await.events();
    assert_eq!(events.next().await.expect("first event").data, "started");
    within(probe.started.notified()).await;
    assert_eq!(
        probe.drops.load(Ordering::SeqCst),
        0,
        "body alive while the client reads"
    );
    // Close the TCP connection while the body sleeps.
    drop(events);
    within(probe.dropped.notified()).await;
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
}

#[sse_handler(keep_alive = "50ms")]
async fn silent() {
    yield_!(event!("start"));
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[tokio::test]
async fn keep_alive_is_sent_after_silence() {
    let addr = serve(Router::new().route("/", get(silent))).await;
    let mut chunks = request(addr, "/", &[]).await.chunks();
    let mut seen = Vec::new();
    while seen.windows(3).filter(|w| w == b":\n\n").count() < 2 {
        let chunk = chunks.next().await.expect("open");
        seen.extend_from_slice(&chunk);
    }
    assert!(
        seen.starts_with(b"data: start\n\n:\n\n:\n\n"),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );
}

/// Streams spread over a multi-threaded runtime share a keep-alive timer
/// per worker thread; each must still get its own keep-alives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alives_reach_every_stream_across_worker_threads() {
    let addr = serve(Router::new().route("/", get(silent))).await;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..64 {
        clients.spawn(async move {
            let mut chunks = request(addr, "/", &[]).await.chunks();
            let mut seen = Vec::new();
            while seen.windows(3).filter(|w| w == b":\n\n").count() < 3 {
                seen.extend_from_slice(&chunks.next().await.expect("open"));
            }
            assert!(
                seen.starts_with(b"data: start\n\n:\n\n:\n\n:\n\n"),
                "{:?}",
                String::from_utf8_lossy(&seen)
            );
        });
    }
    while let Some(client) = within(clients.join_next()).await {
        client.expect("every stream got three keep-alives");
    }
}

#[sse_handler(keep_alive = false)]
async fn one_then_wait() {
    yield_!(event!("alone"));
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn an_event_yielded_alone_is_written_at_once() {
    let addr = serve(Router::new().route("/", get(one_then_wait))).await;
    let mut events = request(addr, "/", &[]).await.events();
    assert_eq!(events.next().await.expect("event").data, "alone");
}

#[sse_handler(keep_alive = false)]
async fn firehose(State(counter): State<Arc<AtomicUsize>>) {
    let payload = "x".repeat(100);
    loop {
        yield_!(event!(data: &payload));
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_suspends_the_body() {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/", get(firehose))
        .with_state(counter.clone());
    let addr = serve(app).await;
    let response = request(addr, "/", &[]).await;
    // Never read the body: once the socket buffers fill, the body must wait.
    let mut last = usize::MAX;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counter.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    assert_eq!(
        counter.load(Ordering::SeqCst),
        last,
        "body kept running for 5 s"
    );
    // Socket buffers on loopback hold a few MiB; the library adds ~16 KiB.
    assert!(last * 109 < 64 << 20, "{last} events buffered");
    drop(response);
}

/// An event named by two type parameters: yielding it takes a turbofish
/// with a comma, which must not end the value inside another macro.
fn sizes<A, B>() -> Event {
    Event::data(&format!("{} {}", size_of::<A>(), size_of::<B>()))
}

#[sse_handler]
async fn turbofish_attribute() {
    tokio::select! {
        _ = std::future::ready(()) => {
            yield_!(sizes::<u8, u16>());
            sse_runtime::yield_!(sizes::<u32, u64>());
        }
    }
}

sse_handlers! {
    async fn turbofish_block() {
        tokio::select! {
            _ = std::future::ready(()) => yield sizes::<u8, u16>(),
        }
        tokio::select! {
            _ = std::future::ready(()) => {
                yield sizes::<u32, u64>();
            }
        }
    }
}

#[tokio::test]
async fn a_turbofish_inside_another_macro_is_yielded_whole() {
    let app = Router::new()
        .route("/attribute", get(turbofish_attribute))
        .route("/block", get(turbofish_block));
    let addr = serve(app).await;
    for path in ["/attribute", "/block"] {
        let events = request(addr, path, &[]).await.events().all().await;
        let data: Vec<_> = events.iter().map(|event| event.data.as_str()).collect();
        assert_eq!(data, ["1 2", "4 8"], "{path}");
    }
}

#[tokio::test]
async fn last_event_id_edge_cases() {
    #[sse_handler]
    async fn report(last: LastEventId) {
        yield_!(event!(data: format!("{:?}", last.as_str())));
    }
    let addr = serve(Router::new().route("/", get(report))).await;
    let long = vec![b'7'; sse_runtime::MAX_LAST_EVENT_ID_LEN + 1];
    let exact = vec![b'7'; sse_runtime::MAX_LAST_EVENT_ID_LEN];
    type Headers<'a> = &'a [(&'a str, &'a [u8])];
    let cases: [(Headers, String); 5] = [
        (&[], "None".into()),
        (&[("last-event-id", b"42")], "Some(\"42\")".into()),
        (&[("last-event-id", b"caf\xe9")], "None".into()),
        (&[("last-event-id", &long)], "None".into()),
        (
            &[("last-event-id", &exact)],
            format!("Some({:?})", String::from_utf8(exact.clone()).unwrap()),
        ),
    ];
    for (headers, expected) in cases {
        let events = request(addr, "/", headers).await.events().all().await;
        assert_eq!(events[0].data, expected);
    }
}
