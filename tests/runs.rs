//! Resumable runs: the producer owns the work, connections only attach.
//! Disconnecting does not cancel; cancelling stops the producer promptly
//! (its future is dropped); attaching to an unknown or expired run is a
//! clear HTTP error; a finished run with nothing left answers 204, which
//! stops `EventSource` from reconnecting.
//!
//! The control plane: a run's marks are entries of their own kind, so
//! nothing a producer sends ends a stream; its state lives in the store
//! (in process, or in Redis beside the hub's stream), so an instance
//! started mid-run attaches to it, a run that ends while Redis is down
//! ends its streams once Redis is back, a run whose instance was killed is
//! failed within its lease, and futures dropped at any await point leave
//! no run running and no place taken. Tests marked "both" run in process
//! and on Redis.

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use sse_runtime::event;
use sse_runtime::hub::{Hub, HubConfig, RedisOptions, RedisTransport};
use sse_runtime::runs::{Attached, RunError, RunItem, RunState, Runs, RunsConfig};
use sse_runtime::testing::{parse_all, Received};
use sse_runtime::IntoEvent;
use sse_suite::llm;
use support::redis::RedisServer;
use support::{get as request, serve, within};

/// Where the runs of a test keep their state: one hub in process, or a
/// private Redis that every instance connects to.
enum Store {
    Local(Hub),
    Redis(RedisServer),
}

impl Store {
    fn local() -> Store {
        Store::Local(Hub::new())
    }

    fn local_with(config: HubConfig) -> Store {
        Store::Local(Hub::with_config(config))
    }

    /// `None` (the test skips) without `redis-server`.
    fn redis() -> Option<Store> {
        RedisServer::start().map(Store::Redis)
    }

    fn redis_server(&self) -> Option<&RedisServer> {
        match self {
            Store::Local(_) => None,
            Store::Redis(server) => Some(server),
        }
    }

    /// A hub instance: the one hub in process, or a new connection.
    async fn hub(&self, config: HubConfig) -> Hub {
        match self {
            Store::Local(hub) => hub.clone(),
            Store::Redis(server) => redis_hub(&server.url(), config).await,
        }
    }

    /// An instance of the runs.
    async fn instance(&self, config: RunsConfig) -> Runs {
        Runs::new(self.hub(HubConfig::default()).await, config)
    }
}

/// Runs each `test(store)` twice, as `test::in_process` and
/// `test::on_redis` (which passes with a notice where `redis-server` is
/// missing, and fails under `CI=true`). A `(config)` after the name is the
/// in-process hub's; on Redis, a test builds its hubs as it needs.
macro_rules! on_both_stores {
    ($($test:ident $(($config:expr))?),* $(,)?) => {$(
        mod $test {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_process() {
                #[allow(unused_variables)]
                let store = Store::local();
                $(let store = Store::local_with($config);)?
                super::$test(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_redis() {
                if let Some(store) = Store::redis() {
                    super::$test(store).await;
                }
            }
        }
    )*};
}

async fn redis_hub(url: &str, config: HubConfig) -> Hub {
    let transport = RedisTransport::connect(url, RedisOptions::new().prefix("runs"))
        .await
        .expect("connect to the test's redis-server");
    Hub::with_transport(transport, config)
}

/// What a client would read of `items`.
fn wire(items: &[RunItem]) -> Vec<u8> {
    items
        .iter()
        .flat_map(|item| item.clone().into_event().unwrap().as_bytes().to_vec())
        .collect()
}

/// The data and id of each event a client reads of `items` (the run's end
/// included, as `run_end`).
fn events_of(items: &[RunItem]) -> Vec<(String, String)> {
    received(items)
        .into_iter()
        .map(|(_, data, id)| (data, id))
        .collect()
}

/// Each event a client reads of `items`: (type, data, id).
fn received(items: &[RunItem]) -> Vec<(String, String, String)> {
    parse_all(&wire(items))
        .into_iter()
        .filter_map(|item| match item {
            Received::Event(event) => Some((event.event_type, event.data, event.last_event_id)),
            _ => None,
        })
        .collect()
}

/// The data of the producer's events in `items`.
fn data_of(items: &[RunItem]) -> Vec<String> {
    let events: Vec<RunItem> = items
        .iter()
        .filter(|item| matches!(item, RunItem::Event(_)))
        .cloned()
        .collect();
    events_of(&events)
        .into_iter()
        .map(|(data, _)| data)
        .collect()
}

/// How the run ended, from the last of `items`.
fn end_of(items: &[RunItem]) -> Option<RunState> {
    match items.last() {
        Some(RunItem::End(end)) => Some(end.state()),
        _ => None,
    }
}

/// A run's items, read from `attached` to its end (each read bounded).
async fn read_to_end(attached: &mut Attached) -> Vec<RunItem> {
    let mut items = Vec::new();
    while let Some(item) = within(attached.next()).await {
        items.push(item);
    }
    items
}

/// Waits until `runs` says run `id` is in `state`.
async fn until_state(runs: &Runs, id: &str, state: RunState) {
    within(async {
        loop {
            if runs.state(id).await.ok().flatten() == Some(state) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Waits until `runs` produces `count` runs.
async fn until_running(runs: &Runs, count: usize) {
    support::wait_while(|| runs.running() != count).await;
}

/// Sets its flag when dropped: shows a producer's future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn drop_flag() -> (DropFlag, Arc<AtomicBool>) {
    let flag = Arc::new(AtomicBool::new(false));
    (DropFlag(flag.clone()), flag)
}

/// A producer that waits for ever, with a flag that says when its future
/// is dropped.
fn endless(
    guard: DropFlag,
) -> impl FnOnce(sse_runtime::runs::RunSender) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
{
    move |_run| {
        Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_after_every_client_has_gone() {
    let runs = Runs::new(Hub::new(), RunsConfig::default());
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    let id = runs
        .start(|run| async move {
            for n in 1..=20 {
                run.send(event!(data: n.to_string())).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            flag.store(true, Ordering::SeqCst);
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).await.unwrap();
    let first = vec![
        within(attached.next()).await.unwrap(),
        within(attached.next()).await.unwrap(),
    ];
    drop(attached);
    support::wait_while(|| !finished.load(Ordering::SeqCst)).await;
    let seen = events_of(&first);
    assert_eq!(
        seen.iter()
            .map(|(data, _)| data.as_str())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    // Attaching again after the last id seen: the rest, then the end.
    let mut resumed = runs.attach(&id, seen[1].1.as_str()).await.unwrap();
    let rest = read_to_end(&mut resumed).await;
    let expected: Vec<String> = (3..=20).map(|n| n.to_string()).collect();
    assert_eq!(data_of(&rest), expected);
    assert_eq!(end_of(&rest), Some(RunState::Finished));
    until_state(&runs, &id, RunState::Finished).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_producer_promptly_and_ends_attached_streams() {
    let runs = Runs::new(Hub::new(), RunsConfig::default());
    let (guard, dropped) = drop_flag();
    let id = runs
        .start(|run| async move {
            let _guard = guard;
            run.send(event!("started")).await.unwrap();
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).await.unwrap();
    assert_eq!(
        data_of(&[within(attached.next()).await.unwrap()]),
        ["started"]
    );
    let started = Instant::now();
    runs.cancel(&id).await.unwrap();
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // The attached stream ends with the run, and says how.
    let rest = read_to_end(&mut attached).await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(end_of(&rest), Some(RunState::Cancelled));
    let (name, data, _) = &received(&rest)[0];
    assert_eq!(
        (name.as_str(), data.as_str()),
        ("run_end", r#"{"state":"cancelled"}"#)
    );
    assert_eq!(runs.state(&id).await.unwrap(), Some(RunState::Cancelled));
    until_running(&runs, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_expired_and_finished_runs_answer_clearly_over_http() {
    let config = RunsConfig {
        keep_finished: Duration::from_millis(300),
        ..RunsConfig::default()
    };
    let addr = serve(llm::app_with(
        Hub::new(),
        Duration::from_millis(1),
        config,
        llm::KEEP_ALIVE,
    ))
    .await;
    for unknown in ["0123456789abcdef", "0123456789abcdef0123456789abcdef"] {
        let unknown = request(addr, &format!("/v1/runs/{unknown}/events"), &[]).await;
        assert_eq!(unknown.inner.status(), 404);
        let body: serde_json::Value = serde_json::from_str(&unknown.text().await).unwrap();
        assert_eq!(body["error"]["code"], "unknown_run");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never existed, or it finished and expired"));
    }

    // A run read to its end.
    let (id, last) = {
        let body = serde_json::json!({"model": "sse-demo", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let (status, headers, text) = support::post(
            addr,
            "/v1/chat/completions",
            Some("application/json"),
            &body.to_string(),
        )
        .await;
        assert_eq!(status, 200);
        let id = headers["x-run-id"].to_str().unwrap().to_owned();
        assert!(text.contains("data: [DONE]"));
        // OpenAI's clients do not resume: their stream carries no ids, and
        // not the run's end.
        assert!(!text.contains("\nid: "), "{text}");
        assert!(!text.contains("run_end"), "{text}");
        // The run's own stream does; read it to its end.
        let run = support::get(addr, &format!("/v1/runs/{id}/events"), &[]).await;
        let bytes = run.text().await;
        assert!(
            bytes.contains("event: run_end\ndata: {\"state\":\"finished\"}\nid: "),
            "{bytes}"
        );
        let mut parser = sse_runtime::testing::Parser::new();
        parser.feed(bytes.as_bytes());
        parser.finish();
        let last = parser.last_event_id().to_owned();
        assert!(!last.is_empty());
        (id, last)
    };
    // Everything read: 204, so an EventSource stops reconnecting.
    let done = request(
        addr,
        &format!("/v1/runs/{id}/events"),
        &[("last-event-id", last.as_bytes())],
    )
    .await;
    assert_eq!(done.inner.status(), 204);
    // From the start: the whole answer again.
    let again = request(addr, &format!("/v1/runs/{id}/events"), &[]).await;
    assert_eq!(again.inner.status(), 200);
    assert!(again.text().await.contains("data: [DONE]"));
    // Expired.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expired = request(addr, &format!("/v1/runs/{id}/events"), &[]).await;
    assert_eq!(expired.inner.status(), 404);
    let (cancel_unknown, _, _) =
        support::post(addr, &format!("/v1/runs/{id}/cancel"), None, "").await;
    assert_eq!(cancel_unknown, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_runs_are_refused_with_a_clear_error() {
    let config = RunsConfig {
        max_running: 1,
        ..RunsConfig::default()
    };
    let runs = Runs::new(Hub::new(), config);
    runs.start(|_run| std::future::pending::<()>())
        .await
        .unwrap();
    let refused = runs.start(|_run| async {}).await.unwrap_err();
    assert!(refused.to_string().contains("max_running"), "{refused}");
}

/// Produced on one instance, attached to and cancelled from another.
async fn runs_attach_and_cancel_across_instances(store: Store) {
    let a = store.instance(RunsConfig::default()).await;
    let b = store.instance(RunsConfig::default()).await;
    let id = a
        .start(|run| async move {
            for n in 1..=5 {
                run.send(event!(data: n.to_string())).await.unwrap();
            }
        })
        .await
        .unwrap();
    until_state(&b, &id, RunState::Finished).await;
    let mut attached = b.attach(&id, None).await.unwrap();
    let items = read_to_end(&mut attached).await;
    assert_eq!(data_of(&items), ["1", "2", "3", "4", "5"]);
    assert_eq!(end_of(&items), Some(RunState::Finished));

    let (guard, dropped) = drop_flag();
    let run = a.start(endless(guard)).await.unwrap();
    assert_eq!(b.state(&run).await.unwrap(), Some(RunState::Running));
    let mut attached_here = a.attach(&run, None).await.unwrap();
    let started = Instant::now();
    b.cancel(&run).await.unwrap();
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    // At once: the producing instance reads the cancel's end mark.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        end_of(&read_to_end(&mut attached_here).await),
        Some(RunState::Cancelled)
    );
    assert_eq!(a.state(&run).await.unwrap(), Some(RunState::Cancelled));
    until_running(&a, 0).await;
}

/// A client that resumes a finished run with an id that is not before its
/// end (the id of a later event of another run, or one no hub issued) has
/// nothing left to get. It used to be subscribed after that id, where the
/// run's end mark never comes: the response stayed open forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_finished_run_from_beyond_its_end_does_not_hang() {
    let runs = Runs::new(Hub::new(), RunsConfig::default());
    let first = runs
        .start(|run| async move {
            run.send(event!(data: "only")).await.unwrap();
        })
        .await
        .unwrap();
    until_state(&runs, &first, RunState::Finished).await;
    let (sent, later) = tokio::sync::oneshot::channel();
    let second = runs
        .start(|run| async move {
            let id = run.send(event!(data: "other")).await.unwrap();
            let _ = sent.send(id.to_string());
        })
        .await
        .unwrap();
    let later = within(later).await.unwrap();
    until_state(&runs, &second, RunState::Finished).await;
    for last in [later.as_str(), "99999999999999-0"] {
        let attached = runs.attach(&first, last).await;
        assert!(
            matches!(attached, Err(RunError::Ended)),
            "{last:?}: {attached:?}"
        );
    }
    // An id no hub issued: `reset`, as the hub says it, then the end (with
    // the run's last id, so that the client's next attempt is `Ended`).
    let mut attached = runs.attach(&first, "not-an-id").await.unwrap();
    let items = read_to_end(&mut attached).await;
    let names: Vec<(String, String)> = received(&items)
        .into_iter()
        .map(|(name, data, _)| (name, data))
        .collect();
    assert_eq!(
        names,
        [
            ("reset".to_owned(), "\"not-an-id\"".to_owned()),
            ("run_end".to_owned(), r#"{"state":"finished"}"#.to_owned())
        ]
    );
    let mut parser = sse_runtime::testing::Parser::new();
    parser.feed(&wire(&items));
    parser.finish();
    let again = runs.attach(&first, parser.last_event_id()).await;
    assert!(matches!(again, Err(RunError::Ended)), "{again:?}");
}

/// An in-process transport whose publish takes a turn of the scheduler
/// before it stores the event, as every broker round trip does.
struct Yielding(sse_runtime::hub::LocalTransport);

impl sse_runtime::hub::Transport for Yielding {
    fn starts_after(&self) -> sse_runtime::hub::EventId {
        self.0.starts_after()
    }
    fn attach(&self, feed: sse_runtime::hub::LiveFeed) {
        self.0.attach(feed)
    }
    fn publish(
        &self,
        topic: Arc<str>,
        kind: sse_runtime::hub::EntryKind,
        frame: bytes::Bytes,
    ) -> sse_runtime::hub::BoxFuture<Result<sse_runtime::hub::EventId, sse_runtime::hub::HubError>>
    {
        let stored = self.0.publish(topic, kind, frame);
        Box::pin(async move {
            tokio::task::yield_now().await;
            stored.await
        })
    }
    fn history(
        &self,
        after: sse_runtime::hub::EventId,
        limit: usize,
    ) -> sse_runtime::hub::BoxFuture<Result<sse_runtime::hub::History, sse_runtime::hub::HubError>>
    {
        self.0.history(after, limit)
    }
}

/// `max_running` was checked before the run was recorded as running here,
/// with a broker round trip in between: starts that came together all
/// passed the check.
#[tokio::test]
async fn max_running_holds_for_starts_that_come_together() {
    let hub = Hub::with_transport(
        Yielding(sse_runtime::hub::LocalTransport::new()),
        HubConfig::default(),
    );
    let runs = Runs::new(
        hub,
        RunsConfig {
            max_running: 2,
            ..RunsConfig::default()
        },
    );
    let starts = (0..6).map(|_| runs.start(|_run| std::future::pending::<()>()));
    let results = within(futures_util::future::join_all(starts)).await;
    let started = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(started, 2, "{results:?}");
}

/// A producer may hand clones of its sender to tasks of its own. Once the
/// run has ended, what they send is after the end mark, where no attached
/// client reads: it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_kept_past_the_end_of_its_run_is_refused() {
    let runs = Runs::new(Hub::new(), RunsConfig::default());
    let (kept, sender) = tokio::sync::oneshot::channel();
    let id = runs
        .start(|run| async move {
            run.send(event!(data: "in time")).await.unwrap();
            let _ = kept.send(run.clone());
        })
        .await
        .unwrap();
    let sender = within(sender).await.unwrap();
    until_state(&runs, &id, RunState::Finished).await;
    let late = sender.send(event!(data: "too late")).await;
    assert!(matches!(late, Err(RunError::Ended)), "{late:?}");

    // And after a cancel, from a task the producer spawned.
    let (kept, sender) = tokio::sync::oneshot::channel();
    let cancelled = runs
        .start(|run| async move {
            let _ = kept.send(run.clone());
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    let sender = within(sender).await.unwrap();
    runs.cancel(&cancelled).await.unwrap();
    let late = sender.send(event!(data: "after cancel")).await;
    assert!(matches!(late, Err(RunError::Ended)), "{late:?}");
}

/// Dropping every `Runs` handle of an instance stops its producers (their
/// futures are dropped) and every task the runs started; their runs end
/// as failed, so that streams attached to them end, here and elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_runs_stops_its_producers_and_fails_their_runs() {
    let hub = Hub::new();
    let runs = Runs::new(hub.clone(), RunsConfig::default());
    let other_instance = Runs::new(hub, RunsConfig::default());
    let (guard, dropped) = drop_flag();
    let id = runs
        .start(|run| async move {
            let _guard = guard;
            run.send(event!(data: "sent")).await.unwrap();
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    let mut attached = other_instance.attach(&id, None).await.unwrap();
    assert_eq!(data_of(&[within(attached.next()).await.unwrap()]), ["sent"]);
    drop(runs);
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    assert_eq!(
        end_of(&read_to_end(&mut attached).await),
        Some(RunState::Failed)
    );
    until_state(&other_instance, &id, RunState::Failed).await;
}

/// A run longer than what the hub keeps: a client attaching from the start
/// after its first events were evicted used to get what was left, as if it
/// were the whole run. Resuming from an id that is gone says `reset`; the
/// start of a run is such a place too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaching_from_the_start_after_the_start_was_evicted_says_reset() {
    let hub = Hub::with_config(HubConfig {
        replay: 16,
        ..HubConfig::default()
    });
    let runs = Runs::new(hub, RunsConfig::default());
    let id = runs
        .start(|run| async move {
            for n in 1..=40 {
                run.send(event!(data: n.to_string())).await.unwrap();
            }
        })
        .await
        .unwrap();
    until_state(&runs, &id, RunState::Finished).await;
    let mut attached = runs.attach(&id, None).await.unwrap();
    let items = read_to_end(&mut attached).await;
    assert!(
        matches!(items.first(), Some(RunItem::Reset(_))),
        "a run without its start, and nothing said: {items:?}"
    );
    assert_eq!(end_of(&items), Some(RunState::Finished));
}

/// With Redis, an instance started after a run began holds none of the
/// run's early events in its own log. Attaching there from the start used
/// to read only that log: the run without its beginning, and nothing said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaching_from_the_start_on_an_instance_that_came_later_gets_the_whole_run() {
    let Some(store) = Store::redis() else {
        return;
    };
    let early = store.instance(RunsConfig::default()).await;
    let (go_on, proceed) = tokio::sync::oneshot::channel::<()>();
    let id = early
        .start(|run| async move {
            for n in 1..=3 {
                run.send(event!(data: n.to_string())).await.unwrap();
            }
            let _ = proceed.await;
            for n in 4..=5 {
                run.send(event!(data: n.to_string())).await.unwrap();
            }
        })
        .await
        .unwrap();
    let mut first_three = early.attach(&id, None).await.unwrap();
    for _ in 0..3 {
        within(first_three.next()).await.unwrap();
    }
    let late = store.instance(RunsConfig::default()).await;
    // It knows the run while it runs, from Redis.
    assert_eq!(late.state(&id).await.unwrap(), Some(RunState::Running));
    let mut attached = late.attach(&id, None).await.unwrap();
    go_on.send(()).unwrap();
    let items = read_to_end(&mut attached).await;
    assert_eq!(data_of(&items), ["1", "2", "3", "4", "5"]);
    assert_eq!(end_of(&items), Some(RunState::Finished));
}

/// A producer that panics fails its run, and frees its place under
/// `max_running`; so does a cancelled one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_cancelled_runs_free_their_place() {
    let runs = Runs::new(
        Hub::new(),
        RunsConfig {
            max_running: 1,
            ..RunsConfig::default()
        },
    );
    let failed = runs
        .start(|_run| async { panic!("a producer that panics (expected in this test)") })
        .await
        .unwrap();
    until_state(&runs, &failed, RunState::Failed).await;
    until_running(&runs, 0).await;
    let cancelled = runs
        .start(|_run| std::future::pending::<()>())
        .await
        .unwrap();
    runs.cancel(&cancelled).await.unwrap();
    assert_eq!(
        runs.state(&cancelled).await.unwrap(),
        Some(RunState::Cancelled)
    );
    until_running(&runs, 0).await;
    runs.start(|_run| async {}).await.unwrap();
}

/// What a producer sends is its events, whatever they look like: a comment
/// with the text of the old end mark, events named like the hub's notices
/// or like the run's end. It used to end every attached stream at that
/// comment (losing the rest), and to cut a replay short at an event named
/// `reset`. Both live and replayed after the run finished.
async fn a_producer_may_send_any_event_name_and_comment_text(store: Store) {
    let runs = store.instance(RunsConfig::default()).await;
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let id = runs
        .start(|run| async move {
            let _ = gate.await;
            run.send(sse_runtime::comment!("sse-runtime run ended"))
                .await
                .unwrap();
            run.send(event!(data: ": sse-runtime run ended"))
                .await
                .unwrap();
            for name in ["reset", "lagged", "run_end", "end"] {
                run.send(event!(data: format!("a {name}"), event: name))
                    .await
                    .unwrap();
            }
            run.send(event!(data: "last")).await.unwrap();
        })
        .await
        .unwrap();
    let mut live = runs.attach(&id, None).await.unwrap();
    go.send(()).unwrap();
    let expected = [
        ("message", ": sse-runtime run ended"),
        ("reset", "a reset"),
        ("lagged", "a lagged"),
        ("run_end", "a run_end"),
        ("end", "a end"),
        ("message", "last"),
    ];
    let check = |items: &[RunItem]| {
        assert_eq!(end_of(items), Some(RunState::Finished), "{items:?}");
        let events: Vec<RunItem> = items
            .iter()
            .filter(|item| matches!(item, RunItem::Event(_)))
            .cloned()
            .collect();
        // The comment is an event of the run too (a client sees none).
        assert_eq!(events.len(), 7, "{items:?}");
        assert!(events[0]
            .clone()
            .into_event()
            .unwrap()
            .as_bytes()
            .starts_with(b": sse-runtime run ended\n"));
        let got: Vec<(String, String)> = received(&events)
            .into_iter()
            .map(|(name, data, _)| (name, data))
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(name, data)| (name.to_string(), data.to_string()))
            .collect();
        assert_eq!(got, want);
    };
    check(&read_to_end(&mut live).await);
    until_state(&runs, &id, RunState::Finished).await;
    let mut replayed = runs.attach(&id, None).await.unwrap();
    check(&read_to_end(&mut replayed).await);
}

/// `max_events` counts the events stored. A send that failed (refused as
/// too large for the hub) used to use up a place.
fn small_events() -> HubConfig {
    HubConfig {
        replay_bytes: 4096,
        ..HubConfig::default()
    }
}

async fn failed_sends_do_not_use_up_max_events(store: Store) {
    let hub = store.hub(small_events()).await;
    let runs = Runs::new(
        hub,
        RunsConfig {
            max_events: 2,
            ..RunsConfig::default()
        },
    );
    let (done, results) = tokio::sync::oneshot::channel();
    runs.start(|run| async move {
        let mut results = Vec::new();
        for _ in 0..3 {
            results.push(run.send(event!(data: "x".repeat(8192))).await.map(|_| ()));
        }
        for n in 0..3 {
            results.push(run.send(event!(data: n.to_string())).await.map(|_| ()));
        }
        let _ = done.send(results);
    })
    .await
    .unwrap();
    let results = within(results).await.unwrap();
    let outcome: Vec<&str> = results
        .iter()
        .map(|result| match result {
            Ok(()) => "ok",
            Err(RunError::Hub(sse_runtime::hub::HubError::TooLarge { .. })) => "too large",
            Err(RunError::RunLogFull(2)) => "full",
            Err(other) => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        outcome,
        ["too large", "too large", "too large", "ok", "ok", "full"]
    );
}

/// Polls `future` `polls` times, letting the runtime run between polls,
/// then drops it: a caller that stops waiting at that await point. Returns
/// its output if it finished first.
async fn drop_after_polls<F: Future>(future: F, polls: usize) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    for _ in 0..polls {
        let polled = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        if let Poll::Ready(output) = polled {
            return Some(output);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

/// Drops `start`, `send` and `cancel` at each of their await points (polled
/// 0, 1, 2, .. times, with the broker slowed on Redis so that each poll
/// finds it waiting), and checks that nothing leaks: every producer future
/// is dropped or run, every run ends, and every place under `max_running`
/// is given back.
async fn dropped_futures_leave_no_run_running_and_no_place_taken(store: Store) {
    let runs = store
        .instance(RunsConfig {
            max_running: 2,
            ..RunsConfig::default()
        })
        .await;
    let pause = |ms: u64| {
        if let Some(server) = store.redis_server() {
            server.command(&format!("CLIENT PAUSE {ms} WRITE"));
        }
    };
    for polls in 0..6 {
        // `start`, dropped: the run never runs for ever.
        let (guard, dropped) = drop_flag();
        pause(30);
        let started = drop_after_polls(runs.start(endless(guard)), polls).await;
        match started {
            // It finished: a run like any other, cancelled here.
            Some(Ok(id)) => runs.cancel(&id).await.unwrap(),
            Some(Err(error)) => panic!("{error}"),
            None => {}
        }
        support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
        until_running(&runs, 0).await;

        // `cancel`, dropped: the run is cancelled, or still runs and can
        // be; never cancelled with its producer still going.
        let (guard, dropped) = drop_flag();
        let id = runs.start(endless(guard)).await.unwrap();
        pause(30);
        let cancelled = drop_after_polls(runs.cancel(&id), polls).await;
        if let Some(result) = cancelled {
            result.unwrap();
        }
        within(async {
            loop {
                let state = runs.state(&id).await.ok().flatten();
                let dropped = dropped.load(Ordering::SeqCst);
                match state {
                    Some(RunState::Running) if !dropped => break,
                    Some(RunState::Cancelled) if dropped => break,
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        })
        .await;
        runs.cancel(&id).await.unwrap();
        assert_eq!(runs.state(&id).await.unwrap(), Some(RunState::Cancelled));
        support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
        until_running(&runs, 0).await;

        // `send`, dropped by the producer: the run goes on and ends, and
        // its stream with it.
        let (go, gate) = tokio::sync::oneshot::channel::<()>();
        let id = runs
            .start(move |run| async move {
                let _ = gate.await;
                let _ = drop_after_polls(run.send(event!(data: "maybe")), polls).await;
                run.send(event!(data: "surely")).await.unwrap();
            })
            .await
            .unwrap();
        let mut attached = runs.attach(&id, None).await.unwrap();
        pause(30);
        go.send(()).unwrap();
        let items = read_to_end(&mut attached).await;
        assert_eq!(end_of(&items), Some(RunState::Finished), "{items:?}");
        assert_eq!(data_of(&items).last().map(String::as_str), Some("surely"));
        until_running(&runs, 0).await;
    }
    // Every place is free.
    let (first, _) = drop_flag();
    let (second, _) = drop_flag();
    runs.start(endless(first)).await.unwrap();
    runs.start(endless(second)).await.unwrap();
    if let Some(server) = store.redis_server() {
        // Nothing left running in Redis but those two.
        let keys = server.command("KEYS {runs}:run:*");
        let running = keys
            .lines()
            .filter(|line| line.starts_with("{runs}:run:"))
            .filter(|key| {
                server
                    .command(&format!("HGET {key} state"))
                    .contains("running")
            })
            .count();
        assert_eq!(running, 2, "{keys}");
    }
}

/// Starts dropped while Redis is paused used to leave `running` entries
/// with no producer, each holding a place under `max_running` for ever:
/// three of them, and every later start failed with `TooManyRuns`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_dropped_while_redis_is_paused_free_their_places() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store
        .instance(RunsConfig {
            max_running: 3,
            ..RunsConfig::default()
        })
        .await;
    server.command("CLIENT PAUSE 1500 WRITE");
    for _ in 0..3 {
        let (guard, _) = drop_flag();
        let start = tokio::time::timeout(Duration::from_millis(100), runs.start(endless(guard)));
        assert!(start.await.is_err(), "the start waits on the paused Redis");
    }
    server.command("CLIENT UNPAUSE");
    until_running(&runs, 0).await;
    for _ in 0..3 {
        let (guard, _) = drop_flag();
        runs.start(endless(guard)).await.unwrap();
    }
}

/// A cancel stored by another instance is applied by the producing one,
/// however busy its hub: here its watch on the run falls behind a flood
/// on the run's topic and misses the end mark, and its next lease renewal
/// finds the run cancelled. (The control topic it used to travel on was
/// trimmed under such a flood, and the cancel was lost.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_is_applied_however_busy_the_hub() {
    let Some(store) = Store::redis() else {
        return;
    };
    let config = RunsConfig {
        lease: Duration::from_secs(2),
        ..RunsConfig::default()
    };
    let small = HubConfig {
        replay: 8,
        ..HubConfig::default()
    };
    let a = Runs::new(store.hub(small).await, config);
    let b = store.instance(config).await;
    let flood = store.hub(small).await;
    let (guard, dropped) = drop_flag();
    let id = a.start(endless(guard)).await.unwrap();
    let topic = format!("sse-runtime:run:{id}");
    let flooding = tokio::spawn(async move {
        for n in 0..4000 {
            let _ = flood.publish(&topic, event!(data: n.to_string())).await;
        }
    });
    b.cancel(&id).await.unwrap();
    let cancelled = Instant::now();
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    assert!(
        cancelled.elapsed() < config.lease,
        "{:?}",
        cancelled.elapsed()
    );
    flooding.abort();
    until_running(&a, 0).await;
}

/// With Redis, an instance started during a run knows it, from Redis: it
/// used to learn of runs only from the control events its own log
/// received, so it did not know one until it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_during_a_run_knows_the_run() {
    let Some(store) = Store::redis() else {
        return;
    };
    let early = store.instance(RunsConfig::default()).await;
    let id = early
        .start(|run| async move {
            run.send(event!(data: "one")).await.unwrap();
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    let late = store.instance(RunsConfig::default()).await;
    assert_eq!(late.state(&id).await.unwrap(), Some(RunState::Running));
    let mut attached = late.attach(&id, None).await.unwrap();
    assert_eq!(data_of(&[within(attached.next()).await.unwrap()]), ["one"]);
    late.cancel(&id).await.unwrap();
    assert_eq!(
        end_of(&read_to_end(&mut attached).await),
        Some(RunState::Cancelled)
    );
}

/// A run that ends, or is cancelled, while Redis is down: its end is
/// stored once Redis is back (retried until it is), and the streams
/// attached to it, on every instance, end then. It used to be published
/// once and lost: the streams stayed open, and the other instance said
/// `running` for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_end_while_redis_is_down_end_their_streams_once_it_is_back() {
    let Some(mut server) = RedisServer::start_persistent() else {
        return;
    };
    let url = server.url();
    let a = Runs::new(
        redis_hub(&url, HubConfig::default()).await,
        RunsConfig::default(),
    );
    let b = Runs::new(
        redis_hub(&url, HubConfig::default()).await,
        RunsConfig::default(),
    );
    let (finish, finishing) = tokio::sync::oneshot::channel::<()>();
    let finished = a
        .start(|run| async move {
            run.send(event!(data: "before")).await.unwrap();
            let _ = finishing.await;
        })
        .await
        .unwrap();
    let (guard, dropped) = drop_flag();
    let cancelled = a.start(endless(guard)).await.unwrap();
    let mut streams = Vec::new();
    for runs in [&a, &b] {
        for id in [&finished, &cancelled] {
            let mut attached = runs.attach(id, None).await.unwrap();
            if id == &finished {
                assert_eq!(
                    data_of(&[within(attached.next()).await.unwrap()]),
                    ["before"]
                );
            }
            streams.push((id.clone(), attached));
        }
    }
    server.stop();
    finish.send(()).unwrap();
    // The producing instance cancels its own run while Redis is down: the
    // producer stops at once; the end is stored later.
    a.cancel(&cancelled).await.unwrap();
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();
    for (id, mut attached) in streams {
        let expected = if id == finished {
            RunState::Finished
        } else {
            RunState::Cancelled
        };
        let items = read_to_end(&mut attached).await;
        assert_eq!(end_of(&items), Some(expected), "{items:?}");
    }
    until_state(&b, &finished, RunState::Finished).await;
    until_state(&b, &cancelled, RunState::Cancelled).await;
    until_running(&a, 0).await;
}

/// A run produced by a server process that is killed (SIGKILL): no one
/// ends it. Within its lease, an instance with a stream attached to it
/// marks it failed; the stream ends saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_instance_was_killed_is_failed_within_its_lease() {
    let Some(store) = Store::redis() else {
        return;
    };
    let url = store.redis_server().unwrap().url();
    let lease = Duration::from_secs(2);
    let mut producer = RunProcess::start(&url, lease);
    let survivor = Runs::new(
        redis_hub(&url, HubConfig::default()).await,
        RunsConfig {
            lease,
            ..RunsConfig::default()
        },
    );
    assert_eq!(
        survivor.state(&producer.run).await.unwrap(),
        Some(RunState::Running)
    );
    let mut attached = survivor.attach(&producer.run, None).await.unwrap();
    assert_eq!(
        data_of(&[within(attached.next()).await.unwrap()]),
        ["alive"]
    );
    producer.kill();
    let killed = Instant::now();
    let items = read_to_end(&mut attached).await;
    assert_eq!(end_of(&items), Some(RunState::Failed), "{items:?}");
    assert!(
        killed.elapsed() <= lease + Duration::from_millis(500),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(
        survivor.state(&producer.run).await.unwrap(),
        Some(RunState::Failed)
    );
}

/// A server process holding one run: this test binary, run with
/// `RUN_CHILD_REDIS` set, running only [`run_child_process`].
struct RunProcess {
    run: String,
    child: std::process::Child,
}

impl RunProcess {
    fn start(redis_url: &str, lease: Duration) -> RunProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "run_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RUN_CHILD_REDIS", redis_url)
            .env("RUN_CHILD_LEASE_MS", lease.as_millis().to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a run process");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let run = loop {
            let line = lines
                .next()
                .expect("the run process prints its run")
                .unwrap();
            if let Some((_, run)) = line.split_once("RUN STARTED ") {
                break run.trim().to_owned();
            }
        };
        RunProcess { run, child }
    }

    /// SIGKILL: the process ends at once, ending nothing.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RunProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The child side of [`RunProcess`]: does nothing unless started by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_child_process() {
    let Ok(url) = std::env::var("RUN_CHILD_REDIS") else {
        return;
    };
    let lease: u64 = std::env::var("RUN_CHILD_LEASE_MS")
        .unwrap()
        .parse()
        .unwrap();
    let runs = Runs::new(
        redis_hub(&url, HubConfig::default()).await,
        RunsConfig {
            lease: Duration::from_millis(lease),
            ..RunsConfig::default()
        },
    );
    let run = runs
        .start(|run| async move {
            run.send(event!(data: "alive")).await.unwrap();
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    println!("RUN STARTED {run}");
    std::future::pending::<()>().await;
}

/// Dropping the runs and their hub stops every task they started (the
/// producers, their supervisors, the Redis reader) and closes their
/// connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_runs_and_their_hub_stops_their_tasks_and_closes_their_connections() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let clients = || server.info("connected_clients");
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let (clients_before, tasks_before) = (clients(), tasks());
    let config = RunsConfig {
        lease: Duration::from_millis(400),
        ..RunsConfig::default()
    };
    let runs = store.instance(config).await;
    let (guard, dropped) = drop_flag();
    let id = runs.start(endless(guard)).await.unwrap();
    let finished = runs
        .start(|run| async move {
            run.send(event!(data: "x")).await.unwrap();
        })
        .await
        .unwrap();
    until_state(&runs, &finished, RunState::Finished).await;
    {
        let mut attached = runs.attach(&id, None).await.unwrap();
        // Long enough for the lease to be renewed and the watchdog to check.
        let _ = tokio::time::timeout(Duration::from_millis(600), attached.next()).await;
    }
    assert!(clients() > clients_before);
    drop(runs);
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    within(async {
        while clients() != clients_before || tasks() != tasks_before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Its run was ended as the instance stopped.
    let other = store.instance(config).await;
    assert_eq!(other.state(&id).await.unwrap(), Some(RunState::Failed));
}

// ---------------------------------------------------------------------------
// Adversarial review of the control plane (issue 18): each test below failed
// on the code as reviewed, or holds an attack that did not break it.
// ---------------------------------------------------------------------------

/// A run's supervisor stopped without storing its end (its runtime shut
/// down under it): the run used to stay `running` in the registry for ever,
/// with no producer, and a stream attached to it never ended.
#[test]
fn a_run_whose_runtime_shut_down_under_it_is_failed() {
    let hub = Hub::new();
    let runs = Runs::new(hub, RunsConfig::default());
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (guard, dropped) = drop_flag();
    let id = first.block_on(runs.start(endless(guard))).unwrap();
    drop(first);
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(runs.running(), 0);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        assert_eq!(runs.state(&id).await.unwrap(), Some(RunState::Failed));
        let mut attached = runs.attach(&id, None).await.unwrap();
        assert_eq!(
            end_of(&read_to_end(&mut attached).await),
            Some(RunState::Failed)
        );
    });
}

/// The last `Runs` of a Redis hub dropped outside any runtime (after
/// `block_on` returned) used to panic: storing its runs' ends made a tokio
/// timer there.
#[test]
fn dropping_runs_outside_a_runtime_does_not_panic() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (runs, id) = runtime.block_on(async {
        let runs = Runs::new(
            redis_hub(&server.url(), HubConfig::default()).await,
            RunsConfig::default(),
        );
        let (guard, _) = drop_flag();
        let id = runs.start(endless(guard)).await.unwrap();
        (runs, id)
    });
    drop(runs);
    runtime.block_on(async {
        let other = Runs::new(
            redis_hub(&server.url(), HubConfig::default()).await,
            RunsConfig {
                lease: Duration::from_millis(400),
                ..RunsConfig::default()
            },
        );
        // Ended at once where it could be; else failed within its lease.
        let _ = other.state(&id).await.unwrap();
    });
}

/// A run whose stored state is a name this version does not know (a newer
/// version wrote it): its producer's end used to be retried for ever
/// (every reply read as malformed), holding its place under
/// `max_running` for as long as the instance lived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_a_state_this_version_does_not_know_frees_its_place() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store
        .instance(RunsConfig {
            max_running: 1,
            ..RunsConfig::default()
        })
        .await;
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let id = runs
        .start(|_run| async move {
            let _ = gate.await;
        })
        .await
        .unwrap();
    server.command(&format!("HSET {{runs}}:run:{id} state paused-by-v2"));
    go.send(()).unwrap();
    until_running(&runs, 0).await;
    // It reads as over (as an end mark of an unknown state does).
    assert_eq!(runs.state(&id).await.unwrap(), Some(RunState::Failed));
    runs.start(|_run| async {}).await.unwrap();
}

/// An end mark for a running run that its state does not back (written by
/// someone else into the stream): the producing instance used to take it
/// for the run's end, drop the producer and give back its place, while
/// the run stayed `running` with no one producing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_mark_the_state_does_not_back_leaves_the_run_running() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store.instance(RunsConfig::default()).await;
    let (guard, dropped) = drop_flag();
    let id = runs.start(endless(guard)).await.unwrap();
    server.command(&format!(
        "XADD {{runs}}:events * t sse-runtime:run:{id} k run-end d garbage"
    ));
    // Its supervisor reads the mark at once; give it ample time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!dropped.load(Ordering::SeqCst), "the producer was dropped");
    assert_eq!(runs.running(), 1);
    assert_eq!(runs.state(&id).await.unwrap(), Some(RunState::Running));
    runs.cancel(&id).await.unwrap();
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
}

/// A stream attached to a run, kept open past the run's end and past
/// `keep_finished` (a stalled client's response holds it): the watchdog
/// used to go on checking the run, find its record expired, and record it
/// again as failed, with a second end mark, every `keep_finished`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_kept_past_its_runs_end_never_changes_how_the_run_ended() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store
        .instance(RunsConfig {
            lease: Duration::from_millis(200),
            keep_finished: Duration::from_millis(300),
            ..RunsConfig::default()
        })
        .await;
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let id = runs
        .start(|_run| async move {
            let _ = gate.await;
        })
        .await
        .unwrap();
    let attached = runs.attach(&id, None).await.unwrap();
    go.send(()).unwrap();
    until_state(&runs, &id, RunState::Finished).await;
    // Expired, and many watchdog checks later, still expired.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(runs.state(&id).await.unwrap(), None);
    let marks = server.command("XRANGE {runs}:events - +");
    assert_eq!(marks.matches("run-end").count(), 1, "{marks}");
    drop(attached);
}

/// Sends racing a cancel, from tasks of the producer's: each is refused
/// (`Ended`) or arrives before the end, never after it (where no attached
/// client reads). Held, in process and on Redis.
async fn sends_racing_a_cancel_are_refused_or_arrive_before_the_end(store: Store) {
    // Room for every event, so that the stream never lags.
    let config = HubConfig {
        replay: 4096,
        ..HubConfig::default()
    };
    let runs = Runs::new(store.hub(config).await, RunsConfig::default());
    let b = Runs::new(store.hub(config).await, RunsConfig::default());
    for round in 0..5 {
        let (tell, told) = tokio::sync::mpsc::unbounded_channel();
        let id = runs
            .start(move |run| async move {
                for task in 0..4 {
                    let run = run.clone();
                    let tell = tell.clone();
                    tokio::spawn(async move {
                        for n in 0..500 {
                            let data = format!("{task}-{n}");
                            match run.send(event!(data: data.clone())).await {
                                Ok(_) => {
                                    let _ = tell.send(data);
                                }
                                Err(RunError::Ended) => return,
                                Err(other) => panic!("{other}"),
                            }
                            tokio::task::yield_now().await;
                        }
                    });
                }
                std::future::pending::<()>().await;
            })
            .await
            .unwrap();
        let mut attached = b.attach(&id, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5 * round)).await;
        b.cancel(&id).await.unwrap();
        let items = read_to_end(&mut attached).await;
        assert_eq!(end_of(&items), Some(RunState::Cancelled));
        let got: std::collections::HashSet<String> = data_of(&items).into_iter().collect();
        let mut told = told;
        // Every task has stopped once the run's place is free.
        until_running(&runs, 0).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        while let Ok(sent) = told.try_recv() {
            assert!(got.contains(&sent), "{sent} was stored after the end");
        }
    }
}

/// The closure given to `start` panics before its future exists: the panic
/// is the caller's, and nothing is left taken. Held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_closure_that_panics_takes_no_place() {
    use futures_util::FutureExt;
    let runs = Runs::new(
        Hub::new(),
        RunsConfig {
            max_running: 1,
            ..RunsConfig::default()
        },
    );
    let started = std::panic::AssertUnwindSafe(runs.start(|_run| -> std::future::Ready<()> {
        panic!("a closure that panics (expected in this test)")
    }))
    .catch_unwind()
    .await;
    assert!(started.is_err());
    assert_eq!(runs.running(), 0);
    runs.start(|_run| async {}).await.unwrap();
}

/// Producers that start, attach to and cancel runs of their own, on the
/// same `Runs`. Held, in process and on Redis.
async fn producers_may_start_attach_and_cancel_runs(store: Store) {
    let runs = store.instance(RunsConfig::default()).await;
    let inner_runs = runs.clone();
    let id = runs
        .start(move |run| async move {
            let (guard, dropped) = drop_flag();
            let child = inner_runs.start(endless(guard)).await.unwrap();
            let mut attached = inner_runs.attach(&child, None).await.unwrap();
            inner_runs.cancel(&child).await.unwrap();
            let mut ended = None;
            while let Some(item) = attached.next().await {
                if let RunItem::End(end) = item {
                    ended = Some(end.state());
                }
            }
            assert_eq!(ended, Some(RunState::Cancelled));
            support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
            run.send(event!(data: "child cancelled")).await.unwrap();
            // And itself.
            inner_runs.cancel(run.id()).await.unwrap();
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).await.unwrap();
    let items = read_to_end(&mut attached).await;
    assert_eq!(data_of(&items), ["child cancelled"]);
    assert_eq!(end_of(&items), Some(RunState::Cancelled));
    until_running(&runs, 0).await;
}

/// A lease of zero is a configuration mistake: it used to renew every run
/// at every tick of the timer (about 900 scripts a second for one run),
/// and any read of the run failed it (its lease was 1 ms). It is taken as
/// the shortest lease, `MIN_LEASE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_lease_does_not_spin() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store
        .instance(RunsConfig {
            lease: Duration::ZERO,
            ..RunsConfig::default()
        })
        .await;
    let (guard, _) = drop_flag();
    let id = runs.start(endless(guard)).await.unwrap();
    let scripts = || {
        let stats = server.command("INFO commandstats");
        stats
            .lines()
            .filter_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
            .filter_map(|rest| rest.split(',').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    let before = scripts();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = scripts() - before;
    // Every quarter of `MIN_LEASE`: 20.
    assert!(calls < 100, "{calls} scripts in 500 ms");
    assert_eq!(runs.state(&id).await.unwrap(), Some(RunState::Running));
}

/// A lease too long to compute with used to panic the run's supervisor:
/// `start` failed with "the run's supervising task stopped".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_lease_or_keep_finished_is_no_panic() {
    let Some(store) = Store::redis() else {
        return;
    };
    for config in [
        RunsConfig {
            lease: Duration::MAX,
            ..RunsConfig::default()
        },
        RunsConfig {
            keep_finished: Duration::MAX,
            ..RunsConfig::default()
        },
    ] {
        let runs = store.instance(config).await;
        let id = runs
            .start(|run| async move {
                run.send(event!(data: "x")).await.unwrap();
            })
            .await
            .unwrap();
        let mut attached = runs.attach(&id, None).await.unwrap();
        assert_eq!(
            end_of(&read_to_end(&mut attached).await),
            Some(RunState::Finished)
        );
    }
}

/// Redis loses everything mid-run (`FLUSHALL`): the producer's run is
/// failed, its producer stopped, its streams ended. Held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushall_mid_run_fails_the_run_and_ends_its_streams() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let config = RunsConfig {
        lease: Duration::from_millis(400),
        ..RunsConfig::default()
    };
    let runs = store.instance(config).await;
    let other = store.instance(config).await;
    let (guard, dropped) = drop_flag();
    let id = runs.start(endless(guard)).await.unwrap();
    let mut here = runs.attach(&id, None).await.unwrap();
    let mut there = other.attach(&id, None).await.unwrap();
    server.command("FLUSHALL");
    for attached in [&mut here, &mut there] {
        let items = read_to_end(attached).await;
        assert_eq!(end_of(&items), Some(RunState::Failed), "{items:?}");
    }
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    until_running(&runs, 0).await;
}

/// A run hash written by hand with an `events` count Lua reads as a
/// number but Redis cannot count on (`1.5`): the send script used to store
/// the event, then fail, so the producer was told `Broker` (not stored)
/// for an event every client received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_refused_for_a_bad_stored_count_stored_nothing() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store.instance(RunsConfig::default()).await;
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let (done, result) = tokio::sync::oneshot::channel();
    let id = runs
        .start(|run| async move {
            let _ = gate.await;
            let _ = done.send(run.send(event!(data: "counted?")).await);
        })
        .await
        .unwrap();
    server.command(&format!("HSET {{runs}}:run:{id} events 1.5"));
    go.send(()).unwrap();
    let result = within(result).await.unwrap();
    let stored = server
        .command("XRANGE {runs}:events - +")
        .contains("counted?");
    assert_eq!(result.is_ok(), stored, "{result:?}, stored: {stored}");
}

/// Redis paused (writes) for longer than the lease, under a healthy run
/// with a stream attached on another instance: whichever script Redis
/// runs first once it resumes decides, the producer's renewal (the run
/// goes on) or the other instance's check (the run is failed; what this
/// test saw every time). Either way the outcome is whole: a failed run has
/// its producer stopped, its place given back and its streams ended; a
/// running one has its producer and its streams. Held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_outlived_by_a_pause_fails_the_run_whole_or_not_at_all() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let config = RunsConfig {
        lease: Duration::from_millis(400),
        ..RunsConfig::default()
    };
    let a = store.instance(config).await;
    let b = store.instance(config).await;
    let (guard, dropped) = drop_flag();
    let id = a
        .start(move |run| async move {
            let _guard = guard;
            for n in 0.. {
                let _ = run.send(event!(data: n.to_string())).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap();
    let mut attached = b.attach(&id, None).await.unwrap();
    within(attached.next()).await.unwrap();
    server.command("CLIENT PAUSE 1200 WRITE");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let state = b.state(&id).await.unwrap();
    match state {
        Some(RunState::Failed) => {
            support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
            until_running(&a, 0).await;
            let items = read_to_end(&mut attached).await;
            assert_eq!(end_of(&items), Some(RunState::Failed));
        }
        Some(RunState::Running) => {
            // Still produced: its events still come, and a cancel ends it.
            within(attached.next()).await.unwrap();
            assert_eq!(a.running(), 1);
            b.cancel(&id).await.unwrap();
            support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
        }
        other => panic!("{other:?}"),
    }
}

/// Redis killed and restarted without its data mid-run: the run's record
/// and its stream are gone. The producer's next renewal fails the run (it
/// can no longer be followed); its producer stops, its streams on both
/// instances end. Held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_without_its_data_fails_the_run_and_ends_its_streams() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    let config = RunsConfig {
        lease: Duration::from_millis(400),
        ..RunsConfig::default()
    };
    let a = Runs::new(redis_hub(&url, HubConfig::default()).await, config);
    let b = Runs::new(redis_hub(&url, HubConfig::default()).await, config);
    let (guard, dropped) = drop_flag();
    let id = a.start(endless(guard)).await.unwrap();
    let mut here = a.attach(&id, None).await.unwrap();
    let mut there = b.attach(&id, None).await.unwrap();
    server.restart();
    for attached in [&mut here, &mut there] {
        let items = read_to_end(attached).await;
        assert_eq!(end_of(&items), Some(RunState::Failed), "{items:?}");
    }
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    until_running(&a, 0).await;
    assert_eq!(b.state(&id).await.unwrap(), Some(RunState::Failed));
}

/// The multiplexed connection killed (`CLIENT KILL`) and the scripts
/// flushed (`SCRIPT FLUSH`) again and again while a run sends: the run
/// goes on (a send may fail as unconfirmed, never be stored twice or out
/// of order) and its end reaches its stream. Held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_and_flushed_scripts_mid_run_lose_no_end() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store.instance(RunsConfig::default()).await;
    let (done, result) = tokio::sync::oneshot::channel();
    let id = runs
        .start(|run| async move {
            let mut stored = Vec::new();
            for n in 0..200 {
                if run.send(event!(data: n.to_string())).await.is_ok() {
                    stored.push(n.to_string());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let _ = done.send(stored);
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).await.unwrap();
    let reading = tokio::spawn(async move { read_to_end(&mut attached).await });
    for round in 0..10 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        if round % 2 == 0 {
            server.command("SCRIPT FLUSH");
        } else {
            for client in server.command("CLIENT LIST").lines() {
                if client.contains("cmd=evalsha") || client.contains("cmd=eval ") {
                    if let Some(id) = client
                        .split_whitespace()
                        .find_map(|field| field.strip_prefix("id="))
                    {
                        server.command(&format!("CLIENT KILL ID {id}"));
                    }
                }
            }
        }
    }
    let stored = within(result).await.unwrap();
    let items = within(reading).await.unwrap();
    assert_eq!(end_of(&items), Some(RunState::Finished), "{items:?}");
    let got = data_of(&items);
    // Every send confirmed is there, once, in order; one unconfirmed may
    // be there too.
    let mut confirmed = stored.iter().peekable();
    for data in &got {
        if confirmed.peek() == Some(&data) {
            confirmed.next();
        }
    }
    assert!(confirmed.next().is_none(), "{stored:?} vs {got:?}");
    let mut sorted = got.clone();
    sorted.sort_by_key(|n| n.parse::<u32>().unwrap());
    sorted.dedup();
    assert_eq!(sorted, got);
}

/// A run with far more events than the hub keeps: attached from the start
/// it says `reset` then ends; resumed from an id the hub still holds it
/// gets exactly the rest, then the end; a stream too slow for it is told
/// it lagged. Held, in process and on Redis.
async fn a_run_longer_than_the_hub_keeps(store: Store) {
    let config = HubConfig {
        replay: 64,
        ..HubConfig::default()
    };
    let runs = Runs::new(store.hub(config).await, RunsConfig::default());
    let (ids, all) = tokio::sync::oneshot::channel();
    let mut slow = None;
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let id = runs
        .start(|run| async move {
            let _ = gate.await;
            let mut sent = Vec::new();
            for n in 0..2000 {
                sent.push(run.send(event!(data: n.to_string())).await.unwrap());
            }
            let _ = ids.send(sent);
        })
        .await
        .unwrap();
    slow.replace(runs.attach(&id, None).await.unwrap());
    go.send(()).unwrap();
    let sent = within(all).await.unwrap();
    until_state(&runs, &id, RunState::Finished).await;
    // Slow: fell behind while the run sent.
    let items = read_to_end(slow.as_mut().unwrap()).await;
    assert!(
        items.iter().any(|item| matches!(item, RunItem::Lagged(_))),
        "{items:?}"
    );
    // From the start.
    let mut from_start = runs.attach(&id, None).await.unwrap();
    let items = read_to_end(&mut from_start).await;
    assert!(
        matches!(items.first(), Some(RunItem::Reset(_))),
        "{items:?}"
    );
    assert_eq!(end_of(&items), Some(RunState::Finished));
    // From near the end.
    let resume_after = sent[1990].to_string();
    let mut resumed = runs.attach(&id, resume_after.as_str()).await.unwrap();
    let items = read_to_end(&mut resumed).await;
    let want: Vec<String> = (1991..2000).map(|n| n.to_string()).collect();
    assert_eq!(data_of(&items), want);
    assert_eq!(end_of(&items), Some(RunState::Finished));
}

/// Many runs, each attached to and ended (finished, cancelled, failed):
/// afterwards no task, subscription or connection of theirs is left.
/// Held, in process and on Redis.
async fn many_runs_leave_nothing_behind(store: Store) {
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let runs = store
        .instance(RunsConfig {
            lease: Duration::from_millis(400),
            ..RunsConfig::default()
        })
        .await;
    // The hub's and the watchdog's own tasks, started once.
    let warm = runs.start(|_run| async {}).await.unwrap();
    drop(runs.attach(&warm, None).await);
    let (guard, _) = drop_flag();
    let warm = runs.start(endless(guard)).await.unwrap();
    drop(runs.attach(&warm, None).await.unwrap());
    runs.cancel(&warm).await.unwrap();
    until_running(&runs, 0).await;
    let before = tasks();
    for n in 0..150 {
        let id = runs
            .start(move |run| async move {
                run.send(event!(data: "x")).await.unwrap();
                match n % 3 {
                    0 => {}
                    1 => std::future::pending::<()>().await,
                    _ => panic!("a producer that panics (expected in this test)"),
                }
            })
            .await
            .unwrap();
        let mut attached = runs.attach(&id, None).await.unwrap();
        if n % 3 == 1 {
            within(attached.next()).await.unwrap();
            runs.cancel(&id).await.unwrap();
        }
        let items = read_to_end(&mut attached).await;
        assert!(end_of(&items).is_some(), "{items:?}");
    }
    until_running(&runs, 0).await;
    support::wait_while(|| tasks() > before).await;
}

/// Runs on a current-thread runtime, with a producer that blocks its
/// thread briefly in `block_in_place` on a multi-thread one. Held.
#[tokio::test]
async fn runs_work_on_a_current_thread_runtime() {
    for store in [Store::local(), Store::redis().unwrap_or_else(Store::local)] {
        let runs = store.instance(RunsConfig::default()).await;
        let id = runs
            .start(|run| async move {
                run.send(event!(data: "one")).await.unwrap();
            })
            .await
            .unwrap();
        let mut attached = runs.attach(&id, None).await.unwrap();
        let items = read_to_end(&mut attached).await;
        assert_eq!(data_of(&items), ["one"]);
        let (guard, dropped) = drop_flag();
        let id = runs.start(endless(guard)).await.unwrap();
        runs.cancel(&id).await.unwrap();
        support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_may_block_in_place() {
    let runs = Runs::new(Hub::new(), RunsConfig::default());
    let id = runs
        .start(|run| async move {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(run.send(event!(data: "blocked")))
                    .unwrap();
            });
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).await.unwrap();
    let items = read_to_end(&mut attached).await;
    assert_eq!(data_of(&items), ["blocked"]);
    assert_eq!(end_of(&items), Some(RunState::Finished));
}

/// Ids a client may send as `Last-Event-ID`, and run ids of every wrong
/// shape: clear answers, never a panic or a stream that hangs. Held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_ids_get_clear_answers() {
    for store in [Store::local(), Store::redis().unwrap_or_else(Store::local)] {
        let runs = store.instance(RunsConfig::default()).await;
        for run in [
            "",
            "x",
            &"a".repeat(31),
            &"a".repeat(33),
            &"g".repeat(32),
            &"A".repeat(32),
            &"0".repeat(100_000),
            "../../etc/passwd",
        ] {
            assert!(matches!(
                runs.attach(run, None).await,
                Err(RunError::UnknownRun(_))
            ));
            assert_eq!(runs.state(run).await.unwrap(), None);
            assert!(matches!(
                runs.cancel(run).await,
                Err(RunError::UnknownRun(_))
            ));
        }
        let (go, gate) = tokio::sync::oneshot::channel::<()>();
        let id = runs
            .start(|run| async move {
                run.send(event!(data: "one")).await.unwrap();
                let _ = gate.await;
            })
            .await
            .unwrap();
        let huge = "9".repeat(100_000);
        let lasts = [
            "",
            "-",
            "0-0",
            "1-0",
            "18446744073709551615-18446744073709551615",
            "18446744073709551616-0",
            "99999999999999999999999-0",
            huge.as_str(),
            "1-0\nevent: forged",
        ];
        let mut streams = Vec::new();
        for last in lasts {
            streams.push((last, runs.attach(&id, last).await.unwrap()));
        }
        go.send(()).unwrap();
        for (last, mut attached) in streams {
            let items = read_to_end(&mut attached).await;
            assert_eq!(end_of(&items), Some(RunState::Finished), "{last:?}");
            let names: Vec<String> = received(&items)
                .into_iter()
                .map(|(name, _, _)| name)
                .collect();
            assert!(!names.contains(&"forged".to_owned()), "{last:?}");
        }
    }
}

/// The watchdog's task was started by the first stream attached, on that
/// stream's runtime; when that runtime shut down (a request served on a
/// runtime of its own, a test's), the task went with it and was never
/// started again: no stream of the instance was checked any more, and a
/// run whose producer died never ended for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_outlives_the_runtime_that_started_it() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    // The producing instance renews rarely; the watching one checks often.
    let producer = store
        .instance(RunsConfig {
            lease: Duration::from_secs(60),
            ..RunsConfig::default()
        })
        .await;
    let watcher = store
        .instance(RunsConfig {
            lease: Duration::from_millis(400),
            ..RunsConfig::default()
        })
        .await;
    let (guard, dropped) = drop_flag();
    let id = producer.start(endless(guard)).await.unwrap();
    let elsewhere = watcher.clone();
    let run = id.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            drop(elsewhere.attach(&run, None).await.unwrap());
        });
    })
    .join()
    .unwrap();
    let mut attached = watcher.attach(&id, None).await.unwrap();
    // The producer's lease runs out (as if its instance died).
    server.command(&format!("HSET {{runs}}:run:{id} lease 0"));
    let items = read_to_end(&mut attached).await;
    assert_eq!(end_of(&items), Some(RunState::Failed), "{items:?}");
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
}

/// A run whose record Redis lost mid-run is recorded again, failed, with
/// its end mark but no start. Attaching to it from the start on an
/// instance whose own log does not hold that mark (it started later, or
/// let it go) used to subscribe to "whatever the log holds": the mark
/// never came, and the stream stayed open for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_recorded_again_after_a_loss_ends_streams_attached_from_the_start() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let config = RunsConfig {
        lease: Duration::from_millis(400),
        ..RunsConfig::default()
    };
    let runs = store.instance(config).await;
    let (guard, dropped) = drop_flag();
    let id = runs.start(endless(guard)).await.unwrap();
    server.command("FLUSHALL");
    // The producer's next renewal records it again, as failed.
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    until_state(&runs, &id, RunState::Failed).await;
    let later = store.instance(config).await;
    for instance in [&later, &runs] {
        let mut attached = instance.attach(&id, None).await.unwrap();
        let items = read_to_end(&mut attached).await;
        // Its start is gone, and it is said.
        assert!(
            matches!(items.first(), Some(RunItem::Reset(_))),
            "{items:?}"
        );
        assert_eq!(end_of(&items), Some(RunState::Failed), "{items:?}");
    }
}

/// A producer that panics with a payload whose drop panics too: the
/// second panic is its supervisor's, which reads the first. The
/// supervisor's drop ends the run (it used to stay `running` for ever, in
/// process), and frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_whose_panic_panics_again_when_dropped_fails_its_run() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("a panic payload that panics when dropped (expected in this test)");
            }
        }
    }
    let runs = Runs::new(Hub::new(), RunsConfig::default());
    let id = runs
        .start(|run| async move {
            run.send(event!(data: "before")).await.unwrap();
            std::panic::panic_any(PanicOnDrop);
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).await.unwrap();
    let items = read_to_end(&mut attached).await;
    assert_eq!(data_of(&items), ["before"]);
    assert_eq!(end_of(&items), Some(RunState::Failed));
    until_running(&runs, 0).await;
}

/// Redis pausing writes (as it does for a failover) or refusing them (out
/// of memory): reading a run and attaching to it only read, unless the
/// run's lease expired. They used to run a script that may write, which
/// Redis held back for the whole pause (or refused): no one could attach
/// to any run, finished or running, until it was over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_can_be_read_and_attached_while_redis_refuses_writes() {
    let Some(store) = Store::redis() else {
        return;
    };
    let server = store.redis_server().unwrap();
    let runs = store.instance(RunsConfig::default()).await;
    let finished = runs
        .start(|run| async move {
            run.send(event!(data: "done")).await.unwrap();
        })
        .await
        .unwrap();
    until_state(&runs, &finished, RunState::Finished).await;
    let (guard, _) = drop_flag();
    let running = runs.start(endless(guard)).await.unwrap();
    let other = store.instance(RunsConfig::default()).await;
    for refuse in [
        "CLIENT PAUSE 5000 WRITE",
        "CONFIG SET maxmemory-policy noeviction",
    ] {
        server.command(refuse);
        if refuse.starts_with("CONFIG") {
            server.command("CONFIG SET maxmemory 1");
        }
        let answered = tokio::time::timeout(Duration::from_millis(1500), async {
            assert_eq!(
                other.state(&running).await.unwrap(),
                Some(RunState::Running)
            );
            let mut attached = other.attach(&finished, None).await.unwrap();
            let items = read_to_end(&mut attached).await;
            assert_eq!(data_of(&items), ["done"]);
            assert_eq!(end_of(&items), Some(RunState::Finished));
            drop(other.attach(&running, None).await.unwrap());
        })
        .await;
        server.command("CLIENT UNPAUSE");
        server.command("CONFIG SET maxmemory 0");
        assert!(answered.is_ok(), "held back while Redis did `{refuse}`");
    }
}

on_both_stores!(
    runs_attach_and_cancel_across_instances,
    a_producer_may_send_any_event_name_and_comment_text,
    dropped_futures_leave_no_run_running_and_no_place_taken,
    producers_may_start_attach_and_cancel_runs,
    many_runs_leave_nothing_behind,
    failed_sends_do_not_use_up_max_events(small_events()),
    sends_racing_a_cancel_are_refused_or_arrive_before_the_end(HubConfig {
        replay: 4096,
        ..HubConfig::default()
    }),
    a_run_longer_than_the_hub_keeps(HubConfig {
        replay: 64,
        ..HubConfig::default()
    }),
);
