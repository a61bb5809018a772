use sse_runtime::prelude::*;

struct App;

impl App {
    #[sse_handler]
    async fn clock(&self) {
        yield_!(event!("tick"));
    }
}

fn main() {}
