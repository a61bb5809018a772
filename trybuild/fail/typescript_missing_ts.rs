use sse_runtime::SseEvent;

#[derive(serde::Serialize)]
struct Message {
    text: String,
}

// Without TypeScript, this compiles: TypeScript is asked for below.
#[derive(SseEvent)]
enum Chat {
    Said(Message),
    Join { user: String, note: Message },
}

fn main() {
    let _ = sse_runtime::typescript::declarations::<Chat>();
}
