use axum::extract::State;
use sse_runtime::prelude::*;

#[derive(Clone)]
struct App;

#[derive(Clone)]
struct Db;

#[sse_handler]
async fn two_states(State(_app): State<App>, State(_db): State<Db>) {
    yield_!(event!("tick"));
}

fn main() {}
