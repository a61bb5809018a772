use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Chat {
    Join {
        #[sse(rename = "name")]
        user: String,
    },
    Said(#[sse(skip)] String),
}

#[derive(SseEvent, serde::Serialize)]
struct Tick {
    #[sse(rename = "count")]
    n: u32,
}

fn main() {}
