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
//! # Where things are
//!
//! | you want to | use |
//! |---|---|
//! | write a handler that yields events | [`sse_handler`], [`sse_handlers!`], [`yield_!`] |
//! | build an event, a comment, a keep-alive | [`event!`], [`comment!`], [`keep_alive!`], [`Event`], [`Comment`] |
//! | set keep-alive, error events, a close callback | [`SseConfig`] (or the attribute's options) |
//! | compress a stream as the client accepts | `Compression` (feature `compression`) |
//! | build a response by hand, or from a `Stream` | [`SseResponse`], [`Emitter`] |
//! | resume from the browser's last id | [`LastEventId`] |
//! | shut streams down, know why each ended | [`Shutdown`], [`ShutdownSignal`], [`StreamSummary`], [`CloseReason`] |
//! | spread reconnects after a restart | [`SseConfig::retry_jitter`], [`Shutdown::retry_jitter`] |
//! | export metrics (Prometheus, ...) | [`metrics`] |
//! | send one event to many streams, with replay | [`hub`] |
//! | decide which topics a request may read and publish to | [`auth`] |
//! | keep work going when its client leaves | [`runs`] |
//! | give an endpoint's events one Rust type | [`SseEvent`], [`Tagged`], [`Shared`] |
//! | test a handler, read a stream as a browser does | `testing` (feature `testing`) |
//! | generate the browser's TypeScript | `typescript` (feature `typescript`) |
//!
//! # Cargo features
//!
//! All off by default.
//!
//! | feature | what it adds | what it brings in |
//! |---|---|---|
//! | `redis` | `hub::RedisTransport`: one hub (and the runs' state) shared by every instance on a Redis 7 | `redis` (redis-rs) |
//! | `typescript` | `typescript::declarations`, `typescript::client`: TypeScript and a browser client from a `#[derive(SseEvent)]` type | `ts-rs` |
//! | `testing` | `testing::TestClient`, `testing::Parser`: a client that reads a stream as `EventSource` does | `hyper`'s client, `tower` |
//! | `compression` | `Compression`, `SseConfig::compression`, `#[sse_handler(compress = true)]`: gzip, zstd or Brotli as `Accept-Encoding` allows, flushed at every frame | `flate2` (on `zlib-rs`), `zstd-safe` (builds zstd's C library), `brotli` |
//! | `jwt` | `auth::JwtAuthorizer`: topic grants from a verified JWT's Mercure-style claims | `jsonwebtoken` |
//!
//! The macros live in the `sse-macros` crate and are re-exported here:
//! depend on this crate only.

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod auth;
mod body;
#[cfg(feature = "compression")]
mod compress;
mod emitter;
mod encode;
mod error;
mod event;
mod extract;
mod finite;
pub mod hub;
mod lifecycle;
mod macros;
pub mod metrics;
mod response;
mod retry;
pub mod runs;
mod sync;
#[cfg(feature = "testing")]
pub mod testing;
mod typed;
#[cfg(feature = "typescript")]
pub mod typescript;
mod variant;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The traits behind the macros' error messages, named by rustc in its
/// notes: reachable outside the hidden module, so that rustc prints their
/// short names rather than a `__private` path. Not public API.
#[doc(hidden)]
pub use __private::{BodyOutcome, CommentText, EventData, EventName, HandlerError, Substate};

#[cfg(feature = "compression")]
#[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
pub use compress::Compression;
pub use emitter::{Emitter, SendEvent};
pub use error::EventError;
pub use event::{Comment, Event, EventBuilder, EventIdValue, IntoEvent, RetryValue};
pub use extract::{LastEventId, StreamContext, MAX_LAST_EVENT_ID_LEN};
pub use lifecycle::{
    ctrl_c_or_sigterm, open_streams, CloseReason, Shutdown, ShutdownSignal, StreamSummary,
};
pub use response::{SseConfig, SseResponse, StreamForwarder, DEFAULT_KEEP_ALIVE};
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
/// * `compress = true`: compress the stream with gzip or zstd when the
///   request's `Accept-Encoding` allows (feature `compression`; see
///   `Compression` and `SseConfig::compression`). Off by default.
/// * `retry = "3s"`: send `retry:` as the stream's first frame (see
///   [`SseConfig::retry`]); `retry_jitter = "2s"` adds a random part of at
///   most that much, drawn per stream, so that clients cut off together
///   come back spread out (see [`SseConfig::retry_jitter`]). Each is at
///   most 2^31 - 1 ms (about 596 hours; more is a compile error).
/// * `state = AppState`: the router's state type. Each argument is checked to
///   be an extractor for it, and a wrong one is reported on its type. Without
///   it, the type from the first `State<T>` argument is used (so another
///   `State<U>` needs `U: FromRef<T>`); with neither, axum reports a
///   non-extractor argument at the route instead.
/// * `on_close = f`: a function or closure of `&StreamSummary`, called once
///   when the stream ends (see [`SseConfig::on_close`]). The expression is
///   evaluated in the handler, where its arguments are in scope, so a
///   closure may hold the request's user or the app's metrics:
///   `on_close = { let metrics = metrics.clone(); move |summary: &StreamSummary| metrics.record(summary) }`.
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
