use sse_runtime::hub::TypedHub;
use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum Chat {
    Said(String),
}

struct Plain;

// Nothing is yielded: still one error, on the type.
#[sse_handler(events = String)]
async fn strings() {}

// A value of the type is yielded: one error, on the type, and none on the
// value.
#[sse_handler(events = Plain)]
async fn plain() {
    yield_!(Plain);
}

#[sse_handler(events = TypedHub<Chat>)]
async fn hub() {}

fn main() {
    let _: axum::Router = axum::Router::new()
        .route("/s", axum::routing::get(strings))
        .route("/p", axum::routing::get(plain))
        .route("/h", axum::routing::get(hub));
    let _ = Chat::Said(String::new());
}
