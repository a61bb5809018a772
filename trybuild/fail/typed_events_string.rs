use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum Chat {
    Said(String),
}

#[sse_handler(events = "Chat")]
async fn chat() {
    yield_!(Chat::Said("hi".into()));
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(chat));
}
