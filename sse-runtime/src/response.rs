//! The response a handler returns: [`SseResponse`], its options
//! ([`SseConfig`]), its headers, and what a handler may return
//! ([`BodyOutcome`]). The body it streams is in `body.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};

use crate::body::SseBody;
use crate::emitter::{Emitter, Outbox};
use crate::event::IntoEvent;
use crate::extract::StreamContext;
use crate::lifecycle::StreamSummary;

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
    /// A panic in the callback is caught and logged; it does not affect the
    /// response.
    ///
    /// ```
    /// fn record(summary: &sse_runtime::StreamSummary) {
    ///     println!("{:?} after {} events", summary.reason, summary.events);
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

    /// The `on_close` callback, if one is set.
    pub(crate) const fn on_close_callback(&self) -> Option<fn(&StreamSummary)> {
        self.on_close
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
    handler: F,
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
            handler: body(emitter),
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
        SseBody::new(
            self.handler,
            self.outbox,
            &self.config,
            self.context.route,
            self.context.shutdown,
        )
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
