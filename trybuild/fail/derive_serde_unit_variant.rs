use sse_runtime::SseEvent;

fn shout<S: serde::Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("LEFT")
}

// A unit variant's event is sent with empty data: serde's keys that decide
// a variant's data are errors there, not left out in silence (the event
// was sent although serde would refuse to write it, or written without
// the user's function).
#[derive(SseEvent)]
enum Chat {
    #[serde(skip_serializing)]
    Gone,
    #[serde(serialize_with = "shout")]
    Left,
    Joined,
    // Not a catch-all for unknown event names, which decode to an error.
    #[serde(other)]
    Unknown,
}

fn main() {}
