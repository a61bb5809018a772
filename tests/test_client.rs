//! `sse_runtime::testing::TestClient`: the same transcript in process and
//! over TCP, bounded reads of endless streams, and clear failures.

mod support;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use sse_runtime::prelude::*;
use sse_runtime::testing::{TestClient, Transcript};
use support::serve;

#[sse_handler]
async fn finite(last: LastEventId) {
    yield_!(comment!("start"));
    yield_!(event!(data: "one\r\ntwo", event: "pair", id: 1, retry: 250));
    yield_!(event!(data: last.as_str().unwrap_or("none")));
    yield_!(keep_alive!());
}

#[sse_handler(keep_alive = false)]
async fn endless() {
    let mut n = 0u64;
    loop {
        n += 1;
        yield_!(event!(data: n.to_string(), id: n));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn app() -> Router {
    Router::new()
        .route("/finite", get(finite))
        .route("/endless", get(endless))
}

#[tokio::test]
async fn in_process_and_over_tcp_see_the_same_stream() {
    let addr = serve(app()).await;
    let over_tcp = TestClient::url(&format!("http://{addr}"));
    let in_process = TestClient::new(app());
    let mut transcripts: Vec<Transcript> = Vec::new();
    for client in [in_process, over_tcp] {
        let stream = client.get("/finite").last_event_id("9").send().await;
        assert_eq!(stream.headers()["cache-control"], "no-cache");
        transcripts.push(stream.collect().await);
    }
    assert_eq!(transcripts[0], transcripts[1]);
    let transcript = &transcripts[0];
    assert!(transcript.ended);
    assert_eq!(transcript.comments, ["start", ""]);
    let pair = &transcript.events[0];
    assert_eq!(
        (
            pair.event_type.as_str(),
            pair.data.as_str(),
            pair.last_event_id.as_str()
        ),
        ("pair", "one\ntwo", "1")
    );
    assert_eq!(pair.retry, Some(Duration::from_millis(250)));
    // The id persists, as in a browser, and the request's Last-Event-ID
    // reached the handler.
    assert_eq!(
        (
            transcript.events[1].data.as_str(),
            transcript.events[1].last_event_id.as_str()
        ),
        ("9", "1")
    );
}

#[tokio::test]
async fn a_few_events_from_an_endless_stream() {
    let client = TestClient::for_handler(endless);
    let mut stream = client.get("/").send().await;
    let events = stream.take_events(3).await;
    let data: Vec<_> = events.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data, ["1", "2", "3"]);
    assert_eq!(stream.last_event_id(), "3");
    assert!(!stream.ended());
}

#[tokio::test]
#[should_panic(
    expected = "timed out after 2s waiting for the end of the stream from / (collect reads a stream to its end"
)]
async fn collecting_an_endless_stream_fails_with_a_message() {
    let client = TestClient::for_handler(endless);
    client
        .get("/")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .collect()
        .await;
}

#[sse_handler]
async fn silent() {
    yield_!(event!("one"));
    std::future::pending::<()>().await;
}

#[tokio::test]
#[should_panic(expected = "timed out after 200ms waiting for the next event from /")]
async fn a_read_that_never_completes_fails_with_a_message() {
    let client = TestClient::for_handler(silent);
    client
        .get("/")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .collect()
        .await;
}

#[sse_handler]
async fn one_a_second() {
    for n in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        yield_!(event!(data: n.to_string()));
    }
}

/// Each event has its own timeout, on tokio's clock: thirty seconds of
/// events are read at once on a paused clock (the timeout used to cover
/// the whole `take_events`, and failed at ten seconds).
#[tokio::test(start_paused = true)]
async fn timeouts_apply_per_event_and_a_paused_clock_works() {
    let client = TestClient::for_handler(one_a_second);
    let events = client.get("/").send().await.take_events(30).await;
    assert_eq!(events[29].data, "29");
    let transcript = client.get("/").send().await.collect().await;
    assert_eq!(transcript.events.len(), 30);
}

/// Any method, headers and a JSON body reach the handler.
#[sse_handler]
async fn echo(method: axum::http::Method, headers: axum::http::HeaderMap, body: String) {
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    yield_!(event!(data: format!("{method} {token} {body}")));
}

#[tokio::test]
async fn any_method_headers_and_body_reach_the_handler() {
    let app = Router::new().route("/echo", axum::routing::any(echo));
    for client in [
        TestClient::new(app.clone()),
        TestClient::url(&format!("http://{}", support::serve(app.clone()).await)),
    ] {
        let posted = client
            .post("/echo")
            .header("authorization", "Bearer t")
            .json(&serde_json::json!({ "a": 1 }))
            .send()
            .await
            .collect()
            .await;
        assert_eq!(posted.events[0].data, r#"POST Bearer t {"a":1}"#);
        let put = client
            .request(axum::http::Method::PUT, "/echo")
            .body("raw")
            .send()
            .await
            .collect()
            .await;
        assert_eq!(put.events[0].data, "PUT  raw");
    }
}

/// In process, `send` returns once the handler has run to its first wait:
/// a handler that subscribes to a hub has subscribed, so an event published
/// right after reaches it (it used to subscribe only at the first read,
/// and the event was missed).
#[tokio::test]
async fn send_returns_once_the_handler_has_subscribed() {
    let hub = sse_runtime::hub::Hub::new();
    let app = Router::new()
        .route("/news", get(news))
        .with_state(hub.clone());
    let client = TestClient::new(app);
    let mut first = client.get("/news").send().await;
    let mut second = client.get("/news").send().await;
    assert_eq!(hub.subscribers(), 2);
    hub.publish("news", event!(data: "extra!")).await.unwrap();
    assert_eq!(first.next_event().await.unwrap().data, "extra!");
    assert_eq!(second.next_event().await.unwrap().data, "extra!");
}

#[sse_handler]
async fn news(axum::extract::State(hub): axum::extract::State<sse_runtime::hub::Hub>) {
    let mut subscription = hub.subscribe(&["news"], None);
    while let Some(item) = subscription.next().await {
        yield_!(item);
    }
}

#[tokio::test]
#[should_panic(expected = "expected 200 OK from /missing")]
async fn a_route_that_is_not_a_stream_fails_clearly() {
    TestClient::new(app()).get("/missing").send().await;
}
