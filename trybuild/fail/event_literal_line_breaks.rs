fn main() {
    let _ = sse_runtime::event!(data: "x", event: "two\nlines");
    let _ = sse_runtime::event!(data: "x", id: "1\r\n");
    let _ = sse_runtime::event!(data: "x", id: "nul\0");
}
