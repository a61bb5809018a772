use sse_runtime::prelude::*;

#[sse_handler]
async fn numbers() {
    yield_!(42);
}

sse_handlers! {
    async fn words() {
        yield "not an event";
    }
}

fn main() {}
