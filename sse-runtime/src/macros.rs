//! The declarative macros: `event!`, `comment!`, `keep_alive!`, `yield_!`
//! and `sse_handlers!`. Each forwards to a procedural macro of `sse-macros`
//! (through the hidden `__private` path) or to a runtime function; they are
//! exported at the crate's root.

/// Builds an event: `Result<Event, EventError>`.
///
/// Keys, each at most once, in any order:
///
/// | key      | value                                                | field    |
/// |----------|------------------------------------------------------|----------|
/// | `data`   | text (`impl AsRef<str>`); may also come first without a key | `data:` lines |
/// | `json`   | any `impl Serialize`, written as compact JSON         | `data:`  |
/// | `event`  | the event type (`impl AsRef<str>`)                   | `event:` |
/// | `id`     | text or an integer                                   | `id:`    |
/// | `retry`  | milliseconds as an integer, or a `Duration`          | `retry:` |
///
/// Exactly one of `data` and `json` is required (`data: ""` sends an event
/// with empty data). Unknown and repeated keys, and literal values that can
/// never be sent (an event name with a line break, a negative retry), are
/// compile errors. Values known only at run time are checked when the event is
/// built; see [`EventError`](crate::EventError).
///
/// ```
/// use sse_runtime::event;
///
/// let hello = event!("Hello")?;
/// assert_eq!(hello.as_bytes(), b"data: Hello\n\n");
///
/// let update = event!(json: serde_json::json!({"count": 1}), event: "update", id: 1, retry: 5000)?;
/// assert_eq!(update.as_bytes(), b"event: update\nid: 1\nretry: 5000\ndata: {\"count\":1}\n\n");
/// # Ok::<(), sse_runtime::EventError>(())
/// ```
#[macro_export]
macro_rules! event {
    () => {
        ::core::compile_error!(
            "`event!` needs data: write `event!(\"text\")`, `event!(data: \"..\")` (text) or `event!(json: value)`"
        )
    };
    ($($input:tt)*) => {
        $crate::__private::event_impl!($crate; $($input)*)
    };
}

/// Builds a comment, which `EventSource` ignores: `comment!("text")`,
/// `comment!("step {n} of {}", total)` (a literal is a format string, as in
/// `println!`) or `comment!(some_string)`. Line breaks become separate
/// comment lines.
///
/// ```
/// let n = 1;
/// let comment = sse_runtime::comment!("step {n} of {}", 3);
/// assert_eq!(comment.as_bytes(), b": step 1 of 3\n\n");
/// let text = String::from("plain");
/// assert_eq!(sse_runtime::comment!(text).as_bytes(), b": plain\n\n");
/// ```
#[macro_export]
macro_rules! comment {
    ($format:literal $($args:tt)*) => {
        $crate::__private::comment_from_format(::core::format_args!($format $($args)*))
    };
    ($text:expr $(,)?) => {
        $crate::__private::comment_impl!($crate; $text)
    };
}

/// The keep-alive frame, for sending one by hand: `yield_!(keep_alive!())`.
/// Streams also send one by themselves after a silence (see
/// [`SseConfig::keep_alive`](crate::SseConfig::keep_alive)).
///
/// ```
/// assert_eq!(sse_runtime::keep_alive!().as_bytes(), b":\n\n");
/// ```
#[macro_export]
macro_rules! keep_alive {
    () => {
        $crate::Comment::keep_alive()
    };
}

/// Sends an event from an `#[sse_handler]` body: `yield_!(event!(..))`.
///
/// `#[sse_handler]` rewrites every `yield_!` directly in its body, including
/// inside other macros such as `tokio::select!`. Anywhere else — outside a
/// handler, or inside a closure or `async` block within one, which would run
/// apart from the stream — it is a compile error.
///
/// ```compile_fail
/// use sse_runtime::prelude::*;
/// fn not_a_handler() {
///     yield_!(event!("x"));
/// }
/// ```
#[macro_export]
macro_rules! yield_ {
    ($($input:tt)*) => {
        ::core::compile_error!(
            "`yield_!` can only be used directly in the body of an `#[sse_handler]` function, \
             not outside one, nor inside a closure or `async` block within one"
        )
    };
}

/// The block form of [`sse_handler`](crate::sse_handler): one or more `async fn`s whose bodies
/// use a literal `yield`, which stable Rust accepts inside a function-like
/// macro but not under an attribute.
///
/// Options go in an `#[sse_handler(..)]` attribute on the function, with the
/// same keys as the attribute form.
///
/// ```
/// use std::time::Duration;
/// use sse_runtime::prelude::*;
///
/// sse_handlers! {
///     /// Ticks three times.
///     #[sse_handler(keep_alive = "30s")]
///     pub async fn ticks() {
///         for n in 1..=3 {
///             yield event!(data: n.to_string(), event: "tick");
///             tokio::time::sleep(Duration::from_millis(10)).await;
///         }
///     }
/// }
/// # let _: axum::Router = axum::Router::new().route("/t", axum::routing::get(ticks));
/// ```
#[macro_export]
macro_rules! sse_handlers {
    ($($input:tt)*) => {
        $crate::__private::sse_handlers_impl!($crate; $($input)*);
    };
}
