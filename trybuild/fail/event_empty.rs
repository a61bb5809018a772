fn main() {
    let _ = sse_runtime::event!();
}
