fn main() {
    let _ = sse_runtime::event!(data: "x", id: 1, id: 2);
    let _ = sse_runtime::event!("positional", data: "keyed");
}
