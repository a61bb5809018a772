use sse_runtime::prelude::*;

async fn not_a_handler() {
    yield_!(event!("tick"));
}

fn main() {}
