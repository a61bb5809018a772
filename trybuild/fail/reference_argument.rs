use sse_runtime::prelude::*;

#[sse_handler]
async fn greet(name: &str) {
    yield_!(event!(data: format!("hello {name}")));
}

fn main() {
    let _: axum::Router = axum::Router::new().route("/", axum::routing::get(greet));
}
