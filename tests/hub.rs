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
    a_publisher_may_send_any_event_name_and_comment_text,
    a_reset_skips_nothing_published_since_subscribing,
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
    let body = serde_json::json!({ "user": user, "text": text }).to_string();
    let (status, _, body) = support::post(addr, "/messages", Some("application/json"), &body).await;
    (status, body)
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
    support::wait_while(|| hub.subscribers() < 2).await;
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
    support::wait_while(|| hub.subscribers() > 1).await;
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

/// A broker whose live delivery lags its history, as a Redis reader lags
/// when it is slow or reconnecting while publishes and history reads go
/// on: publishing stores an event, the test delivers stored events to the
/// hub when it chooses, and history reads the store, `Gone` for what was
/// trimmed.
#[derive(Clone, Default)]
struct LaggingBroker(std::sync::Arc<std::sync::Mutex<Broker>>);

#[derive(Default)]
struct Broker {
    feed: Option<sse_runtime::hub::LiveFeed>,
    stored: Vec<sse_runtime::hub::StoredEvent>,
    delivered: usize,
    trimmed_through: sse_runtime::hub::EventId,
}

impl LaggingBroker {
    fn deliver(&self, up_to: usize) {
        let mut broker = self.0.lock().unwrap();
        let feed = broker.feed.clone().unwrap();
        while broker.delivered < up_to {
            let event = broker.stored[broker.delivered].clone();
            feed.append(event.id, &event.topic, event.kind, event.frame);
            broker.delivered += 1;
        }
    }

    fn trim_through(&self, id: sse_runtime::hub::EventId) {
        self.0.lock().unwrap().trimmed_through = id;
    }
}

impl sse_runtime::hub::Transport for LaggingBroker {
    fn starts_after(&self) -> sse_runtime::hub::EventId {
        sse_runtime::hub::EventId::new(1, 0)
    }

    fn attach(&self, feed: sse_runtime::hub::LiveFeed) {
        self.0.lock().unwrap().feed = Some(feed);
    }

    fn publish(
        &self,
        topic: std::sync::Arc<str>,
        kind: sse_runtime::hub::EntryKind,
        frame: bytes::Bytes,
    ) -> sse_runtime::hub::BoxFuture<Result<sse_runtime::hub::EventId, sse_runtime::hub::HubError>>
    {
        let mut broker = self.0.lock().unwrap();
        let id = sse_runtime::hub::EventId::new(2, broker.stored.len() as u64);
        broker.stored.push(sse_runtime::hub::StoredEvent {
            id,
            topic,
            kind,
            frame,
        });
        Box::pin(std::future::ready(Ok(id)))
    }

    fn history(
        &self,
        after: sse_runtime::hub::EventId,
        limit: usize,
    ) -> sse_runtime::hub::BoxFuture<Result<sse_runtime::hub::History, sse_runtime::hub::HubError>>
    {
        let broker = self.0.lock().unwrap();
        let history = if after < broker.trimmed_through {
            sse_runtime::hub::History::Gone
        } else {
            let events = broker.stored.iter().filter(|event| event.id > after);
            sse_runtime::hub::History::Events(events.take(limit).cloned().collect())
        };
        Box::pin(std::future::ready(Ok(history)))
    }
}

/// A slow subscriber (`SkipAhead`) catches up from history, which runs
/// ahead of what the hub's log has received, until the broker trims under
/// it: it is told how many it missed, and then never gets an event twice.
#[tokio::test]
async fn skipping_ahead_after_history_ran_past_the_log_repeats_nothing() {
    let broker = LaggingBroker::default();
    let config = sse_runtime::hub::HubConfig {
        replay: 4,
        lag: sse_runtime::hub::LagPolicy::SkipAhead,
        ..Default::default()
    };
    let hub = Hub::with_transport(broker.clone(), config);
    let mut slow = hub.subscribe(&["t"], None);
    let mut ids = Vec::new();
    for n in 0..600 {
        ids.push(hub.publish("t", event!(data: n.to_string())).await.unwrap());
    }
    // The log received the first 100 and holds the newest 4: the
    // subscriber fell behind, and history gives it a first page.
    broker.deliver(100);
    for id in &ids[..256] {
        assert_eq!(hub_suite::next(&mut slow).await.2, id.to_string());
    }
    broker.trim_through(ids[399]);
    // The log receives the rest a moment after history said it was gone.
    let delivering = {
        let broker = broker.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            broker.deliver(600);
        })
    };
    let (kind, missed, _) = hub_suite::next(&mut slow).await;
    assert_eq!(
        (kind.as_str(), missed.as_str()),
        ("lagged", "344"),
        "it missed events 256 to 599"
    );
    within(delivering).await.unwrap();
    let after = hub.publish("t", event!(data: "after")).await.unwrap();
    broker.deliver(601);
    let (_, _, id) = hub_suite::next(&mut slow).await;
    assert_eq!(id, after.to_string(), "after {}", ids[255]);
}
