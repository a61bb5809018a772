use sse_runtime::hub::{Hub, TypedHub};
use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Feed {
    Item(u32),
}

fn main() {
    let _ = TypedHub::<Feed>::new(Hub::new());
}
