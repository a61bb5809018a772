use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum Chat {
    Message(String),
}

#[derive(SseEvent)]
enum Other {
    Ping,
}

sse_handlers! {
    #[sse_handler(events = Chat)]
    async fn chat() {
        yield Chat::Message("typed".into());
        yield comment!("comments are fine");
        yield Other::Ping;
    }
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(chat));
}
