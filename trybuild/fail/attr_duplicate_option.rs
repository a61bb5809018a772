use sse_runtime::prelude::*;

#[sse_handler(keep_alive = "15s", keep_alive = "30s")]
async fn clock() {
    yield_!(event!("tick"));
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(clock));
}
