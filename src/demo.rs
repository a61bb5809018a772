//! The demo application: one route per example of the reference design, and
//! a page at `/` that shows them all live. `cargo run --example demo` serves
//! it; the tests build it with [`app`]. Every stream is compressed (gzip or
//! zstd) for a client that accepts it, as browsers do.

use std::time::{Duration, SystemTime};

use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use sse_runtime::prelude::*;
use sse_runtime::Shutdown;

#[derive(Deserialize)]
struct Interval {
    interval_ms: Option<u64>,
}

impl Interval {
    fn or(&self, default_ms: u64) -> Duration {
        Duration::from_millis(self.interval_ms.unwrap_or(default_ms))
    }
}

#[derive(Serialize)]
struct Greeting {
    message: &'static str,
}

#[derive(Serialize)]
struct Tick {
    time: String,
}

#[derive(Serialize)]
struct Count {
    count: u32,
}

/// `Hello, SSE!`, then after a second a JSON greeting; then the stream ends.
#[sse_handler(compress = true)]
async fn events() {
    yield_!(event!("Hello, SSE!"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    yield_!(event!(json: Greeting { message: "World!" }, event: "greeting"));
}

sse_handlers! {
    /// The time, as JSON, every `interval_ms` (default 1000), forever.
    #[sse_handler(compress = true)]
    async fn clock(Query(interval): Query<Interval>) {
        let period = interval.or(1000);
        loop {
            let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
            yield event!(json: Tick { time }, event: "time");
            tokio::time::sleep(period).await;
        }
    }
}

/// A keep-alive comment every `interval_ms` (default 30000), forever.
#[sse_handler(keep_alive = false, compress = true)]
async fn notifications(Query(interval): Query<Interval>) {
    let period = interval.or(30_000);
    loop {
        yield_!(keep_alive!());
        tokio::time::sleep(period).await;
    }
}

#[derive(Deserialize)]
struct UpdatesParams {
    interval_ms: Option<u64>,
    /// Reconnection time sent with each event (default 5000 ms).
    retry_ms: Option<u64>,
    /// End a first connection (one without `Last-Event-ID`) after this many
    /// events, as a restarting server would: the browser then reconnects
    /// after `retry` and resumes. For trying resumption out.
    drop_after: Option<u32>,
}

/// Ten numbered updates; a reconnecting client resumes after the last id it
/// saw.
#[sse_handler(compress = true)]
async fn updates(Query(params): Query<UpdatesParams>, last: LastEventId) {
    let period = Duration::from_millis(params.interval_ms.unwrap_or(1000));
    let retry = params.retry_ms.unwrap_or(5000);
    let first = last.parse::<u32>().map_or(1, |seen| seen.saturating_add(1));
    let drop_after = params.drop_after.filter(|_| last.as_str().is_none());
    for count in first..=10 {
        yield_!(event!(json: Count { count }, event: "update", id: count, retry: retry));
        if drop_after == Some(count) {
            return;
        }
        tokio::time::sleep(period).await;
    }
}

/// Progress comments around some work, then `Done!`.
#[sse_handler(compress = true)]
async fn process() {
    yield_!(comment!("Starting process"));
    for step in 1..=3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        yield_!(comment!("step {step} of 3"));
    }
    yield_!(comment!("Process completed"));
    yield_!(event!("Done!"));
}

#[derive(Deserialize)]
struct Echo {
    data: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<String>,
}

/// Exactly one event built from the query; a value the encoder refuses ends
/// the stream with a final `error` event saying why.
#[sse_handler(error_event = true, compress = true)]
async fn echo(Query(echo): Query<Echo>) -> Result<(), String> {
    let retry = match &echo.retry {
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| format!("retry must be whole milliseconds, got {text:?}"))?,
        ),
        None => None,
    };
    let mut builder = Event::builder();
    if let Some(name) = &echo.event {
        builder = builder.event(name);
    }
    if let Some(id) = &echo.id {
        builder = builder.id(id);
    }
    if let Some(retry) = retry {
        builder = builder.retry(retry);
    }
    yield_!(builder.data(echo.data.as_deref().unwrap_or("")));
    Ok(())
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../examples/demo/index.html"))
}

/// The demo application, for `main` and the browser test.
pub fn app(shutdown: Shutdown) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/events", get(events))
        .route("/clock", get(clock))
        .route("/notifications", get(notifications))
        .route("/updates", get(updates))
        .route("/process", get(process))
        .route("/echo", get(echo))
        .layer(Extension(shutdown))
}
