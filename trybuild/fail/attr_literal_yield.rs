use sse_runtime::prelude::*;

#[sse_handler]
async fn clock() {
    yield event!("tick");
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(clock));
}
