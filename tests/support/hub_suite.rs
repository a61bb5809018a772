//! The hub's behaviour, written once and run against every transport
//! (`tests/hub.rs` in process, `tests/hub_redis.rs` through Redis): each
//! function takes a [`Backend`] that builds hub instances sharing one
//! store. In process, the instances are one hub; through Redis, separate
//! hubs, each with its own connection and reader.

use std::collections::BTreeSet;
use std::time::Duration;

use sse_runtime::event;
use sse_runtime::hub::{EventId, Hub, HubConfig, HubError, LagPolicy, Subscription};
use sse_runtime::testing::{parse_all, Received};

use super::within;

/// Builds hub instances that share their events.
pub enum Backend {
    Local,
    Redis { url: String, prefix: String },
}

impl Backend {
    pub async fn hubs(&self, config: HubConfig, count: usize) -> Vec<Hub> {
        match self {
            Backend::Local => vec![Hub::with_config(config); count],
            Backend::Redis { url, prefix } => {
                let mut hubs = Vec::with_capacity(count);
                for _ in 0..count {
                    let transport = sse_runtime::hub::RedisTransport::connect(
                        url,
                        sse_runtime::hub::RedisOptions::new().prefix(prefix.clone()),
                    )
                    .await
                    .expect("connect to the test's redis-server");
                    hubs.push(Hub::with_transport(transport, config));
                }
                hubs
            }
        }
    }
}

/// One event read back: (type, data, id).
pub fn read(event: &sse_runtime::Event) -> (String, String, String) {
    match parse_all(event.as_bytes()).as_slice() {
        [Received::Event(e)] => (
            e.event_type.clone(),
            e.data.clone(),
            e.last_event_id.clone(),
        ),
        other => panic!("expected one event, got {other:?}"),
    }
}

pub async fn next(subscription: &mut Subscription) -> (String, String, String) {
    read(
        &within(subscription.next())
            .await
            .expect("the subscription is open"),
    )
}

async fn publish(hub: &Hub, topic: &str, data: &str) -> EventId {
    hub.publish(topic, event!(data: data, event: "note"))
        .await
        .expect("publish")
}

pub async fn delivers_every_event_once_to_every_instance(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    let mut here = hubs[0].subscribe(&["news"], None);
    let mut there = hubs[1].subscribe(&["news"], None);
    let mut there_too = hubs[1].subscribe(&["news"], None);
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(publish(&hubs[0], "news", &format!("n{n}")).await);
    }
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    for subscription in [&mut here, &mut there, &mut there_too] {
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(
                next(subscription).await,
                ("note".into(), format!("n{}", n + 1), id.to_string())
            );
        }
    }
    // Encoded once per instance: subscribers there share the bytes.
    publish(&hubs[0], "news", "shared").await;
    let a = within(there.next()).await.unwrap().into_bytes();
    let b = within(there_too.next()).await.unwrap().into_bytes();
    assert_eq!(a.as_ptr(), b.as_ptr());
}

pub async fn topics_select_and_resume_from_one_id(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    let mut both = hubs[1].subscribe(&["a", "b"], None);
    let mut only_c = hubs[1].subscribe(&["c"], None);
    let first = publish(&hubs[0], "a", "a1").await;
    publish(&hubs[0], "c", "c1").await;
    publish(&hubs[0], "b", "b1").await;
    publish(&hubs[0], "a", "a2").await;
    let got: Vec<String> = [
        next(&mut both).await,
        next(&mut both).await,
        next(&mut both).await,
    ]
    .into_iter()
    .map(|event| event.1)
    .collect();
    assert_eq!(got, ["a1", "b1", "a2"]);
    assert_eq!(next(&mut only_c).await.1, "c1");
    // One id resumes a subscription to several topics.
    let mut resumed = hubs[0].subscribe(&["b", "a"], first.to_string().as_str());
    assert_eq!(next(&mut resumed).await.1, "b1");
    assert_eq!(next(&mut resumed).await.1, "a2");
}

pub async fn resumes_after_an_id_then_goes_live(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(publish(&hubs[0], "t", &n.to_string()).await);
    }
    let mut resumed = hubs[1].subscribe(&["t"], ids[2].to_string().as_str());
    for (n, id) in ids.iter().enumerate().skip(3) {
        assert_eq!(
            next(&mut resumed).await,
            ("note".into(), n.to_string(), id.to_string())
        );
    }
    let live = publish(&hubs[0], "t", "live").await;
    assert_eq!(
        next(&mut resumed).await,
        ("note".into(), "live".into(), live.to_string())
    );
}

pub async fn unknown_ids_get_a_reset_then_live_events(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    // Read on the other instance, so that it has received the event before
    // the subscriptions below start from its newest.
    let mut watcher = hubs[1].subscribe(&["t"], None);
    let issued = publish(&hubs[0], "t", "first").await;
    assert_eq!(next(&mut watcher).await.1, "first");
    let future = EventId::new(issued.ms() + 3_600_000, 0).to_string();
    for last in ["not-an-id", "42", "1-0", future.as_str()] {
        let mut subscription = hubs[1].subscribe(&["t"], last);
        let reset = next(&mut subscription).await;
        assert_eq!(reset.0, "reset", "for {last:?}: {reset:?}");
        let live = publish(&hubs[0], "t", "live").await;
        assert_eq!(next(&mut watcher).await.1, "live");
        assert_eq!(
            next(&mut subscription).await,
            ("note".into(), "live".into(), live.to_string()),
            "for {last:?}"
        );
    }
}

/// Publishes enough that a broker trimming approximately (Redis keeps
/// whole nodes of 100 entries) has let the oldest go too.
const FLOOD: usize = 1000;

pub async fn a_lagging_subscriber_is_told_and_disconnected(backend: &Backend) {
    let config = HubConfig {
        replay: 8,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut slow = hubs[1].subscribe(&["t"], None);
    let mut fast = hubs[1].subscribe(&["t"], None);
    for n in 0..FLOOD {
        publish(&hubs[0], "t", &n.to_string()).await;
        assert_eq!(next(&mut fast).await.1, n.to_string());
    }
    let (kind, data, _) = next(&mut slow).await;
    assert_eq!(kind, "lagged");
    assert_eq!(data, FLOOD.to_string(), "it missed every event");
    assert!(
        within(slow.next()).await.is_none(),
        "ended after the notice"
    );
    assert_eq!(hubs[1].subscribers(), 2);
    drop(slow);
    assert_eq!(hubs[1].subscribers(), 1);
}

pub async fn skip_ahead_reports_what_was_skipped_and_goes_on(backend: &Backend) {
    let config = HubConfig {
        replay: 8,
        lag: LagPolicy::SkipAhead,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut slow = hubs[1].subscribe(&["t"], None);
    let mut fast = hubs[1].subscribe(&["t"], None);
    for n in 0..FLOOD {
        publish(&hubs[0], "t", &n.to_string()).await;
        assert_eq!(next(&mut fast).await.1, n.to_string());
    }
    let (kind, data, _) = next(&mut slow).await;
    assert_eq!((kind.as_str(), data), ("lagged", FLOOD.to_string()));
    let after = publish(&hubs[0], "t", "after").await;
    assert_eq!(
        next(&mut slow).await,
        ("note".into(), "after".into(), after.to_string())
    );
}

/// Four publishers on alternating instances, a subscriber that keeps
/// reconnecting to the other instance with its last id: every event
/// arrives once, in order.
pub async fn concurrent_publishers_and_reconnects_deliver_exactly_once_in_order(backend: &Backend) {
    const PUBLISHERS: usize = 4;
    const EACH: usize = 500;
    let config = HubConfig {
        replay: 4096,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut subscription = hubs[0].subscribe(&["t"], None);
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let hub = hubs[p % hubs.len()].clone();
            tokio::spawn(async move {
                let mut ids = Vec::with_capacity(EACH);
                for i in 0..EACH {
                    ids.push(publish(&hub, "t", &format!("{p}-{i}")).await);
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                ids
            })
        })
        .collect();
    let mut seen: Vec<EventId> = Vec::new();
    let mut instance = 0;
    for _ in 0..8 {
        for _ in 0..100 {
            let (_, _, id) = next(&mut subscription).await;
            seen.push(id.parse().unwrap());
        }
        let last = seen.last().unwrap().to_string();
        drop(subscription);
        instance = (instance + 1) % hubs.len();
        subscription = hubs[instance].subscribe(&["t"], last.as_str());
    }
    let mut published = BTreeSet::new();
    for publisher in publishers {
        published.extend(within(publisher).await.unwrap());
    }
    while seen.len() < PUBLISHERS * EACH {
        let (_, _, id) = next(&mut subscription).await;
        seen.push(id.parse().unwrap());
    }
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "in order, no duplicate"
    );
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), published);
}

/// A client resuming far behind gets everything the hub holds, at its own
/// pace, while publishing goes on: no queue bound applies to a replay.
pub async fn a_long_replay_is_delivered_in_full_while_publishing_continues(backend: &Backend) {
    const BEHIND: usize = 5000;
    const DURING: usize = 2000;
    let config = HubConfig {
        replay: 10_000,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let first = publish(&hubs[0], "t", "start").await;
    for n in 0..BEHIND {
        publish(&hubs[0], "t", &n.to_string()).await;
    }
    let mut resumed = hubs[1].subscribe(&["t"], first.to_string().as_str());
    let publisher = {
        let hub = hubs[0].clone();
        tokio::spawn(async move {
            for n in BEHIND..BEHIND + DURING {
                publish(&hub, "t", &n.to_string()).await;
                if n % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    for n in 0..BEHIND + DURING {
        let (kind, data, _) = next(&mut resumed).await;
        assert_eq!(
            (kind.as_str(), data.as_str()),
            ("note", n.to_string().as_str())
        );
    }
    within(publisher).await.unwrap();
}

pub async fn memory_is_bounded_in_bytes_and_the_newest_replay(backend: &Backend) {
    const BUDGET: usize = 64 * 1024;
    let config = HubConfig {
        replay_bytes: BUDGET,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut watcher = hubs[1].subscribe(&["t"], None);
    let payload = "p".repeat(1000);
    let mut ids = Vec::new();
    for _ in 0..300 {
        let id = publish(&hubs[0], "t", &payload).await;
        // Read as it goes, so that the other instance has received each
        // event before its stats are read.
        assert_eq!(next(&mut watcher).await.2, id.to_string());
        ids.push(id);
    }
    for hub in &hubs {
        let stats = hub.stats();
        assert!(stats.bytes <= BUDGET, "{stats:?}");
        assert!(stats.events >= 50, "the newest are kept: {stats:?}");
    }
    let mut resumed = hubs[1].subscribe(&["t"], ids[260].to_string().as_str());
    for id in &ids[261..] {
        assert_eq!(next(&mut resumed).await.2, id.to_string());
    }
    let too_large = hubs[0]
        .publish("t", event!(data: "x".repeat(BUDGET)))
        .await
        .unwrap_err();
    assert!(
        matches!(too_large, HubError::TooLarge { .. }),
        "{too_large}"
    );
}

pub async fn replay_respects_max_age(backend: &Backend) {
    let config = HubConfig {
        max_age: Some(Duration::from_millis(300)),
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let a = publish(&hubs[0], "t", "a").await;
    publish(&hubs[0], "t", "b").await;
    let mut fresh = hubs[1].subscribe(&["t"], a.to_string().as_str());
    assert_eq!(next(&mut fresh).await.1, "b");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Trimming by age happens as events are published.
    publish(&hubs[0], "t", "c").await;
    let mut stale = hubs[1].subscribe(&["t"], a.to_string().as_str());
    assert_eq!(next(&mut stale).await.0, "reset");
}
