//! The wire encoder: turns event fields into `text/event-stream` bytes.
//!
//! This module knows nothing about axum, tokio or HTTP. It follows the
//! WHATWG HTML "Server-sent events" parsing rules (§9.2.6, "Interpreting an
//! event stream") from the receiving side, so that what a browser's
//! `EventSource` reads back is exactly what the user gave:
//!
//! * A line ends at CR, LF or CRLF, and a CRLF is one line end. Data is split
//!   at every such break into one `data:` line each; the receiver joins them
//!   with LF, so `"a\r\nb"` arrives as `"a\nb"` — the protocol's own
//!   normalisation, and the only change a value ever sees.
//! * Every field is written as `name: value`. The receiver drops exactly one
//!   space after the colon, so a value's own leading spaces survive.
//! * Empty data is written as one empty `data:` line, which the receiver still
//!   dispatches (as an event whose data is the empty string).
//! * A value that cannot be written on one line (an event name or id holding
//!   CR or LF) or that the receiver would silently ignore (an id holding NUL)
//!   is refused here with an [`EventError`]; it is never rewritten, because a
//!   rewritten id or event name is a silently different event.
//!
//! Every function appends to a caller's `Vec<u8>`, so the response body can
//! encode many events into one buffer and send them as one frame.

use bytes::BufMut;

use crate::error::EventError;

/// Appends `data: <line>\n` for every line of `text`, splitting at CR, LF and
/// CRLF.
pub(crate) fn put_data_lines(out: &mut Vec<u8>, text: &str) {
    put_prefixed_lines(out, b"data: ", text);
}

/// Writes `prefix`, a line, and LF for every line of `text`.
fn put_prefixed_lines(out: &mut Vec<u8>, prefix: &[u8], text: &str) {
    let mut rest = text.as_bytes();
    // Most values are a single line: reserve for that case up front so the
    // common path does one capacity check, not one per `put_slice`.
    out.reserve(rest.len() + prefix.len() + 1);
    loop {
        out.put_slice(prefix);
        match memchr::memchr2(b'\n', b'\r', rest) {
            None => {
                out.put_slice(rest);
                out.put_u8(b'\n');
                return;
            }
            Some(at) => {
                out.put_slice(&rest[..at]);
                out.put_u8(b'\n');
                let break_len = if rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[at + break_len..];
            }
        }
    }
}

/// Serializes `value` as compact JSON straight into `out` as `data:` lines.
///
/// serde_json's compact writer escapes CR and LF inside strings and writes no
/// whitespace of its own, so its output is one line. The exception is
/// `serde_json::value::RawValue`, which is copied verbatim and may hold line
/// breaks as JSON whitespace; when the scan finds one, the already-written
/// text is re-split into `data:` lines, which the receiver joins back with LF.
/// A NaN or infinite float is an error, not `null` (see `finite.rs`). On a
/// serialization error, `out` is left exactly as it was.
pub(crate) fn put_json_data<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    out.put_slice(b"data: ");
    let json_start = out.len();
    if let Err(error) = crate::finite::to_writer(out, value) {
        out.truncate(start);
        return Err(error);
    }
    if memchr::memchr2(b'\n', b'\r', &out[json_start..]).is_some() {
        let json = out.split_off(json_start);
        out.truncate(start);
        // serde_json only writes valid UTF-8; a failure here would be a
        // serde_json bug, and is still handled without a panic.
        let text = String::from_utf8_lossy(&json);
        put_data_lines(out, &text);
    } else {
        out.put_u8(b'\n');
    }
    Ok(())
}

/// Appends `event: <name>\n`. The name must already be checked with
/// [`check_event_name`].
pub(crate) fn put_event_name(out: &mut Vec<u8>, name: &str) {
    put_field(out, b"event: ", name.as_bytes());
}

/// Appends `id: <id>\n`. The id must already be checked with [`check_id`].
pub(crate) fn put_id(out: &mut Vec<u8>, id: &str) {
    put_field(out, b"id: ", id.as_bytes());
}

/// Appends `retry: <milliseconds>\n`.
pub(crate) fn put_retry(out: &mut Vec<u8>, milliseconds: u64) {
    let mut digits = itoa::Buffer::new();
    put_field(out, b"retry: ", digits.format(milliseconds).as_bytes());
}

/// Appends a comment: `: <line>\n` for every line of `text`, then the blank
/// line that ends a frame.
///
/// A comment is invisible to `EventSource`, so splitting it into several
/// comment lines loses nothing and keeps a line break inside it from starting
/// a field.
pub(crate) fn put_comment(out: &mut Vec<u8>, text: &str) {
    put_prefixed_lines(out, b": ", text);
    out.put_u8(b'\n');
}

/// Appends the blank line that makes the receiver dispatch the event.
pub(crate) fn put_end_of_event(out: &mut Vec<u8>) {
    out.put_u8(b'\n');
}

/// Appends a whole event with a fixed name and text data: the events the
/// runtime sends by itself (`error`, `lagged`, `reset`).
pub(crate) fn put_named_event(out: &mut Vec<u8>, name: &str, data: &str) {
    // The names are the runtime's own literals, never user input.
    debug_assert!(check_event_name(name).is_ok(), "{name:?}");
    put_event_name(out, name);
    put_data_lines(out, data);
    put_end_of_event(out);
}

/// The keep-alive frame: an empty comment and a blank line.
pub(crate) const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

fn put_field(out: &mut Vec<u8>, prefix: &[u8], value: &[u8]) {
    out.reserve(prefix.len() + value.len() + 1);
    out.put_slice(prefix);
    out.put_slice(value);
    out.put_u8(b'\n');
}

/// Checks that an event name can be sent on one line.
pub(crate) fn check_event_name(name: &str) -> Result<(), EventError> {
    match memchr::memchr2(b'\n', b'\r', name.as_bytes()) {
        None => Ok(()),
        Some(_) => Err(EventError::LineBreakInEventName),
    }
}

/// Checks that an id can be sent on one line and will not be ignored: the
/// receiver drops an `id` field whose value contains NUL.
pub(crate) fn check_id(id: &str) -> Result<(), EventError> {
    let bytes = id.as_bytes();
    if memchr::memchr2(b'\n', b'\r', bytes).is_some() {
        return Err(EventError::LineBreakInId);
    }
    if memchr::memchr(0, bytes).is_some() {
        return Err(EventError::NulInId);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(text: &str) -> String {
        let mut out = Vec::new();
        put_data_lines(&mut out, text);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn data_splits_at_every_kind_of_line_break() {
        assert_eq!(data("a"), "data: a\n");
        assert_eq!(data(""), "data: \n");
        assert_eq!(data("a\nb"), "data: a\ndata: b\n");
        assert_eq!(data("a\rb"), "data: a\ndata: b\n");
        assert_eq!(data("a\r\nb"), "data: a\ndata: b\n");
        assert_eq!(data("a\n\rb"), "data: a\ndata: \ndata: b\n");
        assert_eq!(data("a\r\n"), "data: a\ndata: \n");
        assert_eq!(data("\r"), "data: \ndata: \n");
        assert_eq!(data("  lead"), "data:   lead\n");
    }

    #[test]
    fn comment_lines_cannot_start_a_field() {
        let mut out = Vec::new();
        put_comment(&mut out, "x\ndata: forged\r\nid: 1");
        assert_eq!(&out[..], b": x\n: data: forged\n: id: 1\n\n");
    }

    #[test]
    fn json_with_raw_line_breaks_is_split() {
        let raw = serde_json::value::RawValue::from_string("{\r\n\"a\": 1\n}".into()).unwrap();
        let mut out = Vec::new();
        put_json_data(&mut out, &raw).unwrap();
        assert_eq!(&out[..], b"data: {\ndata: \"a\": 1\ndata: }\n");
    }

    #[test]
    fn json_error_leaves_buffer_unchanged() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let mut out = b"event: x\n".to_vec();
        assert!(put_json_data(&mut out, &map).is_err());
        assert_eq!(&out[..], b"event: x\n");
    }

    #[test]
    fn checks_refuse_forging_values() {
        assert!(check_event_name("a\nb").is_err());
        assert!(check_event_name("a\rb").is_err());
        assert!(check_event_name(" a\0b ").is_ok());
        assert!(check_id("1\n").is_err());
        assert!(check_id("1\r").is_err());
        assert!(check_id("1\0").is_err());
        assert!(check_id("").is_ok());
    }
}
