use sse_runtime::testing::TestStream;
use sse_runtime::SseEvent;

#[derive(serde::Serialize)]
struct Secret {
    n: u32,
}

// Sent by a server, never decoded: this compiles.
#[derive(SseEvent)]
enum Secretive {
    Said(Secret),
}

#[derive(SseEvent)]
enum Borrowed {
    Said(&'static str),
}

async fn read(stream: &mut TestStream) {
    let _ = stream.next_as::<Secretive>().await;
    let _ = stream.next_as::<Borrowed>().await;
}

fn main() {
    let _ = read;
}
