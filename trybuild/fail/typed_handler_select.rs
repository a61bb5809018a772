use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum Chat {
    Message(String),
}

sse_handlers! {
    #[sse_handler(events = Chat)]
    async fn chat() {
        let tick = tokio::time::sleep(std::time::Duration::from_millis(1));
        tokio::select! {
            _ = tick => yield Chat::Message("typed".into()),
            _ = std::future::pending::<()>() => yield event!(data: "untyped"),
        }
    }
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(chat));
}
