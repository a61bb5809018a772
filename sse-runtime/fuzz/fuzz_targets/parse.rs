//! The parser never panics, and how the input is split into chunks never
//! changes what it reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse_runtime::testing::{parse_all, Parser};

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (stream, splits) = input;
    let whole = parse_all(&stream);
    let mut cuts: Vec<usize> = splits.iter().map(|&s| usize::from(s) % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parser = Parser::new();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.extend(parser.feed(&stream[start..cut]));
        start = cut;
    }
    pieces.extend(parser.feed(&stream[start..]));
    parser.finish();
    assert_eq!(pieces, whole);
});
