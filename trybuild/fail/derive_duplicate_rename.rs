use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Chat {
    // The second `rename` is the error; the first is kept, so `Message`
    // below keeps its name without a second error.
    #[sse(rename = "said", rename = "message")]
    Said(String),
    Message(String),
}

fn main() {}
