use sse_runtime::prelude::*;

#[sse_handler]
async fn count() -> u32 {
    yield_!(event!("tick"));
    1
}

fn main() {}
