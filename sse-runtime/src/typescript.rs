//! TypeScript for the browser, from a typed event type (feature
//! `typescript`): the events as a discriminated union with their data
//! types, and a small client that parses each event's JSON once and
//! accepts only the type's event names (and a typed hub's two notices).
//!
//! ```
//! use sse_runtime::SseEvent;
//!
//! #[derive(serde::Serialize, ts_rs::TS)]
//! struct Message { user: String, text: String }
//!
//! #[derive(SseEvent)]
//! enum ChatEvent { Message(Message), Join { user: String } }
//!
//! let types = sse_runtime::typescript::declarations::<ChatEvent>()?;
//! assert!(types.contains("export type Message = { user: string, text: string, };"));
//! assert!(types.contains(r#"| { event: "join"; data: { user: string, } }"#));
//! let client = sse_runtime::typescript::client::<ChatEvent>();
//! assert!(client.contains(r#"export const EVENT_NAMES = Object.freeze(["message", "join"]);"#));
//! # Ok::<(), sse_runtime::typescript::TypeScriptError>(())
//! ```
//!
//! The data types come from ts-rs: the payload types derive `ts_rs::TS`
//! themselves, and each variant's content is described by ts-rs too, from
//! a hidden copy of the variant that carries the `#[serde(..)]` and
//! `#[ts(..)]` attributes of its fields (so that a skipped field is absent
//! and a renamed one renamed, as on the wire). A field that serde may omit
//! (`skip_serializing_if`) is optional, and one it never writes
//! (`skip_serializing`) is absent. Everything else is written here.
//!
//! `declarations` is the `.d.ts` beside the `.js` that `client` writes, so
//! a page imports `./events.js` and TypeScript (or `// @ts-check`
//! JavaScript) sees the types. The client:
//!
//! * `typed(source, { onError, onUnknown })` listens on `source`, the
//!   browser's `EventSource` or this module's `EventStream`;
//!   `.on(name, handler)` calls `handler(data, event)` for every event of
//!   that name, its JSON data parsed once for all handlers of the name;
//! * knows, besides the type's own events, the two notices a typed hub's
//!   stream carries: `lagged` (data: how many events were missed, a
//!   number) and `reset` (data: the `Last-Event-ID` the client gave, a
//!   string). Where the type itself has an event of that name, the type's
//!   own declaration is the one used;
//! * never throws on what the server sends: data that is not JSON goes to
//!   `onError(error, event)` (by default, `console.error`) instead of the
//!   handlers, and an event whose name it does not know (one from a newer
//!   version of the server) to `onUnknown(event)` (by default, nothing).
//!   The browser's `EventSource` dispatches only the names a listener
//!   asked for, so it never shows the page an unknown name; `EventStream`
//!   (below) shows every event, and with it `onUnknown` hears of them. The
//!   client checks names, not shapes: a server that changes an existing
//!   event's data, rather than adding an event, is not caught here;
//! * calls every handler of an event even when one throws; the exception
//!   is rethrown on its own (as the browser reports a listener's).
//!
//! `EventStream`, the fetch transport, is in every module [`client`]
//! writes, and alone in the one [`event_stream`] writes (for streams no
//! Rust type describes). It is an `EventSource` that reads the stream with
//! `fetch`, following the WHATWG rules (a byte order mark, CR, LF and CRLF
//! across chunks, `retry` of digits only, an `id` holding NUL ignored,
//! events with no data not dispatched, the same `open`, `error`,
//! `readyState` and `lastEventId`), and, beyond it, takes
//! `new EventStream(url, init)` with:
//!
//! * `method`, `headers` and `body` (not a one-time stream), sent with every
//!   request, besides `Accept` and `Last-Event-ID`; `withCredentials`;
//! * `lastEventId`, the id to resume from, sent from the first request on;
//! * `retryJitter`: each reconnection waits the server's `retry` plus a
//!   random part of this window (1000 ms unless given), so that streams cut
//!   together come back spread out;
//! * `reconnect(stream)`, called before each reconnection: what changes in
//!   the request (a POST that started work resumed with a GET of it, a
//!   renewed token), or `null` to stop;
//! * `signal`, an `AbortSignal` that ends it (as `close()` does);
//! * `onStop(stop)`, called once when it ends for good, with the reason:
//!   `closed`, `aborted` (with the signal's reason), `no-content` (a 204),
//!   `status` (not 2xx, with the response, whose body it may read),
//!   `not-event-stream`, `not-reconnecting` (`reconnect` said `null`) or
//!   `request-error`. The server's reasons are also an `error` event with
//!   `readyState` CLOSED, as with `EventSource`;
//! * `fetch`, in place of the global one.
//!
//! A request `fetch` could never send (a header that is not one, a body on
//! a GET) throws a `TypeError` from the constructor, rather than being
//! retried for ever. Any 2xx `text/event-stream` is read (`EventSource`
//! reads only a 200). The latest response is `stream.response` (its status
//! and headers: a run's id, say).
//!
//! Names that cannot be declared are refused with a [`TypeScriptError`]
//! naming the type and the fix: two payload types with one TypeScript
//! name, a payload type named like one the file declares for the event
//! type (`ChatEventName`, `EventStream`, ...), like a global type ts-rs
//! writes (`Array`, `Record`) or `globalThis`, a TypeScript reserved
//! word (`enum`, `string`, ...) as a type's name, and an event type named
//! `EventStream`, like the client's class. Payload types named like
//! other globals (`Event`, `MessageEvent`, `EventSource`, `Error`, `Extract`,
//! `Partial`, ...) are fine: the file names the globals it uses as
//! `globalThis.MessageEvent` and so on. Doc comments (the variants' and
//! those ts-rs writes for the payload types' fields) are escaped, so a
//! `*/` in one cannot end it early.

use std::fmt::{self, Write};

/// The ts-rs crate, whose `TS` the payload types derive: a crate that
/// depends on sse-runtime alone may write `#[derive(sse_runtime::typescript::ts_rs::TS)]`
/// (with `#[ts(crate = "sse_runtime::typescript::ts_rs")]`).
///
/// ```
/// use sse_runtime::typescript::ts_rs;
///
/// #[derive(serde::Serialize, ts_rs::TS)]
/// #[ts(crate = "sse_runtime::typescript::ts_rs")]
/// struct Message { text: String }
/// # let _ = Message { text: String::new() };
/// ```
pub use ts_rs;

/// What `#[derive(SseEvent)]` says about a type's events, for the
/// TypeScript writers. The derive implements it when every payload type
/// implements `ts_rs::TS`; [`declarations`] and [`client`] need it.
///
/// ```
/// #[derive(sse_runtime::SseEvent)]
/// enum Tick { Tick(u32) }
/// fn writable<E: sse_runtime::typescript::TypeScriptEvents>() {}
/// writable::<Tick>();
/// ```
pub trait TypeScriptEvents {
    /// The name the file gives the union of the events: the Rust type's
    /// name for an enum, `{name}Event` for a struct (whose own name is its
    /// data's type).
    #[doc(hidden)]
    const NAME: &'static str;
    /// Adds each event, in declaration order.
    #[doc(hidden)]
    fn describe(out: &mut TsEvents);
}

/// Numbers as JSON carries them: `u64` is a `number` once `JSON.parse` has
/// read it, not a `bigint` (ts-rs's default).
fn config() -> ts_rs::Config {
    ts_rs::Config::new().with_large_int("number")
}

/// An event's data as a TypeScript type expression. Not public API.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct TsData {
    expression: String,
}

/// Why a `.d.ts` cannot be written for a type: a name in it that
/// TypeScript would reject or read as another type. The message names the
/// type and the fix.
///
/// ```
/// #[derive(serde::Serialize, ts_rs::TS)]
/// #[allow(non_camel_case_types)]
/// struct string { n: u32 }
///
/// #[derive(sse_runtime::SseEvent)]
/// enum Numbers { Number(string) }
///
/// let error = sse_runtime::typescript::declarations::<Numbers>().unwrap_err();
/// assert!(error.to_string().contains("`string`"), "{error}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeScriptError {
    message: String,
}

impl fmt::Display for TypeScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TypeScriptError {}

/// The events of one type, and the named types their data uses. Not public
/// API: what the derive's `describe` fills.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct TsEvents {
    events: Vec<(&'static str, Vec<&'static str>, TsData)>,
    declarations: Vec<(String, String)>,
    /// Two payload types of one name, found while declaring.
    twins: Option<TypeScriptError>,
}

impl TsEvents {
    /// One event: its name, its doc lines, its data's type.
    pub fn event(&mut self, name: &'static str, docs: &[&'static str], data: TsData) {
        self.events.push((name, docs.to_vec(), data));
    }

    /// A unit variant's data: none (the client gives `null`).
    pub fn no_data(&mut self) -> TsData {
        TsData {
            expression: "null".into(),
        }
    }

    /// Content that a function of the user's writes (`#[serde(with)]` on
    /// a variant): anything.
    pub fn unknown(&mut self) -> TsData {
        TsData {
            expression: "unknown".into(),
        }
    }

    /// A variant's content, described by ts-rs from `T`, the hidden copy of
    /// the variant: its type expression, declaring the named types it
    /// uses. `T` itself is never declared.
    pub fn content<T: ts_rs::TS + 'static + ?Sized>(&mut self) -> TsData {
        self.declare_dependencies::<T>();
        TsData {
            expression: T::inline(&config()),
        }
    }

    /// A payload type used as it is (a struct that is one event): its name,
    /// declaring it and what it uses.
    pub fn payload<T: ts_rs::TS + 'static + ?Sized>(&mut self) -> TsData {
        self.declare::<T>();
        TsData {
            expression: T::name(&config()),
        }
    }

    fn declare_dependencies<T: ts_rs::TS + 'static + ?Sized>(&mut self) {
        struct Visitor<'a>(&'a mut TsEvents);
        impl ts_rs::TypeVisitor for Visitor<'_> {
            fn visit<U: ts_rs::TS + 'static + ?Sized>(&mut self) {
                self.0.declare::<U>();
            }
        }
        T::visit_dependencies(&mut Visitor(self));
        T::visit_generics(&mut Visitor(self));
    }

    /// Declares `T` (if it is a named type) and what it uses, once each.
    fn declare<T: ts_rs::TS + 'static + ?Sized>(&mut self) {
        let config = config();
        if T::output_path().is_some() {
            let name = T::ident(&config);
            let declaration = T::decl(&config);
            if let Some((_, known)) = self.declarations.iter().find(|(known, _)| *known == name) {
                // One declaration per name (the instances of a generic type
                // share theirs); another type of the same name would be
                // typed as the first, in silence.
                if *known != declaration && self.twins.is_none() {
                    self.twins = Some(TypeScriptError {
                        message: format!(
                            "two payload types are named `{name}` in TypeScript:\n{known}\n{declaration}\n\
                             give one another name with `#[ts(rename = \"..\")]`"
                        ),
                    });
                }
                return;
            }
            self.declarations.push((name, declaration));
        }
        self.declare_dependencies::<T>();
    }
}

/// A variant's content for [`TsEvents::content`], picked by method
/// resolution (the "autoref" idiom, as `variant::Content` is): described by
/// ts-rs when its hidden copy is `ts_rs::TS`. It always is in a crate that
/// compiles; it is not only where ts-rs reported an error in the user's
/// `#[ts(..)]` attributes and wrote no impl, and the pick keeps that error
/// the only one (no second one, naming the hidden copy, here). Not public
/// API.
#[doc(hidden)]
pub struct TsContent<T: ?Sized>(std::marker::PhantomData<T>);

impl<T: ?Sized> TsContent<T> {
    /// The content of the hidden copy `T`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        TsContent(std::marker::PhantomData)
    }
}

/// See [`TsContent`]. Not public API.
#[doc(hidden)]
pub trait DescribedContent {
    /// The content's type expression.
    fn describe(&self, out: &mut TsEvents) -> TsData;
}

impl<T: ts_rs::TS + 'static + ?Sized> DescribedContent for TsContent<T> {
    fn describe(&self, out: &mut TsEvents) -> TsData {
        out.content::<T>()
    }
}

/// See [`TsContent`]: never called in a crate that compiles. Not public
/// API.
#[doc(hidden)]
pub trait UndescribedContent {
    /// `unknown`.
    fn describe(&self, out: &mut TsEvents) -> TsData {
        out.unknown()
    }
}

impl<T: ?Sized> UndescribedContent for &TsContent<T> {}

/// The hub's notices: a typed hub's stream may carry them besides the
/// type's own events. Name, data type, what it says.
const NOTICES: [(&str, &str, &str); 2] = [
    (
        "lagged",
        "number",
        "The stream fell behind and ends (the browser reconnects and resumes). Data: how many events were missed.",
    ),
    (
        "reset",
        "string",
        "The events after the id the client resumed from are gone. Data: that id (its `Last-Event-ID`).",
    ),
];

/// Words TypeScript does not accept as a type's name (tried with tsc 5.9:
/// each fails `export type word = ..`).
const RESERVED: &[&str] = &[
    "any",
    "as",
    "await",
    "bigint",
    "boolean",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "infer",
    "instanceof",
    "interface",
    "keyof",
    "let",
    "never",
    "new",
    "null",
    "number",
    "object",
    "package",
    "private",
    "protected",
    "public",
    "readonly",
    "return",
    "static",
    "string",
    "super",
    "switch",
    "symbol",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "unique",
    "unknown",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// Global names the file uses without `globalThis.`: ts-rs writes
/// `Array<T>` and `Record<symbol, never>`, and the file's own references
/// to globals start with `globalThis`. A payload type of one of these names
/// would stand for the global in the whole file.
const UNQUALIFIED_GLOBALS: &[&str] = &["Array", "Record", "globalThis"];

/// The names the file declares for the event type `name`.
fn own_names(name: &str) -> [String; 6] {
    [
        name.to_owned(),
        format!("{name}Name"),
        format!("{name}Data"),
        format!("{name}Notice"),
        format!("Typed{name}Source"),
        CLIENT_CLASS.to_owned(),
    ]
}

/// The class the file declares, an `EventSource` over `fetch`.
const CLIENT_CLASS: &str = "EventStream";

/// Whether `name` is an identifier TypeScript reads as one name.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_' || first == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Checks a type name the file declares: `what` says whose it is, `fix`
/// how to change it.
fn check_name(name: &str, what: &str, fix: &str) -> Result<(), TypeScriptError> {
    let problem = if RESERVED.contains(&name) {
        "a TypeScript reserved word, which cannot name a type"
    } else if UNQUALIFIED_GLOBALS.contains(&name) {
        "a global type the generated file uses, which it would stand for in the whole file"
    } else if !is_identifier(name) {
        "not a TypeScript identifier"
    } else {
        return Ok(());
    };
    Err(TypeScriptError {
        message: format!("{what} is named `{name}` in TypeScript: {problem}; {fix}"),
    })
}

/// The events of `E`, described, with every name in them checked.
fn describe<E: TypeScriptEvents>() -> Result<TsEvents, TypeScriptError> {
    let mut events = TsEvents::default();
    E::describe(&mut events);
    if let Some(twins) = events.twins.take() {
        return Err(twins);
    }
    let name = E::NAME;
    check_name(
        name,
        &format!("the event type `{name}`"),
        "rename the Rust type",
    )?;
    let own = own_names(name);
    // The one name the file declares whatever the type is called.
    if name == CLIENT_CLASS {
        return Err(TypeScriptError {
            message: format!(
                "the event type is named `{name}` in TypeScript, as the file names the \
                 client's own class; rename the Rust type"
            ),
        });
    }
    for (declared, _) in &events.declarations {
        let what = format!("a payload type of `{name}`");
        let fix = "give it another name with `#[ts(rename = \"..\")]`";
        check_name(declared, &what, fix)?;
        if own.contains(declared) {
            return Err(TypeScriptError {
                message: format!(
                    "{what} is named `{declared}` in TypeScript, as the file generated for \
                     `{name}` names a type of its own; {fix}"
                ),
            });
        }
    }
    Ok(events)
}

/// `text` as a JavaScript (and TypeScript) string literal. JSON's escapes
/// are JavaScript's, and since ES2019 a JSON string is a valid literal as
/// it is; Rust's `{:?}` is not one (its `\0` before a digit is an octal
/// escape, a syntax error in a module, and `\u{..}` needs ES2015).
fn string_literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// `text` inside a `/** .. */` comment: a `*/` in it would end the
/// comment and leave the rest as code.
fn comment_text(text: &str) -> String {
    text.replace("*/", "*\\/")
}

/// ts-rs's output with a `*/` inside each of its doc comments escaped.
///
/// ts-rs (12) writes a field's docs, with nothing escaped, as
/// `/**\n *line\n *line\n */\n` before the field, or, for one block doc
/// comment that spans lines, as `/**text*/\n`. Rust's block comments nest,
/// so the text of one holds `*/` only after a `/*` it closes. So: a
/// comment of the first form ends at its first line that is ` */`; of the
/// second, at the first `*/` that closes no `/*` inside it. String
/// literals (quoted field names) are skipped.
fn escape_ts_rs_docs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = next_comment(rest) {
        out.push_str(&rest[..start]);
        let comment = &rest[start..];
        let end = if comment.starts_with("/**\n *") {
            comment.find("\n */\n").map(|at| at + "\n */".len())
        } else {
            block_comment_end(comment)
        };
        let Some(end) = end else {
            // Not ts-rs's: left as it is.
            rest = comment;
            break;
        };
        out.push_str("/**");
        out.push_str(&comment_text(&comment["/**".len()..end - "*/".len()]));
        out.push_str("*/");
        rest = &comment[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next `/**` outside a string literal starts.
fn next_comment(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if text[i..].starts_with("/**") => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The end (just past its `*/`) of the block comment at the start of
/// `comment`, counting the `/*` nested in it.
fn block_comment_end(comment: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = "/**".len();
    while i < comment.len() {
        let rest = &comment.as_bytes()[i..];
        if rest.starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if rest.starts_with(b"*/") {
            if depth == 0 {
                return Some(i + 2);
            }
            depth -= 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

const HEADER: &str = "Generated by sse-runtime from the Rust type";

const HEADER_TRANSPORT: &str = "Generated by sse-runtime (EventStream, its fetch transport)";

/// The `.d.ts` for `E`: its data types, the union of its events, its event
/// names, the hub's notices, and the client's signatures. See the module
/// docs; [`TypeScriptError`] says which names are refused.
///
/// ```
/// #[derive(sse_runtime::SseEvent)]
/// enum Tick { Tick(u32) }
/// let types = sse_runtime::typescript::declarations::<Tick>()?;
/// assert!(types.contains(r#"| { event: "tick"; data: number }"#));
/// # Ok::<(), sse_runtime::typescript::TypeScriptError>(())
/// ```
pub fn declarations<E: TypeScriptEvents>() -> Result<String, TypeScriptError> {
    let events = describe::<E>()?;
    let name = E::NAME;
    let mut out = String::new();
    let _ = writeln!(out, "// {HEADER} `{name}`: do not edit.");
    let _ = writeln!(
        out,
        "// The events a server sends as `{name}`, and a typed client for them.\n"
    );
    for (_, declaration) in &events.declarations {
        let _ = writeln!(out, "export {}\n", escape_ts_rs_docs(declaration));
    }
    let _ = writeln!(
        out,
        "/** The events of `{name}`: each event's name and its data, as `JSON.parse` reads it. */"
    );
    let _ = writeln!(out, "export type {name} =");
    for (event, docs, data) in &events.events {
        if !docs.is_empty() {
            let _ = writeln!(out, "  /** {} */", comment_text(&docs.join(" ")));
        }
        let _ = writeln!(
            out,
            "  | {{ event: {}; data: {} }}",
            string_literal(event),
            escape_ts_rs_docs(&data.expression)
        );
    }
    out.push_str(";\n\n");
    let names: Vec<String> = events
        .events
        .iter()
        .map(|(event, _, _)| string_literal(event))
        .collect();
    let _ = writeln!(out, "/** Every event name of `{name}`. */");
    let _ = writeln!(
        out,
        "export declare const EVENT_NAMES: readonly [{}];\n",
        names.join(", ")
    );
    let _ = writeln!(out, "/** An event name of `{name}`. */");
    let _ = writeln!(out, "export type {name}Name = {name}[\"event\"];\n");
    let _ = writeln!(out, "/** The data of the `{name}` event named `N`. */");
    let _ = writeln!(
        out,
        "export type {name}Data<N extends {name}Name> = ({name} & {{ event: N }})[\"data\"];\n"
    );
    let _ = writeln!(
        out,
        "/** The notices a typed hub's stream carries besides the events of `{name}` (those `{name}` does not declare itself). */"
    );
    let _ = writeln!(out, "export type {name}Notice =");
    let notices: Vec<_> = NOTICES
        .iter()
        .filter(|(notice, _, _)| !events.events.iter().any(|(event, _, _)| event == notice))
        .collect();
    if notices.is_empty() {
        out.push_str("  never");
    }
    for (notice, data, doc) in notices {
        let _ = write!(
            out,
            "  /** {doc} */\n  | {{ event: {}; data: {data} }}\n",
            string_literal(notice)
        );
    }
    out.push_str(";\n\n");
    let _ = writeln!(
        out,
        "/** Typed listeners on an event source; see `typed`. */\nexport interface Typed{name}Source {{\n  /** Calls `handler` with the data of every event named `name`; returns a function that removes it. */\n  on<N extends {name}Name | {name}Notice[\"event\"]>(name: N, handler: (data: (({name} | {name}Notice) & {{ event: N }})[\"data\"], event: globalThis.MessageEvent<string>) => void): () => void;\n}}\n"
    );
    out.push_str(&format!(
        r#"/**
 * Typed listeners on `source`, the browser's `EventSource` or an `EventStream`: each event's
 * data is parsed once and given to every handler of its name. Never throws on what the server
 * sends: data that is not JSON goes to `onError` (by default, `console.error`), and an event
 * whose name this module does not know to `onUnknown` (by default, nothing); only an
 * `EventStream` shows those, as `EventSource` dispatches only the names listened for.
 */
export declare function typed(
  source: globalThis.EventSource | EventStream,
  options?: {{
    /** Data that is not JSON, of an event named `event.type`: its handlers are not called. */
    onError?: (error: unknown, event: globalThis.MessageEvent<string>) => void;
    /** An event of a name this module does not know, such as one a newer server sends. */
    onUnknown?: (event: globalThis.MessageEvent<string>) => void;
  }},
): Typed{name}Source;

"#
    ));
    out.push_str(EVENT_STREAM_DECLARATIONS);
    Ok(out)
}

/// The JavaScript module for `E` (ES module, no dependencies): its event
/// names, `typed(source, options)` and `EventStream` (the same class as
/// [`event_stream`] writes alone). See the module docs.
///
/// ```
/// #[derive(sse_runtime::SseEvent)]
/// enum Tick { Tick(u32) }
/// let client = sse_runtime::typescript::client::<Tick>();
/// assert!(client.contains(r#"const NOTICES = Object.freeze(["lagged", "reset"]);"#));
/// ```
pub fn client<E: TypeScriptEvents>() -> String {
    let mut events = TsEvents::default();
    E::describe(&mut events);
    let name = E::NAME;
    let names: Vec<String> = events
        .events
        .iter()
        .map(|(event, _, _)| string_literal(event))
        .collect();
    let notices: Vec<String> = NOTICES
        .iter()
        .filter(|(notice, _, _)| !events.events.iter().any(|(event, _, _)| event == notice))
        .map(|(notice, _, _)| string_literal(notice))
        .collect();
    let units: Vec<String> = events
        .events
        .iter()
        .filter(|(_, _, data)| data.expression == "null")
        .map(|(event, _, _)| string_literal(event))
        .collect();
    let mut out = format!(
        r#"// {HEADER} `{name}`: do not edit. Types: events.d.ts.

export const EVENT_NAMES = Object.freeze([{names}]);

// The hub's notices that `{name}` does not declare itself: a typed hub's
// stream may carry them too.
/** @type {{readonly string[]}} */
const NOTICES = Object.freeze([{notices}]);

// Events that carry no data: their handlers get `null`.
/** @type {{Set<string>}} */
const NO_DATA = new Set([{units}]);

/** @type {{Set<string>}} */
const KNOWN = new Set([...EVENT_NAMES, ...NOTICES]);

/**
 * @param {{unknown}} error
 * @param {{MessageEvent<string>}} event
 */
function logError(error, event) {{
  console.error(`the data of event ${{JSON.stringify(event.type)}} is not JSON: ${{error}}`);
}}

/** @typedef {{{{ handler: (data: any, event: MessageEvent<string>) => void, removed: boolean }}}} Entry */

/**
 * @param {{EventSource | EventStream}} source
 * @param {{{{ onError?: (error: unknown, event: MessageEvent<string>) => void, onUnknown?: (event: MessageEvent<string>) => void }}}} [options]
 */
export function typed(source, options = {{}}) {{
  const onError = options.onError ?? logError;
  const onUnknown = options.onUnknown ?? (() => {{}});
  /** @type {{Map<string, Entry[]>}} */
  const handlers = new Map();
  // An `EventStream` (of this module or another) shows every event.
  const every = /** @type {{any}} */ (source)[EVERY_EVENT];
  if (every instanceof Set) {{
    every.add((/** @type {{MessageEvent<string>}} */ event) => {{
      if (KNOWN.has(event.type)) return;
      try {{
        onUnknown(event);
      }} catch (error) {{
        rethrow(error);
      }}
    }});
  }}

  /**
   * @param {{string}} name
   * @param {{Entry[]}} entries
   * @param {{Event}} event
   */
  function deliver(name, entries, event) {{
    // The connection's own `open` and `error` are plain events with no
    // data; only the server's events are messages.
    if (!(event instanceof MessageEvent) || typeof event.data !== "string") return;
    let data = null;
    if (!NO_DATA.has(name)) {{
      try {{
        data = JSON.parse(event.data);
      }} catch (error) {{
        try {{
          onError(error, event);
        }} catch (thrown) {{
          rethrow(thrown);
        }}
        return;
      }}
    }}
    // A handler removed during this dispatch is not called, as with
    // `removeEventListener`.
    for (const entry of [...entries]) {{
      if (entry.removed) continue;
      try {{
        entry.handler(data, event);
      }} catch (error) {{
        rethrow(error);
      }}
    }}
  }}

  return {{
    /**
     * @param {{string}} name
     * @param {{(data: any, event: MessageEvent<string>) => void}} handler
     */
    on(name, handler) {{
      if (!KNOWN.has(name)) {{
        throw new TypeError(`unknown event name ${{JSON.stringify(name)}}; expected one of ${{[...KNOWN].join(", ")}}`);
      }}
      let entries = handlers.get(name);
      if (entries === undefined) {{
        /** @type {{Entry[]}} */
        const list = [];
        handlers.set(name, list);
        source.addEventListener(name, (event) => deliver(name, list, event));
        entries = list;
      }}
      const list = entries;
      /** @type {{Entry}} */
      const entry = {{ handler, removed: false }};
      list.push(entry);
      return () => {{
        if (entry.removed) return;
        entry.removed = true;
        list.splice(list.indexOf(entry), 1);
      }};
    }},
  }};
}}

"#,
        names = names.join(", "),
        notices = notices.join(", "),
        units = units.join(", "),
    );
    out.push_str(EVENT_STREAM_CLIENT);
    out
}

/// The transport, `EventStream`, in JavaScript: the end of every module
/// [`client`] writes, and the whole of the one [`event_stream`] writes.
const EVENT_STREAM_CLIENT: &str = include_str!("typescript/event_stream.js");

/// Its declarations: the end of every [`declarations`], and the whole of
/// [`event_stream_declarations`].
const EVENT_STREAM_DECLARATIONS: &str = include_str!("typescript/event_stream.d.ts");

/// The transport alone, as a JavaScript module (ES module, no
/// dependencies) that exports `EventStream`: for a stream that no Rust type
/// describes, such as an OpenAI-compatible one, whose data is JSON chunks
/// and a last `[DONE]` (the llm example's page imports it). It is the class
/// every module of [`client`] ends with, and `typed` of any generated module
/// hears it, so a page that needs both imports the typed module alone. Its
/// types are [`event_stream_declarations`], written beside it as
/// `event-stream.d.ts`; what it does is in the module docs.
///
/// ```
/// let module = sse_runtime::typescript::event_stream();
/// assert!(module.contains("export class EventStream extends EventTarget"));
/// ```
pub fn event_stream() -> String {
    format!(
        "// {HEADER_TRANSPORT}: do not edit. Types: event-stream.d.ts.\n\n{EVENT_STREAM_CLIENT}"
    )
}

/// The `.d.ts` of [`event_stream`]: the class `EventStream` and its
/// namespace (`EventStream.Init`, `EventStream.Next`, `EventStream.Stop`).
///
/// ```
/// let types = sse_runtime::typescript::event_stream_declarations();
/// assert!(types.contains("export declare class EventStream"));
/// ```
pub fn event_stream_declarations() -> String {
    format!("// {HEADER_TRANSPORT}: do not edit.\n\n{EVENT_STREAM_DECLARATIONS}")
}

#[cfg(test)]
mod tests {
    use super::{escape_ts_rs_docs, string_literal};

    #[test]
    fn string_literals_are_javascript() {
        assert_eq!(string_literal("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(string_literal("nul\u{0}1"), r#""nul\u00001""#);
        assert_eq!(string_literal("été"), "\"été\"");
    }

    #[test]
    fn doc_comments_from_ts_rs_are_escaped() {
        let lines = "{ \n/**\n * Ends */ here.\n * Two\n */\nn: number, }";
        assert_eq!(
            escape_ts_rs_docs(lines),
            "{ \n/**\n * Ends *\\/ here.\n * Two\n */\nn: number, }"
        );
        let block = "{ \n/** a /* b */ c\n d */\nn: number, }";
        assert_eq!(
            escape_ts_rs_docs(block),
            "{ \n/** a /* b *\\/ c\n d */\nn: number, }"
        );
        let quoted = "{ \"/**\": number, }";
        assert_eq!(escape_ts_rs_docs(quoted), quoted);
    }
}
