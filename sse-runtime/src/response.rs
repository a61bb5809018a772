//! The response a handler returns: [`SseResponse`] and its headers. The
//! body it streams, with its options ([`SseConfig`]) and what a handler may
//! return ([`BodyOutcome`]), is in `body.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use axum::response::{IntoResponse, Response};
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};

use crate::body::SseBody;
pub use crate::body::{BodyOutcome, SseConfig, DEFAULT_KEEP_ALIVE};
#[cfg(feature = "compression")]
use crate::compress::compressed_body;
use crate::emitter::{Emitter, Outbox};
use crate::event::IntoEvent;
use crate::extract::StreamContext;
#[cfg(feature = "compression")]
use http::header::{CONTENT_ENCODING, VARY};

/// An SSE response: a handler body that sends events, with the options that
/// say how to stream them. This is what `#[sse_handler]` functions return;
/// it can also be built by hand with [`SseResponse::new`].
///
/// It answers with status 200 and the headers `Content-Type:
/// text/event-stream`, `Cache-Control: no-cache` and `X-Accel-Buffering: no`
/// (so nginx does not buffer the stream), and nothing specific to HTTP/1, so
/// it works the same over HTTP/2. With compression offered (feature
/// `compression`, [`SseConfig::compression`]), it also carries `Vary:
/// Accept-Encoding`, and `Content-Encoding` when the client accepted one of
/// the encodings offered; it never has a `Content-Length`.
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
    pub fn into_body(
        self,
    ) -> impl http_body::Body<Data = bytes::Bytes, Error = std::convert::Infallible> + Send + 'static
    {
        SseBody::new(
            self.handler,
            self.outbox,
            &self.config,
            self.context.route,
            self.context.shutdown,
        )
    }
}

/// The body future of a response made from a stream, named in a handler's
/// return type.
///
/// ```
/// use sse_runtime::{Event, SseResponse, StreamForwarder};
/// async fn three() -> SseResponse<StreamForwarder> {
///     SseResponse::from_stream(futures_util::stream::iter(["a", "b", "c"].map(Event::data)))
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(three));
/// ```
pub type StreamForwarder = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

impl SseResponse<StreamForwarder> {
    /// A response that sends every item of `stream`, for events that come
    /// from elsewhere (a channel, a broadcast subscription). It ends when the
    /// stream ends, or at the first refused event.
    ///
    /// ```
    /// use sse_runtime::{Event, SseResponse};
    ///
    /// async fn three() -> SseResponse<sse_runtime::StreamForwarder> {
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
        #[cfg(feature = "compression")]
        let (mut response, coding) = {
            let offered = self.config.compression_offered();
            let coding = offered.negotiate(self.context.accept_encoding.as_ref());
            let (body, coding) = compressed_body(self.into_body(), coding);
            let mut response = Response::new(body);
            if offered.is_on() {
                response
                    .headers_mut()
                    .insert(VARY, HeaderValue::from_static("accept-encoding"));
            }
            (response, coding)
        };
        #[cfg(not(feature = "compression"))]
        let mut response = Response::new(axum::body::Body::new(self.into_body()));
        let headers = response.headers_mut();
        #[cfg(feature = "compression")]
        if let Some(coding) = coding {
            headers.insert(CONTENT_ENCODING, coding.header_value());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
        response
    }
}
