use sse_runtime::prelude::*;

struct NotDisplay;

#[sse_handler]
async fn fails() -> Result<(), NotDisplay> {
    yield_!(event!("tick"));
    Err(NotDisplay)
}

fn main() {}
