struct Opaque;

fn main() {
    let _ = sse_runtime::event!(json: Opaque, event: "x");
}
