//! The hub through Redis Streams, each test against a `redis-server` of its
//! own (started on a private port, stopped and restarted at will): the
//! behavioural suite every transport passes, then what only a broker
//! brings: instances in separate processes, Redis stopping and restarting
//! under open streams, Redis losing its data, Redis absent at start-up;
//! and the attacks a deployment brings: a reader stalled while Redis trims,
//! its connection killed, the stream's key deleted or the data flushed
//! under running instances, scripts flushed, writes paused, a command
//! refused, a second instance that keeps less, a hub dropped.
//!
//! Without `redis-server` on `PATH` each test prints a notice and passes,
//! except under `CI=true`, where it fails.

mod support;

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{extract::State, Router};
use sse_runtime::hub::{Hub, HubConfig, HubError, RedisOptions, RedisTransport};
use sse_runtime::prelude::*;
use sse_runtime::Shutdown;
use sse_suite::chat;
use support::hub_suite::{self, next, Backend};
use support::redis::RedisServer;
use support::{get as request, serve, within};

macro_rules! suite {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(redis) = RedisServer::start() else { return };
            let backend = Backend::Redis { url: redis.url(), prefix: stringify!($name).into() };
            hub_suite::$name(&backend).await;
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
    thousands_of_topics_read_resume_and_lag_exactly,
    more_topics_than_the_cap_are_refused,
    a_reset_goes_on_with_every_event_published_since_the_subscription,
);

/// Publishes `data` to `topic` as soon as Redis takes it again (after a
/// restart): the readers and the connection manager reconnect with backoff.
async fn publish_once_redis_is_back(
    hub: &Hub,
    topic: &str,
    data: &str,
) -> sse_runtime::hub::EventId {
    within(async {
        loop {
            if let Ok(id) = hub.publish(topic, event!(data: data)).await {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

async fn redis_hub(redis: &RedisServer, prefix: &str, config: HubConfig) -> Hub {
    let transport = RedisTransport::connect(
        &redis.url(),
        RedisOptions::new()
            .prefix(prefix)
            .publish_timeout(Duration::from_millis(500)),
    )
    .await
    .expect("connect");
    Hub::with_transport(transport, config)
}

#[tokio::test]
async fn an_unreachable_redis_at_start_up_is_a_clear_error_naming_the_url() {
    let port = support::redis::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let error = RedisTransport::connect(&url, RedisOptions::new())
        .await
        .expect_err("nothing listens there");
    assert!(matches!(error, HubError::Connect { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(started.elapsed() < Duration::from_secs(6));
    let error = RedisTransport::connect("http://not-redis", RedisOptions::new())
        .await
        .expect_err("not a redis URL");
    assert!(error.to_string().contains("http://not-redis"), "{error}");
}

#[sse_handler(keep_alive = "100ms")]
async fn room(State(hub): State<Hub>, last: LastEventId) {
    let mut subscription = hub.subscribe(&["room"], &last);
    while let Some(event) = subscription.next().await {
        yield_!(event);
    }
}

fn room_app(hub: Hub) -> Router {
    Router::new().route("/room", get(room)).with_state(hub)
}

/// Reads raw chunks until `count` events arrived, counting keep-alives on
/// the way; returns the events' (data, id) and the keep-alives seen.
async fn read_events(chunks: &mut support::Chunks, count: usize) -> (Vec<(String, String)>, usize) {
    within(read_events_unbounded(chunks, count)).await
}

async fn read_events_unbounded(
    chunks: &mut support::Chunks,
    count: usize,
) -> (Vec<(String, String)>, usize) {
    let mut text = String::new();
    let mut events = Vec::new();
    let mut keep_alives = 0;
    while events.len() < count {
        let chunk = chunks.next().await.expect("the stream is open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            if frame == ":\n\n" {
                keep_alives += 1;
                continue;
            }
            let field = |name: &str| {
                frame
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .unwrap_or_default()
                    .to_owned()
            };
            events.push((field("data: "), field("id: ")));
        }
    }
    (events, keep_alives)
}

/// Redis stops under open streams and comes back: the streams stay open
/// (keep-alives go on), publishing fails promptly meanwhile, each
/// instance's reader reconnects, and no acknowledged event is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_survive_redis_stopping_and_restarting() {
    for persistent in [false, true] {
        let Some(mut redis) = (if persistent {
            RedisServer::start_persistent()
        } else {
            RedisServer::start()
        }) else {
            return;
        };
        let a = redis_hub(&redis, "room", HubConfig::default()).await;
        let b = redis_hub(&redis, "room", HubConfig::default()).await;
        let addr_a = serve(room_app(a.clone())).await;
        let addr_b = serve(room_app(b.clone())).await;
        let mut on_a = request(addr_a, "/room", &[]).await.chunks();
        let mut on_b = request(addr_b, "/room", &[]).await.chunks();
        support::wait_while(|| a.subscribers() + b.subscribers() < 2).await;

        let mut acknowledged = Vec::new();
        for n in 0..3 {
            let id = a
                .publish("room", event!(data: format!("before {n}")))
                .await
                .unwrap();
            acknowledged.push((format!("before {n}"), id.to_string()));
        }
        assert_eq!(read_events(&mut on_a, 3).await.0, acknowledged);
        assert_eq!(read_events(&mut on_b, 3).await.0, acknowledged);

        redis.stop();
        let started = Instant::now();
        let failed = b.publish("room", event!("while down")).await;
        // The first publish may have gone out on the connection Redis
        // dropped (unconfirmed); either way it is an error, at once.
        assert!(
            matches!(
                failed,
                Err(HubError::Broker(_) | HubError::Timeout(_) | HubError::Unconfirmed(_))
            ),
            "{failed:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a publish while Redis is down fails promptly: {:?}",
            started.elapsed()
        );
        // The streams stay open: keep-alives go on while Redis is away.
        tokio::time::sleep(Duration::from_millis(400)).await;
        redis.restart();

        // Readers reconnect with backoff; publishing works again.
        let after = publish_once_redis_is_back(&a, "room", "after").await;
        for chunks in [&mut on_a, &mut on_b] {
            let (events, keep_alives) = read_events(chunks, 1).await;
            assert_eq!(events, [("after".to_owned(), after.to_string())]);
            assert!(
                keep_alives >= 2,
                "keep-alives while Redis was down: {keep_alives}"
            );
        }
        // A client that saw the first event resumes on a fresh instance.
        let c = redis_hub(&redis, "room", HubConfig::default()).await;
        let mut resumed = c.subscribe(&["room"], acknowledged[0].1.as_str());
        if persistent {
            // Redis kept its data: nothing is lost.
            for (data, id) in &acknowledged[1..] {
                assert_eq!(
                    next(&mut resumed).await,
                    ("message".into(), data.clone(), id.clone())
                );
            }
            assert_eq!(next(&mut resumed).await.2, after.to_string());
        } else {
            // Redis lost its data: the client is told, not given a gap.
            assert_eq!(next(&mut resumed).await.0, "reset");
        }
    }
}

/// Two instances in separate processes (this test binary run again as a
/// server), sharing one Redis: a message posted to one reaches a client of
/// the other, and a client that moves from one to the other with its
/// `Last-Event-ID` misses nothing and sees nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_instances_in_separate_processes_share_one_room() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let first = ChatProcess::start(&redis.url());
    let second = ChatProcess::start(&redis.url());
    let mut on_second = request(second.addr, "/stream", &[]).await.events();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut on_first = request(first.addr, "/stream", &[]).await.events();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let id = post(first.addr, "alice", "hello from the first").await;
    let event = on_second.next().await.unwrap();
    assert_eq!(
        (event.id.as_str(), event.event.as_str()),
        (id.as_str(), "message")
    );
    assert!(event.data.contains("hello from the first"));

    // Keep posting to the first while a client moves from the first to the
    // second process.
    let poster = tokio::spawn(async move {
        let mut ids = vec![id];
        for n in 0..200 {
            ids.push(post(first.addr, "bob", &format!("m{n}")).await);
        }
        drop(first);
        ids
    });
    let mut received = vec![on_first.next().await.unwrap().id];
    for _ in 0..50 {
        received.push(on_first.next().await.unwrap().id);
    }
    drop(on_first);
    let last = received.last().unwrap().clone();
    let mut moved = request(
        second.addr,
        "/stream",
        &[("last-event-id", last.as_bytes())],
    )
    .await
    .events();
    let posted = within(poster).await.unwrap();
    while received.len() < posted.len() {
        let event = moved.next().await.unwrap();
        assert_eq!(event.event, "message", "{event:?}");
        received.push(event.id);
    }
    assert_eq!(received, posted, "every message once, in order");
}

async fn post(addr: std::net::SocketAddr, user: &str, text: &str) -> String {
    let body = serde_json::json!({ "user": user, "text": text }).to_string();
    let (status, _, body) = support::post(addr, "/messages", Some("application/json"), &body).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A chat server in a child process: this test binary, run with
/// `CHAT_CHILD_REDIS` set, serving only [`chat_child_process`].
struct ChatProcess {
    addr: std::net::SocketAddr,
    child: std::process::Child,
}

impl ChatProcess {
    fn start(redis_url: &str) -> ChatProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "chat_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CHAT_CHILD_REDIS", redis_url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a chat process");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the chat process prints its address")
                .unwrap();
            // libtest prints the test's name on the same line.
            if let Some((_, addr)) = line.split_once("CHAT LISTENING ") {
                break addr.trim().parse().unwrap();
            }
        };
        ChatProcess { addr, child }
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child side of [`ChatProcess`]: does nothing unless started by it.
#[tokio::test]
async fn chat_child_process() {
    let Ok(url) = std::env::var("CHAT_CHILD_REDIS") else {
        return;
    };
    let transport = RedisTransport::connect(&url, RedisOptions::new().prefix("chat"))
        .await
        .unwrap();
    let hub = Hub::with_transport(transport, HubConfig::default());
    let listener = support::listener();
    println!("CHAT LISTENING {}", listener.local_addr().unwrap());
    axum::serve(listener, chat::app(hub, Shutdown::new()))
        .await
        .unwrap();
}

/// A client that stops reading on one instance holds up neither that
/// instance's reader nor anyone else: its stream ends with `lagged`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_slows_neither_the_reader_nor_other_clients() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let config = HubConfig {
        replay: 64,
        ..HubConfig::default()
    };
    let a = redis_hub(&redis, "big", config).await;
    let b = redis_hub(&redis, "big", config).await;
    let addr_a = serve(room_app(a.clone())).await;
    let addr_b = serve(room_app(b.clone())).await;
    let stalled = request(addr_a, "/room", &[]).await;
    let mut reader_a = request(addr_a, "/room", &[]).await.events();
    let mut reader_b = request(addr_b, "/room", &[]).await.events();
    support::wait_while(|| a.subscribers() < 2 || b.subscribers() < 1).await;
    let payload = "y".repeat(4096);
    // 16 MiB: far more than the stalled client's socket buffers hold.
    for n in 0..4096 {
        let id = b.publish("room", event!(data: &payload)).await.unwrap();
        for reader in [&mut reader_a, &mut reader_b] {
            assert_eq!(reader.next().await.unwrap().id, id.to_string(), "event {n}");
        }
    }
    let events = stalled.events().all().await;
    assert_eq!(events.last().unwrap().event, "lagged");
    assert!(events.len() < 4096);
}

/// A hub on a runtime of its own, on a thread of its own, that the test can
/// stall as a CPU-starved or paused process stalls: nothing of that hub
/// runs meanwhile, its Redis reader included.
struct StallableHub {
    hub: Hub,
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StallableHub {
    async fn start(url: &str, prefix: &str, config: HubConfig) -> StallableHub {
        let (started, hub) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (url, prefix) = (url.to_owned(), prefix.to_owned());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let transport = RedisTransport::connect(
                    &url,
                    RedisOptions::new()
                        .prefix(prefix)
                        .publish_timeout(Duration::from_millis(500)),
                )
                .await
                .expect("connect");
                let hub = Hub::with_transport(transport, config);
                let _ = started.send((hub, tokio::runtime::Handle::current()));
                let _ = stopped.await;
            });
        });
        let (hub, handle) = within(hub).await.unwrap();
        StallableHub {
            hub,
            handle,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Blocks the hub's runtime for `period`; returns once the stall began.
    async fn stall(&self, period: Duration) {
        let (began, stalling) = tokio::sync::oneshot::channel();
        self.handle.spawn(async move {
            let _ = began.send(());
            std::thread::sleep(period);
        });
        within(stalling).await.unwrap();
    }
}

impl Drop for StallableHub {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

/// Reads `subscription` on while it delivers exactly the events of
/// `published`, in order; returns the notice (`lagged` or `reset`) that
/// interrupted them, or `None` if every one arrived.
async fn read_published_or_notice(
    subscription: &mut sse_runtime::hub::Subscription,
    published: &[sse_runtime::hub::EventId],
) -> Option<(String, String)> {
    for id in published {
        let event = within(subscription.next())
            .await
            .expect("open until every event or a notice arrived");
        let (kind, data, got) = hub_suite::read(&event);
        if kind == "lagged" || kind == "reset" {
            return Some((kind, data));
        }
        assert_eq!(
            got,
            id.to_string(),
            "skipped from {id} to {got} without a notice"
        );
    }
    None
}

/// A process whose reader stalls (CPU starvation, a long pause) while
/// other processes publish more than the stream keeps must not skip what
/// Redis trimmed meanwhile in silence: its subscribers are told. Stalled
/// briefly, the reader's blocking read survives and it reads on from where
/// it was; stalled longer, the read times out and it reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_never_skips_trimmed_events_in_silence() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let config = HubConfig {
        replay: 8,
        ..HubConfig::default()
    };
    for (round, stall) in [Duration::from_millis(400), Duration::from_millis(2500)]
        .into_iter()
        .enumerate()
    {
        let prefix = format!("stalled{round}");
        let a = redis_hub(&redis, &prefix, config).await;
        let b = StallableHub::start(&redis.url(), &prefix, config).await;
        let mut live = b.hub.subscribe(&["t"], None);
        let first = a.publish("t", event!(data: "first")).await.unwrap();
        assert_eq!(next(&mut live).await.2, first.to_string());
        b.stall(stall).await;
        let mut published = Vec::new();
        for n in 0..100 {
            published.push(a.publish("t", event!(data: n.to_string())).await.unwrap());
        }
        let notice = read_published_or_notice(&mut live, &published).await;
        assert!(
            matches!(&notice, Some((kind, _)) if kind == "lagged"),
            "stalled {stall:?}: {notice:?}"
        );
    }
}

/// A hub dropped while its reader blocks in `XREAD`: the reader stops and
/// every connection it opened closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_hub_stops_its_reader_and_closes_its_connections() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // The connection `info` itself opens counts once.
    let before = redis.info("connected_clients");
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let hub = redis_hub(&redis, "dropped", HubConfig::default()).await;
    let mut subscription = hub.subscribe(&["t"], None);
    let id = hub.publish("t", event!("x")).await.unwrap();
    assert_eq!(next(&mut subscription).await.2, id.to_string());
    assert!(redis.info("connected_clients") > before);
    drop(subscription);
    drop(hub);
    support::wait_while(|| redis.info("connected_clients") > before).await;
    within(async {
        while tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            > tasks_before
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// Loses one event in Redis that instance `b` never read: `b` stalls (so
/// its blocking read ends with no read in flight), `a` publishes `lost`,
/// `lose` makes Redis lose it (restarts it without its data, say), `b`
/// comes back and `a` publishes `after`. Returns `b`, a live subscription
/// on `b` that had read `seen` before it all, and the ids of `seen` and
/// `after`.
async fn lose_an_event_b_never_read(
    redis: &mut RedisServer,
    prefix: &str,
    lose: impl FnOnce(&mut RedisServer),
) -> (
    StallableHub,
    sse_runtime::hub::Subscription,
    sse_runtime::hub::EventId,
    sse_runtime::hub::EventId,
) {
    let a = redis_hub(redis, prefix, HubConfig::default()).await;
    let b = StallableHub::start(&redis.url(), prefix, HubConfig::default()).await;
    let mut live = b.hub.subscribe(&["t"], None);
    let seen = a.publish("t", event!(data: "seen")).await.unwrap();
    assert_eq!(next(&mut live).await.2, seen.to_string());
    b.stall(Duration::from_millis(2500)).await;
    // Longer than b's blocking read: Redis answered it with nothing.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let lost = a.publish("t", event!(data: "lost")).await.unwrap();
    assert!(lost > seen);
    lose(redis);
    let after = publish_once_redis_is_back(&a, "t", "after").await;
    (b, live, seen, after)
}

/// A client that had read everything an instance received, reconnecting to
/// it after Redis lost an event that instance never received, is told
/// (`reset`): it is not resumed across the loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_at_the_newest_event_after_redis_lost_data_gets_a_reset() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let (b, mut live, seen, after) =
        lose_an_event_b_never_read(&mut redis, "lost", RedisServer::restart).await;
    // Wait for b to receive `after`: its reader reconnected.
    within(async {
        loop {
            let (kind, _, id) = next(&mut live).await;
            if kind != "message" || id == after.to_string() {
                return;
            }
        }
    })
    .await;
    let mut resumed = b.hub.subscribe(&["t"], seen.to_string().as_str());
    let (kind, _, id) = next(&mut resumed).await;
    assert_eq!(kind, "reset", "resumed across the loss at {id}");
}

/// The same loss, seen by a subscriber that was live throughout: Redis
/// acknowledged `lost`, then lost it before this instance read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "design decision: after Redis loses its data no one can tell whether events came after the newest this instance read; LiveFeed::gap lets subscribers that had read everything go on (streams_survive_redis_stopping_and_restarting expects it), LiveFeed::lost would tell them at the price of every client reconnecting after every restart of a Redis without persistence"]
async fn a_live_subscriber_is_told_when_redis_loses_events_it_had_not_received() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let (_b, mut live, _seen, after) =
        lose_an_event_b_never_read(&mut redis, "lost", RedisServer::restart).await;
    let (kind, _, id) = next(&mut live).await;
    assert_ne!(
        id,
        after.to_string(),
        "went on to {kind} {id} past the lost event"
    );
    assert_eq!(kind, "lagged");
}

/// A client resuming far back reads history page by page; Redis trims
/// what it has not read yet meanwhile. It is told so, and never that it
/// missed nothing (`lagged` with `0`), then goes on with live events, none
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_cut_short_by_trimming_is_never_reported_as_nothing_missed() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let config = HubConfig {
        replay: 600,
        lag: sse_runtime::hub::LagPolicy::SkipAhead,
        ..HubConfig::default()
    };
    let a = redis_hub(&redis, "cut", config).await;
    let mut ids = Vec::new();
    for n in 0..1200 {
        ids.push(a.publish("t", event!(data: n.to_string())).await.unwrap());
    }
    // A fresh instance: its log holds none of it.
    let c = redis_hub(&redis, "cut", config).await;
    let mut resumed = c.subscribe(&["t"], ids[700].to_string().as_str());
    // The first page of history is read.
    assert_eq!(next(&mut resumed).await.2, ids[701].to_string());
    for n in 1200..2200 {
        a.publish("t", event!(data: n.to_string())).await.unwrap();
    }
    let notice = read_published_or_notice(&mut resumed, &ids[702..]).await;
    match &notice {
        Some((kind, _)) if kind == "reset" => {}
        Some((kind, missed)) if kind == "lagged" && missed != "0" => {}
        other => panic!("{other:?}"),
    }
    let live = a.publish("t", event!(data: "live")).await.unwrap();
    assert_eq!(next(&mut resumed).await.2, live.to_string());
}

/// The ids of the clients running `cmd` (as `CLIENT LIST` names it).
fn clients_running(redis: &RedisServer, cmd: &str) -> Vec<String> {
    redis
        .command("CLIENT LIST")
        .lines()
        .filter(|line| line.contains(&format!(" cmd={cmd} ")))
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("id="))
                .map(str::to_owned)
        })
        .collect()
}

/// The readers' connections are killed again and again while another
/// instance publishes: each reader reconnects and resumes where it was,
/// and a subscriber gets every event once, in order, with no notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_readers_connections_while_publishing_loses_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let config = HubConfig {
        replay: 4096,
        ..HubConfig::default()
    };
    let a = redis_hub(&redis, "killed", config).await;
    let b = redis_hub(&redis, "killed", config).await;
    let mut on_b = b.subscribe(&["t"], None);
    let publisher = {
        let a = a.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..2000 {
                ids.push(a.publish("t", event!(data: n.to_string())).await.unwrap());
                if n % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            ids
        })
    };
    let mut kills = 0;
    while !publisher.is_finished() {
        for id in clients_running(&redis, "xread") {
            redis.command(&format!("CLIENT KILL ID {id}"));
            kills += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(kills >= 2, "{kills}");
    let published = within(publisher).await.unwrap();
    assert_eq!(read_published_or_notice(&mut on_b, &published).await, None);
}

/// Redis forgets its scripts (`SCRIPT FLUSH`) between calls: publishing,
/// resuming and reading go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushed_scripts_are_loaded_again() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = redis_hub(&redis, "scripts", HubConfig::default()).await;
    let b = redis_hub(&redis, "scripts", HubConfig::default()).await;
    let mut live = b.subscribe(&["t"], None);
    let mut ids = Vec::new();
    for n in 0..5 {
        redis.command("SCRIPT FLUSH");
        ids.push(a.publish("t", event!(data: n.to_string())).await.unwrap());
    }
    assert_eq!(read_published_or_notice(&mut live, &ids).await, None);
    redis.command("SCRIPT FLUSH");
    // A fresh instance's log holds none of it: it reads history.
    let c = redis_hub(&redis, "scripts", HubConfig::default()).await;
    redis.command("SCRIPT FLUSH");
    let mut resumed = c.subscribe(&["t"], ids[0].to_string().as_str());
    assert_eq!(
        read_published_or_notice(&mut resumed, &ids[1..]).await,
        None
    );
}

/// Redis pauses writes (`CLIENT PAUSE .. WRITE`, as during a failover):
/// publishes fail with a timeout meanwhile, and once it resumes, whatever
/// it stored reaches subscribers once, in order, with no notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_time_out_while_redis_pauses_and_nothing_is_skipped() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = redis_hub(&redis, "paused", HubConfig::default()).await;
    let b = redis_hub(&redis, "paused", HubConfig::default()).await;
    let mut on_b = b.subscribe(&["t"], None);
    let before = a.publish("t", event!(data: "before")).await.unwrap();
    redis.command("CLIENT PAUSE 1500 WRITE");
    let started = Instant::now();
    let paused = a.publish("t", event!(data: "paused")).await;
    assert!(matches!(paused, Err(HubError::Timeout(_))), "{paused:?}");
    assert!(started.elapsed() < Duration::from_millis(1400));
    let after = within(async {
        loop {
            if let Ok(id) = a.publish("t", event!(data: "after")).await {
                return id;
            }
        }
    })
    .await;
    let mut got = Vec::new();
    loop {
        let (kind, data, id) = next(&mut on_b).await;
        assert_eq!(kind, "message", "{data}");
        got.push(id.parse::<sse_runtime::hub::EventId>().unwrap());
        // Attempts that timed out may have been stored too.
        if id == after.to_string() {
            break;
        }
    }
    assert_eq!(got.first(), Some(&before));
    assert_eq!(got.last(), Some(&after));
    assert!(got.windows(2).all(|pair| pair[0] < pair[1]), "{got:?}");
}

/// A publish that fails with [`HubError::Broker`] was not stored, as its
/// documentation says: here, Redis drops every client's connection while
/// publishes are in flight. Some that Redis ran lose their reply with the
/// connection: those say `Unconfirmed`, never `Broker`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_that_fails_as_broker_error_was_not_stored() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = redis_hub(&redis, "dropped", HubConfig::default()).await;
    let mut failed = Vec::new();
    let mut unconfirmed = 0;
    for round in 0..20 {
        let publishes = (0..200).map(|n| {
            let a = a.clone();
            let data = format!("r{round}n{n}");
            async move { (a.publish("t", event!(data: &data)).await, data) }
        });
        let all = futures_util::future::join_all(publishes);
        let kill = async {
            tokio::time::sleep(Duration::from_micros(300)).await;
            redis.command("CLIENT KILL TYPE normal SKIPME yes");
        };
        let (results, ()) = tokio::join!(all, kill);
        for (result, data) in results {
            match result {
                Err(HubError::Broker(reason)) => failed.push((data, reason)),
                // May or may not be stored: said so, and not checked.
                Err(HubError::Unconfirmed(_) | HubError::Timeout(_)) => unconfirmed += 1,
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        failed.len() + unconfirmed > 0,
        "no publish failed: the test proves nothing"
    );
    let stream = redis.command("XRANGE {dropped}:events - +");
    let stored: Vec<_> = failed
        .iter()
        .filter(|(data, _)| stream.contains(&format!("data: {data}\n")))
        .collect();
    assert!(
        stored.is_empty(),
        "{} of {} publishes that failed as not stored were stored: {:?}",
        stored.len(),
        failed.len(),
        stored.first()
    );
}

/// The reader's `XREAD` is refused at once (here by an ACL): the reader
/// retries with backoff, not in a loop that opens connections as fast as
/// it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_whose_read_is_refused_backs_off() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let hub = redis_hub(&redis, "refused", HubConfig::default()).await;
    redis.command("ACL SETUSER default -xread");
    for id in clients_running(&redis, "xread") {
        redis.command(&format!("CLIENT KILL ID {id}"));
    }
    let before = redis.info("total_connections_received");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connections = redis.info("total_connections_received") - before;
    assert!(connections < 30, "{connections} connections in 2 s");
    // Allowed again, the reader comes back.
    redis.command("ACL SETUSER default +xread");
    let mut subscription = hub.subscribe(&["t"], None);
    let id = hub.publish("t", event!("back")).await.unwrap();
    assert_eq!(next(&mut subscription).await.2, id.to_string());
}

/// Another instance shares the prefix with a much smaller `replay`, and so
/// trims the stream far more: this instance's subscribers still get every
/// event, and a client resuming past what was trimmed is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_hub_that_keeps_less_never_makes_a_silent_gap() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let large = HubConfig {
        replay: 1000,
        ..HubConfig::default()
    };
    let small = HubConfig {
        replay: 8,
        ..HubConfig::default()
    };
    let a = redis_hub(&redis, "mixed", large).await;
    let b = redis_hub(&redis, "mixed", small).await;
    let mut slow_on_a = a.subscribe(&["t"], None);
    let mut ids = Vec::new();
    for n in 0..100 {
        ids.push(b.publish("t", event!(data: n.to_string())).await.unwrap());
    }
    assert_eq!(read_published_or_notice(&mut slow_on_a, &ids).await, None);
    let c = redis_hub(&redis, "mixed", large).await;
    let mut resumed = c.subscribe(&["t"], ids[10].to_string().as_str());
    assert_eq!(next(&mut resumed).await.0, "reset");
}

/// The stream's key is deleted, or all of Redis's data flushed, under
/// running instances, with an event one of them never read: a client
/// resuming on it is told, and with the key alone deleted (the byte count
/// goes on), so is its live subscriber.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_stream_under_running_hubs_is_never_a_silent_gap() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let (b, mut live, seen, _after) =
        lose_an_event_b_never_read(&mut redis, "deleted", |redis: &mut RedisServer| {
            redis.command("DEL {deleted}:events");
        })
        .await;
    let (kind, _, id) = next(&mut live).await;
    assert_eq!(
        kind, "lagged",
        "went on to {kind} {id} past the deleted event"
    );
    let mut resumed = b.hub.subscribe(&["t"], seen.to_string().as_str());
    assert_eq!(next(&mut resumed).await.0, "reset");
    drop(b);

    let (b, mut live, seen, after) =
        lose_an_event_b_never_read(&mut redis, "flushed", |redis: &mut RedisServer| {
            redis.command("FLUSHALL");
        })
        .await;
    // Its live subscriber may go on (see
    // a_live_subscriber_is_told_when_redis_loses_events_it_had_not_received).
    within(async {
        loop {
            let (kind, _, id) = next(&mut live).await;
            if kind != "message" || id == after.to_string() {
                return;
            }
        }
    })
    .await;
    let mut resumed = b.hub.subscribe(&["t"], seen.to_string().as_str());
    assert_eq!(next(&mut resumed).await.0, "reset");
}

/// Redis's ids come from its clock. A server whose clock ran ahead (here:
/// an entry a minute in the future, as a former primary with a fast clock
/// leaves) loses its data; the restarted one issues ids from the right
/// time, lower than any the hubs have seen. Subscribers must still get
/// the new events, or be told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "not fixed, needs a design: a hub's log refuses ids not above the newest it received, so after a data loss every event with a lower id is dropped in silence by every instance until Redis's clock passes the old ids (and a reader whose cursor is above the new ids never receives them at all); a gap would have to let the log's ids go back, and the reader check the stream when its XREAD stays empty"]
async fn ids_that_go_back_after_redis_loses_its_data_are_not_dropped() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let ahead = sse_runtime::hub::EventId::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 60_000,
        0,
    );
    redis.command(&format!(
        "XADD {{clock}}:events {ahead} t other d \"data: x\\n\\n\" c 9"
    ));
    let a = redis_hub(&redis, "clock", HubConfig::default()).await;
    let b = redis_hub(&redis, "clock", HubConfig::default()).await;
    let mut live = b.subscribe(&["t"], None);
    let before = a.publish("t", event!(data: "before")).await.unwrap();
    assert!(before > ahead);
    assert_eq!(next(&mut live).await.2, before.to_string());
    redis.restart();
    let after = publish_once_redis_is_back(&a, "t", "after").await;
    assert!(after < before, "Redis's ids went back");
    let (kind, data, id) = next(&mut live).await;
    assert!(
        id == after.to_string() || kind == "lagged",
        "{kind} {data} {id}"
    );
}

/// How many times `command` ran, from `INFO commandstats`.
fn calls(redis: &RedisServer, command: &str) -> u64 {
    let stats = redis.command("INFO commandstats");
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// An entry the hub did not write (another program's, or one of a kind a
/// newer version of the library wrote) used to make every reader read it
/// again for ever (16,619 `XREAD`s in 2 s): it is skipped with a warning,
/// and the readers move past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_the_hub_did_not_write_are_skipped_and_readers_move_past_them() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let hub = redis_hub(&redis, "foreign", HubConfig::default()).await;
    let mut subscription = hub.subscribe(&["t"], None);
    redis.command("XADD {foreign}:events * somebody else");
    redis.command("XADD {foreign}:events * t t k something-new d x c 1");
    let id = hub.publish("t", event!("after")).await.unwrap();
    assert_eq!(
        next(&mut subscription).await,
        ("message".into(), "after".into(), id.to_string())
    );
    let before = calls(&redis, "xread");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reads = calls(&redis, "xread") - before;
    // One blocking read a second.
    assert!(reads <= 6, "{reads} XREADs in 2 s");
}

/// The same entries inside the history a resuming client needs: it used to
/// wait for ever, with no events and no `reset`. More of them than a page
/// of history holds, so that a page with none of the hub's entries is read
/// past too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resuming_client_reads_past_entries_the_hub_did_not_write() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = redis_hub(&redis, "history", HubConfig::default()).await;
    let first = a.publish("t", event!("first")).await.unwrap();
    redis.command("XADD {history}:events * somebody else");
    for _ in 0..300 {
        redis.command("XADD {history}:events * t t k something-new d x");
    }
    let second = a.publish("t", event!("second")).await.unwrap();
    // An instance whose own log holds none of it reads it from history.
    let b = redis_hub(&redis, "history", HubConfig::default()).await;
    let mut resumed = b.subscribe(&["t"], first.to_string().as_str());
    assert_eq!(
        next(&mut resumed).await,
        ("message".into(), "second".into(), second.to_string())
    );
}

/// A publish Redis refuses for lack of memory stored nothing: it used to
/// be reported as `Unconfirmed` ("may have been stored").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_refused_for_lack_of_memory_is_a_broker_error() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let hub = redis_hub(&redis, "oom", HubConfig::default()).await;
    hub.publish("t", event!("fits")).await.unwrap();
    redis.command("CONFIG SET maxmemory-policy noeviction");
    redis.command("CONFIG SET maxmemory 1");
    let refused = hub.publish("t", event!("refused")).await;
    redis.command("CONFIG SET maxmemory 0");
    match &refused {
        Err(HubError::Broker(reason)) => assert!(reason.contains("OOM"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(!redis.command("XRANGE {oom}:events - +").contains("refused"));
    hub.publish("t", event!("fits again")).await.unwrap();
}

/// An entry with the hub's fields whose data is not one encoded event
/// (another program's, written by hand): the reader used to take it for
/// an event and add the hub's id to it, which panicked the reader (a debug
/// assertion: every frame ends with a blank line), so that the instance
/// received nothing more; in release builds the client got the foreign
/// bytes and the id run together. It is skipped, as other foreign entries
/// are, live and in history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_whose_data_is_not_an_event_are_skipped() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let hub = redis_hub(&redis, "frames", HubConfig::default()).await;
    let mut live = hub.subscribe(&["t"], None);
    let first = hub.publish("t", event!("first")).await.unwrap();
    assert_eq!(next(&mut live).await.1, "first");
    for data in ["x", "data:%20x%0A", "data:%20a%0A%0Adata:%20b%0A%0A"] {
        let data = data.replace("%20", " ").replace("%0A", "\n");
        // Through the protocol, to write the newlines as they are.
        let command = format!(
            "*7\r\n$4\r\nXADD\r\n$15\r\n{{frames}}:events\r\n$1\r\n*\r\n$1\r\nt\r\n$1\r\nt\r\n$1\r\nd\r\n${}\r\n{}",
            data.len(),
            data
        );
        redis.command(command.trim_end_matches("\r\n"));
    }
    let after = hub.publish("t", event!("after")).await.unwrap();
    assert_eq!(
        next(&mut live).await,
        ("message".into(), "after".into(), after.to_string())
    );
    let other = redis_hub(&redis, "frames", HubConfig::default()).await;
    let mut resumed = other.subscribe(&["t"], first.to_string().as_str());
    assert_eq!(
        next(&mut resumed).await,
        ("message".into(), "after".into(), after.to_string())
    );
}

/// Redis at its memory limit refuses writes, not reads. The history and
/// start-up scripts only read, but were declared as scripts that may
/// write, so Redis refused them too: a resuming client got neither its
/// events nor a `reset` (its history read retried for ever), and no
/// instance could start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_out_of_memory_still_serves_history_and_start_up() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = redis_hub(&redis, "full", HubConfig::default()).await;
    let first = a.publish("t", event!("first")).await.unwrap();
    let second = a.publish("t", event!("second")).await.unwrap();
    // An instance whose log holds none of it: it reads history.
    let b = redis_hub(&redis, "full", HubConfig::default()).await;
    redis.command("CONFIG SET maxmemory-policy noeviction");
    redis.command("CONFIG SET maxmemory 1");
    let refused = a.publish("t", event!("refused")).await;
    assert!(matches!(refused, Err(HubError::Broker(_))), "{refused:?}");
    let mut resumed = b.subscribe(&["t"], first.to_string().as_str());
    let got = next(&mut resumed).await;
    let started = RedisTransport::connect(&redis.url(), RedisOptions::new().prefix("full")).await;
    redis.command("CONFIG SET maxmemory 0");
    assert_eq!(got, ("message".into(), "second".into(), second.to_string()));
    assert!(started.is_ok(), "{:?}", started.err());
}
