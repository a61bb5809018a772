use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Chat {
    #[sse(rename = "message\nid: 1")]
    Message(String),
}

fn main() {}
