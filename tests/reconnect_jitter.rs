//! Reconnects spread out: 1,000 clients over TCP, cut off together by a
//! restart (a `Shutdown`), each following the browser's rule (it waits
//! the last `retry` it received, read here with this crate's WHATWG
//! parser), come back spread over the configured window with a jittered
//! `retry`, and all at the same moment without one.
//!
//! This measures a distribution, not a speed: it asserts the shape of the
//! retry delays the clients would use (all equal without jitter; with it,
//! within the window, covering at least 80% of it, and no tenth of the
//! window holding more than 16% of the clients), and prints them with
//! the arrival times they give (`-- --nocapture`): when each client's
//! stream ended, plus its delay.

mod support;

use std::time::{Duration, Instant};

use axum::{routing::get, Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::testing::{Parser, Received};
use sse_runtime::Shutdown;
use support::{get as request, serve_until, within};
use tokio::sync::oneshot;

const CLIENTS: usize = 1000;
const BASE: Duration = Duration::from_secs(3);
const SPREAD: Duration = Duration::from_secs(2);

/// Today's way: one `retry` on the first event, the same for every stream.
#[sse_handler(keep_alive = false)]
async fn plain() {
    yield_!(event!(data: "open", retry: 3000));
    std::future::pending::<()>().await;
}

/// Each stream sends its own `retry:` first, drawn from 3 to 5 s.
#[sse_handler(keep_alive = false, retry = "3s", retry_jitter = "2s")]
async fn jittered() {
    yield_!(event!("open"));
    std::future::pending::<()>().await;
}

/// What one client saw: the reconnection time after its first event, and
/// after the end of its stream (the one a browser would wait), and when
/// its stream ended, counted from the shutdown.
struct Client {
    first_retry: Option<Duration>,
    last_retry: Option<Duration>,
    ended_after: Duration,
}

/// Opens `CLIENTS` streams on `app`, shuts the server down, and reads each
/// stream to its end as a browser would.
async fn restart(app: Router, shutdown: Shutdown) -> Vec<Client> {
    let app = app.layer(Extension(shutdown.clone()));
    let (trigger, triggered) = oneshot::channel::<()>();
    let (addr, server) = serve_until(app, &shutdown, async move {
        let _ = triggered.await;
    });
    let mut open = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS / 100 {
        open.extend(
            join_all((0..100).map(|_| async {
                let mut chunks = request(addr, "/", &[]).await.chunks();
                let mut parser = Parser::new();
                loop {
                    let chunk = chunks.next().await.expect("the first event");
                    let got = parser.feed(&chunk);
                    if got
                        .iter()
                        .any(|received| matches!(received, Received::Event(_)))
                    {
                        break;
                    }
                }
                let first_retry = parser.reconnection_time();
                (chunks, parser, first_retry)
            }))
            .await,
        );
    }
    let shut_at = Instant::now();
    trigger.send(()).unwrap();
    let clients = join_all(open.into_iter().map(
        |(mut chunks, mut parser, first_retry)| async move {
            while let Some(chunk) = chunks.next().await {
                parser.feed(&chunk);
            }
            Client {
                first_retry,
                last_retry: parser.reconnection_time(),
                ended_after: shut_at.elapsed(),
            }
        },
    ));
    let clients = within(clients).await;
    within(server).await.expect("server stopped");
    clients
}

/// The `p`th percentile of sorted `values`.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    sorted[(sorted.len() - 1) * p / 100]
}

fn report(what: &str, mut values: Vec<u64>) -> Vec<u64> {
    values.sort_unstable();
    eprintln!(
        "{what:<44} min {:>5} ms  p10 {:>5}  p50 {:>5}  p90 {:>5}  max {:>5}",
        values[0],
        percentile(&values, 10),
        percentile(&values, 50),
        percentile(&values, 90),
        values[values.len() - 1],
    );
    values
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// Asserts that `sorted` delays (ms) lie within `base ..= base + spread`,
/// cover at least 80% of it, and crowd no tenth of it.
fn assert_spread(sorted: &[u64], base: Duration, spread: Duration) {
    let (base, spread) = (millis(base), millis(spread));
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    assert!(min >= base && max <= base + spread, "{min}..{max}");
    assert!(
        (max - min) * 10 >= spread * 8,
        "covers {} of {spread} ms",
        max - min
    );
    let mut buckets = [0usize; 10];
    for value in sorted {
        let bucket = ((value - base) * 10 / (spread + 1)) as usize;
        buckets[bucket] += 1;
    }
    eprintln!("  per tenth of the window: {buckets:?}");
    for count in buckets {
        // 100 expected in each; 16% is more than six standard deviations
        // above, 5% more than five below.
        assert!(
            count * 100 <= sorted.len() * 16 && count * 100 >= sorted.len() * 5,
            "{buckets:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_come_back_together_without_jitter_and_spread_with_it() {
    // Without: the same `retry` on every stream, and on the shutdown's
    // final event (what the README advised until now).
    let shutdown =
        Shutdown::new().final_event(event!(data: "bye", event: "bye", retry: 3000).unwrap());
    let clients = restart(Router::new().route("/", get(plain)), shutdown).await;
    eprintln!("{CLIENTS} clients, without jitter (retry 3 s):");
    let delays = report(
        "  retry each would wait",
        clients
            .iter()
            .map(|c| millis(c.last_retry.expect("a retry")))
            .collect(),
    );
    assert_eq!(
        delays[0],
        delays[CLIENTS - 1],
        "every client waits the same"
    );
    assert_eq!(delays[0], 3000);
    let arrivals = report(
        "  arrival after the shutdown",
        clients
            .iter()
            .map(|c| millis(c.ended_after + c.last_retry.unwrap()))
            .collect(),
    );
    let crowd = arrivals[CLIENTS - 1] - arrivals[0];

    // With: each stream's own first `retry:`, and the shutdown's, drawn
    // per stream from 3 to 5 s; the shutdown's comes after the final
    // event's own `retry`, which it overrides.
    let shutdown = Shutdown::new()
        .final_event(event!(data: "bye", event: "bye", retry: 3000).unwrap())
        .retry(BASE)
        .retry_jitter(SPREAD);
    let clients = restart(Router::new().route("/", get(jittered)), shutdown).await;
    eprintln!("{CLIENTS} clients, with retry = 3 s and retry_jitter = 2 s:");
    let first = report(
        "  retry after the first event",
        clients
            .iter()
            .map(|c| millis(c.first_retry.expect("a first retry")))
            .collect(),
    );
    assert_spread(&first, BASE, SPREAD);
    let last = report(
        "  retry each would wait after the shutdown",
        clients
            .iter()
            .map(|c| millis(c.last_retry.expect("a retry")))
            .collect(),
    );
    assert_spread(&last, BASE, SPREAD);
    let arrivals = report(
        "  arrival after the shutdown",
        clients
            .iter()
            .map(|c| millis(c.ended_after + c.last_retry.unwrap()))
            .collect(),
    );
    let spread = arrivals[CLIENTS - 1] - arrivals[0];
    eprintln!("  arrivals span {crowd} ms without jitter, {spread} ms with it");
    // Drawn per stream, not once per process: the shutdown's draw is not
    // the stream's first.
    assert!(
        clients
            .iter()
            .filter(|c| c.first_retry != c.last_retry)
            .count()
            > CLIENTS * 9 / 10
    );
}

/// A shutdown `retry` without a base spreads over `0 ..= spread`; with
/// neither, nothing extra is sent.
#[tokio::test]
async fn a_shutdown_sends_its_retry_after_the_final_event_only_when_set() {
    for (shutdown, expected) in [
        (Shutdown::new(), None),
        (
            Shutdown::new().retry(Duration::from_millis(1500)),
            Some(1500..=1500),
        ),
        (
            Shutdown::new().retry_jitter(Duration::from_millis(100)),
            Some(0..=100),
        ),
    ] {
        let app = Router::new()
            .route("/", get(plain))
            .layer(Extension(shutdown.clone()));
        let (trigger, triggered) = oneshot::channel::<()>();
        let (addr, server) = serve_until(app, &shutdown, async move {
            let _ = triggered.await;
        });
        let mut chunks = request(addr, "/", &[]).await.chunks();
        let first = chunks.next().await.expect("the first event");
        trigger.send(()).unwrap();
        let mut rest = Vec::new();
        while let Some(chunk) = chunks.next().await {
            rest.extend_from_slice(&chunk);
        }
        within(server).await.unwrap();
        let mut parser = Parser::new();
        parser.feed(&first);
        assert!(parser.feed(&rest).is_empty(), "no event after the first");
        let retry = parser.reconnection_time().map(millis);
        match expected {
            None => {
                assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
                assert_eq!(retry, Some(3000));
            }
            Some(range) => {
                assert!(range.contains(&retry.unwrap()), "{retry:?}");
                assert!(String::from_utf8_lossy(&rest).starts_with("retry: "));
            }
        }
    }
}
