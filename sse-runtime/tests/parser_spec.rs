//! The test parser against the WHATWG algorithm: cases written from the spec
//! text and from the web-platform-tests `eventsource/format-*` files, in our
//! own words. Each case is also fed split at every byte, which must not
//! change the outcome.

use std::time::Duration;

use sse_runtime::testing::{parse_all, Parser, Received, ReceivedEvent};

fn event(event_type: &str, data: &str, last_event_id: &str) -> Received {
    Received::Event(ReceivedEvent {
        event_type: event_type.into(),
        data: data.into(),
        last_event_id: last_event_id.into(),
        retry: None,
    })
}

fn events_only(items: Vec<Received>) -> Vec<Received> {
    items
        .into_iter()
        .filter(|item| matches!(item, Received::Event(_)))
        .collect()
}

/// Parses `stream` whole and split at every byte; both must agree.
fn parse(stream: &[u8]) -> Vec<Received> {
    let whole = parse_all(stream);
    for split in 0..=stream.len() {
        let mut parser = Parser::new();
        let mut split_items = parser.feed(&stream[..split]);
        split_items.extend(parser.feed(&stream[split..]));
        parser.finish();
        assert_eq!(split_items, whole, "split at byte {split} of {stream:?}");
    }
    let mut parser = Parser::new();
    let mut byte_items = Vec::new();
    for byte in stream {
        byte_items.extend(parser.feed(std::slice::from_ref(byte)));
    }
    assert_eq!(byte_items, whole, "fed one byte at a time: {stream:?}");
    whole
}

#[test]
fn one_leading_bom_is_skipped_and_a_second_is_not() {
    assert_eq!(
        parse(b"\xEF\xBB\xBFdata: 1\n\n"),
        [event("message", "1", "")]
    );
    // The second BOM becomes part of the field name, which is then unknown.
    assert_eq!(
        events_only(parse(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: 1\n\ndata: 2\n\n")),
        [event("message", "2", "")]
    );
    // A BOM later in the stream is not special either.
    assert_eq!(
        events_only(parse(b"data: 1\n\n\xEF\xBB\xBFdata: 2\n\n")),
        [event("message", "1", "")]
    );
}

#[test]
fn cr_lf_and_crlf_all_end_lines() {
    assert_eq!(
        parse(b"data:test\r\ndata\ndata:test\r\n\r"),
        [event("message", "test\n\ntest", "")]
    );
    assert_eq!(
        parse(b"data: a\rdata: b\r\r"),
        [event("message", "a\nb", "")]
    );
    // LF CR is two line ends: the CR is a blank line that dispatches.
    assert_eq!(parse(b"data: a\n\r"), [event("message", "a", "")]);
}

#[test]
fn exactly_one_leading_space_is_removed() {
    assert_eq!(
        parse(b"data:\ttest\rdata: \ndata:test\n\n"),
        [event("message", "\ttest\n\ntest", "")]
    );
    assert_eq!(parse(b"data:  two\n\n"), [event("message", " two", "")]);
}

#[test]
fn data_fields_collect_lines_and_empty_data_still_dispatches() {
    assert_eq!(
        parse(b"data:\n\ndata\ndata\n\ndata:test\n\n"),
        [
            event("message", "", ""),
            event("message", "\n", ""),
            event("message", "test", "")
        ]
    );
    // Without any data field nothing is dispatched, and the type resets.
    assert_eq!(
        parse(b"event: x\n\ndata: y\n\n"),
        [event("message", "y", "")]
    );
}

#[test]
fn field_parsing_follows_the_spec_cases() {
    let stream = b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n";
    assert_eq!(parse(stream), [event("message", "\0\n 2\n1\n3\n\n4", "")]);
}

#[test]
fn event_types() {
    assert_eq!(
        parse(b"event:test\ndata:x\n\ndata:x\n\n"),
        [event("test", "x", ""), event("message", "x", "")]
    );
    assert_eq!(
        parse(b"event: \ndata:data\n\n"),
        [event("message", "data", "")]
    );
}

#[test]
fn ids_persist_reset_and_ignore_nul() {
    assert_eq!(
        parse(b"id: 1\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n"),
        [
            event("message", "a", "1"),
            event("message", "b", "1"),
            event("message", "c", "")
        ]
    );
    assert_eq!(parse(b"id: 1\0\ndata: x\n\n"), [event("message", "x", "")]);
    // An id with no data still sets the last event id.
    let mut parser = Parser::new();
    parser.feed(b"id: 9\n\n");
    assert_eq!(parser.last_event_id(), "9");
}

#[test]
fn retry_takes_digits_only() {
    let retry = |stream: &[u8]| {
        let mut parser = Parser::new();
        parser.feed(stream);
        parser.reconnection_time()
    };
    assert_eq!(retry(b"retry:03000\n"), Some(Duration::from_millis(3000)));
    assert_eq!(retry(b"retry: 1000\n"), Some(Duration::from_millis(1000)));
    assert_eq!(retry(b"retry:1000x\n"), None);
    assert_eq!(retry(b"retry:\n"), None);
    assert_eq!(retry(b"retry\n"), None);
    assert_eq!(retry(b"retry: -5\n"), None);
    assert_eq!(
        retry(b"retry:  5\n"),
        None,
        "the second space is not a digit"
    );
    let items = parse(b"retry: 5\ndata: x\n\n");
    assert!(matches!(&items[0], Received::Event(e) if e.retry == Some(Duration::from_millis(5))));
}

#[test]
fn comments_and_unknown_fields_are_ignored() {
    assert_eq!(
        parse(b": hello\ndata: a\n:\nfoo: bar\ndata: b\n\n"),
        [
            Received::Comment("hello".into()),
            Received::Comment(String::new()),
            event("message", "a\nb", ""),
        ]
    );
}

#[test]
fn an_unterminated_last_event_is_discarded() {
    assert_eq!(
        parse(b"retry:1000\ndata:test1\n\nid:test\ndata:test"),
        [Received::Event(ReceivedEvent {
            event_type: "message".into(),
            data: "test1".into(),
            last_event_id: String::new(),
            retry: Some(Duration::from_millis(1000)),
        })]
    );
    assert_eq!(parse(b"data: a\n"), []);
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    assert_eq!(
        parse(b"data: caf\xE9\n\n"),
        [event("message", "caf\u{FFFD}", "")]
    );
    assert_eq!(
        parse("data: 🦀\n\n".as_bytes()),
        [event("message", "🦀", "")]
    );
}
