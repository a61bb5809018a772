use sse_runtime::prelude::*;

#[sse_handler(compress = "yes")]
async fn text() {
    yield_!(event!("tick"));
}

#[sse_handler(compress = 1)]
async fn number() {
    yield_!(event!("tick"));
}

#[sse_handler(compress = true, compress = false)]
async fn twice() {
    yield_!(event!("tick"));
}

fn main() {}
