//! The chat page's TypeScript: generated from the server's Rust
//! `ChatEvent` and checked in next to the example (`examples/chat/events.d.ts`
//! and `events.js`), then type-checked with the TypeScript compiler together
//! with the page's script and two consumers, one of which holds mistakes that
//! must fail (see `examples/chat/typecheck/mistakes.ts`).
//!
//! After changing `ChatEvent`, regenerate and review the diff:
//! `UPDATE_TYPESCRIPT=1 cargo test --test typescript`.
//!
//! The compiler comes from npm (`tests/browser/package.json`; `.ci/run`
//! installs it, and this test runs `npm ci` itself when it is missing).
//! Without Node.js or npm it prints a notice and passes, except under
//! `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use sse_runtime::typescript;
use sse_runtime::SseEvent;
use sse_suite::chat::ChatEvent;

fn chat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/chat")
}

fn llm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/llm")
}

/// The chat's client, generated from `ChatEvent`, and the llm page's
/// transport alone (its OpenAI chunks have no Rust type).
#[test]
fn generated_files_are_up_to_date() {
    let update = std::env::var("UPDATE_TYPESCRIPT").as_deref() == Ok("1");
    let files = [
        (
            chat_dir().join("events.d.ts"),
            typescript::declarations::<ChatEvent>().unwrap(),
        ),
        (
            chat_dir().join("events.js"),
            typescript::client::<ChatEvent>(),
        ),
        (
            llm_dir().join("event-stream.d.ts"),
            typescript::event_stream_declarations(),
        ),
        (
            llm_dir().join("event-stream.js"),
            typescript::event_stream(),
        ),
    ];
    for (path, generated) in files {
        if update {
            std::fs::write(&path, &generated).expect("write the generated file");
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} is out of date with sse-runtime; regenerate with \
             `UPDATE_TYPESCRIPT=1 cargo test --test typescript` and review the diff",
            path.display()
        );
    }
}

fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}; under CI=true the TypeScript check must run (.ci/run installs it)");
    }
    eprintln!("NOTICE: skipping the TypeScript check: {what}");
}

/// The TypeScript compiler from npm, installed if it is missing; `None`
/// (after a notice) when it cannot be.
///
/// Installed once per test process: the tests that type-check run in
/// parallel, and two `npm ci` in one folder remove each other's files
/// (`ENOTEMPTY`), which failed five tests under `CI=true` and skipped
/// them otherwise, on a checkout without `node_modules`.
fn tsc() -> Option<PathBuf> {
    static INSTALLED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let packages = root.join("tests/browser");
    let tsc = packages.join("node_modules/typescript/bin/tsc");
    let _one_at_a_time = INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !tsc.exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&packages)
            .status();
        if !matches!(installed, Ok(status) if status.success()) || !tsc.exists() {
            missing("the TypeScript compiler is not installed (npm ci --prefix tests/browser)");
            return None;
        }
    }
    Some(tsc)
}

/// Runs tsc on a project (`tsconfig.json`); panics with its report.
fn tsc_project(tsconfig: &Path) {
    let Some(tsc) = tsc() else {
        return;
    };
    let output = match Command::new("node")
        .arg(&tsc)
        .arg("-p")
        .arg(tsconfig)
        .output()
    {
        Ok(output) => output,
        Err(error) => return missing(&format!("node cannot be run: {error}")),
    };
    assert!(
        output.status.success(),
        "tsc found errors in {} (or a mistake in typecheck/mistakes.ts that is no longer caught):\n{}{}",
        tsconfig.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_page_and_a_consumer_type_check_and_the_mistakes_do_not() {
    tsc_project(&chat_dir().join("tsconfig.json"));
}

/// The llm page's script (`// @ts-check`) against the transport's
/// declarations, and the transport's own JavaScript.
#[test]
fn the_llm_page_type_checks() {
    tsc_project(&llm_dir().join("tsconfig.json"));
}

/// Event types that a real server has, and that the writers must survive.
mod hostile {
    use sse_runtime::SseEvent;

    /// A payload.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Thing {
        /// Its number. ts-rs writes a payload's own docs and escapes
        /// nothing in them: this one ends a comment */ export const injected = 1; /*
        pub n: u32,
    }

    /// Used by several payloads.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Inner {
        /** A value, in a block doc comment, which Rust lets /* nest */
        over lines. */
        pub v: u8,
    }

    /// Refers to another named type, twice.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Outer {
        /// One.
        pub inner: Inner,
        /// More.
        pub more: Vec<Inner>,
    }

    /// A generic payload, used with two types.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Page<T: ts_rs::TS> {
        /// The items.
        pub items: Vec<T>,
    }

    /// Names that are not JavaScript identifiers, names the browser's
    /// `EventSource` uses for its own events (`error`, `open`), a doc
    /// comment that ends a JSDoc comment.
    #[derive(SseEvent)]
    pub enum Hostile {
        /// Ends a comment early */ export const injected = 1; /* and goes on.
        Error(String),
        /// A struct variant's field docs go through ts-rs too.
        Fields {
            /// Ends */ a comment.
            a: u8,
        },
        /// Fired by the server, not by the connection.
        Open,
        #[sse(rename = "with \"quotes\" and \\ a backslash")]
        Quoted(u32),
        #[sse(rename = "not-an-identifier")]
        Dashed,
        #[sse(rename = "nul\u{0}1 and \u{2028}")]
        Odd(u8),
        Thing(Thing),
        Outer(Outer),
        Inner(Inner),
        Pages(Page<Inner>, Option<Page<Thing>>),
    }
}

/// A scratch directory of this test binary's own.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HOSTILE_CONSUMER: &str = r#"import { typed, EVENT_NAMES, type Hostile } from "./events.js";
const events = typed(new EventSource("/stream"));
events.on("error", (message: string) => message.length);
events.on("open", (nothing: null) => nothing);
events.on("with \"quotes\" and \\ a backslash", (n: number) => n + 1);
events.on("not-an-identifier", (nothing: null) => nothing);
events.on("thing", (thing) => thing.n + 1);
events.on("fields", (fields) => fields.a + 1);
export const names: readonly string[] = EVENT_NAMES;
export const one: Hostile = { event: "thing", data: { n: 1 } };
export const two: Hostile = { event: "outer", data: { inner: { v: 1 }, more: [] } };
export const three: Hostile = { event: "pages", data: [{ items: [{ v: 1 }] }, null] };
// @ts-expect-error a page of things holds things
export const four: Hostile = { event: "pages", data: [{ items: [] }, { items: [{ v: 1 }] }] };
// @ts-expect-error `error` carries a string
events.on("error", (n: number) => n);
"#;

/// Type-checks, with `tsc --strict`, the `.d.ts` and `.js` generated for
/// `E` (the `.js` as `// @ts-check` JavaScript, with `checkJs`) and a
/// consumer of them; panics with tsc's report.
fn type_check<E: typescript::TypeScriptEvents>(case: &str, consumer: &str) {
    let declarations = typescript::declarations::<E>().unwrap();
    let Some(tsc) = tsc() else {
        return;
    };
    let dir = scratch(case);
    std::fs::write(dir.join("events.d.ts"), &declarations).unwrap();
    std::fs::write(dir.join("events.js"), typescript::client::<E>()).unwrap();
    std::fs::write(dir.join("consumer.ts"), consumer).unwrap();
    std::fs::write(
        dir.join("tsconfig.json"),
        r#"{
  "compilerOptions": {
    "strict": true, "noEmit": true, "allowJs": true, "checkJs": true,
    "target": "ES2022", "module": "ES2022", "moduleResolution": "bundler",
    "lib": ["ES2022", "DOM"], "types": []
  },
  "files": ["consumer.ts", "events.js"]
}
"#,
    )
    .unwrap();
    let output = match Command::new("node")
        .arg(&tsc)
        .arg("-p")
        .arg(dir.join("tsconfig.json"))
        .output()
    {
        Ok(output) => output,
        Err(error) => return missing(&format!("node cannot be run: {error}")),
    };
    assert!(
        output.status.success(),
        "tsc rejects the files of {case}:\n{}{}\n--- events.d.ts:\n{declarations}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// The generated `.d.ts` and `.js` for awkward names and docs: tsc accepts
/// them and the consumer's types hold. A doc comment holding `*/` used to
/// end the JSDoc comment and put the rest into the `.d.ts` as code; names
/// were written with Rust's `{:?}`, whose `\0` before a digit is an octal
/// escape, a syntax error in a module.
#[test]
fn awkward_names_and_docs_give_typescript_that_compiles() {
    type_check::<hostile::Hostile>("hostile-types", HOSTILE_CONSUMER);
}

/// Drives the generated client in Node with an `EventTarget` standing in
/// for the browser's `EventSource`.
const CLIENT_RUN: &str = r#"import { typed, EVENT_NAMES } from "./events.mjs";
const source = new EventTarget();
const events = typed(source);
const got = [];
events.on("error", (data) => got.push(["error", data]));
events.on("open", (data) => got.push(["open", data]));
// The connection's own events: plain `Event`s, not messages.
source.dispatchEvent(new Event("open"));
source.dispatchEvent(new Event("error"));
// The server's.
source.dispatchEvent(new MessageEvent("error", { data: JSON.stringify("boom") }));
source.dispatchEvent(new MessageEvent("open", { data: "" }));

// Several handlers of one name share one parse.
const things = [];
events.on("thing", (thing) => things.push(thing));
events.on("thing", (thing) => things.push(thing));
source.dispatchEvent(new MessageEvent("thing", { data: '{"n":1}' }));

// A handler removed by another during a dispatch is not called, as
// `removeEventListener` behaves.
const calls = [];
let offSecond = () => {};
events.on("not-an-identifier", () => { calls.push("first"); offSecond(); });
offSecond = events.on("not-an-identifier", () => calls.push("second"));
source.dispatchEvent(new MessageEvent("not-an-identifier", { data: "" }));
source.dispatchEvent(new MessageEvent("not-an-identifier", { data: "" }));

// A name with quotes, and one with NUL and U+2028.
const odd = [];
events.on(EVENT_NAMES[3], (n) => odd.push(n));
events.on(EVENT_NAMES[5], (n) => odd.push(n));
source.dispatchEvent(new MessageEvent('with "quotes" and \\ a backslash', { data: "7" }));
source.dispatchEvent(new MessageEvent("nul\u00001 and \u2028", { data: "8" }));

console.log(JSON.stringify({ got, shared: things.length === 2 && things[0] === things[1], calls, odd, names: EVENT_NAMES }));
"#;

#[test]
fn the_generated_client_tells_the_servers_events_from_the_connections() {
    let dir = scratch("hostile-client");
    std::fs::write(
        dir.join("events.mjs"),
        typescript::client::<hostile::Hostile>(),
    )
    .unwrap();
    std::fs::write(dir.join("run.mjs"), CLIENT_RUN).unwrap();
    let output = match Command::new("node").arg(dir.join("run.mjs")).output() {
        Ok(output) => output,
        Err(error) => return missing(&format!("node cannot be run: {error}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        result["got"],
        serde_json::json!([["error", "boom"], ["open", null]]),
        "{result}"
    );
    assert_eq!(result["shared"], true, "{result}");
    assert_eq!(
        result["calls"],
        serde_json::json!(["first", "first"]),
        "{result}"
    );
    assert_eq!(result["odd"], serde_json::json!([7, 8]), "{result}");
    assert_eq!(
        result["names"],
        serde_json::json!(hostile::Hostile::EVENT_NAMES),
        "{result}"
    );
}

/// Two payload types that ts-rs names alike: from two modules, or one
/// named like a type the writer declares itself.
mod twins {
    /// Ann's.
    pub mod a {
        /// A message.
        #[derive(serde::Serialize, ts_rs::TS)]
        pub struct Message {
            /// Its text.
            pub text: String,
        }
    }
    /// Bob's.
    pub mod b {
        /// Another message.
        #[derive(serde::Serialize, ts_rs::TS)]
        pub struct Message {
            /// Its number.
            pub n: u32,
        }
    }
    /// Named as the writer names the event names' type.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct RoomName {
        /// The name.
        pub name: String,
    }

    /// Both messages.
    #[derive(sse_runtime::SseEvent)]
    pub enum Twins {
        /// Ann's.
        Said(a::Message),
        /// Bob's.
        Counted(b::Message),
    }

    /// The room's events.
    #[derive(sse_runtime::SseEvent)]
    pub enum Room {
        /// Renamed.
        Renamed(RoomName),
    }
}

/// The writer declares each named payload type once, by its TypeScript
/// name. Two different types of one name used to be declared once, the
/// second silently typed as the first; a payload named like one of the
/// writer's own declarations (`RoomName` for `Room`) was declared twice.
/// Either is refused, naming the type.
#[test]
fn payload_types_that_share_a_typescript_name_are_refused() {
    for (result, name) in [
        (typescript::declarations::<twins::Twins>(), "Message"),
        (typescript::declarations::<twins::Room>(), "RoomName"),
    ] {
        match result {
            Ok(declarations) => panic!("{name} was written as:\n{declarations}"),
            Err(error) => assert!(error.to_string().contains(&format!("`{name}`")), "{error}"),
        }
    }
}

/// Payload types named like the globals the generated files and their
/// users rely on, and like TypeScript's utility types. The file names the
/// globals it uses as `globalThis.MessageEvent` and so on, so these are
/// declared as they are, and a consumer's `new EventSource(..)` is still
/// the browser's.
#[allow(clippy::upper_case_acronyms)]
mod globals {
    macro_rules! payloads {
        ($($name:ident),*) => {$(
            /// A payload named like a global.
            #[derive(serde::Serialize, ts_rs::TS)]
            pub struct $name {
                /// Its text.
                pub text: String,
            }
        )*};
    }
    payloads!(
        MessageEvent,
        EventSource,
        Event,
        EventTarget,
        Error,
        Extract,
        Partial,
        Promise,
        Map,
        JSON,
        TypeError,
        URL,
        Headers,
        HeadersInit,
        Request,
        RequestInit,
        Response,
        AbortSignal,
        PromiseLike,
        XMLHttpRequestBodyInit,
        Init,
        Next,
        Stop
    );

    /// Uses each of them.
    #[derive(sse_runtime::SseEvent)]
    pub enum Globals {
        /// One.
        MessageEvent(MessageEvent),
        /// Two.
        EventSource(EventSource),
        /// Three.
        Event(Event),
        /// Four.
        Target(EventTarget),
        /// Five.
        Error(Error),
        /// Six.
        Extract(Extract),
        /// Seven.
        Partial(Partial),
        /// Eight.
        Promise(Promise),
        /// Nine.
        Map(Map),
        /// Ten.
        Json(JSON),
        /// Eleven.
        TypeError(TypeError),
        /// Twelve.
        Url(URL),
        /// The fetch transport's globals, and the names of its namespace.
        Fetch(
            Headers,
            HeadersInit,
            Request,
            RequestInit,
            Response,
            AbortSignal,
            PromiseLike,
            XMLHttpRequestBodyInit,
        ),
        /// Named like the transport's own types, in its namespace.
        Own(Init, Next, Stop),
    }
}

#[test]
fn payload_types_named_like_globals_are_declared_safely() {
    type_check::<globals::Globals>(
        "globals",
        r#"import { typed, EventStream, type Globals, type MessageEvent as Payload } from "./events.js";
const events = typed(new EventSource("/stream"));
events.on("message_event", (data: Payload, event: MessageEvent<string>) => data.text + event.data);
events.on("error", (data) => data.text.length);
events.on("extract", (data) => data.text);
typed(new EventStream("/stream")).on("partial", (data) => data.text);
const stream = new EventStream("/stream", {
  method: "POST",
  headers: new Headers({ authorization: "Bearer x" }),
  body: "{}",
  signal: new AbortController().signal,
  reconnect: () => Promise.resolve({ url: new URL("/other", "http://x"), headers: [["a", "b"]] }),
  onStop: (stop: EventStream.Stop) => stop.reason === "status" && stop.response.headers.get("x"),
  fetch: (url: string, init: RequestInit) => fetch(url, init),
});
const response: Response | null = stream.response;
typed(stream).on("fetch", ([headers]) => headers.text + String(response?.ok));
export const one: Globals = { event: "event", data: { text: "x" } };
// @ts-expect-error the payload named `Event` has a text
export const two: Globals = { event: "event", data: { n: 1 } };
"#,
    );
}

/// A struct that is one event: its own type is its data's, and the union
/// of its events is `{Name}Event`.
#[derive(serde::Serialize, ts_rs::TS, sse_runtime::SseEvent)]
#[sse(rename = "tick")]
struct Tick {
    /// The count.
    n: u32,
}

#[test]
fn a_struct_event_gets_declarations() {
    let declarations = typescript::declarations::<Tick>().unwrap();
    assert!(
        declarations.contains("export type Tick = "),
        "{declarations}"
    );
    assert!(
        declarations.contains(
            r#"export type TickEvent =
  | { event: "tick"; data: Tick }"#
        ),
        "{declarations}"
    );
    type_check::<Tick>(
        "struct-event",
        r#"import { typed, type Tick, type TickEvent } from "./events.js";
typed(new EventSource("/ticks")).on("tick", (tick: Tick) => tick.n + 1);
export const one: TickEvent = { event: "tick", data: { n: 1 } };
// @ts-expect-error a tick's `n` is a number
export const two: TickEvent = { event: "tick", data: { n: "1" } };
"#,
    );
}

/// Names TypeScript would reject, or read as something else.
mod refused {
    /// Named like a TypeScript primitive.
    #[derive(serde::Serialize, ts_rs::TS)]
    #[allow(non_camel_case_types)]
    pub struct string {
        /// A number.
        pub n: u32,
    }

    /// Named like the global that ts-rs writes for empty structs.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Record {
        /// A number.
        pub n: u32,
    }

    /// Named like the global that ts-rs writes for vectors.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Array {
        /// A number.
        pub n: u32,
    }

    /// Named like the client's own class.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct EventStream {
        /// A number.
        pub n: u32,
    }

    /// Uses `string`.
    #[derive(sse_runtime::SseEvent)]
    pub enum Strings {
        /// It.
        S(string),
    }

    /// Uses `Record`.
    #[derive(sse_runtime::SseEvent)]
    pub enum Records {
        /// It.
        R(Record),
    }

    /// Uses `Array`.
    #[derive(sse_runtime::SseEvent)]
    pub enum Arrays {
        /// It.
        A(Vec<Array>),
    }

    /// Uses `EventStream`.
    #[derive(sse_runtime::SseEvent)]
    pub enum Streams {
        /// It.
        S(EventStream),
    }

    /// An event type named with a TypeScript keyword.
    #[derive(sse_runtime::SseEvent)]
    #[allow(non_camel_case_types)]
    pub enum r#enum {
        /// It.
        E(u8),
    }

    /// An event type named like the client's own class: the `.d.ts`
    /// declared `type EventStream` and `class EventStream`, which tsc
    /// rejects (TS2300, duplicate identifier).
    pub mod own {
        /// Its events.
        #[derive(sse_runtime::SseEvent)]
        pub enum EventStream {
            /// It.
            E(u8),
        }
    }
}

#[test]
fn names_typescript_cannot_declare_are_refused_naming_the_type_and_the_fix() {
    for (result, name, fix) in [
        (
            typescript::declarations::<refused::Strings>(),
            "`string`",
            "#[ts(rename",
        ),
        (
            typescript::declarations::<refused::Records>(),
            "`Record`",
            "#[ts(rename",
        ),
        (
            typescript::declarations::<refused::Arrays>(),
            "`Array`",
            "#[ts(rename",
        ),
        (
            typescript::declarations::<refused::Streams>(),
            "`EventStream`",
            "#[ts(rename",
        ),
        (
            typescript::declarations::<refused::r#enum>(),
            "`enum`",
            "rename the Rust type",
        ),
        (
            typescript::declarations::<refused::own::EventStream>(),
            "`EventStream`",
            "rename the Rust type",
        ),
    ] {
        let error = result.unwrap_err().to_string();
        assert!(error.contains(name) && error.contains(fix), "{error}");
    }
}

/// A type whose events cover the shapes of data, and the serde attributes
/// that change them: every value it sends is type-checked against its
/// declarations below.
mod varied {
    use std::collections::BTreeMap;

    /// A payload. Its TypeScript is ts-rs's own, which makes a field
    /// optional when serde may leave it out and has a default for it.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Point {
        /// Across.
        pub x: i32,
        /// Maybe a name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        pub label: Option<String>,
    }

    /// An internally tagged enum payload.
    #[derive(serde::Serialize, ts_rs::TS)]
    #[serde(tag = "kind", rename_all = "lowercase")]
    pub enum Shape {
        /// Round.
        Circle {
            /// Radius.
            r: f64,
        },
        /// Nothing.
        Dot,
    }

    /// An extra field set.
    #[derive(serde::Serialize, ts_rs::TS)]
    pub struct Extra {
        /// More.
        pub more: bool,
    }

    fn shout<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&text.to_uppercase())
    }

    /// The events.
    #[derive(sse_runtime::SseEvent)]
    #[serde(rename_all_fields = "camelCase")]
    pub enum Varied {
        /// Text.
        Text(String),
        /// A number too large for 32 bits.
        Large(u64),
        /// A signed 128-bit number.
        Huge(i128),
        /// A character.
        Letter(char),
        /// Maybe.
        Maybe(Option<u8>),
        /// Points.
        Points(Vec<Point>),
        /// A map.
        Counts(BTreeMap<String, u32>),
        /// A pair.
        Pair(u8, String),
        /// No fields, in parentheses.
        Nothing(),
        /// No fields, in braces.
        Empty {},
        /// A unit.
        Unit,
        /// A shape.
        Shape(Shape),
        /// Struct fields with serde's attributes.
        Fields {
            /// Renamed by `rename_all_fields`.
            user_name: String,
            /// Not sent.
            #[serde(skip)]
            secret: String,
            /// Sent under another name.
            #[serde(rename = "n")]
            number: u32,
            /// Sent only when there is one.
            #[serde(skip_serializing_if = "Option::is_none")]
            note: Option<String>,
            /// Written by a function.
            #[serde(serialize_with = "shout")]
            loud: String,
            /// Its fields are this one's.
            #[serde(flatten)]
            extra: Extra,
        },
        /// Kebab case.
        #[serde(rename_all = "kebab-case")]
        Kebab {
            /// Two words.
            two_words: bool,
            /// Never sent.
            #[serde(skip_serializing)]
            not_sent: u8,
        },
        /// A skipped tuple field.
        Half(#[serde(skip)] u8, bool),
        /// ts-rs's own attributes on the fields.
        Typed {
            /// Optional, said to ts-rs.
            #[serde(skip_serializing_if = "Option::is_none")]
            #[ts(optional)]
            maybe: Option<u8>,
            /// Its type, said to ts-rs.
            #[ts(type = "string")]
            stamp: String,
            /// Inlined.
            #[ts(inline)]
            point: Point,
        },
    }

    /// One of each, and more.
    pub fn values() -> Vec<Varied> {
        vec![
            Varied::Text("a \"quoted\" */ text".into()),
            Varied::Large(u64::MAX),
            Varied::Huge(i128::MIN),
            Varied::Letter('é'),
            Varied::Maybe(None),
            Varied::Maybe(Some(1)),
            Varied::Points(vec![
                Point { x: 1, label: None },
                Point {
                    x: -1,
                    label: Some("p".into()),
                },
            ]),
            Varied::Counts(BTreeMap::from([("a".into(), 1), ("b c".into(), 2)])),
            Varied::Pair(1, "two".into()),
            Varied::Nothing(),
            Varied::Empty {},
            Varied::Unit,
            Varied::Shape(Shape::Circle { r: 0.5 }),
            Varied::Shape(Shape::Dot),
            Varied::Fields {
                user_name: "ann".into(),
                secret: "s3cr3t".into(),
                number: 7,
                note: None,
                loud: "hey".into(),
                extra: Extra { more: true },
            },
            Varied::Fields {
                user_name: "bob".into(),
                secret: String::new(),
                number: 8,
                note: Some("hi".into()),
                loud: "ho".into(),
                extra: Extra { more: false },
            },
            Varied::Kebab {
                two_words: true,
                not_sent: 3,
            },
            Varied::Half(1, true),
            Varied::Typed {
                maybe: None,
                stamp: "now".into(),
                point: Point { x: 0, label: None },
            },
            Varied::Typed {
                maybe: Some(1),
                stamp: "then".into(),
                point: Point {
                    x: 1,
                    label: Some("l".into()),
                },
            },
        ]
    }
}

/// The wire values of a varied type, each as its declared data type: tsc
/// accepts every one. A zero-field tuple variant used to be sent as `null`
/// and declared `[]`; a skipped field was sent and declared; a renamed one
/// declared under its Rust name.
#[test]
fn every_value_sent_has_its_declared_type() {
    let mut consumer = String::from("import { type VariedData } from \"./events.js\";\n");
    for (i, value) in varied::values().iter().enumerate() {
        let event = value.encode(sse_runtime::Event::builder()).unwrap();
        let text = String::from_utf8(event.as_bytes().to_vec()).unwrap();
        let data: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("data: ").or(line.strip_prefix("data:")))
            .collect();
        let data = data.join("\n");
        let literal = if data.is_empty() { "null" } else { &data };
        consumer.push_str(&format!(
            "export const value{i}: VariedData<{:?}> = {literal};\n",
            value.event_name()
        ));
    }
    // And the types bite.
    consumer.push_str(
        r#"// @ts-expect-error a tuple of no fields is an empty array
export const wrong0: VariedData<"nothing"> = null;
// @ts-expect-error a skipped field is not sent
export const wrong1: VariedData<"fields"> = { userName: "a", n: 1, loud: "A", more: true, secret: "s" };
// @ts-expect-error a renamed field has its new name
export const wrong2: VariedData<"fields"> = { userName: "a", number: 1, loud: "A", more: true };
// @ts-expect-error a field never serialized is not declared
export const wrong3: VariedData<"kebab"> = { "two-words": true, "not-sent": 1 };
"#,
    );
    type_check::<varied::Varied>("varied-values", &consumer);
}

/// The notices of a typed hub, known to the client of every type.
mod notices {
    /// No notices of its own.
    #[derive(sse_runtime::SseEvent)]
    pub enum Plain {
        /// A number.
        Item(u32),
    }

    /// A `lagged` of its own, with other data: it wins.
    #[derive(sse_runtime::SseEvent)]
    pub enum Own {
        /// Its own.
        Lagged(String),
    }
}

#[test]
fn the_hubs_notices_are_known_to_every_client() {
    type_check::<notices::Plain>(
        "notices-plain",
        r#"import { typed, EVENT_NAMES } from "./events.js";
const events = typed(new EventSource("/stream"));
events.on("lagged", (missed: number) => missed + 1);
events.on("reset", (lastEventId: string) => lastEventId.trim());
export const names: readonly ["item"] = EVENT_NAMES;
// @ts-expect-error `lagged` carries how many events were missed
events.on("lagged", (missed: string) => missed);
// @ts-expect-error `reset` carries the id the client gave
events.on("reset", (id: number) => id);
"#,
    );
    type_check::<notices::Own>(
        "notices-own",
        r#"import { typed } from "./events.js";
const events = typed(new EventSource("/stream"));
events.on("lagged", (text: string) => text.trim());
events.on("reset", (lastEventId: string) => lastEventId.trim());
// @ts-expect-error the type's own `lagged` carries a string
events.on("lagged", (missed: number) => missed);
"#,
    );
}

/// Drives the client generated for `Plain` in Node: what the server sends
/// never makes it throw.
const HOOKS_RUN: &str = r#"import { typed } from "./events.mjs";
const source = new EventTarget();
const rethrown = [];
process.on("uncaughtException", (error) => rethrown.push(String(error.message)));
const errors = [];
const got = [];
const events = typed(source, { onError: (error, event) => errors.push([event.type, error.name, event.data]) });
events.on("item", (n) => got.push(["item", n]));
events.on("item", () => { throw new Error("a handler's own mistake"); });
events.on("item", (n) => got.push(["item again", n]));
events.on("lagged", (missed) => got.push(["lagged", missed]));
events.on("reset", (id) => got.push(["reset", id]));
source.dispatchEvent(new MessageEvent("item", { data: "not json" }));
source.dispatchEvent(new MessageEvent("item", { data: "" }));
source.dispatchEvent(new MessageEvent("item", { data: "1" }));
source.dispatchEvent(new MessageEvent("lagged", { data: "3" }));
source.dispatchEvent(new MessageEvent("reset", { data: "\"7\"" }));
// Without `onError`: reported, not thrown.
const quiet = typed(source);
const logged = [];
console.error = (text) => logged.push(String(text));
quiet.on("item", () => got.push(["quiet"]));
source.dispatchEvent(new MessageEvent("item", { data: "{" }));
let threw = null;
try { events.on("unknown", () => {}); } catch (error) { threw = error.name; }
setTimeout(() => console.log(JSON.stringify({ errors, got, rethrown, logged: logged.length, threw })), 20);
"#;

#[test]
fn the_generated_client_never_throws_on_what_the_server_sends() {
    let dir = scratch("hooks-client");
    std::fs::write(
        dir.join("events.mjs"),
        typescript::client::<notices::Plain>(),
    )
    .unwrap();
    std::fs::write(dir.join("run.mjs"), HOOKS_RUN).unwrap();
    let output = match Command::new("node").arg(dir.join("run.mjs")).output() {
        Ok(output) => output,
        Err(error) => return missing(&format!("node cannot be run: {error}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        result["errors"],
        serde_json::json!([
            ["item", "SyntaxError", "not json"],
            ["item", "SyntaxError", ""],
            ["item", "SyntaxError", "{"]
        ]),
        "{result}"
    );
    assert_eq!(
        result["got"],
        serde_json::json!([
            ["item", 1],
            ["item again", 1],
            ["lagged", 3],
            ["reset", "7"]
        ]),
        "{result}"
    );
    assert_eq!(
        result["rethrown"],
        serde_json::json!(["a handler's own mistake"]),
        "{result}"
    );
    assert_eq!(result["logged"], 1, "{result}");
    assert_eq!(result["threw"], "TypeError", "{result}");
}

/// Version 1 of a feed's events, which a page was built with, and version
/// 2, which a newer server sends.
mod versions {
    /// Before.
    #[derive(sse_runtime::SseEvent)]
    pub enum FeedV1 {
        /// An item.
        Item(u32),
    }

    /// After: one event more.
    #[derive(sse_runtime::SseEvent)]
    pub enum FeedV2 {
        /// An item.
        Item(u32),
        /// An item is gone.
        Removed {
            /// Which.
            id: u32,
        },
    }
}

/// Reads a stream with the `EventStream` of the client generated for
/// `FeedV1`, until the item 2; prints what it saw.
const STREAM_RUN: &str = r#"import { typed, EventStream } from "./events.mjs";
const [url] = process.argv.slice(2);
const got = [];
const unknown = [];
const states = [];
const source = new EventStream(url);
source.onopen = () => states.push(["open", source.readyState]);
source.onerror = () => states.push(["error", source.readyState]);
const events = typed(source, { onUnknown: (event) => unknown.push([event.type, event.data, event.lastEventId]) });
events.on("lagged", (missed) => got.push(["lagged", missed]));
events.on("item", (n, event) => {
  got.push([n, event.lastEventId]);
  if (n === 2) {
    source.close();
    console.log(JSON.stringify({ got, unknown, states, state: source.readyState, lastEventId: source.lastEventId }));
    process.exit(0);
  }
});
setTimeout(() => {
  console.log(JSON.stringify({ timedOut: true, got, unknown, states }));
  process.exit(1);
}, 8000);
"#;

/// Runs `STREAM_RUN` against `url` with the client of `FeedV1`.
fn read_stream(case: &str, url: &str) -> Option<serde_json::Value> {
    let dir = scratch(case);
    std::fs::write(
        dir.join("events.mjs"),
        typescript::client::<versions::FeedV1>(),
    )
    .unwrap();
    std::fs::write(dir.join("run.mjs"), STREAM_RUN).unwrap();
    let output = match Command::new("node")
        .arg(dir.join("run.mjs"))
        .arg(url)
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            missing(&format!("node cannot be run: {error}"));
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_str(stdout.trim()).unwrap())
}

/// Version skew: a page built for `FeedV1` reads a server of `FeedV2`. The
/// event it does not know reaches `onUnknown`, with its data and id; the
/// events it knows reach their handlers.
#[tokio::test(flavor = "multi_thread")]
async fn a_newer_servers_event_reaches_on_unknown_in_an_older_client() {
    use sse_runtime::prelude::*;
    use versions::FeedV2;

    #[sse_handler(events = FeedV2)]
    async fn feed() {
        yield_!(FeedV2::Item(1).with_id(&1));
        yield_!(FeedV2::Removed { id: 1 }.with_id(&2));
        yield_!(FeedV2::Item(2).with_id(&3));
        std::future::pending::<()>().await;
    }

    let addr = support::serve(axum::Router::new().route("/feed", axum::routing::get(feed))).await;
    let url = format!("http://{addr}/feed");
    let Some(result) = tokio::task::spawn_blocking(move || read_stream("version-skew", &url))
        .await
        .unwrap()
    else {
        return;
    };
    assert_eq!(
        result["got"],
        serde_json::json!([[1, "1"], [2, "3"]]),
        "{result}"
    );
    assert_eq!(
        result["unknown"],
        serde_json::json!([["removed", "{\"id\":1}", "2"]]),
        "{result}"
    );
    assert_eq!(
        result["states"],
        serde_json::json!([["open", 1]]),
        "{result}"
    );
    assert_eq!(result["state"], 2, "{result}");
}

/// `EventStream` reads the stream as `EventSource` does: a byte order
/// mark, CR, LF and CRLF line ends, comments, data over several lines, and,
/// when the stream ends, a reconnection after `retry:` milliseconds that
/// sends `Last-Event-ID`.
#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_parses_and_reconnects_as_event_source_does() {
    use std::sync::{Arc, Mutex};

    use axum::http::{header, HeaderMap};

    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/raw",
        axum::routing::get(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                let last = headers
                    .get("last-event-id")
                    .map(|id| id.to_str().unwrap().to_owned());
                let body = match last.as_deref() {
                    None => "\u{feff}retry: 50\r\nid: 1\r\nevent: item\r\ndata: 1\r\n\r\n",
                    _ => ": a comment\nid: 2\nevent: removed\ndata: {\"id\":\ndata: 1}\n\nevent: lagged\ndata: 3\n\nevent: reset\ndata: \"2\"\n\nevent: item\rid: 3\rdata: 2\r\r",
                };
                record.lock().unwrap().push(last);
                ([(header::CONTENT_TYPE, "text/event-stream")], body)
            }
        }),
    );
    let addr = support::serve(app).await;
    let url = format!("http://{addr}/raw");
    let Some(result) = tokio::task::spawn_blocking(move || read_stream("event-stream", &url))
        .await
        .unwrap()
    else {
        return;
    };
    // The hub's notices are known to the client: they go to their handlers
    // (`lagged`) or to none (`reset`), never to `onUnknown`.
    assert_eq!(
        result["got"],
        serde_json::json!([[1, "1"], ["lagged", 3], [2, "3"]]),
        "{result}"
    );
    assert_eq!(
        result["unknown"],
        serde_json::json!([["removed", "{\"id\":\n1}", "2"]]),
        "{result}"
    );
    assert_eq!(
        result["states"],
        serde_json::json!([["open", 1], ["error", 0], ["open", 1]]),
        "{result}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [None, Some("1".to_owned())],
        "the Last-Event-ID of each request"
    );
}

/// Reads a stream with `EventStream`, its handlers set as a page sets
/// `EventSource`'s; prints what each heard once the item 2 has arrived and
/// a while has passed (for a reconnection that should not happen).
const HANDLERS_RUN: &str = r#"import { typed, EventStream } from "./events.mjs";
const [url] = process.argv.slice(2);
const log = [];
const thrown = [];
process.on("uncaughtException", (error) => thrown.push(String(error.message)));
const source = new EventStream(url);
const data = (event) => (event instanceof MessageEvent ? event.data : null);
source.onopen = (event) => log.push(["onopen", data(event)]);
source.onerror = (event) => log.push(["onerror", data(event), source.readyState]);
source.onmessage = (event) => {
  log.push(["onmessage", event.data]);
  throw new Error("the page's own mistake");
};
typed(source).on("item", (n, event) => {
  log.push(["item", n, event.lastEventId]);
  if (n === 2) {
    setTimeout(() => {
      source.close();
      console.log(JSON.stringify({ log, thrown, lastEventId: source.lastEventId }));
      process.exit(0);
    }, 300);
  }
});
setTimeout(() => {
  console.log(JSON.stringify({ timedOut: true, log, thrown }));
  process.exit(1);
}, 8000);
"#;

/// `EventStream` keeps `EventSource`'s rules where they differ from what
/// `fetch` and timers do by themselves:
///
/// * the `Last-Event-ID` it resumes with is sent as UTF-8 (`fetch` refused
///   an id with a character above U+00FF, so `EventStream` reconnected
///   without end, and sent one like `é` as a Latin-1 byte);
/// * a `retry:` longer than a timer can wait (2^31 - 1 ms) does not make
///   it reconnect at once (the timer fired after 1 ms);
/// * `onopen`, `onerror` and `onmessage` are event handlers: they hear the
///   server's events of their names (`event: error` called no `onerror`),
///   and one that throws is reported, without ending the stream (it ended
///   the read, and the rest of the chunk was lost).
#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_keeps_event_sources_rules_for_ids_retries_and_handlers() {
    use std::sync::{Arc, Mutex};

    use axum::http::{header, HeaderMap};

    let seen: Arc<Mutex<Vec<Option<Vec<u8>>>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/raw",
        axum::routing::get(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                let last = headers
                    .get("last-event-id")
                    .map(|id| id.as_bytes().to_vec());
                let body = match last {
                    None => "retry: 20\nid: 日本\nevent: item\ndata: 1\n\nevent: error\ndata: \"boom\"\n\nevent: open\ndata: 2\n\ndata: plain\n\nevent: item\ndata: 3\n\n",
                    Some(_) => "retry: 4294967296\nevent: item\ndata: 2\n\n",
                };
                record.lock().unwrap().push(last);
                ([(header::CONTENT_TYPE, "text/event-stream")], body)
            }
        }),
    );
    let addr = support::serve(app).await;
    let url = format!("http://{addr}/raw");
    let Some(result) = tokio::task::spawn_blocking(move || {
        run_client::<versions::FeedV1>("event-stream-rules", HANDLERS_RUN, &url)
    })
    .await
    .unwrap() else {
        return;
    };
    assert_eq!(
        result["log"],
        serde_json::json!([
            ["onopen", null],
            ["item", 1, "日本"],
            ["onerror", "\"boom\"", 1],
            ["onopen", "2"],
            ["onmessage", "plain"],
            ["item", 3, "日本"],
            ["onerror", null, 0],
            ["onopen", null],
            ["item", 2, "日本"],
            // The stream ended again: it waits, as long as a timer can.
            ["onerror", null, 0]
        ]),
        "{result}"
    );
    assert_eq!(
        result["thrown"],
        serde_json::json!(["the page's own mistake"]),
        "{result}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [None, Some("日本".as_bytes().to_vec())],
        "the Last-Event-ID of each request, as bytes: UTF-8, and no third request"
    );
}

/// Runs `script` in Node beside the client generated for `E`, with `url`
/// as its argument; what it printed, as JSON.
fn run_client<E: typescript::TypeScriptEvents>(
    case: &str,
    script: &str,
    url: &str,
) -> Option<serde_json::Value> {
    let dir = scratch(case);
    std::fs::write(dir.join("events.mjs"), typescript::client::<E>()).unwrap();
    std::fs::write(dir.join("run.mjs"), script).unwrap();
    let output = match Command::new("node")
        .arg(dir.join("run.mjs"))
        .arg(url)
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            missing(&format!("node cannot be run: {error}"));
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_str(stdout.trim()).unwrap())
}

/// Runs `tests/typescript/transport.mjs`: `EventStream` alone (as
/// [`typescript::event_stream`] writes it) through a fake `fetch`, with
/// timers that record their delays and `Math.random` under its control,
/// beside the typed client of `FeedV1`. What it saw, as JSON; run once for
/// all the tests that read it.
fn transport() -> Option<&'static serde_json::Value> {
    static RESULT: std::sync::OnceLock<Option<serde_json::Value>> = std::sync::OnceLock::new();
    RESULT.get_or_init(run_transport).as_ref()
}

fn run_transport() -> Option<serde_json::Value> {
    let dir = scratch("transport");
    std::fs::write(dir.join("event-stream.mjs"), typescript::event_stream()).unwrap();
    std::fs::write(
        dir.join("events.mjs"),
        typescript::client::<versions::FeedV1>(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/typescript/transport.mjs");
    let output = match Command::new("node").arg(script).arg(&dir).output() {
        Ok(output) => output,
        Err(error) => {
            missing(&format!("node cannot be run: {error}"));
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "transport.mjs failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_str(stdout.trim()).unwrap())
}

/// `EventStream` parses as `EventSource` does (a byte order mark dropped
/// once, CR, LF and CRLF line ends, comments, `data` over lines and with no
/// value, an `id` holding NUL ignored, an empty `id` resetting the last id,
/// `retry` of digits only, an event with no data not dispatched, an
/// unfinished one dropped), with the same events whether the bytes come
/// whole, split in two at every place, or one by one (multibyte characters
/// and CRLF cut in two).
#[test]
fn the_transport_parses_as_event_source_does_however_the_bytes_are_split() {
    let Some(result) = transport() else {
        return;
    };
    let parse = &result["parse"];
    assert_eq!(
        parse["whole"]["events"],
        serde_json::json!([
            ["a", "x\n y", "1"],
            ["message", "2", "1"],
            ["message", "", "1"],
            ["message", "é日本", ""]
        ]),
        "{parse}"
    );
    assert_eq!(parse["whole"]["lastEventId"], "", "{parse}");
    // `retry: 7` and no other: it waits 7 ms (no jitter asked for); the
    // empty id is not sent.
    assert_eq!(parse["whole"]["delays"], serde_json::json!([7]), "{parse}");
    assert_eq!(
        parse["whole"]["requests"],
        serde_json::json!([null, null]),
        "{parse}"
    );
    assert!(parse["splits"].as_u64().unwrap() > 100, "{parse}");
    assert_eq!(parse["differ"], 0, "splits that read otherwise: {parse}");
    assert_eq!(
        parse["twice"],
        serde_json::json!([["message", "w", ""]]),
        "{parse}"
    );
}

/// Each reconnection waits the server's `retry` plus `Math.random()` times
/// `retryJitter` (1000 unless given; 0, negative or not a number: none),
/// at most what a timer can wait; 3 s before the server sends a `retry`.
#[test]
fn the_transport_reconnects_after_retry_plus_a_random_part_of_its_window() {
    let Some(result) = transport() else {
        return;
    };
    let jitter = &result["jitter"];
    assert_eq!(
        jitter["window"],
        serde_json::json!([100, 300, 499.6]),
        "{jitter}"
    );
    assert_eq!(
        jitter["defaultWindow"],
        serde_json::json!([600, 100, 1099]),
        "{jitter}"
    );
    for none in ["none", "negative", "notANumber"] {
        assert_eq!(
            jitter[none],
            serde_json::json!([100, 100, 100]),
            "{none}: {jitter}"
        );
    }
    assert_eq!(
        jitter["longest"],
        serde_json::json!([2147483647]),
        "{jitter}"
    );
    assert_eq!(jitter["beforeRetry"], serde_json::json!([3005]), "{jitter}");
}

/// A 204, a status other than 2xx, and a 2xx that is not an event stream
/// stop it after one request: `onStop` once, with the reason and the
/// response (whose body it may read), and an `error` event with
/// `readyState` CLOSED. A 201 event stream is read.
#[test]
fn the_transport_stops_on_204_an_error_status_or_what_is_not_an_event_stream() {
    let Some(result) = transport() else {
        return;
    };
    let stops = &result["stops"];
    for (case, reason) in [
        ("noContent", "no-content"),
        ("status", "status"),
        ("unauthorized", "status"),
        ("plain", "not-event-stream"),
        ("noBody", "not-event-stream"),
    ] {
        let stop = &stops[case];
        assert_eq!(stop["stops"][0], reason, "{case}: {stop}");
        assert_eq!(stop["requests"], 1, "{case}: {stop}");
        assert_eq!(stop["readyState"], 2, "{case}: {stop}");
        assert_eq!(
            stop["states"],
            serde_json::json!([["error", 2]]),
            "{case}: {stop}"
        );
    }
    assert_eq!(
        stops["status"]["stops"],
        serde_json::json!(["status", "oops"]),
        "onStop read the body: {stops}"
    );
    assert_eq!(
        stops["created"],
        serde_json::json!({ "events": [["message", "created", ""]], "stopped": "no-content" }),
        "{stops}"
    );
}

/// Its `signal` stops it while it reads (the request aborted), while it
/// waits to reconnect (no other request), and before it starts (no
/// request; `onStop` called after the constructor returns); `close()` too.
/// `onStop` hears each once, with the signal's reason; no `error` event.
#[test]
fn the_transport_is_stopped_by_its_signal_or_close() {
    let Some(result) = transport() else {
        return;
    };
    let reading = &result["abortWhileReading"];
    assert_eq!(
        reading["stops"],
        serde_json::json!([["aborted", "bye"]]),
        "{reading}"
    );
    assert_eq!(
        reading["states"],
        serde_json::json!([["open", 1]]),
        "{reading}"
    );
    assert_eq!(reading["requestAborted"], true, "{reading}");
    assert_eq!(reading["requests"], 1, "{reading}");
    assert_eq!(reading["readyState"], 2, "{reading}");
    assert_eq!(
        result["abortWhileWaiting"],
        serde_json::json!({ "stops": ["aborted"], "requests": 1, "readyState": 2 })
    );
    assert_eq!(
        result["abortedBefore"],
        serde_json::json!({ "synchronously": 0, "stops": [["aborted", "before"]], "requests": 0, "readyState": 2 })
    );
    assert_eq!(
        result["close"],
        serde_json::json!({ "stops": ["closed"], "states": [["open", 1]], "requestAborted": true, "requests": 1 })
    );
}

/// `reconnect` changes the request before a reconnection: a POST resumed
/// with a GET (its body dropped, its headers kept, the last id sent), the
/// headers replaced, nothing changed (`undefined`), then `null`, which
/// stops it. A hook that throws, or asks for a request that cannot be sent,
/// stops it with `request-error` and no request more. The constructor
/// refuses what `fetch` could never send.
#[test]
fn the_transport_reconnects_as_its_hook_says_and_refuses_impossible_requests() {
    let Some(result) = transport() else {
        return;
    };
    let reconnect = &result["reconnect"];
    let headers = |auth: &str, json: bool, last: &str| {
        let mut headers = serde_json::json!({ "accept": "text/event-stream", "authorization": auth, "last-event-id": last });
        if json {
            headers["content-type"] = "application/json".into();
        }
        headers
    };
    assert_eq!(
        reconnect["requests"],
        serde_json::json!([
            { "url": "http://fake/start", "method": "POST", "body": "{\"ask\":1}", "headers": headers("Bearer one", true, "0") },
            { "url": "http://fake/runs/run-1", "method": "GET", "body": null, "headers": headers("Bearer one", true, "1") },
            { "url": "http://fake/runs/run-1", "method": "GET", "body": null, "headers": headers("Bearer two", false, "2") },
            { "url": "http://fake/runs/run-1", "method": "GET", "body": null, "headers": headers("Bearer two", false, "3") },
        ]),
        "{reconnect}"
    );
    assert_eq!(
        reconnect["seen"],
        serde_json::json!([
            ["http://fake/start", "1", "run-1"],
            ["http://fake/runs/run-1", "2", "run-1"],
            ["http://fake/runs/run-1", "3", "run-1"],
            ["http://fake/runs/run-1", "4", "run-1"]
        ]),
        "the hook sees the stream: {reconnect}"
    );
    assert_eq!(
        reconnect["stops"],
        serde_json::json!(["not-reconnecting"]),
        "{reconnect}"
    );
    assert_eq!(
        reconnect["states"],
        serde_json::json!([["error", 2]]),
        "{reconnect}"
    );
    assert_eq!(
        result["reconnectErrors"],
        serde_json::json!([
            ["request-error", "Error", 1],
            ["request-error", "TypeError", 1],
            ["request-error", "TypeError", 1]
        ])
    );
    // A body on a GET, a header name with a space, a relative URL without
    // a page, an id with a line break, a forbidden method.
    assert_eq!(
        result["refused"],
        serde_json::json!([
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError"
        ])
    );
}

/// A `Last-Event-ID` given in `headers` is the id the stream starts from
/// (its `lastEventId`), not a header sent as it is: the stream's own id
/// goes after that, and none once the server resets it (an empty `id`),
/// as `EventSource` does. It was sent again after the reset, asking the
/// server to resume from an id the server had told it to forget.
#[test]
fn a_last_event_id_in_headers_is_where_the_stream_starts_and_is_reset_by_the_server() {
    let Some(result) = transport() else {
        return;
    };
    assert_eq!(
        result["idInHeaders"],
        serde_json::json!({ "starting": "3", "sent": ["3", "5", null, null] })
    );
}

/// `typed` of one generated module hears an `EventStream` of another (the
/// transport alone): its events, and the names it does not know. An
/// `onStop` that throws is reported on its own.
#[test]
fn typed_hears_an_event_stream_of_another_module() {
    let Some(result) = transport() else {
        return;
    };
    assert_eq!(
        result["typed"],
        serde_json::json!([["item", 1], ["unknown", "removed"]])
    );
    assert_eq!(result["thrown"], serde_json::json!(["the page's onStop"]));
}
