use sse_runtime::prelude::*;

#[sse_handler]
struct Clock;

fn main() {
    let _ = Clock;
}
