use sse_runtime::SseEvent;

// A mistake in a ts-rs attribute is ts-rs's one error, on the attribute:
// not also one where the TypeScript is described, naming a hidden type.
#[derive(SseEvent)]
enum Chat {
    Joined {
        #[ts(rename = 1)]
        user: String,
    },
}

fn main() {}
