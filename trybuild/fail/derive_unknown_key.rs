use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Chat {
    #[sse(renam = "said")]
    Message(String),
}

fn main() {}
