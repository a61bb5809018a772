use sse_runtime::SseEvent;

struct Secret;

#[derive(SseEvent)]
enum Chat {
    Said(Secret),
    Join { user: Secret },
    Pair(u8, Secret),
}

fn main() {}
