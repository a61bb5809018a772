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
#[should_panic(expected = "timed out after 200ms waiting for the end of the stream from /")]
async fn a_read_that_never_completes_fails_with_a_message() {
    let client = TestClient::for_handler(endless);
    client
        .get("/")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .collect()
        .await;
}

#[tokio::test]
#[should_panic(expected = "expected 200 OK from /missing")]
async fn a_route_that_is_not_a_stream_fails_clearly() {
    TestClient::new(app()).get("/missing").send().await;
}
