//! Any event the encoder accepts parses back, with our WHATWG parser, to
//! exactly that event; anything it refuses, it refuses for a stated reason.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sse_runtime::testing::{parse_all, Received};
use sse_runtime::{Event, EventError};

#[derive(Arbitrary, Debug)]
struct Input {
    data: String,
    event: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    comment: String,
}

fuzz_target!(|input: Input| {
    let mut builder = Event::builder();
    if let Some(event) = &input.event {
        builder = builder.event(event);
    }
    if let Some(id) = &input.id {
        builder = builder.id(id);
    }
    if let Some(retry) = input.retry {
        builder = builder.retry(retry);
    }
    let breaks = |text: &str| text.contains(['\r', '\n']);
    match builder.data(&input.data) {
        Ok(event) => {
            assert!(!input.event.as_deref().is_some_and(breaks));
            assert!(!input.id.as_deref().is_some_and(|id| breaks(id) || id.contains('\0')));
            let parsed = parse_all(event.as_bytes());
            let [Received::Event(received)] = parsed.as_slice() else {
                panic!("expected exactly one event, got {parsed:?}");
            };
            let expected_data = input.data.replace("\r\n", "\n").replace('\r', "\n");
            assert_eq!(received.data, expected_data);
            let expected_type = match input.event.as_deref() {
                None | Some("") => "message",
                Some(name) => name,
            };
            assert_eq!(received.event_type, expected_type);
            assert_eq!(received.last_event_id, input.id.clone().unwrap_or_default());
            assert_eq!(received.retry.map(|r| r.as_millis() as u64), input.retry);
        }
        Err(EventError::LineBreakInEventName) => {
            assert!(input.event.as_deref().is_some_and(breaks))
        }
        Err(EventError::LineBreakInId) => assert!(input.id.as_deref().is_some_and(breaks)),
        Err(EventError::NulInId) => assert!(input.id.as_deref().is_some_and(|id| id.contains('\0'))),
        Err(other) => panic!("unexpected refusal: {other}"),
    }
    let comment = Event::comment(&input.comment);
    assert!(parse_all(comment.as_bytes())
        .iter()
        .all(|item| matches!(item, Received::Comment(_))));
});
