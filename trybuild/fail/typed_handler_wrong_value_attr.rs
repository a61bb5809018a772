use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum Chat {
    Message(String),
}

#[sse_handler(events = Chat)]
async fn chat() {
    yield_!(Chat::Message("typed".into()));
    yield_!(event!(data: "untyped", event: "message"));
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(chat));
}
