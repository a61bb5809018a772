//! The in-process hub: the behavioural suite every transport passes
//! (`tests/support/hub_suite.rs`), and the chat example over TCP.

mod support;

use std::time::Duration;

use axum::routing::get;
use axum::{extract::State, Router};
use sse_runtime::hub::Hub;
use sse_runtime::prelude::*;
use sse_runtime::Shutdown;
use sse_suite::chat;
use support::hub_suite::{self, Backend};
use support::{get as request, serve, within};

macro_rules! suite {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            hub_suite::$name(&Backend::Local).await;
        }
    )*};
}

suite!(
    delivers_every_event_once_to_every_instance,
    topics_select_and_resume_from_one_id,
    resumes_after_an_id_then_goes_live,
    unknown_ids_get_a_reset_then_live_events,
    a_lagging_subscriber_is_told_and_disconnected,
    skip_ahead_reports_what_was_skipped_and_goes_on,
    concurrent_publishers_and_reconnects_deliver_exactly_once_in_order,
    a_long_replay_is_delivered_in_full_while_publishing_continues,
    memory_is_bounded_in_bytes_and_the_newest_replay,
    replay_respects_max_age,
    ids_at_the_edges_reset_or_resume,
    topics_of_different_rates_arrive_once_in_order_across_reconnects,
    an_empty_topic_list_receives_nothing,
    many_events_in_one_millisecond_keep_their_order,
    events_at_the_byte_budget,
    max_age_holds_while_nothing_is_published,
    lagged_counts_the_events_of_its_own_topics,
);

async fn post(addr: std::net::SocketAddr, user: &str, text: &str) -> String {
    let (status, body) = post_raw(addr, user, text).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post_raw(addr: std::net::SocketAddr, user: &str, text: &str) -> (u16, String) {
    use http_body_util::{BodyExt, Full};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let body = serde_json::json!({ "user": user, "text": text }).to_string();
    let request = hyper::Request::post("/messages")
        .header("host", "chat")
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let response = within(sender.send_request(request)).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn message(event: &eventsource_stream::Event) -> (String, String, String) {
    let value: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    (
        event.event.clone(),
        value["user"].as_str().unwrap().to_owned(),
        value["text"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn chat_two_clients_one_reconnecting_with_last_event_id() {
    let addr = serve(chat::app(Hub::new(), Shutdown::new())).await;
    let mut alice = request(addr, "/stream", &[]).await.events();
    let mut bob = request(addr, "/stream", &[]).await.events();
    // Both streams are open before anything is published.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let hi = post(addr, "alice", "hi").await;
    let bob_first = bob.next().await.unwrap();
    assert_eq!(
        message(&bob_first),
        ("message".into(), "alice".into(), "hi".into())
    );
    let bob_last_id = bob_first.id.clone();
    assert_eq!(bob_last_id, hi, "the event's id is the hub's");
    drop(bob);

    post(addr, "alice", "are you there?").await;
    post(addr, "carol", "he left").await;

    let mut bob = request(
        addr,
        "/stream",
        &[("last-event-id", bob_last_id.as_bytes())],
    )
    .await
    .events();
    let missed: Vec<_> = bob.take(2).await.iter().map(message).collect();
    assert_eq!(
        missed,
        [
            ("message".into(), "alice".into(), "are you there?".into()),
            ("message".into(), "carol".into(), "he left".into())
        ]
    );
    post(addr, "bob", "back").await;
    assert_eq!(message(&bob.next().await.unwrap()).2, "back");

    let everything: Vec<_> = alice.take(4).await.iter().map(|e| message(e).2).collect();
    assert_eq!(everything, ["hi", "are you there?", "he left", "back"]);
}

#[sse_handler(keep_alive = false)]
async fn big_stream(State(hub): State<Hub>) {
    let mut subscription = hub.subscribe(&["big"], None);
    while let Some(event) = subscription.next().await {
        yield_!(event);
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_never_slows_the_others() {
    let hub = Hub::with_config(sse_runtime::hub::HubConfig {
        replay: 64,
        ..Default::default()
    });
    let app = Router::new()
        .route("/", get(big_stream))
        .with_state(hub.clone());
    let addr = serve(app).await;
    let stalled = request(addr, "/", &[]).await;
    let mut reader = request(addr, "/", &[]).await.events();
    within(async {
        while hub.subscribers() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let payload = "y".repeat(4096);
    // 32 MiB: far more than the stalled client's socket buffers hold.
    for n in 0..8192u64 {
        let id = hub.publish("big", event!(data: &payload)).await.unwrap();
        let event = reader.next().await.unwrap();
        assert_eq!(event.id, id.to_string(), "event {n}");
    }
    // The stalled subscriber fell behind and was told so: its stream holds
    // some events, then `lagged`, then ends.
    let events = stalled.events().all().await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "lagged");
    assert!(events.len() < 8192);
    within(async {
        while hub.subscribers() > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn chat_refuses_messages_too_large_to_keep_with_a_clear_status() {
    let hub = Hub::new();
    let addr = serve(chat::app(hub.clone(), Shutdown::new())).await;
    let long = "x".repeat(chat::MAX_TEXT_CHARS + 1);
    let (status, body) = post_raw(addr, "mallory", &long).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("at most"), "{body}");
    // Larger than the body limit: refused before it is read.
    let huge = "y".repeat(chat::MAX_BODY_BYTES * 4);
    let (status, _) = post_raw(addr, "mallory", &huge).await;
    assert_eq!(status, 413);
    assert_eq!(hub.stats().events, 0, "nothing was published");
    let (status, _) = post_raw(addr, "alice", &"z".repeat(chat::MAX_TEXT_CHARS)).await;
    assert_eq!(status, 201);
}
