//! Resumable runs: the producer owns the work, connections only attach.
//! Disconnecting does not cancel; cancelling stops the producer promptly
//! (its future is dropped); attaching to an unknown or expired run is a
//! clear HTTP error; a finished run with nothing left answers 204, which
//! stops `EventSource` from reconnecting; and a run attaches, and cancels,
//! across instances sharing a hub on Redis.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sse_runtime::event;
use sse_runtime::hub::{Hub, HubConfig, RedisOptions, RedisTransport};
use sse_runtime::runs::{RunState, Runs, RunsConfig};
use sse_runtime::testing::{parse_all, Received};
use sse_suite::llm;
use support::redis::RedisServer;
use support::{get as request, serve, within};

/// The data and id of each event in `frames`.
fn events_of(frames: &[sse_runtime::Event]) -> Vec<(String, String)> {
    let bytes: Vec<u8> = frames
        .iter()
        .flat_map(|frame| frame.as_bytes().to_vec())
        .collect();
    parse_all(&bytes)
        .into_iter()
        .filter_map(|item| match item {
            Received::Event(event) => Some((event.data, event.last_event_id)),
            _ => None,
        })
        .collect()
}

/// Sets its flag when dropped: shows a producer's future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
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
    let mut attached = runs.attach(&id, None).unwrap();
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
    let mut resumed = runs.attach(&id, seen[1].1.as_str()).unwrap();
    let mut rest = Vec::new();
    while let Some(event) = within(resumed.next()).await {
        rest.push(event);
    }
    let data: Vec<String> = events_of(&rest).into_iter().map(|(data, _)| data).collect();
    let expected: Vec<String> = (3..=20).map(|n| n.to_string()).collect();
    assert_eq!(data, expected);
    support::wait_while(|| runs.state(&id) != Some(RunState::Finished)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_producer_promptly_and_ends_attached_streams() {
    let runs = Runs::new(Hub::new(), RunsConfig::default());
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let id = runs
        .start(|run| async move {
            let _guard = guard;
            run.send(event!("started")).await.unwrap();
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).unwrap();
    assert_eq!(
        events_of(&[within(attached.next()).await.unwrap()])[0].0,
        "started"
    );
    let started = std::time::Instant::now();
    runs.cancel(&id).await.unwrap();
    support::wait_while(|| !dropped.load(Ordering::SeqCst)).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // The attached stream ends with the run.
    let mut rest = Vec::new();
    while let Some(event) = within(attached.next()).await {
        rest.push(event);
    }
    assert!(
        events_of(&rest).is_empty(),
        "only the end mark, which no client sees"
    );
    assert_eq!(runs.state(&id), Some(RunState::Cancelled));
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
    let unknown = request(addr, "/v1/runs/0123456789abcdef/events", &[]).await;
    assert_eq!(unknown.inner.status(), 404);
    let body: serde_json::Value = serde_json::from_str(&unknown.text().await).unwrap();
    assert_eq!(body["error"]["code"], "unknown_run");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("never existed, or it finished and expired"));

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
        // OpenAI's clients do not resume: their stream carries no ids.
        assert!(!text.contains("\nid: "), "{text}");
        // The run's own stream does; read it to its end.
        let run = support::get(addr, &format!("/v1/runs/{id}/events"), &[]).await;
        let bytes = run.text().await;
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

/// Produced on one instance, attached to and cancelled from another, both
/// on one Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_attach_and_cancel_across_instances() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let instance = || async {
        let transport = RedisTransport::connect(&redis.url(), RedisOptions::new().prefix("runs"))
            .await
            .unwrap();
        Runs::new(
            Hub::with_transport(transport, HubConfig::default()),
            RunsConfig::default(),
        )
    };
    let (a, b) = (instance().await, instance().await);
    let id = a
        .start(|run| async move {
            for n in 1..=5 {
                run.send(event!(data: n.to_string())).await.unwrap();
            }
        })
        .await
        .unwrap();
    // B learns of the run from the hub.
    support::wait_while(|| b.state(&id) != Some(RunState::Finished)).await;
    let mut attached = b.attach(&id, None).unwrap();
    let mut frames = Vec::new();
    while let Some(event) = within(attached.next()).await {
        frames.push(event);
    }
    let data: Vec<String> = events_of(&frames)
        .into_iter()
        .map(|(data, _)| data)
        .collect();
    assert_eq!(data, ["1", "2", "3", "4", "5"]);

    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let endless = a
        .start(|_run| async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .await
        .unwrap();
    support::wait_while(|| b.state(&endless) != Some(RunState::Running)).await;
    b.cancel(&endless).await.unwrap();
    support::wait_while(|| {
        !dropped.load(Ordering::SeqCst) || b.state(&endless) != Some(RunState::Cancelled)
    })
    .await;
}

/// A run's events, read from `attached` to its end (each read bounded).
async fn read_to_end(attached: &mut sse_runtime::runs::Attached) -> Vec<sse_runtime::Event> {
    let mut frames = Vec::new();
    while let Some(event) = within(attached.next()).await {
        frames.push(event);
    }
    frames
}

/// The whole of a parsed stream, notices included: (event type, data).
fn typed_events_of(frames: &[sse_runtime::Event]) -> Vec<(String, String)> {
    let bytes: Vec<u8> = frames
        .iter()
        .flat_map(|frame| frame.as_bytes().to_vec())
        .collect();
    parse_all(&bytes)
        .into_iter()
        .filter_map(|item| match item {
            Received::Event(event) => Some((event.event_type, event.data)),
            _ => None,
        })
        .collect()
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
        frame: bytes::Bytes,
    ) -> sse_runtime::hub::BoxFuture<Result<sse_runtime::hub::EventId, sse_runtime::hub::HubError>>
    {
        let stored = self.0.publish(topic, frame);
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

/// Waits until `runs` says run `id` is in `state`.
async fn until_state(runs: &Runs, id: &str, state: RunState) {
    support::wait_while(|| runs.state(id) != Some(state)).await;
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
        let attached = runs.attach(&first, last);
        assert!(
            matches!(attached, Err(sse_runtime::runs::RunError::Ended)),
            "{last:?}: {attached:?}"
        );
    }
    // An id no hub issued: `reset`, as the hub says it, then the end (with
    // the run's last id, so that the client's next attempt is `Ended`).
    let mut attached = runs.attach(&first, "not-an-id").unwrap();
    let frames = read_to_end(&mut attached).await;
    let events = typed_events_of(&frames);
    assert_eq!(events, [("reset".to_owned(), "\"not-an-id\"".to_owned())]);
    let bytes: Vec<u8> = frames.iter().flat_map(|f| f.as_bytes().to_vec()).collect();
    let mut parser = sse_runtime::testing::Parser::new();
    parser.feed(&bytes);
    parser.finish();
    let again = runs.attach(&first, parser.last_event_id());
    assert!(
        matches!(again, Err(sse_runtime::runs::RunError::Ended)),
        "{again:?}"
    );
}

/// Every instance follows the others through the hub's control topic. That
/// subscription is a hub subscriber like any other: when a burst of events
/// evicts control events it has not read, it is told `lagged` and ended
/// (the default `LagPolicy::Disconnect`). It used to stop following then,
/// for good: runs started elsewhere were unknown to it (404) from then on.
#[tokio::test]
async fn an_instance_keeps_following_the_others_after_its_control_feed_lagged() {
    let hub = Hub::with_config(HubConfig {
        replay: 8,
        ..HubConfig::default()
    });
    let producer = Runs::new(hub.clone(), RunsConfig::default());
    let follower = Runs::new(hub.clone(), RunsConfig::default());
    // Control events the follower has not read yet (it has not run), then
    // a burst on another topic that evicts them.
    let early = producer
        .start(|_run| std::future::pending::<()>())
        .await
        .unwrap();
    for n in 0..32 {
        hub.publish("busy", event!(data: n.to_string()))
            .await
            .unwrap();
    }
    tokio::task::yield_now().await;
    let _ = early;
    // A run started after the burst: the follower must learn of it.
    let later = producer
        .start(|_run| std::future::pending::<()>())
        .await
        .unwrap();
    until_state(&follower, &later, RunState::Running).await;
}

/// `max_running` was checked before the run was recorded as running here,
/// with the announcement to other instances (a broker round trip) in
/// between: starts that came together all passed the check.
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
/// client reads: it used to be accepted (`Ok` with an id) and lost.
/// `RunError::Ended` says the run is over.
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
    assert!(
        matches!(late, Err(sse_runtime::runs::RunError::Ended)),
        "{late:?}"
    );

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
    assert!(
        matches!(late, Err(sse_runtime::runs::RunError::Ended)),
        "{late:?}"
    );
}

/// Dropping every `Runs` handle (an application rebuilt, a test's server
/// gone) leaves its producers running. Their ends used to go unmarked (the
/// task that marks them held only a weak handle), so streams attached to
/// them, here and on other instances, never ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_with_their_run_after_runs_is_dropped() {
    let hub = Hub::new();
    let runs = Runs::new(hub.clone(), RunsConfig::default());
    let other_instance = Runs::new(hub, RunsConfig::default());
    let id = runs
        .start(|run| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            run.send(event!(data: "late but sent")).await.unwrap();
        })
        .await
        .unwrap();
    let mut attached = runs.attach(&id, None).unwrap();
    until_state(&other_instance, &id, RunState::Running).await;
    drop(runs);
    let data: Vec<String> = events_of(&read_to_end(&mut attached).await)
        .into_iter()
        .map(|(data, _)| data)
        .collect();
    assert_eq!(data, ["late but sent"]);
    until_state(&other_instance, &id, RunState::Finished).await;
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
    let mut attached = runs.attach(&id, None).unwrap();
    let events = typed_events_of(&read_to_end(&mut attached).await);
    let first = events.first().expect("some events");
    assert!(
        first.0 == "reset" || first.1 == "1",
        "a run without its start, and nothing said: {events:?}"
    );
}

/// With Redis, an instance started after a run began holds none of the
/// run's early events in its own log. Attaching there from the start used
/// to read only that log: the run without its beginning, and nothing said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaching_from_the_start_on_an_instance_that_came_later_gets_the_whole_run() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let instance = || async {
        let transport = RedisTransport::connect(&redis.url(), RedisOptions::new().prefix("late"))
            .await
            .unwrap();
        Runs::new(
            Hub::with_transport(transport, HubConfig::default()),
            RunsConfig::default(),
        )
    };
    let early = instance().await;
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
    let mut first_three = early.attach(&id, None).unwrap();
    for _ in 0..3 {
        within(first_three.next()).await.unwrap();
    }
    let late = instance().await;
    go_on.send(()).unwrap();
    // The late instance learns of the run from its end.
    until_state(&late, &id, RunState::Finished).await;
    let mut attached = late.attach(&id, None).unwrap();
    let data: Vec<String> = events_of(&read_to_end(&mut attached).await)
        .into_iter()
        .map(|(data, _)| data)
        .collect();
    assert_eq!(data, ["1", "2", "3", "4", "5"]);
}

/// An instance learns of runs from the control events its own log
/// receives. With Redis, one started after a run began (a new instance
/// behind the load balancer, a rolling deploy) does not know that run
/// until it ends: attaching there while it runs is `UnknownRun` (404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a design: run state that a new instance can read (kept in the broker, e.g. a hash per run, or the control topic's history read back from Redis at start-up); the log of a new process holds nothing from before it started"]
async fn an_instance_started_during_a_run_knows_the_run() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let instance = || async {
        let transport = RedisTransport::connect(&redis.url(), RedisOptions::new().prefix("new"))
            .await
            .unwrap();
        Runs::new(
            Hub::with_transport(transport, HubConfig::default()),
            RunsConfig::default(),
        )
    };
    let early = instance().await;
    let id = early
        .start(|_run| std::future::pending::<()>())
        .await
        .unwrap();
    let late = instance().await;
    until_state(&late, &id, RunState::Running).await;
}

/// A run produced by an instance that died (killed, crashed, its host
/// gone) is `running` on every other instance for ever: nothing announces
/// its end, it never expires, and a client attached to it waits for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a design: producer liveness (a lease the producing instance renews, or a heartbeat on the control topic), so that other instances can end a run whose producer is gone"]
async fn a_run_whose_instance_died_ends_on_the_others() {
    let hub = Hub::new();
    let survivor = Runs::new(hub.clone(), RunsConfig::default());
    // What a producing instance announced before it died.
    let run = "0123456789abcdef0123456789abcdef";
    let announced = serde_json::json!({
        "kind": "state", "run": run, "state": "running", "at": 1u64,
    });
    hub.publish(
        sse_runtime::runs::CONTROL_TOPIC,
        sse_runtime::Event::json(&announced).unwrap(),
    )
    .await
    .unwrap();
    until_state(&survivor, run, RunState::Running).await;
    // No one produces it; it should not stay `running`.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_ne!(survivor.state(run), Some(RunState::Running));
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
    let cancelled = runs
        .start(|_run| std::future::pending::<()>())
        .await
        .unwrap();
    runs.cancel(&cancelled).await.unwrap();
    assert_eq!(runs.state(&cancelled), Some(RunState::Cancelled));
    runs.start(|_run| async {}).await.unwrap();
}
