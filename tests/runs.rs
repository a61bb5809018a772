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
    within(async {
        while !finished.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
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
    within(async {
        while runs.state(&id) != Some(RunState::Finished) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
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
    within(async {
        while !dropped.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
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
    let addr = serve(llm::app_with(Hub::new(), Duration::from_millis(1), config)).await;
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
        use http_body_util::{BodyExt, Full};
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let body = serde_json::json!({"model": "sse-demo", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let request = hyper::Request::post("/v1/chat/completions")
            .header("host", "llm")
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body.to_string())))
            .unwrap();
        let response = within(sender.send_request(request)).await.unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-run-id"].to_str().unwrap().to_owned();
        let bytes = within(response.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        let mut parser = sse_runtime::testing::Parser::new();
        parser.feed(&bytes);
        parser.finish();
        let last = parser.last_event_id().to_owned();
        assert!(String::from_utf8_lossy(&bytes).contains("data: [DONE]"));
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
    let cancel_unknown = {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::post(format!("/v1/runs/{id}/cancel"))
            .header("host", "llm")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        within(sender.send_request(request)).await.unwrap().status()
    };
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
    within(async {
        while b.state(&id) != Some(RunState::Finished) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
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
    within(async {
        while b.state(&endless) != Some(RunState::Running) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    b.cancel(&endless).await.unwrap();
    within(async {
        while !dropped.load(Ordering::SeqCst) || b.state(&endless) != Some(RunState::Cancelled) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}
