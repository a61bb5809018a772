use sse_runtime::prelude::*;

#[sse_handler(keep_alive = 15)]
async fn number() {
    yield_!(event!("tick"));
}

#[sse_handler(keep_alive = "15 parsecs")]
async fn unit() {
    yield_!(event!("tick"));
}

#[sse_handler(keep_alive = "0s")]
async fn zero() {
    yield_!(event!("tick"));
}

#[sse_handler(error_event = "yes")]
async fn flag() {
    yield_!(event!("tick"));
}

#[sse_handler(retry = 3000)]
async fn retry_number() {
    yield_!(event!("tick"));
}

#[sse_handler(retry = "3s", retry_jitter = "2 parsecs")]
async fn jitter_unit() {
    yield_!(event!("tick"));
}

#[sse_handler(retry = "600h")]
async fn retry_past_a_timer() {
    yield_!(event!("tick"));
}

#[sse_handler(retry = "1s", retry_jitter = "24856200s")]
async fn jitter_past_a_timer() {
    yield_!(event!("tick"));
}

fn main() {}
