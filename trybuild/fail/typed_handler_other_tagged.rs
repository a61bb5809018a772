use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum Chat {
    Message(String),
}

#[derive(SseEvent)]
enum Other {
    Ping,
}

#[sse_handler(events = Chat)]
async fn chat() {
    yield_!(Other::Ping.with_id("1"));
    let checked: Result<Chat, EventError> = Ok(Chat::Message("x".into()));
    yield_!(checked);
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(chat));
}
