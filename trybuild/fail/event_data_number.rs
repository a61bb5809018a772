fn main() {
    let count = 5u32;
    let _ = sse_runtime::event!(data: count);
}
