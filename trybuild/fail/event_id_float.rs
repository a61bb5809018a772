fn main() {
    let _ = sse_runtime::event!(data: "x", id: 1.5);
}
