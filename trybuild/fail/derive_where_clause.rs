use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Chat
where
    u8: Copy,
{
    Said(String),
}

fn main() {}
