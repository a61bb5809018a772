fn main() {
    let _ = sse_runtime::event!(data: "x", event: 7);
}
