fn main() {
    let _ = sse_runtime::event!(event: "update", id: 1);
}
