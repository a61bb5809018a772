//! Metrics through the `metrics` facade, read as an operator reads them:
//! the chat example's `/metrics` scraped over TCP in Prometheus's text
//! format, with exact counts as streams open, publish and close; the
//! llm example's POST streams under their route; the hub's notices and
//! per-topic labels; runs by state; and the Redis reader's reconnects and
//! lag against a real `redis-server`.
//!
//! One recorder serves the whole test binary (a process has one), so the
//! tests take a lock and compare what they did with the counts before.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use sse_runtime::hub::{Delivery, Hub, HubConfig};
use sse_runtime::testing::{Parser, Received};
use sse_runtime::Shutdown;
use sse_suite::{chat, llm};
use support::redis::RedisServer;
use support::{get, post, serve, within};

/// The recorder of this test binary: Prometheus's, which also keeps the
/// highest value each gauge was ever set to (a gauge's last value hides a
/// lag that came and went).
struct Recording {
    prometheus: PrometheusRecorder,
}

static HIGHEST: Mutex<Option<HashMap<String, f64>>> = Mutex::new(None);

struct HighWater {
    inner: Gauge,
    key: String,
}

impl GaugeFn for HighWater {
    fn increment(&self, value: f64) {
        self.inner.increment(value);
    }
    fn decrement(&self, value: f64) {
        self.inner.decrement(value);
    }
    fn set(&self, value: f64) {
        self.inner.set(value);
        let mut highest = HIGHEST.lock().unwrap();
        let entry = highest
            .get_or_insert_with(HashMap::new)
            .entry(self.key.clone())
            .or_insert(value);
        *entry = entry.max(value);
    }
}

impl Recorder for Recording {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.prometheus.register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(HighWater {
            inner: self.prometheus.register_gauge(key, metadata),
            key: series(key.name(), key.labels().map(|l| (l.key(), l.value()))),
        }))
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.prometheus.register_histogram(key, metadata)
    }
}

/// Installs the recorder once; the handle renders what it holds.
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let prometheus = PrometheusBuilder::new().build_recorder();
            let handle = prometheus.handle();
            metrics::set_global_recorder(Recording { prometheus }).expect("the only recorder");
            sse_runtime::metrics::describe();
            handle
        })
        .clone()
}

/// Tests that share a route label (the chat's `/stream`) take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A series' name with its labels sorted: `name{a="x",b="y"}`.
fn series<'a>(name: &str, labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut labels: Vec<(&str, &str)> = labels.collect();
    labels.sort();
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// Every sample of a Prometheus text exposition, by series.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (metric, value) = line.rsplit_once(' ').expect("a sample line");
        let value: f64 = value.parse().expect("a sample value");
        let (name, labels) = match metric.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("closing brace")),
            None => (metric, ""),
        };
        let mut pairs = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").expect("a label");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((at, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(if escaped == 'n' { '\n' } else { escaped });
                        }
                    }
                    '"' => {
                        end = at + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            pairs.push((key.to_owned(), value));
            rest = after[end..].trim_start_matches(',');
        }
        samples.insert(
            series(name, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            value,
        );
    }
    samples
}

/// A scrape's samples.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    fn of(text: &str) -> Scrape {
        Scrape(parse(text))
    }

    /// The value of `name` with exactly `labels`; 0 for a series not
    /// there yet.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = series(name, labels.iter().copied());
        self.0.get(&key).copied().unwrap_or(0.0)
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.0.contains_key(&series(name, labels.iter().copied()))
    }
}

/// `GET /metrics` over TCP.
async fn scrape(addr: SocketAddr) -> Scrape {
    let response = get(addr, "/metrics", &[]).await;
    assert_eq!(response.inner.status(), 200);
    assert!(response
        .header("content-type")
        .is_some_and(|value| value.starts_with("text/plain")));
    Scrape::of(&response.text().await)
}

/// Scrapes until `done` holds; fails the test after the usual timeout.
async fn scrape_until(addr: SocketAddr, done: impl Fn(&Scrape) -> bool) -> Scrape {
    within(async {
        loop {
            let scrape = scrape(addr).await;
            if done(&scrape) {
                return scrape;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// One client of a stream, reading it as a browser does, and counting
/// the bytes and the blocks (events and comments) it received.
struct Reader {
    chunks: support::Chunks,
    parser: Parser,
    bytes: usize,
    events: Vec<String>,
    comments: usize,
}

impl Reader {
    async fn open(addr: SocketAddr, path: &str) -> Reader {
        let response = get(addr, path, &[]).await;
        assert_eq!(response.inner.status(), 200);
        Reader {
            chunks: response.chunks(),
            parser: Parser::new(),
            bytes: 0,
            events: Vec::new(),
            comments: 0,
        }
    }

    /// Reads until `n` events in all have arrived.
    async fn until_events(&mut self, n: usize) {
        while self.events.len() < n {
            let chunk = self.chunks.next().await.expect("the stream ended early");
            self.take(&chunk);
        }
    }

    /// Reads to the end of the stream.
    async fn read_to_end(&mut self) {
        while let Some(chunk) = self.chunks.next().await {
            self.take(&chunk);
        }
    }

    fn take(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len();
        for received in self.parser.feed(chunk) {
            match received {
                Received::Event(event) => self.events.push(event.data),
                Received::Comment(_) => self.comments += 1,
            }
        }
    }

    /// Blocks received: what the server counts as events sent.
    fn blocks(&self) -> usize {
        self.events.len() + self.comments
    }
}

const STREAM: &[(&str, &str)] = &[("route", "/stream")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_serves_metrics_that_move_as_streams_open_publish_and_close() {
    let prometheus = prometheus();
    let _turn = SERIAL.lock().await;
    let hub_name = "chat-metrics-test";
    let hub_label: &[(&str, &str)] = &[("hub", hub_name)];
    let hub = Hub::with_config(HubConfig {
        name: hub_name,
        ..HubConfig::default()
    });
    let shutdown = Shutdown::new();
    let addr = serve(chat::app_with_metrics(hub, shutdown.clone(), prometheus)).await;

    let before = scrape(addr).await;
    // The hub's series exist from its start, at zero.
    assert!(before.has("sse_hub_publishes_total", hub_label));
    assert_eq!(before.get("sse_hub_subscribers", hub_label), 0.0);
    let opened = before.get("sse_streams_opened_total", STREAM);
    let open = before.get("sse_streams_open", STREAM);
    let events = before.get("sse_events_sent_total", STREAM);
    let bytes = before.get("sse_bytes_sent_total", STREAM);
    let disconnected = ("reason", "client_disconnected");
    let closed = |scrape: &Scrape, reason: (&str, &str)| {
        scrape.get("sse_streams_closed_total", &[STREAM[0], reason])
    };
    let disconnected_before = closed(&before, disconnected);
    let shut_before = closed(&before, ("reason", "shutdown"));

    // Three streams open.
    let mut readers = Vec::new();
    for _ in 0..3 {
        readers.push(Reader::open(addr, "/stream").await);
    }
    let now = scrape_until(addr, |s| s.get("sse_hub_subscribers", hub_label) == 3.0).await;
    assert_eq!(now.get("sse_streams_open", STREAM), open + 3.0);
    assert_eq!(now.get("sse_streams_opened_total", STREAM), opened + 3.0);
    assert_eq!(now.get("sse_hub_publishes_total", hub_label), 0.0);

    // Two messages: each stream gets both, and the counts say so exactly,
    // while the streams are still open.
    for text in ["one", "two"] {
        let body = serde_json::json!({ "user": "ann", "text": text }).to_string();
        let (status, _, _) = post(addr, "/messages", Some("application/json"), &body).await;
        assert_eq!(status, 201);
    }
    for reader in &mut readers {
        reader.until_events(2).await;
    }
    let now = scrape(addr).await;
    assert_eq!(now.get("sse_hub_publishes_total", hub_label), 2.0);
    assert_eq!(now.get("sse_hub_deliveries_total", hub_label), 6.0);
    let blocks: usize = readers.iter().map(Reader::blocks).sum();
    let read: usize = readers.iter().map(|reader| reader.bytes).sum();
    assert_eq!(
        now.get("sse_events_sent_total", STREAM),
        events + blocks as f64
    );
    assert_eq!(now.get("sse_bytes_sent_total", STREAM), bytes + read as f64);
    assert_eq!(now.get("sse_streams_open", STREAM), open + 3.0);

    // One client goes away; the server notices at its next write (the
    // third message), and counts it closed, disconnected.
    let gone = readers.remove(0);
    let (gone_blocks, gone_bytes) = (gone.blocks(), gone.bytes);
    drop(gone);
    let body = serde_json::json!({ "user": "ann", "text": "three" }).to_string();
    let (status, _, _) = post(addr, "/messages", Some("application/json"), &body).await;
    assert_eq!(status, 201);
    let now = scrape_until(addr, |s| s.get("sse_streams_open", STREAM) == open + 2.0).await;
    assert_eq!(closed(&now, disconnected), disconnected_before + 1.0);
    assert_eq!(now.get("sse_hub_subscribers", hub_label), 2.0);
    assert_eq!(now.get("sse_hub_publishes_total", hub_label), 3.0);
    // The two streams still open each got the third message; the one that
    // went away may have taken it from the hub before its write failed,
    // and then counted it as sent, frame and all.
    for reader in &mut readers {
        reader.until_events(3).await;
    }
    let deliveries = scrape(addr)
        .await
        .get("sse_hub_deliveries_total", hub_label);
    assert!(deliveries == 8.0 || deliveries == 9.0, "{deliveries}");
    let took_third = deliveries - 8.0;

    // Shutdown ends the other two, cleanly.
    shutdown.trigger();
    for reader in &mut readers {
        reader.read_to_end().await;
    }
    let after = scrape_until(addr, |s| s.get("sse_streams_open", STREAM) == open).await;
    assert_eq!(closed(&after, ("reason", "shutdown")), shut_before + 2.0);
    assert_eq!(closed(&after, disconnected), disconnected_before + 1.0);
    assert_eq!(after.get("sse_hub_subscribers", hub_label), 0.0);
    assert_eq!(after.get("sse_streams_opened_total", STREAM), opened + 3.0);
    let blocks: usize = readers.iter().map(Reader::blocks).sum::<usize>() + gone_blocks;
    assert_eq!(
        after.get("sse_events_sent_total", STREAM),
        events + blocks as f64 + took_third
    );
    let read: usize = readers.iter().map(|reader| reader.bytes).sum::<usize>() + gone_bytes;
    // What the client that left would have read of the third message: the
    // bytes the others read after the first two (one shared frame, the
    // same for every stream; no keep-alive in so short a test).
    assert!(readers.iter().all(|reader| reader.comments == 0));
    let third_frame = (readers[0].bytes - gone_bytes) as f64;
    assert_eq!(
        after.get("sse_bytes_sent_total", STREAM),
        bytes + read as f64 + took_third * third_frame
    );
}

/// The route of a POST stream built by hand (the llm example's answer to
/// `POST /v1/chat/completions`) and of its resumable run's attach stream,
/// and the runs by state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_streams_are_counted_under_their_route_and_runs_by_state() {
    let prometheus = prometheus();
    let hub_name = "llm-metrics-test";
    let hub_label: &[(&str, &str)] = &[("hub", hub_name)];
    let completions: &[(&str, &str)] = &[("route", "/v1/chat/completions")];
    let unknown: &[(&str, &str)] = &[("route", "unknown")];
    let hub = Hub::with_config(HubConfig {
        name: hub_name,
        ..HubConfig::default()
    });
    let addr = serve(llm::app(hub, Duration::from_millis(20))).await;
    let before = Scrape::of(&prometheus.render());
    assert_eq!(before.get("sse_runs_running", hub_label), 0.0);

    let body = serde_json::json!({
        "model": "stand-in",
        "messages": [{ "role": "user", "content": "Tell me about the sea" }],
        "stream": true,
    })
    .to_string();
    let response = support::post_stream(
        addr,
        "/v1/chat/completions",
        Some("application/json"),
        &body,
    )
    .await;
    assert_eq!(response.inner.status(), 200);
    let mut chunks = response.chunks();
    let first = chunks.next().await.expect("a first chunk");
    assert!(!first.is_empty());
    let during = Scrape::of(&prometheus.render());
    assert_eq!(during.get("sse_runs_running", hub_label), 1.0);
    assert_eq!(during.get("sse_runs_started_total", hub_label), 1.0);
    assert_eq!(
        during.get("sse_streams_open", completions),
        before.get("sse_streams_open", completions) + 1.0
    );
    while chunks.next().await.is_some() {}

    let finished = [("hub", hub_name), ("state", "finished")];
    let after = within(async {
        loop {
            let scrape = Scrape::of(&prometheus.render());
            if scrape.get("sse_runs_running", hub_label) == 0.0
                && scrape.get("sse_streams_open", completions)
                    == before.get("sse_streams_open", completions)
            {
                return scrape;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(after.get("sse_runs_ended_total", &finished), 1.0);
    assert_eq!(
        after.get(
            "sse_runs_ended_total",
            &[("hub", hub_name), ("state", "failed")]
        ),
        0.0
    );
    assert_eq!(
        after.get("sse_streams_opened_total", completions),
        before.get("sse_streams_opened_total", completions) + 1.0
    );
    let completed = [completions[0], ("reason", "completed")];
    assert_eq!(
        after.get("sse_streams_closed_total", &completed),
        before.get("sse_streams_closed_total", &completed) + 1.0
    );
    // No stream of this test went unnamed.
    assert_eq!(
        after.get("sse_streams_opened_total", unknown),
        before.get("sse_streams_opened_total", unknown)
    );
    // The hub counted the run's events as delivered to its one stream.
    assert!(after.get("sse_hub_deliveries_total", hub_label) > 3.0);
}

/// The hub's notices, its deliveries and subscribers.
#[tokio::test]
async fn the_hub_counts_publishes_deliveries_subscribers_and_notices() {
    let prometheus = prometheus();
    let hub_name = "notices-metrics-test";
    let hub_label: &[(&str, &str)] = &[("hub", hub_name)];
    let hub = Hub::with_config(HubConfig {
        name: hub_name,
        replay: 4,
        ..HubConfig::default()
    });
    let render = || Scrape::of(&prometheus.render());

    let mut resumed = hub.subscribe(&["t"], "1234-0");
    assert!(matches!(resumed.next().await, Some(Delivery::Reset(_))));
    assert_eq!(render().get("sse_hub_resets_total", hub_label), 1.0);
    assert_eq!(render().get("sse_hub_subscribers", hub_label), 1.0);
    drop(resumed);

    let mut slow = hub.subscribe(&["t"], None);
    for n in 0..10 {
        hub.publish("t", sse_runtime::event!(data: n.to_string()))
            .await
            .unwrap();
    }
    assert!(matches!(slow.next().await, Some(Delivery::Lagged(_))));
    assert!(slow.next().await.is_none());
    let now = render();
    assert_eq!(now.get("sse_hub_lagged_total", hub_label), 1.0);
    assert_eq!(now.get("sse_hub_publishes_total", hub_label), 10.0);
    assert_eq!(now.get("sse_hub_deliveries_total", hub_label), 0.0);
    drop(slow);

    let mut reader = hub.subscribe(&["t", "u"], None);
    hub.publish("t", sse_runtime::event!("a")).await.unwrap();
    hub.publish("u", sse_runtime::event!("b")).await.unwrap();
    for _ in 0..2 {
        assert!(matches!(reader.next().await, Some(Delivery::Event(_))));
    }
    let now = render();
    assert_eq!(now.get("sse_hub_deliveries_total", hub_label), 2.0);
    assert_eq!(now.get("sse_hub_publishes_total", hub_label), 12.0);
    assert_eq!(now.get("sse_hub_subscribers", hub_label), 1.0);
    drop(reader);
    assert_eq!(render().get("sse_hub_subscribers", hub_label), 0.0);
}

/// With `topic_labels`, each topic is a series of its own, and no series
/// of the hub's goes without one.
#[tokio::test]
async fn topic_labels_count_each_topic_apart() {
    let prometheus = prometheus();
    let hub_name = "topics-metrics-test";
    let hub = Hub::with_config(HubConfig {
        name: hub_name,
        topic_labels: true,
        ..HubConfig::default()
    });
    let render = || Scrape::of(&prometheus.render());
    let topic = |name| [("hub", hub_name), ("topic", name)];

    let mut subscription = hub.subscribe(&["b", "a"], None);
    let mut other = hub.subscribe(&["a"], None);
    for name in ["a", "a", "b"] {
        hub.publish(name, sse_runtime::event!(data: name))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        assert!(matches!(
            subscription.next().await,
            Some(Delivery::Event(_))
        ));
    }
    let now = render();
    assert_eq!(now.get("sse_hub_publishes_total", &topic("a")), 2.0);
    assert_eq!(now.get("sse_hub_publishes_total", &topic("b")), 1.0);
    assert_eq!(now.get("sse_hub_deliveries_total", &topic("a")), 2.0);
    assert_eq!(now.get("sse_hub_deliveries_total", &topic("b")), 1.0);
    assert_eq!(now.get("sse_hub_subscribers", &topic("a")), 2.0);
    assert_eq!(now.get("sse_hub_subscribers", &topic("b")), 1.0);
    for name in [
        "sse_hub_publishes_total",
        "sse_hub_deliveries_total",
        "sse_hub_subscribers",
    ] {
        assert!(
            !now.has(name, &[("hub", hub_name)]),
            "{name} without a topic"
        );
    }
    for _ in 0..2 {
        assert!(matches!(other.next().await, Some(Delivery::Event(_))));
    }
    assert_eq!(render().get("sse_hub_deliveries_total", &topic("a")), 4.0);
    drop(subscription);
    let now = render();
    assert_eq!(now.get("sse_hub_subscribers", &topic("a")), 1.0);
    assert_eq!(now.get("sse_hub_subscribers", &topic("b")), 0.0);
}

/// The id of the hub's Redis reader among Redis's clients: the one
/// blocked in `XREAD`.
fn reader_client(redis: &RedisServer) -> Option<String> {
    redis
        .command("CLIENT LIST")
        .lines()
        .find(|line| line.contains("cmd=xread"))
        .and_then(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")))
        .map(str::to_owned)
}

/// The Redis reader's reconnects, counted exactly; and its lag behind the
/// stream, seen while it catches up on 2,000 events published while it
/// could not read, and back to zero once it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_reader_counts_its_reconnects_and_its_lag() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prometheus = prometheus();
    let hub_name = "redis-metrics-test";
    let hub_label: &[(&str, &str)] = &[("hub", hub_name)];
    let render = || Scrape::of(&prometheus.render());
    let transport = sse_runtime::hub::RedisTransport::connect(
        &redis.url(),
        sse_runtime::hub::RedisOptions::new().prefix("metrics"),
    )
    .await
    .expect("connect");
    let hub = Hub::with_transport(
        transport,
        HubConfig {
            name: hub_name,
            replay: 4096,
            ..HubConfig::default()
        },
    );
    // The reader's series exist once it runs, at zero.
    let reader = within(async {
        loop {
            if let Some(id) = reader_client(&redis) {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(
        render().get("sse_hub_redis_reconnects_total", hub_label),
        0.0
    );

    // Its connection is cut once: one reconnect.
    redis.command(&format!("CLIENT KILL ID {reader}"));
    let reconnects = || render().get("sse_hub_redis_reconnects_total", hub_label);
    support::wait_while(|| reconnects() < 1.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reconnects(), 1.0);

    // It may not read for a while (its `XREAD` refused); 2,000 events are
    // published meanwhile.
    let mut subscription = hub.subscribe(&["t"], None);
    redis.command("ACL SETUSER default -xread");
    support::wait_while(|| reconnects() < 2.0).await;
    let started = std::time::Instant::now();
    for n in 0..2000 {
        hub.publish("t", sse_runtime::event!(data: n.to_string()))
            .await
            .unwrap();
    }
    let publishing = started.elapsed();
    redis.command("ACL SETUSER default +xread");
    for n in 0..2000 {
        let Some(Delivery::Event(event)) = subscription.next().await else {
            panic!("event {n} did not arrive");
        };
        let text = std::str::from_utf8(event.as_bytes()).unwrap();
        assert!(text.starts_with(&format!("data: {n}\n")), "{text}");
    }
    let lag = series(
        "sse_hub_redis_reader_lag_seconds",
        hub_label.iter().copied(),
    );
    let highest = HIGHEST
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|h| h.get(&lag).copied());
    let highest = highest.expect("the lag was set");
    // Its first read after coming back took 512 of the 2,000: the rest
    // were published after those, over most of the time publishing took.
    assert!(highest > 0.0, "{highest}");
    assert!(
        highest <= publishing.as_secs_f64() + 0.001,
        "{highest} > {publishing:?}"
    );
    support::wait_while(|| render().get("sse_hub_redis_reader_lag_seconds", hub_label) != 0.0)
        .await;
    eprintln!("highest Redis reader lag: {highest} s, publishing took {publishing:?}");
}

/// A local whose destructor panics: the handler's own code, run when its
/// stream is dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a handler's local panicked as it was dropped");
    }
}

/// After every way a stream, a subscription or a run can end early or
/// badly, the gauges are back exactly where they were: a response built
/// and never polled, a handler that panics, a stream dropped mid-way
/// (its hub subscription with it, and a local that panics as it goes),
/// an `on_close` that panics, a subscription dropped while it resumes
/// through the history; a run whose producer panics, one cancelled, one
/// whose `start` was dropped before it learned the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_early_or_bad_end_brings_the_gauges_back() {
    use axum::extract::{Path, State};
    use http_body_util::BodyExt;
    use sse_runtime::runs::{RunState, Runs, RunsConfig};
    use sse_runtime::{Event, SseConfig, SseResponse, StreamContext};
    use tower::ServiceExt;

    let prometheus = prometheus();
    let render = || Scrape::of(&prometheus.render());
    let route: &[(&str, &str)] = &[("route", "/drift/{case}")];
    let hub_name = "drift-metrics-test";
    let hub_label: &[(&str, &str)] = &[("hub", hub_name)];
    let hub = Hub::with_config(HubConfig {
        name: hub_name,
        replay: 4,
        ..HubConfig::default()
    });

    async fn drift(
        Path(case): Path<String>,
        State(hub): State<Hub>,
        context: StreamContext,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let config = SseConfig::new().on_close(|_| panic!("on_close panicked"));
        match case.as_str() {
            "panics" => SseResponse::new(|_emitter| async move {
                if !case.is_empty() {
                    panic!("the handler panicked");
                }
            })
            .with_context(context)
            .with_config(config)
            .into_response(),
            _ => SseResponse::new(move |mut emitter| async move {
                let _local = PanicsOnDrop;
                let mut subscription = hub.subscribe(&["drift"], None);
                emitter.send(Event::data("open")).await;
                while let Some(delivery) = subscription.next().await {
                    emitter.send(delivery).await;
                }
            })
            .with_context(context)
            .with_config(config)
            .into_response(),
        }
    }
    let app = axum::Router::new()
        .route("/drift/{case}", axum::routing::get(drift))
        .with_state(hub.clone());
    let request = |case: &str| {
        axum::http::Request::get(format!("/drift/{case}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };

    // Built, never polled.
    let response = app.clone().oneshot(request("never-polled")).await.unwrap();
    assert_eq!(render().get("sse_streams_open", route), 1.0);
    assert_eq!(render().get("sse_hub_subscribers", hub_label), 0.0);
    drop(response);
    assert_eq!(render().get("sse_streams_open", route), 0.0);

    // A handler that panics, read to its end.
    let response = app.clone().oneshot(request("panics")).await.unwrap();
    let _ = response.into_body().collect().await;
    assert_eq!(render().get("sse_streams_open", route), 0.0);

    // Dropped mid-stream, its subscription open.
    let response = app.clone().oneshot(request("mid-way")).await.unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.data_ref().is_some());
    assert_eq!(render().get("sse_hub_subscribers", hub_label), 1.0);
    assert_eq!(render().get("sse_streams_open", route), 1.0);
    drop(body);
    let now = render();
    assert_eq!(now.get("sse_streams_open", route), 0.0);
    assert_eq!(now.get("sse_hub_subscribers", hub_label), 0.0);
    assert_eq!(now.get("sse_streams_opened_total", route), 3.0);
    let closed = |reason: &str| {
        render().get(
            "sse_streams_closed_total",
            &[("reason", reason), ("route", "/drift/{case}")],
        )
    };
    assert_eq!(closed("client_disconnected"), 2.0);
    assert_eq!(closed("error"), 1.0);

    // A subscription dropped while it resumes after an id the log let go.
    for n in 0..10 {
        hub.publish("drift", sse_runtime::event!(data: n.to_string()))
            .await
            .unwrap();
    }
    let mut resuming = hub.subscribe(&["drift"], "1-0");
    let _ = tokio::time::timeout(Duration::from_millis(50), resuming.next()).await;
    drop(resuming);
    assert_eq!(render().get("sse_hub_subscribers", hub_label), 0.0);

    // Runs: a producer that panics, one cancelled, one whose start was
    // dropped before it learned its id.
    let runs = Runs::new(hub.clone(), RunsConfig::default());
    let panics = runs
        .start(|_run| async { panic!("the producer panicked") })
        .await
        .unwrap();
    let cancelled = runs
        .start(|_run| std::future::pending::<()>())
        .await
        .unwrap();
    runs.cancel(&cancelled).await.unwrap();
    let started = runs.start(|_run| std::future::pending::<()>());
    // Polled once, then dropped: unless the run was stored and its id
    // came back within that poll (on another worker), no one has its id.
    if let Ok(id) = tokio::time::timeout(Duration::ZERO, started).await {
        runs.cancel(&id.unwrap()).await.unwrap();
    }
    within(async {
        while runs.running() > 0 || runs.state(&panics).await.unwrap() != Some(RunState::Failed) {
            eprintln!(
                "DEBUG running {} panics {:?} cancelled {:?}",
                runs.running(),
                runs.state(&panics).await,
                runs.state(&cancelled).await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    let now = render();
    assert_eq!(now.get("sse_runs_running", hub_label), 0.0);
    assert_eq!(now.get("sse_hub_subscribers", hub_label), 0.0);
    let ended = |state: &str| {
        now.get(
            "sse_runs_ended_total",
            &[("hub", hub_name), ("state", state)],
        )
    };
    assert_eq!(ended("failed"), 1.0);
    assert!(ended("cancelled") >= 1.0);
    // Every run started has ended, in one state or another.
    assert_eq!(
        now.get("sse_runs_started_total", hub_label),
        ended("failed") + ended("cancelled") + ended("finished")
    );
}
