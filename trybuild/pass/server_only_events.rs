// An enum only a server sends needs its payloads to serialize, not to
// deserialize or to have TypeScript types: those are checked where
// `next_as` or `typescript::declarations` use them. A struct variant's
// field used to be required to implement `Deserialize` where the enum was
// defined.
use sse_runtime::SseEvent;

#[derive(serde::Serialize)]
struct Secret {
    n: u32,
}

#[derive(SseEvent)]
enum Outbound {
    Said(Secret),
    Join { user: Secret, at: u64 },
    Pair(u8, Secret),
    Left,
}

fn main() {
    let event = sse_runtime::IntoEvent::into_event(Outbound::Join {
        user: Secret { n: 1 },
        at: 2,
    })
    .unwrap();
    assert_eq!(
        event.as_bytes(),
        b"event: join\ndata: {\"user\":{\"n\":1},\"at\":2}\n\n"
    );
    let _ = (Outbound::Said(Secret { n: 0 }), Outbound::Pair(0, Secret { n: 0 }), Outbound::Left);
}
