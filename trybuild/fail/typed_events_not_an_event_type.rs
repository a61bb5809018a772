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

// Events of another type are yielded, twice: still one error, on the
// type, and none at the yields (which said to yield a `Vec<Chat>`).
#[sse_handler(events = Vec<Chat>)]
async fn vec(axum::extract::State(hub): axum::extract::State<TypedHub<Chat>>) {
    yield_!(Chat::Said(String::new()));
    let mut subscription = hub.subscribe(&["room"], None);
    while let Some(delivery) = subscription.next().await {
        yield_!(delivery);
    }
}

fn main() {
    let _: axum::Router = axum::Router::new()
        .route("/s", axum::routing::get(strings))
        .route("/p", axum::routing::get(plain))
        .route("/h", axum::routing::get(hub))
        .route("/v", axum::routing::get(vec))
        .with_state(TypedHub::<Chat>::new(sse_runtime::hub::Hub::new()));
    let _ = Chat::Said(String::new());
}
