use axum::extract::State;
use sse_runtime::prelude::*;

#[derive(Clone)]
struct App;

struct NotAnExtractor;

#[sse_handler]
async fn with_state(State(_app): State<App>, _wrong: NotAnExtractor, _last: LastEventId) {
    yield_!(event!("tick"));
}

#[sse_handler(state = App)]
async fn with_option(_wrong: u32) {
    yield_!(event!("tick"));
}

fn main() {}
