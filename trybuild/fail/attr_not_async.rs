use sse_runtime::prelude::*;

#[sse_handler]
fn clock() {
    yield_!(event!("tick"));
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(clock));
}
