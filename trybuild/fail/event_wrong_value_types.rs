struct Opaque;

fn main() {
    let _ = sse_runtime::event!(json: Opaque, event: "x");
}

fn wrong_types() {
    let _ = sse_runtime::event!(data: 42);
    let _ = sse_runtime::event!(data: "x", id: 1.5);
    let _ = sse_runtime::event!(data: "x", event: 7);
}
