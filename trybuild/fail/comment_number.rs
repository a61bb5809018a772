fn main() {
    let step = 3u32;
    let _ = sse_runtime::comment!(step);
}
