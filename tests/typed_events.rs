//! Typed events held to what users write: names and data as serde and the
//! browser see them, decoding what was sent, and the hub's notices.

use sse_runtime::{DecodeEvent, IntoEvent, SseEvent};

/// The wire form of one event.
fn wire<E: IntoEvent>(event: E) -> String {
    String::from_utf8(event.into_event().unwrap().as_bytes().to_vec()).unwrap()
}

/// Raw identifiers: a field named `type` (a keyword, so `r#type`) is
/// `"type"` in JSON, as serde names it, and a variant named `r#match` is
/// the event `match`. The derive used to write the `r#` into both: data
/// `{"r#type":..}` that its own decoder (serde's) then refused.
#[derive(SseEvent, Debug, PartialEq)]
#[allow(non_camel_case_types)]
enum Raw {
    Field { r#type: String },
    r#match(u32),
}

#[test]
fn raw_identifiers_are_named_as_serde_names_them() {
    assert_eq!(Raw::EVENT_NAMES, ["field", "match"]);
    let sent = Raw::Field {
        r#type: "kind".into(),
    };
    assert_eq!(wire(sent), "event: field\ndata: {\"type\":\"kind\"}\n\n");
    assert_eq!(
        Raw::decode("field", r#"{"type":"kind"}"#).unwrap(),
        Raw::Field {
            r#type: "kind".into()
        }
    );
    assert_eq!(wire(Raw::r#match(1)), "event: match\ndata: 1\n\n");
    assert_eq!(Raw::decode("match", "1").unwrap(), Raw::r#match(1));
}

/// A struct can be one event; `rename` names it.
#[derive(SseEvent, serde::Serialize, serde::Deserialize, Debug, PartialEq)]
#[sse(rename = "r#tick")]
struct Tick {
    r#type: u8,
}

#[test]
fn a_renamed_struct_keeps_the_name_it_was_given() {
    assert_eq!(Tick::EVENT_NAMES, ["r#tick"]);
    assert_eq!(
        wire(Tick { r#type: 1 }),
        "event: r#tick\ndata: {\"type\":1}\n\n"
    );
}

/// Payloads of every shape go out and come back: options, vectors, nested
/// enums, unit variants, tuples.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Shape {
    Circle { r: f64 },
    Dot,
}

#[derive(SseEvent, Debug, PartialEq)]
enum Everything {
    Maybe(Option<u32>),
    Many(Vec<String>),
    Nested(Shape),
    Pair(u8, Option<String>),
    Fields {
        note: Option<String>,
        shapes: Vec<Shape>,
    },
    Nothing,
}

#[test]
fn every_shape_of_payload_round_trips() {
    let values = [
        Everything::Maybe(None),
        Everything::Maybe(Some(3)),
        Everything::Many(vec!["a".into(), "b\nc".into()]),
        Everything::Nested(Shape::Circle { r: 1.5 }),
        Everything::Nested(Shape::Dot),
        Everything::Pair(1, None),
        Everything::Fields {
            note: None,
            shapes: vec![Shape::Dot],
        },
        Everything::Nothing,
    ];
    for value in values {
        let name = value.event_name();
        let bytes = wire_of(&value);
        let data = bytes
            .lines()
            .filter_map(|line| line.strip_prefix("data: ").or(line.strip_prefix("data:")))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(Everything::decode(name, &data).unwrap(), value, "{bytes}");
    }
}

fn wire_of<E: SseEvent>(event: &E) -> String {
    let event = event.encode(sse_runtime::Event::builder()).unwrap();
    String::from_utf8(event.as_bytes().to_vec()).unwrap()
}

/// A typed hub's notices are the library's own (`TypedDelivery::Reset`,
/// `Lagged`), not variants the event type must declare; and a type whose
/// own events are named `lagged` and `reset`, of any shape, has them sent
/// exactly as published, never taken for notices.
#[derive(SseEvent, Debug, PartialEq)]
enum Feed {
    Item(u32),
    Lagged { n: u64 },
    Reset,
}

#[tokio::test]
async fn a_typed_hubs_notices_are_its_own_and_events_of_those_names_are_events() {
    use sse_runtime::hub::{Hub, TypedDelivery, TypedHub};
    let feed = TypedHub::<Feed>::new(Hub::new());
    let mut subscription = feed.subscribe(&["items"], "not-an-id");
    match subscription.next().await.unwrap() {
        TypedDelivery::Reset(reset) => assert_eq!(reset.last_event_id(), "not-an-id"),
        other => panic!("expected the hub's reset notice, got {other:?}"),
    }
    let sent = [Feed::Lagged { n: 5 }, Feed::Reset, Feed::Item(1)];
    let mut ids = Vec::new();
    for event in sent {
        ids.push(feed.publish("items", event).await.unwrap());
    }
    for (expected, id) in [Feed::Lagged { n: 5 }, Feed::Reset, Feed::Item(1)]
        .into_iter()
        .zip(ids)
    {
        let TypedDelivery::Event(event) = subscription.next().await.unwrap() else {
            panic!("a published event must arrive as an event");
        };
        let text = String::from_utf8(event.as_bytes().to_vec()).unwrap();
        let wire = wire_of(&expected);
        assert_eq!(
            text,
            format!("{}id: {id}\n\n", wire.strip_suffix('\n').unwrap())
        );
    }
}

/// Retries out of range stay errors of the event, as `event!` makes them.
#[test]
fn retries_out_of_range_are_refused_and_large_ones_sent() {
    #[derive(SseEvent)]
    enum Tick {
        Tick(u32),
    }
    let negative = Tick::Tick(1).with_retry(-5).into_event().unwrap_err();
    assert!(
        matches!(negative, sse_runtime::EventError::NegativeRetry(-5)),
        "{negative}"
    );
    let too_long = Tick::Tick(1)
        .with_retry(std::time::Duration::MAX)
        .into_event()
        .unwrap_err();
    assert!(
        matches!(too_long, sse_runtime::EventError::RetryTooLong),
        "{too_long}"
    );
    assert_eq!(
        wire(Tick::Tick(1).with_retry(u64::MAX).with_id("a")),
        format!("event: tick\nid: a\nretry: {}\ndata: 1\n\n", u64::MAX)
    );
}
