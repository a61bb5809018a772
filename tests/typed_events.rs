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

// ---------------------------------------------------------------------
// serde decides the JSON: each event's data is what serde writes for the
// variant's content, with every attribute the user wrote.
// ---------------------------------------------------------------------

/// The data of one typed event, as the browser joins its `data:` lines.
fn data_of<E: SseEvent>(event: &E) -> Result<String, sse_runtime::EventError> {
    let event = event.encode(sse_runtime::Event::builder())?;
    let text = String::from_utf8(event.as_bytes().to_vec()).unwrap();
    Ok(text
        .lines()
        .filter_map(|line| line.strip_prefix("data: ").or(line.strip_prefix("data:")))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// What serde writes for `value`'s content: serde writes an externally
/// tagged variant as `{"Variant":content}`. Taken from serde's own text, so
/// that the order of the fields is serde's too.
fn serde_content<T: serde::Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap();
    let key = serde_tag(&text);
    text[1 + key.len() + 1..text.len() - 1].to_owned()
}

/// The `"Variant"` of serde's `{"Variant":content}`, as JSON.
fn serde_tag(text: &str) -> String {
    let mut keys = serde_json::Deserializer::from_str(&text[1..]).into_iter::<String>();
    let key = keys.next().unwrap().unwrap();
    serde_json::to_string(&key).unwrap()
}

/// What serde reads from the content `data` of `value`'s variant.
fn serde_reads<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T, data: &str) -> T {
    let tag = serde_tag(&serde_json::to_string(value).unwrap());
    serde_json::from_str(&format!("{{{tag}:{data}}}")).unwrap()
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

fn shout<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&text.to_uppercase())
}

fn whisper<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    <String as serde::Deserialize>::deserialize(deserializer).map(|text| text.to_lowercase())
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone, Default)]
struct Extra {
    #[serde(rename = "x")]
    extra: u8,
}

/// Every serde attribute a struct-variant field (and a variant) may carry.
/// The enum derives serde's traits too, only so that the tests can ask
/// serde what it writes; `Serverside` below derives `SseEvent` alone.
#[derive(SseEvent, serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
#[serde(rename_all_fields = "camelCase")]
enum Account {
    Joined {
        user_name: String,
        #[serde(skip)]
        auth_token: String,
    },
    Renamed {
        #[serde(rename = "was")]
        old_name: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
        #[serde(skip_serializing_if = "is_false", default)]
        admin: bool,
    },
    #[serde(rename_all = "SCREAMING-KEBAB-CASE")]
    Shouted {
        #[serde(serialize_with = "shout", deserialize_with = "whisper")]
        said_text: String,
        #[serde(flatten)]
        extra: Extra,
    },
    Pair(#[serde(skip)] u8, String),
    NoFields(),
    NoNamedFields {},
    Value(f64),
    Left,
}

fn accounts() -> Vec<Account> {
    vec![
        Account::Joined {
            user_name: "ann".into(),
            auth_token: "s3cr3t".into(),
        },
        Account::Renamed {
            old_name: "bob".into(),
            note: None,
            admin: false,
        },
        Account::Renamed {
            old_name: "bob".into(),
            note: Some("hi".into()),
            admin: true,
        },
        Account::Shouted {
            said_text: "hey".into(),
            extra: Extra { extra: 7 },
        },
        Account::Pair(9, "two".into()),
        Account::NoFields(),
        Account::NoNamedFields {},
        Account::Value(1.5),
    ]
}

#[test]
fn a_skipped_field_is_not_sent() {
    let joined = Account::Joined {
        user_name: "ann".into(),
        auth_token: "s3cr3t".into(),
    };
    assert_eq!(
        wire(joined),
        "event: joined\ndata: {\"userName\":\"ann\"}\n\n"
    );
}

#[test]
fn the_data_is_what_serde_writes_for_the_variant() {
    for value in accounts() {
        assert_eq!(data_of(&value).unwrap(), serde_content(&value), "{value:?}");
    }
    // A zero-field tuple variant is an empty array, as serde writes it
    // (and as the TypeScript declares it), not `null`.
    assert_eq!(data_of(&Account::NoFields()).unwrap(), "[]");
    assert_eq!(data_of(&Account::NoNamedFields {}).unwrap(), "{}");
    assert_eq!(data_of(&Account::Left).unwrap(), "");
}

#[test]
fn the_decoder_reads_what_serde_reads() {
    for value in accounts() {
        let data = data_of(&value).unwrap();
        let decoded = Account::decode(value.event_name(), &data).unwrap();
        // What serde reads back from its own output, through the enum's
        // own `Deserialize`: a skipped field is its default, a whispered
        // one lowercase.
        assert_eq!(decoded, serde_reads(&value, &data), "{data}");
    }
    assert_eq!(Account::decode("left", "").unwrap(), Account::Left);
    // Unknown fields are ignored, as serde does without
    // `deny_unknown_fields`.
    assert_eq!(
        Account::decode("joined", r#"{"userName":"ann","newField":1}"#).unwrap(),
        Account::Joined {
            user_name: "ann".into(),
            auth_token: String::new()
        }
    );
}

/// Unknown fields refused where the enum says so.
#[derive(SseEvent, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
enum Strict {
    Join { user: String },
}

#[test]
fn deny_unknown_fields_on_the_enum_is_kept() {
    let error = Strict::decode("join", r#"{"user":"a","x":1}"#).unwrap_err();
    assert!(error.to_string().contains("unknown field `x`"), "{error}");
}

/// An enum only a server sends: serde attributes without deriving serde's
/// traits, and fields named like the derive's own variables.
#[derive(SseEvent)]
#[allow(dead_code)]
enum Serverside {
    Joined {
        user: String,
        #[serde(skip)]
        auth_token: String,
    },
    Odd {
        builder: u8,
        name: u8,
        data: u8,
        serializer: u8,
        value: u8,
        out: u8,
        #[serde(rename = "self")]
        this: u8,
    },
}

#[test]
fn any_field_name_compiles_and_serde_attributes_need_no_serde_derive() {
    let joined = Serverside::Joined {
        user: "ann".into(),
        auth_token: "s3cr3t".into(),
    };
    assert_eq!(wire(joined), "event: joined\ndata: {\"user\":\"ann\"}\n\n");
    let odd = Serverside::Odd {
        builder: 1,
        name: 2,
        data: 3,
        serializer: 4,
        value: 5,
        out: 6,
        this: 7,
    };
    assert_eq!(
        wire(odd),
        "event: odd\ndata: {\"builder\":1,\"name\":2,\"data\":3,\"serializer\":4,\"value\":5,\"out\":6,\"self\":7}\n\n"
    );
}

#[test]
fn numbers_json_cannot_carry_are_refused_not_sent_as_null() {
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let error = Account::Value(value).into_event().unwrap_err();
        assert!(
            matches!(error, sse_runtime::EventError::Json(_)),
            "{value}: {error}"
        );
        let nested = Account::Shouted {
            said_text: "x".into(),
            extra: Extra { extra: 0 },
        };
        assert!(nested.into_event().is_ok());
        // The same for any JSON data, typed or not.
        assert!(matches!(
            sse_runtime::event!(json: vec![1.0, value]),
            Err(sse_runtime::EventError::Json(_))
        ));
    }
}

/// Variant names in several scripts, named by serde's own
/// `rename_all = "snake_case"` for comparison.
#[derive(SseEvent, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(non_camel_case_types)]
enum Scripts {
    ÉtatChangé,
    ΑλφαΒήτα,
    MessageSent,
    HTTPError,
    Ünïcode,
    日本語Name,
    already_snake,
    Mixed_Case,
}

#[test]
fn event_names_are_serde_snake_case_in_every_script() {
    let values = [
        Scripts::ÉtatChangé,
        Scripts::ΑλφαΒήτα,
        Scripts::MessageSent,
        Scripts::HTTPError,
        Scripts::Ünïcode,
        Scripts::日本語Name,
        Scripts::already_snake,
        Scripts::Mixed_Case,
    ];
    for value in values {
        let by_serde: String =
            serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(value.event_name(), by_serde);
    }
    assert_eq!(Scripts::ÉtatChangé.event_name(), "État_changé");
}

// ---------------------------------------------------------------------
// The same, over generated values of several enums (proptest).
// ---------------------------------------------------------------------

mod generated {
    use proptest::prelude::*;
    use sse_runtime::{DecodeEvent, SseEvent};

    use super::{data_of, serde_content, serde_reads};

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
    pub struct Point {
        pub x: i32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        pub label: Option<String>,
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
    #[serde(tag = "kind", rename_all = "lowercase")]
    pub enum Shape {
        Circle { r: u16 },
        Dot,
    }

    #[derive(SseEvent, serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
    #[serde(rename_all_fields = "PascalCase")]
    pub enum First {
        Plain(String),
        Points(Vec<Point>),
        Fields {
            some_text: String,
            #[serde(skip_serializing_if = "Vec::is_empty", default)]
            many_numbers: Vec<u64>,
            #[serde(rename = "shape!")]
            shape: Shape,
        },
        Tuple(u8, Option<bool>, String),
        Float(f64),
        Mapped(std::collections::BTreeMap<String, i64>),
    }

    #[derive(SseEvent, serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
    pub enum Second {
        #[serde(rename_all = "kebab-case")]
        Nested {
            inner_point: Point,
            #[serde(skip)]
            hidden: u32,
            maybe_shape: Option<Shape>,
        },
        #[serde(rename_all = "UPPERCASE")]
        Unit {},
        Chars(char, Vec<char>),
        Big(u128, i128),
    }

    fn point() -> impl Strategy<Value = Point> {
        (any::<i32>(), proptest::option::of(".*")).prop_map(|(x, label)| Point { x, label })
    }

    fn shape() -> impl Strategy<Value = Shape> {
        prop_oneof![
            any::<u16>().prop_map(|r| Shape::Circle { r }),
            Just(Shape::Dot)
        ]
    }

    fn first() -> impl Strategy<Value = First> {
        prop_oneof![
            ".*".prop_map(First::Plain),
            proptest::collection::vec(point(), 0..4).prop_map(First::Points),
            (".*", proptest::collection::vec(any::<u64>(), 0..3), shape()).prop_map(
                |(some_text, many_numbers, shape)| First::Fields {
                    some_text,
                    many_numbers,
                    shape
                }
            ),
            (any::<u8>(), any::<Option<bool>>(), ".*").prop_map(|(a, b, c)| First::Tuple(a, b, c)),
            proptest::num::f64::NORMAL.prop_map(First::Float),
            proptest::collection::btree_map(".*", any::<i64>(), 0..3).prop_map(First::Mapped),
        ]
    }

    fn second() -> impl Strategy<Value = Second> {
        prop_oneof![
            (point(), any::<u32>(), proptest::option::of(shape())).prop_map(
                |(inner_point, hidden, maybe_shape)| Second::Nested {
                    inner_point,
                    hidden,
                    maybe_shape
                }
            ),
            Just(Second::Unit {}),
            (
                any::<char>(),
                proptest::collection::vec(any::<char>(), 0..3)
            )
                .prop_map(|(c, cs)| Second::Chars(c, cs)),
            (any::<u128>(), any::<i128>()).prop_map(|(a, b)| Second::Big(a, b)),
        ]
    }

    /// serde's data, and serde's reading of it back.
    fn check<E>(value: &E) -> Result<(), TestCaseError>
    where
        E: SseEvent
            + DecodeEvent
            + serde::Serialize
            + serde::de::DeserializeOwned
            + PartialEq
            + std::fmt::Debug,
    {
        let data = data_of(value).unwrap();
        prop_assert_eq!(&data, &serde_content(value));
        let decoded = E::decode(value.event_name(), &data).unwrap();
        prop_assert_eq!(decoded, serde_reads(value, &data));
        Ok(())
    }

    proptest! {
        #[test]
        fn first_is_what_serde_writes_and_reads(value in first()) {
            check(&value)?;
        }

        #[test]
        fn second_is_what_serde_writes_and_reads(value in second()) {
            check(&value)?;
        }
    }
}

// ---------------------------------------------------------------------
// Version skew: an event the type does not know.
// ---------------------------------------------------------------------

/// Version 1 of a feed's events, and version 2, which adds one. Both
/// declare the hub's notices, so that a `TypedHub` takes either.
mod versions {
    #[derive(sse_runtime::SseEvent, Debug, PartialEq)]
    pub enum FeedV1 {
        Item(u32),
        Lagged(u64),
        Reset(String),
    }

    #[derive(sse_runtime::SseEvent, Debug, PartialEq)]
    pub enum FeedV2 {
        Item(u32),
        Removed { id: u32 },
        Lagged(u64),
        Reset(String),
    }
}

/// A typed handler of version 1 forwards a hub's events as they are: it
/// does not look inside them (what the hub carries is not the handler's to
/// filter), so an event a newer instance published on the shared hub
/// reaches the client unchanged, and a client of version 1 tells it apart
/// (`next_as` here, `onUnknown` in the browser; see tests/typescript.rs).
#[tokio::test]
async fn a_typed_handler_forwards_an_event_of_a_newer_version_unchanged() {
    use axum::extract::State;
    use sse_runtime::hub::{Hub, TypedHub};
    use sse_runtime::prelude::*;
    use sse_runtime::testing::TestClient;
    use versions::{FeedV1, FeedV2};

    #[sse_handler(events = FeedV1)]
    async fn feed(State(hub): State<TypedHub<FeedV1>>) {
        let mut subscription = hub.subscribe(&["feed"], None);
        // Subscribed: the test may publish.
        yield_!(FeedV1::Item(0));
        while let Some(event) = subscription.next().await {
            yield_!(event);
        }
    }

    let hub = Hub::new();
    let old = TypedHub::<FeedV1>::new(hub.clone());
    let new = TypedHub::<FeedV2>::new(hub);
    let app = axum::Router::new()
        .route("/feed", axum::routing::get(feed))
        .with_state(old.clone());
    let client = TestClient::new(app);
    let mut stream = client.get("/feed").send().await;
    assert_eq!(
        stream.next_as::<FeedV1>().await.unwrap(),
        Some(FeedV1::Item(0))
    );
    old.publish("feed", FeedV1::Item(1)).await.unwrap();
    assert_eq!(
        stream.next_as::<FeedV1>().await.unwrap(),
        Some(FeedV1::Item(1))
    );
    new.publish("feed", FeedV2::Removed { id: 1 })
        .await
        .unwrap();
    old.publish("feed", FeedV1::Item(2)).await.unwrap();
    let unknown = stream.next_as::<FeedV1>().await.unwrap_err();
    assert!(unknown.is_unknown_name());
    assert_eq!((unknown.name(), unknown.data()), ("removed", r#"{"id":1}"#));
    assert!(
        unknown
            .to_string()
            .contains(r#"received data: "{\"id\":1}""#),
        "{unknown}"
    );
    assert_eq!(
        stream.next_as::<FeedV1>().await.unwrap(),
        Some(FeedV1::Item(2))
    );
}

#[test]
fn a_decode_error_shows_what_was_received() {
    let error = Account::decode("joined", "not json").unwrap_err();
    let text = error.to_string();
    assert!(text.contains("\"joined\""), "{text}");
    assert!(text.contains(r#"received data: "not json""#), "{text}");
    let error = Account::decode("left", "1").unwrap_err();
    assert!(error.to_string().contains("carries no data"), "{error}");
    let long = "x".repeat(1000);
    let error = Account::decode("gone", &long).unwrap_err();
    assert!(error.to_string().ends_with("...") && error.to_string().len() < 400);
}

// ---------------------------------------------------------------------
// Any name compiles: the derive's hidden items are named so that no type,
// variant, field or module of the user's meets them.
// ---------------------------------------------------------------------

/// Type and variant names that the derive's hidden names were built from:
/// `Content` made the hidden copy of the enum `__SseContent`, the name of
/// another hidden item of the derive's, and `TsSaid` with a variant `Said`
/// made the copy and the TypeScript copy of the variant one name. Neither
/// compiled.
mod hidden_names {
    #[derive(sse_runtime::SseEvent, Debug, PartialEq)]
    pub enum Content {
        Said(String),
        Join { user: String },
    }

    #[derive(sse_runtime::SseEvent, Debug, PartialEq)]
    pub enum TsSaid {
        Said(u8),
    }

    #[derive(sse_runtime::SseEvent, Debug, PartialEq)]
    pub enum Fallback {
        Said(u8),
    }
}

#[test]
fn type_and_variant_names_do_not_meet_the_derives_own() {
    use hidden_names::{Content, Fallback, TsSaid};
    assert_eq!(
        wire(Content::Join { user: "ann".into() }),
        "event: join\ndata: {\"user\":\"ann\"}\n\n"
    );
    assert_eq!(
        Content::decode("said", "\"hi\"").unwrap(),
        Content::Said("hi".into())
    );
    assert_eq!(wire(TsSaid::Said(1)), "event: said\ndata: 1\n\n");
    assert_eq!(TsSaid::decode("said", "1").unwrap(), TsSaid::Said(1));
    assert_eq!(Fallback::decode("said", "2").unwrap(), Fallback::Said(2));
}

/// A module of the user's named `serde`, whose types are payloads: the
/// derive named serde's crate `serde` in the block it writes beside the
/// enum, so `serde::Meta` was looked up in serde's crate and not found.
mod own_serde_module {
    pub mod serde {
        #[derive(::serde::Serialize, ::serde::Deserialize, ts_rs::TS, Debug, PartialEq)]
        pub struct Meta {
            pub n: u8,
        }
    }

    #[derive(sse_runtime::SseEvent, Debug, PartialEq)]
    pub enum WithMeta {
        Meta(serde::Meta),
        Fields { meta: serde::Meta },
    }
}

#[test]
fn a_module_named_serde_names_payload_types() {
    use own_serde_module::{serde::Meta, WithMeta};
    let sent = WithMeta::Fields {
        meta: Meta { n: 1 },
    };
    assert_eq!(wire(sent), "event: fields\ndata: {\"meta\":{\"n\":1}}\n\n");
    assert_eq!(
        WithMeta::decode("meta", r#"{"n":2}"#).unwrap(),
        WithMeta::Meta(Meta { n: 2 })
    );
}

/// `Self` in a payload type is the enum, as in serde's own derive; the
/// derive copied it into hidden types, where it was not in scope.
#[derive(SseEvent, serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
enum Tree {
    Leaf(u8),
    Batch(Vec<Self>),
    Nested { child: Option<Box<Self>> },
}

#[test]
fn self_in_a_payload_is_the_enum() {
    let batch = Tree::Batch(vec![Tree::Leaf(1), Tree::Batch(vec![])]);
    assert_eq!(data_of(&batch).unwrap(), serde_content(&batch));
    assert_eq!(data_of(&batch).unwrap(), r#"[{"Leaf":1},{"Batch":[]}]"#);
    let nested = Tree::Nested {
        child: Some(Box::new(Tree::Leaf(2))),
    };
    assert_eq!(data_of(&nested).unwrap(), serde_content(&nested));
    for value in [batch, nested] {
        let data = data_of(&value).unwrap();
        assert_eq!(Tree::decode(value.event_name(), &data).unwrap(), value);
    }
}

/// `#[serde(borrow)]` on a `Cow<'static, str>`, which serde's own derive
/// takes: the derive copied it, and serde's reading of a `'static` borrow
/// from input of any lifetime did not compile ("use of undeclared lifetime
/// name `'de`", on the derive). A decoded event owns its data, so the copy
/// reads it owned; what is sent is serde's.
#[derive(SseEvent, serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
enum Borrowing {
    Said {
        #[serde(borrow, rename = "t")]
        text: std::borrow::Cow<'static, str>,
    },
    #[serde(borrow)]
    Quoted(std::borrow::Cow<'static, str>),
}

#[test]
fn serde_borrow_is_taken_and_decoding_owns_the_data() {
    let values = [
        Borrowing::Said {
            text: "a \"b\"".into(),
        },
        Borrowing::Quoted("q".into()),
    ];
    for value in values {
        let data = data_of(&value).unwrap();
        assert_eq!(data, serde_content(&value));
        assert_eq!(Borrowing::decode(value.event_name(), &data).unwrap(), value);
    }
}
