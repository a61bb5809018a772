//! The server the end-to-end benchmark drives: the same streams served by
//! sse-runtime (`ours`) or by axum's built-in `Sse` (`axum`), chosen on the
//! command line, so that each runs in its own process and its CPU time and
//! memory can be read from `/proc`.
//!
//! `sse-bench-server ours|ours-all|axum|hub|apps` prints `listening PORT` and serves:
//! * `GET /burst?n=N&size=S`: N text events of S bytes, then the end;
//! * `GET /json?n=N`: N small JSON events, then the end;
//! * `GET /idle`: one event, then silence (keep-alive every 60 s);
//! * with `ours-all`, those and `GET /spaced?n=N&size=S`: N text events of S bytes,
//!   1 ms apart, so that each leaves as a frame of its own; and
//!   `/compressed/burst`, `/compressed/json`, `/compressed/spaced`,
//!   `/compressed/idle`: the same streams compressed with gzip, zstd or
//!   Brotli as the request's `Accept-Encoding` says;
//! * with `apps`: the demo under `/demo` and the llm example under `/llm`
//!   (tokens 1 ms apart), as their examples serve them;
//! * with `hub` instead: `GET /hub`, a comment once subscribed, then every
//!   event published to the hub; `POST /publish` publishes one;
//!   `POST /publish_many?n=N&concurrency=C` publishes N small events to
//!   another topic from C tasks at once and answers the nanoseconds it
//!   took. With `REDIS_URL` set, the hub is on Redis (prefix `bench`), so
//!   several servers share it.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::Query;
use axum::extract::State;
use axum::response::sse::{Event as AxumEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use sse_runtime::hub::Hub;
use sse_runtime::prelude::*;
use sse_runtime::StreamContext;

#[derive(Deserialize, Clone, Copy)]
struct Burst {
    n: usize,
    #[serde(default)]
    size: usize,
}

#[derive(Serialize, Clone, Copy)]
struct Tick {
    id: u64,
    price: f64,
    symbol: &'static str,
}

fn payload(size: usize) -> String {
    "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(size)
        .collect()
}

#[sse_handler(keep_alive = "60s")]
async fn ours_burst(Query(burst): Query<Burst>) {
    let data = payload(burst.size);
    for _ in 0..burst.n {
        yield_!(event!(data: &data));
    }
}

#[sse_handler(keep_alive = "60s")]
async fn ours_json(Query(burst): Query<Burst>) {
    for i in 0..burst.n as u64 {
        yield_!(event!(json: Tick { id: i, price: 101.25, symbol: "ACME" }));
    }
}

#[sse_handler(keep_alive = "60s")]
async fn ours_spaced(Query(burst): Query<Burst>) {
    let data = payload(burst.size);
    for _ in 0..burst.n {
        yield_!(event!(data: &data));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Every encoding, Brotli included, so that the request picks.
fn compressed(config: SseConfig) -> SseConfig {
    config.compression(sse_runtime::Compression::new().brotli(true))
}

async fn compressed_burst(context: StreamContext, Query(burst): Query<Burst>) -> Response {
    let config = compressed(SseConfig::new().keep_alive(Some(Duration::from_secs(60))));
    ours_burst(context, Query(burst))
        .await
        .with_config(config)
        .into_response()
}

async fn compressed_json(context: StreamContext, Query(burst): Query<Burst>) -> Response {
    let config = compressed(SseConfig::new().keep_alive(Some(Duration::from_secs(60))));
    ours_json(context, Query(burst))
        .await
        .with_config(config)
        .into_response()
}

async fn compressed_spaced(context: StreamContext, Query(burst): Query<Burst>) -> Response {
    let config = compressed(SseConfig::new().keep_alive(Some(Duration::from_secs(60))));
    ours_spaced(context, Query(burst))
        .await
        .with_config(config)
        .into_response()
}

async fn compressed_idle(context: StreamContext) -> Response {
    let config = compressed(SseConfig::new().keep_alive(Some(Duration::from_secs(60))));
    ours_idle(context).await.with_config(config).into_response()
}

#[sse_handler(keep_alive = "60s")]
async fn ours_idle() {
    yield_!(event!("open"));
    std::future::pending::<()>().await;
}

async fn axum_burst(Query(burst): Query<Burst>) -> Response {
    let data = payload(burst.size);
    let events = stream::iter(0..burst.n)
        .map(move |_| Ok::<_, Infallible>(AxumEvent::default().data(&data)));
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(60)))
        .into_response()
}

async fn axum_json(Query(burst): Query<Burst>) -> Response {
    let events = stream::iter(0..burst.n as u64).map(|i| {
        Ok::<_, Infallible>(
            AxumEvent::default()
                .json_data(Tick {
                    id: i,
                    price: 101.25,
                    symbol: "ACME",
                })
                .unwrap(),
        )
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(60)))
        .into_response()
}

async fn axum_idle() -> Response {
    let events = stream::iter([Ok::<_, Infallible>(AxumEvent::default().data("open"))])
        .chain(stream::pending());
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(60)))
        .into_response()
}

#[sse_handler(keep_alive = "60s")]
async fn ours_hub(State(hub): State<Hub>) {
    let mut subscription = hub.subscribe(&["bench"], None);
    yield_!(comment!("subscribed"));
    while let Some(event) = subscription.next().await {
        yield_!(event);
    }
}

#[derive(Deserialize)]
struct Many {
    n: usize,
    concurrency: usize,
}

async fn publish_many(State(hub): State<Hub>, Query(many): Query<Many>) -> String {
    let started = std::time::Instant::now();
    let tasks = many.concurrency.max(1);
    let each = many.n / tasks;
    let publishers: Vec<_> = (0..tasks)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for _ in 0..each {
                    hub.publish("bulk", event!(data: "x", event: "bulk"))
                        .await
                        .expect("publish");
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.expect("publisher");
    }
    (started.elapsed().as_nanos() as u64).to_string()
}

async fn publish(State(hub): State<Hub>) -> &'static str {
    let published = hub
        .publish("bench", event!(data: "tick", event: "tick"))
        .await;
    if published.is_ok() {
        "ok"
    } else {
        "failed"
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let which = std::env::args().nth(1).unwrap_or_default();
    let app = match which.as_str() {
        // The same three routes for both, so that each connection's copy
        // of the router costs them the same.
        "ours" => Router::new()
            .route("/burst", get(ours_burst))
            .route("/json", get(ours_json))
            .route("/idle", get(ours_idle)),
        "ours-all" => Router::new()
            .route("/burst", get(ours_burst))
            .route("/json", get(ours_json))
            .route("/idle", get(ours_idle))
            .route("/spaced", get(ours_spaced))
            .route("/compressed/burst", get(compressed_burst))
            .route("/compressed/json", get(compressed_json))
            .route("/compressed/spaced", get(compressed_spaced))
            .route("/compressed/idle", get(compressed_idle)),
        "apps" => Router::new()
            .nest("/demo", sse_suite::demo::app(sse_runtime::Shutdown::new()))
            .nest(
                "/llm",
                sse_suite::llm::app(Hub::new(), Duration::from_millis(1)),
            ),
        "axum" => Router::new()
            .route("/burst", get(axum_burst))
            .route("/json", get(axum_json))
            .route("/idle", get(axum_idle)),
        "hub" => {
            let hub = match std::env::var("REDIS_URL") {
                Ok(url) => {
                    let transport = sse_runtime::hub::RedisTransport::connect(
                        &url,
                        sse_runtime::hub::RedisOptions::new().prefix("bench"),
                    )
                    .await
                    .map_err(std::io::Error::other)?;
                    Hub::with_transport(transport, Default::default())
                }
                Err(_) => Hub::new(),
            };
            Router::new()
                .route("/hub", get(ours_hub))
                .route("/publish", post(publish))
                .route("/publish_many", post(publish_many))
                .with_state(hub)
        }
        other => {
            eprintln!("usage: sse-bench-server ours|ours-all|axum|hub|apps (got {other:?})");
            std::process::exit(2);
        }
    };
    let listener = sse_suite::bind("127.0.0.1:0".parse().unwrap())?;
    println!("listening {}", listener.local_addr()?.port());
    axum::serve(listener, app).await
}
