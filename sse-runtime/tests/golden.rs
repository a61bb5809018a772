//! Golden files: the exact bytes of every documented case, one file each
//! under `tests/golden/`, so that any change to the wire output shows in a
//! diff. A refused value's file holds `refused: ` and the error text.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test -p sse-runtime --test golden`,
//! then review `git diff`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use sse_runtime::{comment, event, keep_alive, Event, EventError};

#[derive(Serialize)]
struct Message {
    user: &'static str,
    text: &'static str,
}

fn cases() -> Vec<(&'static str, Result<Event, EventError>)> {
    vec![
        ("text", event!("Hello, SSE!")),
        ("text_lf", event!("one\ntwo")),
        ("text_cr", event!("one\rtwo")),
        ("text_crlf", event!("one\r\ntwo")),
        ("text_mixed_breaks", event!("a\r\n\rb\n\nc\r")),
        ("text_trailing_lf", event!("line\n")),
        ("text_leading_spaces", event!("  indented")),
        (
            "text_looks_like_fields",
            event!("data: x\nid: 1\n\nevent: forged"),
        ),
        ("text_unicode", event!("caf\u{e9} \u{1F980} \u{FEFF}")),
        ("empty_data", event!("")),
        (
            "json",
            event!(json: Message { user: "ada", text: "hi\nthere" }),
        ),
        ("json_raw_value_with_breaks", {
            let raw =
                serde_json::value::RawValue::from_string("{\n  \"a\": 1\r\n}".into()).unwrap();
            event!(json: raw)
        }),
        ("event_name", event!(data: "x", event: "greeting")),
        ("empty_event_name", event!(data: "x", event: "")),
        ("id_text", event!(data: "x", id: "abc-1")),
        ("id_integer", event!(data: "x", id: 42u64)),
        ("id_negative", event!(data: "x", id: -7)),
        ("id_empty", event!(data: "x", id: "")),
        ("retry_ms", event!(data: "x", retry: 5000)),
        (
            "retry_duration",
            event!(data: "x", retry: Duration::from_millis(1500)),
        ),
        (
            "retry_sub_millisecond",
            event!(data: "x", retry: Duration::from_micros(2999)),
        ),
        (
            "all_fields",
            event!(json: [1, 2], event: "update", id: 7, retry: 3000),
        ),
        ("comment", Ok(comment!("Starting process").into())),
        ("comment_multiline", Ok(comment!("a\nb\r\nc").into())),
        ("comment_empty", Ok(comment!("").into())),
        ("keep_alive", Ok(keep_alive!().into())),
        (
            "refused_event_name_lf",
            event!(data: "x", event: String::from("a\nb")),
        ),
        (
            "refused_event_name_cr",
            event!(data: "x", event: String::from("a\rb")),
        ),
        (
            "refused_id_crlf",
            event!(data: "x", id: String::from("1\r\n")),
        ),
        ("refused_id_nul", event!(data: "x", id: String::from("1\0"))),
        ("refused_negative_retry", {
            let retry: i32 = -1;
            event!(data: "x", retry: retry)
        }),
        (
            "refused_retry_too_long",
            event!(data: "x", retry: Duration::MAX),
        ),
        ("refused_json", {
            let mut map = std::collections::HashMap::new();
            map.insert((1, 2), "tuple keys are not JSON");
            event!(json: map)
        }),
    ]
}

#[test]
fn wire_output_matches_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (name, event) in cases() {
        let bytes = match event {
            Ok(event) => event.as_bytes().to_vec(),
            Err(error) => format!("refused: {error}\n").into_bytes(),
        };
        let path = dir.join(format!("{name}.sse"));
        if update {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        match std::fs::read(&path) {
            Ok(expected) if expected == bytes => {}
            Ok(expected) => mismatches.push(format!(
                "{name}: expected {:?}, got {:?}",
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&bytes)
            )),
            Err(error) => mismatches.push(format!("{name}: {}: {error}", path.display())),
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatches:\n{}",
        mismatches.join("\n")
    );
}
