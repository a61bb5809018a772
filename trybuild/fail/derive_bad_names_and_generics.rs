use sse_runtime::SseEvent;

#[derive(SseEvent, serde::Serialize)]
#[sse(rename = "")]
struct Tick {
    n: u32,
}

#[derive(SseEvent)]
enum Chat {
    #[sse(rename)]
    Said(String),
}

#[derive(SseEvent)]
enum Generic<T> {
    Item(T),
}

fn main() {}
