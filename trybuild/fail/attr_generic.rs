use sse_runtime::prelude::*;

#[sse_handler]
async fn clock<T: Send + 'static>() {
    yield_!(event!("tick"));
}

fn main() {}
