use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Chat {
    Message(String),
    #[sse(rename = "message")]
    Notice(String),
}

fn main() {}
