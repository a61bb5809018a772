// A typed hub's notices are the library's own: the event type need not
// declare `Lagged` or `Reset` variants.
use sse_runtime::hub::{Hub, TypedHub};
use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum Feed {
    Item(u32),
}

fn main() {
    let _ = TypedHub::<Feed>::new(Hub::new());
}
