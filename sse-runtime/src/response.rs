//! The axum glue: the response type, its headers, the streaming body with its
//! keep-alive (timed by `keep_alive.rs`), and how a handler body's end
//! becomes the stream's end.
//!
//! This is the only module that knows about axum and HTTP.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http_body::Frame;
use tokio::time::Sleep;

use crate::emitter::{Emitter, Outbox};
use crate::encode;
use crate::event::IntoEvent;
use crate::keep_alive::{self, KeepAlive};
use crate::lifecycle::{CloseReason, OpenStreamGuard, StreamContext, StreamSummary};

/// The keep-alive interval used when none is configured.
///
/// Proxies and load balancers commonly cut connections that stay silent for
/// 30 to 60 seconds (nginx's `proxy_read_timeout` and AWS ALB's idle timeout
/// both default to 60 s); 15 s stays well inside those limits for a cost of
/// three bytes per interval. It also bounds how long a vanished client can go
/// unnoticed: a write to a closed connection fails, and the handler body is
/// dropped.
///
/// ```
/// let config = sse_runtime::SseConfig::new();
/// assert_eq!(config.keep_alive_interval(), Some(sse_runtime::DEFAULT_KEEP_ALIVE));
/// ```
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How a stream behaves besides its events: keep-alive and what happens when
/// it fails.
///
/// `#[sse_handler(keep_alive = "30s", error_event = true)]` sets the same
/// options.
///
/// ```
/// use std::time::Duration;
/// use sse_runtime::SseConfig;
///
/// let config = SseConfig::new().keep_alive(Some(Duration::from_secs(30))).error_event(true);
/// assert_eq!(config.keep_alive_interval(), Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SseConfig {
    keep_alive: Option<Duration>,
    error_event: bool,
    on_close: Option<fn(&StreamSummary)>,
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig::new()
    }
}

impl SseConfig {
    /// The defaults: keep-alive every [`DEFAULT_KEEP_ALIVE`], errors logged
    /// but not sent.
    ///
    /// ```
    /// let config = sse_runtime::SseConfig::new();
    /// assert_eq!(config.keep_alive_interval(), sse_runtime::SseConfig::default().keep_alive_interval());
    /// ```
    pub const fn new() -> Self {
        SseConfig {
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
            error_event: false,
            on_close: None,
        }
    }

    /// Calls `callback` once when the stream ends, with why and what it sent
    /// (see [`StreamSummary`]). It runs on the server's task: keep it short.
    ///
    /// ```
    /// fn record(summary: &sse_runtime::StreamSummary) {
    ///     println!("{:?} after {} frames", summary.reason, summary.frames);
    /// }
    /// let config = sse_runtime::SseConfig::new().on_close(record);
    /// # let _ = config;
    /// ```
    pub const fn on_close(mut self, callback: fn(&StreamSummary)) -> Self {
        self.on_close = Some(callback);
        self
    }

    /// Sends a keep-alive comment (`:\n\n`) whenever nothing else was sent
    /// for `interval`; `None` turns keep-alive off. A zero interval is treated
    /// as off, since it would send keep-alives in a busy loop. Intervals are
    /// kept in whole milliseconds (a shorter one counts as 1 ms) on tokio's
    /// clock, so `tokio::time::pause` applies to them.
    ///
    /// ```
    /// let config = sse_runtime::SseConfig::new().keep_alive(None);
    /// assert_eq!(config.keep_alive_interval(), None);
    /// ```
    pub const fn keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive = match interval {
            Some(interval) if interval.is_zero() => None,
            other => other,
        };
        self
    }

    /// When the stream ends with an error (the body returned `Err`, yielded
    /// a refused event, or panicked), also send a final event of type `error`
    /// whose data is the error's `Display` text (for a panic: `handler
    /// panicked`, so that no panic message leaks to clients). Off by default:
    /// the error is always logged with `tracing`.
    ///
    /// ```
    /// assert!(sse_runtime::SseConfig::new().error_event(true).sends_error_event());
    /// ```
    pub const fn error_event(mut self, send: bool) -> Self {
        self.error_event = send;
        self
    }

    /// The keep-alive interval in force.
    ///
    /// ```
    /// assert_eq!(sse_runtime::SseConfig::new().keep_alive_interval(), Some(sse_runtime::DEFAULT_KEEP_ALIVE));
    /// ```
    pub const fn keep_alive_interval(&self) -> Option<Duration> {
        self.keep_alive
    }

    /// Whether a failing stream ends with an `error` event.
    ///
    /// ```
    /// assert!(!sse_runtime::SseConfig::new().sends_error_event());
    /// ```
    pub const fn sends_error_event(&self) -> bool {
        self.error_event
    }
}

/// What a handler body may return: `()`, or `Result<(), E>` where `E` can be
/// logged (`E: Display`).
///
/// ```
/// fn accepts<T: sse_runtime::BodyOutcome>() {}
/// accepts::<()>();
/// accepts::<Result<(), std::io::Error>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid return type for an SSE handler",
    label = "an SSE handler must return `()` or `Result<(), E>` with `E: Display`",
    note = "the stream ends when the handler returns; an `Err` is logged and ends the stream"
)]
pub trait BodyOutcome {
    /// The error to report, if the body failed.
    fn into_failure(self) -> Option<String>;
}

impl BodyOutcome for () {
    fn into_failure(self) -> Option<String> {
        None
    }
}

impl<E: fmt::Display> BodyOutcome for Result<(), E> {
    fn into_failure(self) -> Option<String> {
        self.err().map(|error| error.to_string())
    }
}

/// An SSE response: a handler body that sends events, with the options that
/// say how to stream them. This is what `#[sse_handler]` functions return;
/// it can also be built by hand with [`SseResponse::new`].
///
/// It answers with status 200 and the headers `Content-Type:
/// text/event-stream`, `Cache-Control: no-cache` and `X-Accel-Buffering: no`
/// (so nginx does not buffer the stream), and nothing specific to HTTP/1, so
/// it works the same over HTTP/2.
///
/// The handler body does not start until the client starts reading, and is
/// dropped, with its locals, as soon as the response is dropped (the client
/// went away).
///
/// ```
/// use axum::{routing::get, Router};
/// use sse_runtime::{Emitter, Event, SseResponse};
///
/// async fn countdown() -> SseResponse<impl std::future::Future<Output = ()> + Send> {
///     SseResponse::new(|mut emitter: Emitter| async move {
///         for n in (1..=3).rev() {
///             emitter.send(Event::data(&n.to_string())).await;
///         }
///     })
/// }
///
/// let app: Router = Router::new().route("/countdown", get(countdown));
/// ```
#[must_use = "an SSE response does nothing unless returned from a handler"]
pub struct SseResponse<F> {
    body: F,
    outbox: Outbox,
    config: SseConfig,
    context: StreamContext,
}

impl<F> fmt::Debug for SseResponse<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseResponse")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<F> SseResponse<F>
where
    F: Future + Send + 'static,
    F::Output: BodyOutcome,
{
    /// A response whose events are sent by the future `body` returns, with
    /// the default [`SseConfig`].
    ///
    /// ```
    /// use sse_runtime::{Event, SseResponse};
    /// let response = SseResponse::new(|mut emitter| async move {
    ///     emitter.send(Event::data("one")).await;
    /// });
    /// # let _ = response;
    /// ```
    pub fn new(body: impl FnOnce(Emitter) -> F) -> Self {
        let (emitter, outbox) = Emitter::new();
        SseResponse {
            body: body(emitter),
            outbox,
            config: SseConfig::new(),
            context: StreamContext::default(),
        }
    }

    /// Connects the stream to its request: the route name for the
    /// end-of-stream record, and the router's [`Shutdown`](crate::Shutdown).
    /// `#[sse_handler]` does this by itself.
    ///
    /// ```
    /// use sse_runtime::{Event, SseResponse, StreamContext};
    /// let response = SseResponse::new(|mut emitter| async move {
    ///     emitter.send(Event::data("x")).await;
    /// })
    /// .with_context(StreamContext::default());
    /// # let _ = response;
    /// ```
    pub fn with_context(mut self, context: StreamContext) -> Self {
        self.context = context;
        self
    }

    /// Replaces the options.
    ///
    /// ```
    /// use sse_runtime::{Event, SseConfig, SseResponse};
    /// let response = SseResponse::new(|mut emitter| async move {
    ///     emitter.send(Event::data("one")).await;
    /// })
    /// .with_config(SseConfig::new().keep_alive(None));
    /// # let _ = response;
    /// ```
    pub fn with_config(mut self, config: SseConfig) -> Self {
        self.config = config;
        self
    }

    /// The streaming body on its own, for serving without axum's
    /// `IntoResponse` (or for tests that read frames directly).
    ///
    /// ```
    /// use http_body_util::BodyExt;
    /// use sse_runtime::{Event, SseResponse};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let body = SseResponse::new(|mut emitter| async move {
    ///     emitter.send(Event::data("a")).await;
    ///     emitter.send(Event::data("b")).await;
    /// })
    /// .into_body();
    /// let bytes = body.collect().await.unwrap().to_bytes();
    /// assert_eq!(&bytes[..], b"data: a\n\ndata: b\n\n");
    /// # });
    /// ```
    pub fn into_body(self) -> SseBody<F> {
        let shutdown = self.context.shutdown.map(|shutdown| {
            Box::new(ShutdownWatch {
                signal: shutdown.signal().into_future(),
                shutdown,
                grace: None,
            })
        });
        SseBody {
            body: Some(self.body),
            state: StreamState {
                outbox: self.outbox,
                keep_alive: self.config.keep_alive.and_then(KeepAlive::new),
                error_event: self.config.error_event,
                shutdown,
                ending: Ending::Running,
                reason: None,
                record: StreamRecord {
                    route: self.context.route,
                    on_close: self.config.on_close,
                    started_ms: keep_alive::now_ms(),
                    frames: 0,
                    bytes: 0,
                    _open: OpenStreamGuard::new(),
                },
            },
        }
    }
}

/// The body future of a response made from a stream; see
/// [`SseResponse::from_stream`] for an example.
pub type StreamForwarder = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

impl SseResponse<StreamForwarder> {
    /// A response that sends every item of `stream`, for events that come
    /// from elsewhere (a channel, a broadcast subscription). It ends when the
    /// stream ends, or at the first refused event.
    ///
    /// ```
    /// use sse_runtime::{Event, SseResponse};
    ///
    /// async fn three() -> SseResponse<sse_runtime::response::StreamForwarder> {
    ///     let events = ["a", "b", "c"].map(Event::data);
    ///     SseResponse::from_stream(futures_util::stream::iter(events))
    /// }
    /// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(three));
    /// ```
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: futures_core::Stream + Send + 'static,
        S::Item: IntoEvent + Send,
    {
        SseResponse::new(|mut emitter| -> StreamForwarder {
            Box::pin(async move {
                let mut stream = std::pin::pin!(stream);
                while let Some(item) =
                    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
                {
                    emitter.send(item).await;
                }
            })
        })
    }
}

impl<F> IntoResponse for SseResponse<F>
where
    F: Future + Send + 'static,
    F::Output: BodyOutcome,
{
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::new(self.into_body()));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
        response
    }
}

pin_project_lite::pin_project! {
    /// The streaming HTTP body of an [`SseResponse`]: each poll runs the
    /// handler body until it waits, and returns what it sent as one frame.
    ///
    /// The handler body lives inline rather than in a box of its own, and
    /// the keep-alive timer is shared with other streams (see
    /// `keep_alive.rs`): axum boxes this body once, and an idle stream
    /// should cost no more memory than it must.
    pub struct SseBody<F> {
        // `None` once the handler body finished; dropped then, so its locals'
        // destructors run before the last frames are sent.
        #[pin]
        body: Option<F>,
        state: StreamState,
    }

    impl<F> PinnedDrop for SseBody<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Drop the handler body first, so that its locals are gone
            // before the close is reported.
            this.body.set(None);
            let state = this.state;
            let reason = state.reason.unwrap_or(CloseReason::ClientDisconnected);
            state.record.report(reason);
        }
    }
}

/// Everything about a stream besides its handler body and timer.
struct StreamState {
    outbox: Outbox,
    keep_alive: Option<KeepAlive>,
    error_event: bool,
    // Boxed: most streams have none, and an idle stream should be small.
    shutdown: Option<Box<ShutdownWatch>>,
    ending: Ending,
    /// Set when the stream ends; still `None` when dropped means the client
    /// went away. Here rather than in `record`, to share its word with the
    /// other small fields.
    reason: Option<CloseReason>,
    record: StreamRecord,
}

impl<F> fmt::Debug for SseBody<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseBody")
            .field("running", &self.body.is_some())
            .finish_non_exhaustive()
    }
}

enum Ending {
    Running,
    /// The body ended; what is left in the outbox goes out, then the end.
    Finishing,
    Done,
}

/// The router's shutdown signal, as one stream watches it.
struct ShutdownWatch {
    shutdown: crate::lifecycle::Shutdown,
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Set once the signal fired: when the grace period ends.
    grace: Option<Pin<Box<Sleep>>>,
}

impl ShutdownWatch {
    /// Ready once the stream should be ended for shutdown.
    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.grace.is_none() {
            if self.signal.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let grace = self.shutdown.grace_period();
            if grace.is_zero() {
                return Poll::Ready(());
            }
            self.grace = Some(Box::pin(tokio::time::sleep(grace)));
        }
        match self.grace.as_mut() {
            Some(grace) => grace.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

/// The end-of-stream record: counted as the stream runs, reported once.
struct StreamRecord {
    route: Option<axum::extract::MatchedPath>,
    on_close: Option<fn(&StreamSummary)>,
    /// On tokio's clock, like keep-alive.
    started_ms: u64,
    frames: u64,
    bytes: u64,
    _open: OpenStreamGuard,
}

impl StreamRecord {
    fn report(&self, reason: CloseReason) {
        let summary = StreamSummary {
            route: self.route.as_ref().map(|route| Arc::from(route.as_str())),
            frames: self.frames,
            bytes: self.bytes,
            duration: Duration::from_millis(keep_alive::now_ms().saturating_sub(self.started_ms)),
            reason,
        };
        tracing::info!(
            target: "sse_runtime::stream",
            route = summary.route.as_deref().unwrap_or(""),
            frames = summary.frames,
            bytes = summary.bytes,
            duration_ms = summary.duration.as_millis() as u64,
            reason = reason.as_str(),
            "SSE stream closed"
        );
        if let Some(on_close) = self.on_close {
            on_close(&summary);
        }
    }
}

impl<F> http_body::Body for SseBody<F>
where
    F: Future,
    F::Output: BodyOutcome,
{
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let mut this = self.project();
        let state = this.state;
        if let Some(frame) = state.outbox.take_queued() {
            return Poll::Ready(Some(Ok(state.sent(frame))));
        }
        if let Some(body) = this.body.as_mut().as_pin_mut() {
            // A panic in one handler must end that stream only, with a
            // proper end of body, and never reach the connection task.
            let (polled, taken) = state
                .outbox
                .poll_with(|| catch_unwind(AssertUnwindSafe(|| body.poll(cx))));
            state.record.frames += taken.events;
            let ended = match polled {
                Ok(Poll::Pending) => taken
                    .refused
                    .map(|error| (CloseReason::Error, Some(format!("event refused: {error}")))),
                Ok(Poll::Ready(outcome)) => Some(match outcome.into_failure() {
                    None => (CloseReason::Completed, None),
                    Some(failure) => (CloseReason::Error, Some(failure)),
                }),
                Err(_) => Some((CloseReason::Error, Some(PANIC_MESSAGE.to_owned()))),
            };
            let ended = ended.or_else(|| {
                let shutdown = state.shutdown.as_mut()?;
                shutdown
                    .poll_due(cx)
                    .is_ready()
                    .then_some((CloseReason::Shutdown, None))
            });
            if let Some((reason, failure)) = ended {
                this.body.set(None);
                state.finish(reason, failure);
            }
            if let Some(frame) = taken.frame {
                return Poll::Ready(Some(Ok(state.sent(frame))));
            }
        }
        match state.ending {
            Ending::Running => {}
            Ending::Finishing => {
                return match state.outbox.take_remaining() {
                    Some(frame) => Poll::Ready(Some(Ok(state.sent(frame)))),
                    None => {
                        state.ending = Ending::Done;
                        Poll::Ready(None)
                    }
                };
            }
            Ending::Done => return Poll::Ready(None),
        }
        if let Some(keep_alive) = state.keep_alive.as_mut() {
            if keep_alive.poll_due(cx).is_ready() {
                let frame = Bytes::from_static(encode::KEEP_ALIVE_FRAME);
                state.record.frames += 1;
                return Poll::Ready(Some(Ok(state.sent(frame))));
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state.ending, Ending::Done)
    }
}

const PANIC_MESSAGE: &str = "handler panicked";

impl StreamState {
    /// Counts a frame about to be written.
    fn sent(&mut self, frame: Bytes) -> Frame<Bytes> {
        self.record.bytes += frame.len() as u64;
        if let Some(keep_alive) = self.keep_alive.as_mut() {
            keep_alive.record_send();
        }
        Frame::data(frame)
    }

    /// Records how the stream ends, once the handler body is dropped;
    /// `failure` is the error that ended it, if any. Final frames go into
    /// the outbox after the events the body sent, which are still delivered.
    fn finish(&mut self, reason: CloseReason, failure: Option<String>) {
        let route = self
            .record
            .route
            .as_ref()
            .map_or("", |route| route.as_str());
        let mut final_frames = 0;
        let final_event = match reason {
            CloseReason::Shutdown => self
                .shutdown
                .as_ref()
                .and_then(|watch| watch.shutdown.final_frame()),
            _ => None,
        };
        self.outbox.append(|buffer| {
            if let Some(message) = &failure {
                tracing::error!(error = %message, route, "SSE stream ended with an error");
                if self.error_event {
                    encode::put_event_name(buffer, "error");
                    encode::put_data_lines(buffer, message);
                    encode::put_end_of_event(buffer);
                    final_frames += 1;
                }
            }
            if let Some(event) = final_event {
                buffer.extend_from_slice(event.as_bytes());
                final_frames += 1;
            }
        });
        self.record.frames += final_frames;
        self.shutdown = None;
        self.reason = Some(reason);
        self.ending = Ending::Finishing;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle stream's memory is mostly hyper's connection; what this crate
    /// adds is this body, which axum boxes once, plus the keep-alive wheel's
    /// 24 bytes. axum's own SSE body for the same stream is 248 bytes. A
    /// change that makes every idle stream bigger should be a decision, so
    /// the budget is checked here (on the toolchain CI uses).
    #[test]
    fn an_idle_stream_body_stays_within_budget() {
        let body = SseResponse::new(|mut emitter| async move {
            emitter.send(crate::event!("open")).await;
            std::future::pending::<()>().await;
        })
        .into_body();
        assert!(
            std::mem::size_of_val(&body) <= 168,
            "SseBody grew to {} bytes (handler body {}, stream state {})",
            std::mem::size_of_val(&body),
            std::mem::size_of_val(body.body.as_ref().expect("running")),
            std::mem::size_of::<StreamState>(),
        );
    }
}
