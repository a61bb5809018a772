fn main() {
    let _ = sse_runtime::event!(data: "x", json: 1);
}
