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

use sse_runtime::typescript;
use sse_runtime::SseEvent;
use sse_suite::chat::ChatEvent;

fn chat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/chat")
}

#[test]
fn generated_files_are_up_to_date() {
    let update = std::env::var("UPDATE_TYPESCRIPT").as_deref() == Ok("1");
    let files = [
        ("events.d.ts", typescript::declarations::<ChatEvent>().unwrap()),
        ("events.js", typescript::client::<ChatEvent>()),
    ];
    for (name, generated) in files {
        let path = chat_dir().join(name);
        if update {
            std::fs::write(&path, &generated).expect("write the generated file");
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} is out of date with `ChatEvent`; regenerate with \
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
fn tsc() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let packages = root.join("tests/browser");
    let tsc = packages.join("node_modules/typescript/bin/tsc");
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

#[test]
fn the_page_and_a_consumer_type_check_and_the_mistakes_do_not() {
    let Some(tsc) = tsc() else {
        return;
    };
    let output = match Command::new("node")
        .arg(&tsc)
        .arg("-p")
        .arg(chat_dir().join("tsconfig.json"))
        .output()
    {
        Ok(output) => output,
        Err(error) => return missing(&format!("node cannot be run: {error}")),
    };
    assert!(
        output.status.success(),
        "tsc found errors (or a mistake in typecheck/mistakes.ts that is no longer caught):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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
