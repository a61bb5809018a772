fn main() {
    let _ = sse_runtime::event!(data: "x", evnt: "update");
    let _ = sse_runtime::event!(data: "x", colour: "blue");
}
