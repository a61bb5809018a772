//! Declarative Server-Sent Events endpoints for axum.
//!
//! Write an `async fn` that yields events; `#[sse_handler]` turns it into an
//! axum handler that streams them:
//!
//! ```
//! use std::time::Duration;
//! use axum::{extract::Query, routing::get, Router};
//! use sse_runtime::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Params { count: u32 }
//!
//! #[derive(serde::Serialize)]
//! struct Tick { n: u32 }
//!
//! /// Counts up, one event per 100 ms.
//! #[sse_handler(keep_alive = "15s")]
//! async fn ticks(Query(params): Query<Params>) {
//!     for n in 1..=params.count {
//!         yield_!(event!(json: Tick { n }, event: "tick", id: n));
//!         tokio::time::sleep(Duration::from_millis(100)).await;
//!     }
//! }
//!
//! // The block form accepts a literal `yield` on stable Rust.
//! sse_handlers! {
//!     async fn hello() {
//!         yield event!("Hello, SSE!");
//!     }
//! }
//!
//! let app: Router = Router::new().route("/ticks", get(ticks)).route("/hello", get(hello));
//! ```
//!
//! Where things are:
//!
//! * [`event`](mod@event): the [`Event`] type and its builder, and
//!   `error.rs`: why an event can be refused ([`EventError`]);
//! * `encode.rs`: the wire encoder (no axum, no tokio);
//! * [`emitter`]: what `yield` becomes, the hand-off to the response body;
//! * `body.rs`: the streaming body: handler, keep-alive, shutdown, ending;
//! * [`response`]: [`SseResponse`], its options and headers;
//! * `extract.rs`: the axum extractors ([`LastEventId`], [`StreamContext`]);
//! * [`lifecycle`]: shutdown, close reasons, the open-streams gauge;
//! * [`hub`]: fan-out with replay;
//! * the macros live in the `sse-macros` crate and are re-exported here.

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod body;
pub mod emitter;
mod encode;
mod error;
pub mod event;
mod extract;
mod finite;
pub mod hub;
pub mod lifecycle;
pub mod response;
pub mod runs;
mod sync;
#[cfg(feature = "testing")]
pub mod testing;
mod typed;
#[cfg(feature = "typescript")]
pub mod typescript;
mod variant;

pub use body::SseBody;
pub use emitter::Emitter;
pub use error::EventError;
pub use event::{Comment, Event, EventBuilder, EventIdValue, IntoEvent, RetryValue};
pub use extract::{LastEventId, StreamContext, MAX_LAST_EVENT_ID_LEN};
pub use lifecycle::{
    ctrl_c_or_sigterm, open_streams, CloseReason, Shutdown, ShutdownSignal, StreamSummary,
};
pub use response::{BodyOutcome, SseConfig, SseResponse, DEFAULT_KEEP_ALIVE};
pub use typed::{DecodeError, DecodeEvent, Shared, SseEvent, Tagged, YieldOf};

/// Turns an `async fn` whose body yields events into an axum SSE handler.
///
/// Inside the body, `yield_!(event)` sends an event; the stream ends when the
/// body returns. The function keeps its name, visibility, attributes and
/// extractor arguments, and returns an [`SseResponse`]. It gains one more,
/// first, argument: a [`StreamContext`] extractor, which links the stream to
/// its route (for the end-of-stream record) and to the router's
/// [`Shutdown`].
///
/// Arguments, all optional:
///
/// * `keep_alive = "15s"`: send a keep-alive comment after this much silence
///   (`ms`, `s`, `m` or `h`); `keep_alive = false` turns it off. Default:
///   [`DEFAULT_KEEP_ALIVE`].
/// * `error_event = true`: when the body fails, send a final `error` event
///   (see [`SseConfig::error_event`]).
/// * `state = AppState`: the router's state type. Each argument is checked to
///   be an extractor for it, and a wrong one is reported on its type. Without
///   it, the type from the first `State<T>` argument is used (so another
///   `State<U>` needs `U: FromRef<T>`); with neither, axum reports a
///   non-extractor argument at the route instead.
/// * `on_close = path`: a `fn(&StreamSummary)` called once when the stream
///   ends (see [`SseConfig::on_close`]).
/// * `events = T`: the handler yields only values of `T`, a
///   `#[derive(SseEvent)]` type, and comments (see [`YieldOf`]); anything
///   else is a compile error on the yielded value, and a `T` that does not
///   derive `SseEvent` one on `T`.
/// * `crate = "path"`: where `sse_runtime` is, for crates that re-export it.
///
/// A body may return `()` or `Result<(), E>` with `E: Display`; `?` works.
///
/// ```
/// use sse_runtime::prelude::*;
///
/// #[sse_handler(keep_alive = "5s", error_event = true)]
/// async fn numbers() -> Result<(), std::num::ParseIntError> {
///     for text in ["1", "2", "x"] {
///         let n: u32 = text.parse()?;
///         yield_!(event!(data: n.to_string()));
///     }
///     Ok(())
/// }
/// # let _: axum::Router = axum::Router::new().route("/n", axum::routing::get(numbers));
/// ```
pub use sse_macros::sse_handler;

/// Derives [`SseEvent`](trait@SseEvent) for an enum whose variants are an
/// endpoint's events; see the trait for the rules and an example.
pub use sse_macros::SseEvent;

pub mod prelude {
    //! The macros and types a handler needs: `use sse_runtime::prelude::*;`.
    //!
    //! ```
    //! use sse_runtime::prelude::*;
    //! # let _ = event!("x");
    //! ```
    pub use crate::{
        comment, event, keep_alive, sse_handler, sse_handlers, yield_, Emitter, Event, EventError,
        LastEventId, SseConfig, SseEvent, SseResponse,
    };
}

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
/// built; see [`EventError`].
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
/// [`SseConfig::keep_alive`]).
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

/// The block form of [`sse_handler`]: one or more `async fn`s whose bodies
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

/// The traits behind the macros' error messages, named by rustc in its
/// notes: reachable outside the hidden module, so that rustc prints their
/// short names rather than a `__private` path. Not public API.
#[doc(hidden)]
pub use __private::{CommentText, EventData, EventName, HandlerError, Substate};

/// Not public API: the items macro expansions refer to.
#[doc(hidden)]
pub mod __private {
    pub use crate::emitter::Emitter;
    pub use crate::error::EventError;
    pub use crate::event::{Comment, Event, EventBuilder, IntoEvent};
    pub use crate::typed::{
        decode_struct, decode_unit, decode_variant, DecodeError, DecodeEvent, SseEvent,
        TypedEvents, YieldOf,
    };
    pub use crate::variant::{
        Content, SerializeContent, UncheckedContent, VariantContent, VariantData,
    };
    pub use serde;
    /// A serializer type, for the derive's check that a payload type is
    /// `Serialize` (`<T as Serialize>::serialize::<ValueSerializer>`).
    pub use serde_json::value::Serializer as ValueSerializer;
    pub use sse_macros::SerdeAttributes;

    /// The TypeScript half of `#[derive(SseEvent)]`'s output, kept only
    /// with the `typescript` feature: it derives `ts_rs::TS`, which is not
    /// a dependency without it.
    #[cfg(feature = "typescript")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __sse_typescript {
        ($($item:tt)*) => { $($item)* };
    }

    /// Without the `typescript` feature, nothing.
    #[cfg(not(feature = "typescript"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __sse_typescript {
        ($($item:tt)*) => {};
    }

    pub use crate::__sse_typescript as typescript;
    pub use crate::extract::StreamContext;
    pub use crate::response::{BodyOutcome, SseConfig, SseResponse};
    #[cfg(feature = "typescript")]
    pub use crate::typescript::ts_rs;
    #[cfg(feature = "typescript")]
    pub use crate::typescript::{
        DescribedContent, TsContent, TsData, TsEvents, TypeScriptEvents, UndescribedContent,
    };
    pub use sse_macros::{comment_impl, event_impl, sse_handlers_impl};

    pub use axum::extract::{FromRequest, FromRequestParts};
    pub use axum::response::Response;

    /// Builds a handler's response. Naming `R` here makes the body's output
    /// type known while the body is type-checked, so `?` and `return` in it
    /// need no annotations. The expansion checks `R` on the user's return
    /// type first, and spans this call there too, so that rustc reports a
    /// wrong `R` once, with the message of that check.
    pub fn respond<R, F, Fut>(
        config: SseConfig,
        context: StreamContext,
        body: F,
    ) -> SseResponse<Fut>
    where
        F: FnOnce(Emitter) -> Fut,
        Fut: core::future::Future<Output = R> + Send + 'static,
        R: BodyOutcome,
    {
        SseResponse::new(body)
            .with_config(config)
            .with_context(context)
    }

    // The traits below exist for their error messages. The expansions reach
    // each through a qualified path (`<T as Trait>::..`) spanned at the
    // user's own token, so that a failure lands there, says what to write
    // instead, and names no helper function. The three text traits differ
    // only in that message.

    /// Text for `data:` in `event!`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be used as SSE event data",
        label = "`data:` takes text (`&str`, `String`, ...)",
        note = "write `data: value.to_string()` to send it as text, or `json: value` to send it as JSON"
    )]
    pub trait EventData {
        fn as_text(&self) -> &str;
    }

    impl<T: AsRef<str> + ?Sized> EventData for T {
        #[inline]
        fn as_text(&self) -> &str {
            self.as_ref()
        }
    }

    /// Text for `event:` in `event!`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be used as an SSE event type",
        label = "`event:` takes the event type as text (`&str`, `String`, ...)",
        note = "write `event: \"name\"`, or `event: value.to_string()`"
    )]
    pub trait EventName {
        fn as_text(&self) -> &str;
    }

    impl<T: AsRef<str> + ?Sized> EventName for T {
        #[inline]
        fn as_text(&self) -> &str {
            self.as_ref()
        }
    }

    /// Text for `comment!`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be used as an SSE comment",
        label = "`comment!` takes text (`&str`, `String`, ...) or a format string",
        note = "write `comment!(\"{{}}\", value)` or `comment!(value.to_string())`"
    )]
    pub trait CommentText {
        fn as_text(&self) -> &str;
    }

    impl<T: AsRef<str> + ?Sized> CommentText for T {
        #[inline]
        fn as_text(&self) -> &str {
            self.as_ref()
        }
    }

    /// The `E` of a handler returning `Result<(), E>`.
    #[diagnostic::on_unimplemented(
        message = "the error type `{Self}` of an SSE handler must implement `std::fmt::Display`",
        label = "an `Err` ends the stream and is logged with `Display`",
        note = "implement `std::fmt::Display` for `{Self}`, or return an error type that has it, like `String`: `.map_err(|e| format!(\"{{e:?}}\"))?`"
    )]
    pub trait HandlerError {
        fn check() {}
    }

    impl<E: core::fmt::Display + ?Sized> HandlerError for E {}

    /// The `T` of a `State<T>` argument, given the handler's state type `S`.
    #[diagnostic::on_unimplemented(
        message = "`State<{Self}>` cannot be extracted from this handler's state type `{S}`",
        label = "`{Self}` is not `{S}`, nor a part of it",
        note = "a handler's state type is the one named by `state = ..`, or else its first `State<..>` argument; name the router's state with `#[sse_handler(state = AppState)]`, or implement `FromRef<{S}>` for `{Self}`"
    )]
    pub trait Substate<S> {
        fn check() {}
    }

    impl<T: axum::extract::FromRef<S>, S> Substate<S> for T {}

    /// `comment!` with a format string; a string without arguments is not
    /// copied into a `String` first.
    pub fn comment_from_format(text: core::fmt::Arguments<'_>) -> crate::Comment {
        match text.as_str() {
            Some(text) => crate::Comment::new(text),
            None => crate::Comment::new(&text.to_string()),
        }
    }

    /// The body of the stand-in function emitted next to compile errors; it
    /// never runs, since the crate does not compile.
    pub fn fallback_response() -> Response {
        axum::response::IntoResponse::into_response(http::StatusCode::INTERNAL_SERVER_ERROR)
    }
}
