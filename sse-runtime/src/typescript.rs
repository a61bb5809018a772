//! TypeScript for the browser, from a typed event type (feature
//! `typescript`): the events as a discriminated union with their data
//! types, and a small client over the browser's own `EventSource` that
//! parses each event's JSON once and accepts only the type's event names.
//!
//! ```
//! # #[cfg(feature = "typescript")] {
//! use sse_runtime::SseEvent;
//!
//! #[derive(serde::Serialize, ts_rs::TS)]
//! struct Message { user: String, text: String }
//!
//! #[derive(SseEvent)]
//! enum ChatEvent { Message(Message), Join { user: String } }
//!
//! let types = sse_runtime::typescript::declarations::<ChatEvent>();
//! assert!(types.contains("export type Message = { user: string, text: string, };"));
//! assert!(types.contains(r#"| { event: "join"; data: { "user": string } }"#));
//! let client = sse_runtime::typescript::client::<ChatEvent>();
//! assert!(client.contains(r#"export const EVENT_NAMES = Object.freeze(["message", "join"]);"#));
//! # }
//! ```
//!
//! The payload types name their TypeScript through ts-rs (`#[derive(TS)]`
//! on them); everything else is written here. `declarations` is the
//! `.d.ts` beside the `.js` that `client` writes, so a page imports
//! `./events.js` and TypeScript (or `// @ts-check` JavaScript) sees the
//! types.

#[cfg(feature = "typescript")]
use std::fmt::Write;

/// What `#[derive(SseEvent)]` says about a type's events, for the
/// TypeScript writers. Implemented with bounds on the payload types that
/// hold only when each implements `ts_rs::TS` (and the feature is on).
#[doc(hidden)]
pub trait TypeScriptEvents<'a> {
    /// The Rust type's name.
    const NAME: &'static str;
    /// Adds each event, in declaration order.
    fn describe(out: &mut TsEvents);
}

/// A payload type's TypeScript.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no TypeScript type",
    label = "a payload type of a typed event needs `#[derive(ts_rs::TS)]`",
    note = "derive `ts_rs::TS` on it, and turn on sse-runtime's `typescript` feature"
)]
pub trait TsPayload<'a> {
    /// Its type expression, declaring the named types it uses in `out`.
    fn describe(out: &mut TsEvents) -> TsType;
}

#[cfg(feature = "typescript")]
impl<T: ts_rs::TS + 'static + ?Sized> TsPayload<'_> for T {
    fn describe(out: &mut TsEvents) -> TsType {
        out.declare::<T>();
        TsType {
            expression: T::name(&config()),
        }
    }
}

/// Numbers as JSON carries them: `u64` is a `number` once `JSON.parse` has
/// read it, not a `bigint` (ts-rs's default).
#[cfg(feature = "typescript")]
fn config() -> ts_rs::Config {
    ts_rs::Config::new().with_large_int("number")
}

/// A TypeScript type expression.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct TsType {
    expression: String,
}

impl TsType {
    /// A unit variant's data: none (the client gives `null`).
    pub fn empty() -> TsType {
        TsType {
            expression: "null".into(),
        }
    }

    /// A tuple variant's data: a JSON array.
    pub fn tuple(items: Vec<TsType>) -> TsType {
        let items: Vec<String> = items.into_iter().map(|item| item.expression).collect();
        TsType {
            expression: format!("[{}]", items.join(", ")),
        }
    }

    /// A struct variant's data: a JSON object.
    pub fn object(fields: Vec<(&str, TsType)>) -> TsType {
        let fields: Vec<String> = fields
            .into_iter()
            .map(|(name, ty)| format!("{}: {}", string_literal(name), ty.expression))
            .collect();
        TsType {
            expression: format!("{{ {} }}", fields.join("; ")),
        }
    }
}

/// `text` as a JavaScript (and TypeScript) string literal. JSON's escapes
/// are JavaScript's, and since ES2019 a JSON string is a valid literal as
/// it is; Rust's `{:?}` is not one (its `\0` before a digit is an octal
/// escape, a syntax error in a module, and `\u{..}` needs ES2015).
fn string_literal(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `text` inside a `/** .. */` comment: a `*/` in it would end the
/// comment and leave the rest as code.
#[cfg(feature = "typescript")]
fn comment_text(text: &str) -> String {
    text.replace("*/", "*\\/")
}

/// The events of one type, and the named types their data uses.
#[doc(hidden)]
#[derive(Debug, Default)]
#[cfg_attr(
    not(feature = "typescript"),
    allow(dead_code, reason = "read by the writers of the `typescript` feature")
)]
pub struct TsEvents {
    events: Vec<(&'static str, Vec<&'static str>, TsType)>,
    declarations: Vec<(String, String)>,
}

impl TsEvents {
    /// One event: its name, its doc lines, its data's type.
    pub fn event(&mut self, name: &'static str, docs: &[&'static str], data: TsType) {
        self.events.push((name, docs.to_vec(), data));
    }

    /// Declares `T` (if it is a named type) and what it uses, once each.
    #[cfg(feature = "typescript")]
    fn declare<T: ts_rs::TS + 'static + ?Sized>(&mut self) {
        struct Visitor<'a>(&'a mut TsEvents);
        impl ts_rs::TypeVisitor for Visitor<'_> {
            fn visit<U: ts_rs::TS + 'static + ?Sized>(&mut self) {
                self.0.declare::<U>();
            }
        }
        let config = config();
        if T::output_path().is_some() {
            let name = T::ident(&config);
            let declaration = T::decl(&config);
            if let Some((_, known)) = self.declarations.iter().find(|(known, _)| *known == name) {
                // One declaration per name (the instances of a generic type
                // share theirs); another type of the same name would be
                // typed as the first, in silence.
                assert!(
                    *known == declaration,
                    "two payload types are named `{name}` in TypeScript:\n{known}\n{declaration}\n\
                     give one another name with `#[ts(rename = \"..\")]`"
                );
                return;
            }
            self.declarations.push((name, declaration));
        }
        T::visit_dependencies(&mut Visitor(self));
    }
}

#[cfg(feature = "typescript")]
const HEADER: &str = "Generated by sse-runtime from the Rust type";

/// The `.d.ts` for `E`: its data types, the union of its events, its event
/// names, and the client's signatures. See the module docs.
///
/// # Panics
///
/// When two payload types have one TypeScript name (`a::Message` and
/// `b::Message`), or a payload type has a name this file declares for `E`
/// (`E`, `EName`, `EData`, `TypedESource`): the file would not say what
/// the server sends. `#[ts(rename = "..")]` on the payload type fixes it.
#[cfg(feature = "typescript")]
pub fn declarations<E>() -> String
where
    E: for<'a> TypeScriptEvents<'a> + crate::SseEvent,
{
    let mut events = TsEvents::default();
    E::describe(&mut events);
    let name = <E as TypeScriptEvents<'static>>::NAME;
    let own = [
        name.to_owned(),
        format!("{name}Name"),
        format!("{name}Data"),
        format!("Typed{name}Source"),
    ];
    for (declared, _) in &events.declarations {
        assert!(
            !own.contains(declared),
            "a payload type of `{name}` is named `{declared}` in TypeScript, as the file \
             generated for `{name}` names a type of its own; give it another name with \
             `#[ts(rename = \"..\")]`"
        );
    }
    let mut out = String::new();
    let _ = writeln!(out, "// {HEADER} `{name}`: do not edit.");
    let _ = writeln!(
        out,
        "// The events a server sends as `{name}`, and a typed client for them.\n"
    );
    for (_, declaration) in &events.declarations {
        let _ = writeln!(out, "export {declaration}\n");
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
            data.expression
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
        "export type {name}Data<N extends {name}Name> = Extract<{name}, {{ event: N }}>[\"data\"];\n"
    );
    let _ = writeln!(
        out,
        "/** Typed listeners on an `EventSource`; see `typed`. */\nexport interface Typed{name}Source {{\n  /** Calls `handler` with the data of every event named `name`; returns a function that removes it. */\n  on<N extends {name}Name>(name: N, handler: (data: {name}Data<N>, event: MessageEvent<string>) => void): () => void;\n}}\n"
    );
    let _ = writeln!(
        out,
        "/** Typed listeners on `source`: each event's data is parsed once and given to every handler of its name. */\nexport declare function typed(source: EventSource): Typed{name}Source;"
    );
    out
}

/// The JavaScript module for `E` (ES module, no dependencies): its event
/// names and `typed(source)`. See the module docs.
#[cfg(feature = "typescript")]
pub fn client<E>() -> String
where
    E: for<'a> TypeScriptEvents<'a> + crate::SseEvent,
{
    let mut events = TsEvents::default();
    E::describe(&mut events);
    let name = <E as TypeScriptEvents<'static>>::NAME;
    let names: Vec<String> = events
        .events
        .iter()
        .map(|(event, _, _)| string_literal(event))
        .collect();
    let units: Vec<String> = events
        .events
        .iter()
        .filter(|(_, _, data)| data.expression == "null")
        .map(|(event, _, _)| string_literal(event))
        .collect();
    format!(
        r#"// {HEADER} `{name}`: do not edit. Types: events.d.ts.

export const EVENT_NAMES = Object.freeze([{names}]);

// Events that carry no data: their handlers get `null`.
const NO_DATA = new Set([{units}]);

export function typed(source) {{
  const handlers = new Map();
  return {{
    on(name, handler) {{
      if (!EVENT_NAMES.includes(name)) {{
        throw new TypeError(`unknown event name ${{JSON.stringify(name)}}; expected one of ${{EVENT_NAMES.join(", ")}}`);
      }}
      let list = handlers.get(name);
      if (list === undefined) {{
        list = [];
        handlers.set(name, list);
        source.addEventListener(name, (event) => {{
          // The connection's own `open` and `error` are plain events with
          // no data; only the server's events are messages.
          if (typeof event.data !== "string") return;
          const data = NO_DATA.has(name) ? null : JSON.parse(event.data);
          // A handler removed during this dispatch is not called, as with
          // `removeEventListener`.
          for (const entry of [...list]) if (!entry.removed) entry.handler(data, event);
        }});
      }}
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
        units = units.join(", "),
    )
}
