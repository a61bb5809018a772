//! `yield` everywhere a handler body may put it, in both forms.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use sse_runtime::prelude::*;
use tokio::sync::mpsc;

#[derive(Clone)]
struct App {
    name: String,
}

#[sse_handler]
async fn attribute(
    State(app): State<App>,
    Path(id): Path<u32>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(), std::num::ParseIntError> {
    let n: u32 = query.get("n").map_or("3", String::as_str).parse()?;
    if n > 10 {
        yield_!(event!(data: "too many"));
        return Ok(());
    }
    for i in 0..n {
        match i % 2 {
            0 => yield_!(event!(data: format!("{} {id} even {i}", app.name))),
            _ => {
                yield_!(comment!("odd {i}"));
            }
        }
    }
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    tokio::spawn(async move {
        let _ = tx.send(1).await;
    });
    while let Some(value) = rx.recv().await {
        yield_!(event!(data: value.to_string(), id: value));
    }
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    let mut left = 2;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                yield_!(event!(data: "tick", event: "tick"));
                left -= 1;
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => yield_!(keep_alive!()),
        }
        if left == 0 {
            break;
        }
    }
    let value: u32 = "7".parse()?;
    yield_!(event!(json: value, retry: Duration::from_secs(1)));
    Ok(())
}

sse_handlers! {
    /// Documented, public, with options.
    #[sse_handler(keep_alive = "1m", error_event = true)]
    pub async fn block(State(app): State<App>) -> Result<(), String> {
        let mut ticks = tokio::time::interval(Duration::from_millis(10));
        for i in 0..3 {
            tokio::select! {
                _ = ticks.tick() => {
                    yield event!(data: app.name.clone(), id: i);
                }
            }
        }
        let step = if app.name.is_empty() { Err("no name".to_owned()) } else { Ok(1) };
        yield event!(data: step?.to_string());
        Ok(())
    }

    async fn second() {
        yield comment!("two handlers in one block");
    }
}

#[sse_handler]
async fn no_yield_at_all() {}

mod reexport {
    pub use ::sse_runtime as inner;
}

#[sse_handler(crate = "reexport::inner")]
async fn renamed() {
    yield_!(reexport::inner::event!("through a re-export"));
}

fn main() {
    let _: Router = Router::new()
        .route("/a/{id}", get(attribute))
        .route("/b", get(block))
        .route("/c", get(second))
        .route("/d", get(no_yield_at_all))
        .route("/e", get(renamed))
        .with_state(App { name: "x".into() });
}
