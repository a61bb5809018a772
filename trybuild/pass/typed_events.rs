use sse_runtime::hub::{Hub, TypedHub};
use sse_runtime::prelude::*;

#[derive(serde::Serialize)]
struct Message {
    text: String,
}

#[derive(SseEvent)]
enum Chat {
    Message(Message),
    Join { user: String },
    Cleared,
    Pair(u32, u32),
    Lagged(u64),
    Reset(String),
}

#[derive(SseEvent, serde::Serialize)]
#[sse(rename = "tick")]
struct Tick {
    n: u32,
}

#[sse_handler(events = Chat)]
async fn chat(axum::extract::State(hub): axum::extract::State<TypedHub<Chat>>) {
    yield_!(Chat::Join { user: "ann".into() }.with_id("1"));
    yield_!(Chat::Message(Message { text: "hi".into() }).with_retry(1000));
    yield_!(comment!("a comment"));
    yield_!(keep_alive!());
    let mut subscription = hub.subscribe(&["room"], None);
    while let Some(event) = subscription.next().await {
        yield_!(event);
    }
}

sse_handlers! {
    #[sse_handler(events = Tick)]
    async fn ticks() {
        yield Tick { n: 1 };
    }
}

fn main() {
    let _: axum::Router = axum::Router::new()
        .route("/chat", axum::routing::get(chat))
        .route("/ticks", axum::routing::get(ticks))
        .with_state(TypedHub::<Chat>::new(Hub::new()));
}
