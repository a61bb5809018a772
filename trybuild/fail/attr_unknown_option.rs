use sse_runtime::prelude::*;

#[sse_handler(keep_alvie = "15s")]
async fn clock() {
    yield_!(event!("tick"));
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(clock));
}
