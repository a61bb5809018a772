//! The broadcast hub: fan-out, replay and resumption without gap or
//! duplicate, topics, lagging subscribers; and the chat example over TCP.

#[allow(dead_code)]
#[path = "../examples/chat/main.rs"]
mod chat;

use std::time::Duration;

use axum::routing::get;
use axum::{extract::State, Router};
use sse_runtime::hub::{Hub, HubConfig, LagPolicy};
use sse_runtime::prelude::*;
use sse_runtime::testing::{parse_all, Received};
use sse_runtime::Shutdown;
use sse_suite::{get as request, serve, within};

fn no_id() -> LastEventId {
    LastEventId(None)
}

/// The (type, data, id) of a hub event.
fn read(event: &Event) -> (String, String, String) {
    match parse_all(event.as_bytes()).as_slice() {
        [Received::Event(e)] => (
            e.event_type.clone(),
            e.data.clone(),
            e.last_event_id.clone(),
        ),
        other => panic!("expected one event, got {other:?}"),
    }
}

#[tokio::test]
async fn every_subscriber_gets_every_event_once_encoded() {
    let hub = Hub::new();
    let mut a = hub.subscribe(&["news"], &no_id());
    let mut b = hub.subscribe(&["news"], &no_id());
    for n in 1..=3 {
        let id = hub
            .publish("news", |id| event!(data: format!("n{n}"), id: id))
            .unwrap();
        assert_eq!(id, n);
    }
    for subscription in [&mut a, &mut b] {
        for n in 1..=3u64 {
            let event = within(subscription.next()).await.unwrap();
            assert_eq!(
                read(&event),
                ("message".into(), format!("n{n}"), n.to_string())
            );
        }
    }
    // The same bytes, not copies: both subscribers hold one buffer.
    hub.publish("news", |id| event!(data: "shared", id: id))
        .unwrap();
    let from_a = within(a.next()).await.unwrap().into_bytes();
    let from_b = within(b.next()).await.unwrap().into_bytes();
    assert_eq!(from_a.as_ptr(), from_b.as_ptr());
}

#[tokio::test]
async fn topics_select_what_a_subscriber_sees() {
    let hub = Hub::new();
    let mut both = hub.subscribe(&["a", "b"], &no_id());
    let mut only_c = hub.subscribe(&["c"], &no_id());
    for topic in ["a", "c", "b"] {
        hub.publish(topic, |id| event!(data: topic, id: id))
            .unwrap();
    }
    let got: Vec<_> = [within(both.next()).await, within(both.next()).await]
        .iter()
        .map(|event| read(event.as_ref().unwrap()).1)
        .collect();
    assert_eq!(got, ["a", "b"]);
    assert_eq!(read(&within(only_c.next()).await.unwrap()).1, "c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_under_concurrent_publishers_has_no_gap_and_no_duplicate() {
    const PUBLISHERS: u64 = 4;
    const EACH: u64 = 500;
    let hub = Hub::with_config(HubConfig {
        replay: 4096,
        queue: 4096,
        ..HubConfig::default()
    });
    let mut subscription = hub.subscribe(&["t"], &no_id());
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    hub.publish("t", |id| event!(data: format!("{p}-{i}"), id: id))
                        .unwrap();
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    // Read some, then "reconnect" from the last id while publishing goes on;
    // do that several times.
    for _ in 0..5 {
        for _ in 0..100 {
            let event = within(subscription.next()).await.unwrap();
            seen.push(read(&event).2.parse::<u64>().unwrap());
        }
        let last = LastEventId(Some(seen.last().unwrap().to_string()));
        drop(subscription);
        subscription = hub.subscribe(&["t"], &last);
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    while (seen.len() as u64) < PUBLISHERS * EACH {
        let event = within(subscription.next()).await.unwrap();
        seen.push(read(&event).2.parse::<u64>().unwrap());
    }
    let expected: Vec<u64> = (1..=PUBLISHERS * EACH).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn an_unknown_or_evicted_id_gets_a_reset_event_then_live_events() {
    let hub = Hub::with_config(HubConfig {
        replay: 2,
        ..HubConfig::default()
    });
    for _ in 0..5 {
        hub.publish("t", |id| event!(data: "old", id: id)).unwrap();
    }
    // Ids 4 and 5 are kept; 1 was evicted.
    let mut resumed = hub.subscribe(&["t"], &LastEventId(Some("4".into())));
    assert_eq!(read(&within(resumed.next()).await.unwrap()).2, "5");
    let mut too_old = hub.subscribe(&["t"], &LastEventId(Some("1".into())));
    let reset = read(&within(too_old.next()).await.unwrap());
    assert_eq!(reset.0, "reset");
    hub.publish("t", |id| event!(data: "live", id: id)).unwrap();
    assert_eq!(read(&within(too_old.next()).await.unwrap()).1, "live");
}

#[tokio::test]
async fn replay_respects_max_age() {
    let hub = Hub::with_config(HubConfig {
        max_age: Some(Duration::from_millis(50)),
        ..HubConfig::default()
    });
    hub.publish("t", |id| event!(data: "a", id: id)).unwrap();
    hub.publish("t", |id| event!(data: "b", id: id)).unwrap();
    let mut fresh = hub.subscribe(&["t"], &LastEventId(Some("1".into())));
    assert_eq!(read(&within(fresh.next()).await.unwrap()).1, "b");
    tokio::time::sleep(Duration::from_millis(80)).await;
    let mut stale = hub.subscribe(&["t"], &LastEventId(Some("1".into())));
    assert_eq!(read(&within(stale.next()).await.unwrap()).0, "reset");
}

#[tokio::test]
async fn a_lagging_subscriber_is_told_and_disconnected_by_default() {
    let hub = Hub::with_config(HubConfig {
        queue: 8,
        ..HubConfig::default()
    });
    let mut slow = hub.subscribe(&["t"], &no_id());
    let mut fast = hub.subscribe(&["t"], &no_id());
    for _ in 0..20 {
        hub.publish("t", |id| event!(data: "x", id: id)).unwrap();
        within(fast.next()).await.unwrap();
    }
    let lagged = read(&within(slow.next()).await.unwrap());
    assert_eq!((lagged.0.as_str(), lagged.1.as_str()), ("lagged", "9"));
    assert!(
        within(slow.next()).await.is_none(),
        "ended after the notice"
    );
    assert_eq!(hub.subscribers(), 2);
    drop(slow);
    assert_eq!(hub.subscribers(), 1);
}

#[tokio::test]
async fn skip_ahead_reports_what_was_dropped_and_goes_on() {
    let hub = Hub::with_config(HubConfig {
        queue: 4,
        lag: LagPolicy::SkipAhead,
        ..HubConfig::default()
    });
    let mut slow = hub.subscribe(&["t"], &no_id());
    for _ in 0..5 {
        hub.publish("t", |id| event!(data: "x", id: id)).unwrap();
    }
    hub.publish("t", |id| event!(data: "after", id: id))
        .unwrap();
    let lagged = read(&within(slow.next()).await.unwrap());
    assert_eq!((lagged.0.as_str(), lagged.1.as_str()), ("lagged", "5"));
    assert_eq!(read(&within(slow.next()).await.unwrap()).1, "after");
}

async fn post(addr: std::net::SocketAddr, user: &str, text: &str) -> u64 {
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
    assert_eq!(response.status(), 201);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"]
        .as_u64()
        .unwrap()
}

fn message(event: &eventsource_stream::Event) -> (String, String, String) {
    let value: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(
        value["id"].to_string(),
        event.id,
        "the data carries the hub's id"
    );
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

    assert_eq!(post(addr, "alice", "hi").await, 1);
    let bob_first = bob.next().await.unwrap();
    assert_eq!(
        message(&bob_first),
        ("message".into(), "alice".into(), "hi".into())
    );
    let bob_last_id = bob_first.id.clone();
    drop(bob);

    assert_eq!(post(addr, "alice", "are you there?").await, 2);
    assert_eq!(post(addr, "carol", "he left").await, 3);

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
    assert_eq!(post(addr, "bob", "back").await, 4);
    assert_eq!(message(&bob.next().await.unwrap()).2, "back");

    let everything: Vec<_> = alice.take(4).await.iter().map(|e| message(e).2).collect();
    assert_eq!(everything, ["hi", "are you there?", "he left", "back"]);
}

#[sse_handler(keep_alive = false)]
async fn big_stream(State(hub): State<Hub>) {
    let mut subscription = hub.subscribe(&["big"], &LastEventId(None));
    while let Some(event) = subscription.next().await {
        yield_!(event);
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_never_slows_the_others() {
    let hub = Hub::with_config(HubConfig {
        queue: 64,
        ..HubConfig::default()
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
        hub.publish("big", |id| event!(data: &payload, id: id))
            .unwrap();
        let event = reader.next().await.unwrap();
        assert_eq!(event.id, (n + 1).to_string());
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
