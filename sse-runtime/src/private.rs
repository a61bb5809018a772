//! Not public API: the items macro expansions refer to, through
//! `$crate::__private` (or the path a `crate = ".."` argument names). Every
//! name here may change in any release.

pub use crate::emitter::Emitter;
pub use crate::error::EventError;
pub use crate::event::{Comment, Event, EventBuilder, IntoEvent};
pub use crate::typed::{
    decode_struct, decode_unit, decode_variant, DecodeError, DecodeEvent, SseEvent, TypedEvents,
    YieldOf,
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
pub fn respond<R, F, Fut>(config: SseConfig, context: StreamContext, body: F) -> SseResponse<Fut>
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

/// What `#[sse_handler(compress = ..)]` needs: the `compression` feature.
#[diagnostic::on_unimplemented(
    message = "`compress = ..` needs the `compression` feature of sse-runtime",
    label = "compression is not built in",
    note = "enable it: `sse-runtime = {{ version = \"0.1\", features = [\"compression\"] }}`"
)]
pub trait CompressionFeature {
    fn compress(self, on: bool) -> SseConfig;
}

#[cfg(feature = "compression")]
impl CompressionFeature for SseConfig {
    fn compress(self, on: bool) -> SseConfig {
        self.compression(if on {
            crate::Compression::new()
        } else {
            crate::Compression::off()
        })
    }
}

/// `compress = on` applied to `config`.
pub fn compress<C: CompressionFeature>(config: C, on: bool) -> SseConfig {
    config.compress(on)
}
