fn main() {
    let _ = sse_runtime::event!(data: "x", retry: -5);
    let _ = sse_runtime::event!(data: "x", retry: 1.5);
    let _ = sse_runtime::event!(data: "x", retry: "5000");
}
