//! The hub's behaviour, written once and run against every transport
//! (`tests/hub.rs` in process, `tests/hub_redis.rs` through Redis): each
//! function takes a [`Backend`] that builds hub instances sharing one
//! store. In process, the instances are one hub; through Redis, separate
//! hubs, each with its own connection and reader.

use std::collections::BTreeSet;
use std::time::Duration;

use sse_runtime::event;
use sse_runtime::hub::{Delivery, EventId, Hub, HubConfig, HubError, LagPolicy, Subscription};
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

/// One item as a response writes it: an event, or a notice's frame.
pub fn frame(item: &Delivery) -> sse_runtime::Event {
    sse_runtime::IntoEvent::into_event(item.clone()).expect("every delivery can be written")
}

/// One item read back as a client reads it: (type, data, id).
pub fn read(item: &Delivery) -> (String, String, String) {
    let event = frame(item);
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
    let a = frame(&within(there.next()).await.unwrap()).into_bytes();
    let b = frame(&within(there_too.next()).await.unwrap()).into_bytes();
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

/// Ids a client may send that this hub never issued, at the edges of what
/// parses: each gets a `reset`, then live events. An issued id written
/// with leading zeros is that id.
pub async fn ids_at_the_edges_reset_or_resume(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    let mut watcher = hubs[1].subscribe(&["t"], None);
    let issued = publish(&hubs[0], "t", "first").await;
    assert_eq!(next(&mut watcher).await.1, "first");
    let max = format!("{0}-{0}", u64::MAX);
    let too_large = format!("{}0-0", u64::MAX);
    let long = "9".repeat(10_000);
    let past = format!("{}-{}", issued.ms(), issued.seq() + 1_000_000);
    let edges = [
        "0-0",
        "0-1",
        max.as_str(),
        too_large.as_str(),
        long.as_str(),
        past.as_str(),
        "",
        "-",
        "1-",
        "-1",
        "+1-0",
        "1-+0",
        "-1-0",
        " 1-0",
        "1-0 ",
        "1 -0",
        "1--0",
        "1-0-0",
        "0x1-0",
        "１-0",
    ];
    for last in edges {
        let mut subscription = hubs[1].subscribe(&["t"], last);
        let (kind, _, id) = next(&mut subscription).await;
        assert_eq!(kind, "reset", "for {last:.40?}: got {kind} {id}");
        let live = publish(&hubs[0], "t", "live").await;
        assert_eq!(next(&mut watcher).await.2, live.to_string());
        assert_eq!(
            next(&mut subscription).await.2,
            live.to_string(),
            "for {last:.40?}"
        );
    }
    let padded = format!("000{}-000{}", issued.ms(), issued.seq());
    let mut resumed = hubs[1].subscribe(&["t"], padded.as_str());
    let (kind, _, id) = next(&mut resumed).await;
    assert_eq!(kind, "note", "{padded}: {kind} {id}");
    assert!(id.parse::<EventId>().unwrap() > issued);
}

/// A subscription to several topics of very different rates, one of them
/// named twice, hopping between instances with its last id while
/// publishing goes on: each of its events once, in order, and nothing of
/// the others.
pub async fn topics_of_different_rates_arrive_once_in_order_across_reconnects(backend: &Backend) {
    const EVENTS: usize = 2000;
    let config = HubConfig {
        replay: 4096,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let topics = ["fast", "slow", "fast", "rare"];
    let mut subscription = hubs[0].subscribe(&topics, None);
    let publisher = {
        let hubs = hubs.clone();
        tokio::spawn(async move {
            let mut wanted = Vec::new();
            for n in 0..EVENTS {
                let topic = match n {
                    n if n % 500 == 499 => "rare",
                    n if n % 20 == 7 => "slow",
                    n if n % 3 == 0 => "other",
                    _ => "fast",
                };
                let id = publish(&hubs[n % 2], topic, &format!("{topic} {n}")).await;
                if topic != "other" {
                    wanted.push(id);
                }
                if n % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            wanted
        })
    };
    let mut seen: Vec<EventId> = Vec::new();
    let mut instance = 0;
    for _ in 0..6 {
        for _ in 0..150 {
            let (kind, data, id) = next(&mut subscription).await;
            assert_eq!(kind, "note", "{data}");
            assert!(!data.starts_with("other"), "{data}");
            seen.push(id.parse().unwrap());
        }
        let last = seen.last().unwrap().to_string();
        drop(subscription);
        instance = (instance + 1) % hubs.len();
        subscription = hubs[instance].subscribe(&topics, last.as_str());
    }
    let wanted = within(publisher).await.unwrap();
    while seen.len() < wanted.len() {
        let (kind, data, id) = next(&mut subscription).await;
        assert_eq!(kind, "note", "{data}");
        seen.push(id.parse().unwrap());
    }
    assert_eq!(seen, wanted, "every event of its topics, once, in order");
}

/// No topic at all: nothing arrives, live or resumed, and nothing fails.
pub async fn an_empty_topic_list_receives_nothing(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    let mut watcher = hubs[1].subscribe(&["t"], None);
    let first = publish(&hubs[0], "t", "first").await;
    assert_eq!(next(&mut watcher).await.1, "first");
    let mut live = hubs[1].subscribe(&[], None);
    let mut resumed = hubs[1].subscribe(&[], first.to_string().as_str());
    let second = publish(&hubs[0], "t", "second").await;
    assert_eq!(next(&mut watcher).await.2, second.to_string());
    for subscription in [&mut live, &mut resumed] {
        let got = tokio::time::timeout(Duration::from_millis(200), subscription.next()).await;
        assert!(got.is_err(), "{:?}", got.map(|e| e.map(|e| read(&e))));
    }
    assert_eq!(hubs[1].subscribers(), 3);
}

/// Concurrent publishes land many to a millisecond: ids still increase in
/// the order subscribers receive them, and one inside a millisecond
/// resumes exactly after itself.
pub async fn many_events_in_one_millisecond_keep_their_order(backend: &Backend) {
    const EVENTS: usize = 2000;
    let config = HubConfig {
        replay: 4096,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut subscription = hubs[1].subscribe(&["t"], None);
    let publishes = (0..EVENTS).map(|n| {
        let hub = hubs[n % 2].clone();
        async move { publish(&hub, "t", &n.to_string()).await }
    });
    let mut published = within(futures_util::future::join_all(publishes)).await;
    published.sort();
    published.dedup();
    assert_eq!(published.len(), EVENTS, "every id is new");
    assert!(
        published
            .windows(2)
            .any(|pair| pair[0].ms() == pair[1].ms()),
        "several events in one millisecond"
    );
    let mut received = Vec::with_capacity(EVENTS);
    for _ in 0..EVENTS {
        received.push(next(&mut subscription).await.2.parse::<EventId>().unwrap());
    }
    assert_eq!(received, published, "received in id order");
    let middle = published
        .windows(2)
        .position(|pair| pair[0].ms() == pair[1].ms() && pair[0].seq() > 0)
        .expect("a millisecond with three events or more");
    let mut resumed = hubs[0].subscribe(&["t"], published[middle].to_string().as_str());
    for id in &published[middle + 1..] {
        assert_eq!(next(&mut resumed).await.2, id.to_string());
    }
}

/// An event exactly at the byte budget (counting the id the hub adds) is
/// kept, one byte more is refused; two at the budget leave only the newer,
/// and a subscriber that read neither is told it missed both.
pub async fn events_at_the_byte_budget(backend: &Backend) {
    const BUDGET: usize = 4096;
    // `data: ` and two line feeds, and the longest `id:` line.
    const ID_LINE: usize = 4 + 20 + 1 + 20 + 1;
    let config = HubConfig {
        replay_bytes: BUDGET,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut slow = hubs[1].subscribe(&["t"], None);
    let mut fast = hubs[1].subscribe(&["t"], None);
    let at_budget = "x".repeat(BUDGET - 8 - ID_LINE);
    let too_large = hubs[0]
        .publish("t", event!(data: format!("{at_budget}x")))
        .await
        .unwrap_err();
    assert!(
        matches!(too_large, HubError::TooLarge { .. }),
        "{too_large}"
    );
    for _ in 0..2 {
        let id = hubs[0]
            .publish("t", event!(data: &at_budget))
            .await
            .unwrap();
        assert_eq!(next(&mut fast).await.2, id.to_string());
    }
    let stats = hubs[1].stats();
    assert_eq!(stats.events, 1, "{stats:?}");
    assert!(stats.bytes <= BUDGET, "{stats:?}");
    let (kind, missed, _) = next(&mut slow).await;
    assert_eq!((kind.as_str(), missed.as_str()), ("lagged", "2"));
    // Just under a quarter of the budget each: the newest three or four
    // are held, and a client resuming among them gets the rest.
    let quarter = "q".repeat(BUDGET / 4 - 8 - ID_LINE - 1);
    let mut ids = Vec::new();
    for _ in 0..100 {
        let id = hubs[0].publish("t", event!(data: &quarter)).await.unwrap();
        assert_eq!(next(&mut fast).await.2, id.to_string());
        ids.push(id);
    }
    assert!(
        (3..=4).contains(&hubs[1].stats().events),
        "{:?}",
        hubs[1].stats()
    );
    let mut resumed = hubs[1].subscribe(&["t"], ids[97].to_string().as_str());
    assert_eq!(next(&mut resumed).await.2, ids[98].to_string());
    assert_eq!(next(&mut resumed).await.2, ids[99].to_string());
}

/// `max_age` holds when nothing is published: a client resuming from an
/// id whose successors are older than that gets a `reset`, not events
/// the hub was not to keep.
pub async fn max_age_holds_while_nothing_is_published(backend: &Backend) {
    let config = HubConfig {
        max_age: Some(Duration::from_millis(300)),
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut watcher = hubs[1].subscribe(&["t"], None);
    let a = publish(&hubs[0], "t", "a").await;
    publish(&hubs[0], "t", "b").await;
    assert_eq!(next(&mut watcher).await.1, "a");
    assert_eq!(next(&mut watcher).await.1, "b");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for hub in &hubs {
        let mut stale = hub.subscribe(&["t"], a.to_string().as_str());
        let (kind, data, _) = next(&mut stale).await;
        assert_eq!(kind, "reset", "got {data:?}, older than max_age");
    }
}

/// A slow subscriber of two topics, among others it does not read: `lagged`
/// counts exactly the events of its own topics it missed.
pub async fn lagged_counts_the_events_of_its_own_topics(backend: &Backend) {
    let config = HubConfig {
        replay: 8,
        lag: LagPolicy::SkipAhead,
        ..HubConfig::default()
    };
    let hubs = backend.hubs(config, 2).await;
    let mut slow = hubs[1].subscribe(&["a", "b"], None);
    let mut fast = hubs[1].subscribe(&["a", "b", "c"], None);
    let mut mine = 0;
    for n in 0..300 {
        let topic = ["a", "c", "b", "c", "c"][n % 5];
        publish(&hubs[0], topic, &n.to_string()).await;
        assert_eq!(next(&mut fast).await.1, n.to_string());
        if topic != "c" {
            mine += 1;
        }
    }
    let (kind, missed, _) = next(&mut slow).await;
    assert_eq!((kind.as_str(), missed), ("lagged", mine.to_string()));
    let after = publish(&hubs[0], "b", "after").await;
    assert_eq!(next(&mut slow).await.2, after.to_string());
}

/// What a publisher sends is its events, whatever they are named and say:
/// events named like the hub's notices and a run's end, and comments with
/// the text of the library's old marks, reach live and resuming
/// subscribers as events, exactly as sent, never taken for a notice.
pub async fn a_publisher_may_send_any_event_name_and_comment_text(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    // Read on the other instance first, so that the live subscription
    // below starts after it (it raced the Redis reader).
    let mut watcher = hubs[1].subscribe(&["t"], None);
    let first = publish(&hubs[0], "t", "first").await;
    assert_eq!(next(&mut watcher).await.1, "first");
    let mut live = hubs[1].subscribe(&["t"], None);
    let sent: Vec<sse_runtime::Event> = vec![
        event!(data: "\"1-0\"", event: "reset").unwrap(),
        event!(data: "7", event: "lagged").unwrap(),
        event!(data: r#"{"state":"failed"}"#, event: "run_end").unwrap(),
        sse_runtime::comment!("sse-runtime run ended").into(),
        sse_runtime::comment!("sse-runtime run started").into(),
        event!(data: "last").unwrap(),
    ];
    let mut ids = Vec::new();
    for event in &sent {
        ids.push(hubs[0].publish("t", event.clone()).await.expect("publish"));
    }
    let mut resumed = hubs[1].subscribe(&["t"], first.to_string().as_str());
    for subscription in [&mut live, &mut resumed] {
        for (event, id) in sent.iter().zip(&ids) {
            let item = within(subscription.next()).await.expect("open");
            let Delivery::Event(received) = item else {
                panic!("a published event arrived as {item:?}");
            };
            let expected = format!(
                "{}id: {id}\n\n",
                std::str::from_utf8(event.as_bytes())
                    .unwrap()
                    .strip_suffix('\n')
                    .unwrap()
            );
            assert_eq!(std::str::from_utf8(received.as_bytes()).unwrap(), expected);
        }
    }
}

/// A client resuming from an id the hub cannot resume (older than what it
/// keeps, or never issued) gets a `reset`, then every event published
/// since it subscribed. Those published before the subscription was first
/// read used to be skipped in silence: the hub asked its history only
/// then, and on hearing that it was gone started at the newest event.
pub async fn a_reset_skips_nothing_published_since_subscribing(backend: &Backend) {
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    let mut watcher = hubs[1].subscribe(&["t"], None);
    let issued = publish(&hubs[0], "t", "first").await;
    assert_eq!(next(&mut watcher).await.1, "first");
    let future = EventId::new(issued.ms() + 3_600_000, 0).to_string();
    for last in ["1-0", future.as_str()] {
        let mut subscription = hubs[1].subscribe(&["t"], last);
        let live = publish(&hubs[0], "t", "live").await;
        assert_eq!(next(&mut watcher).await.1, "live");
        let reset = next(&mut subscription).await;
        assert_eq!(reset.0, "reset", "for {last:?}: {reset:?}");
        assert_eq!(
            next(&mut subscription).await,
            ("note".into(), "live".into(), live.to_string()),
            "for {last:?}"
        );
    }
}
