use sse_runtime::prelude::*;

#[sse_handler]
async fn clock() {
    tokio::spawn(async {
        yield_!(event!("tick"));
    });
}

fn main() {}
