//! A test client: request a stream from a `Router` in process, or from a URL
//! over TCP, and read it as `EventSource` would.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use tower::ServiceExt;

use super::parser::{Parser, Received, ReceivedEvent};

/// How long a read waits by default for the next event (or the response's
/// headers, or the end) before failing the test; change it with
/// [`TestRequest::timeout`].
///
/// ```
/// assert_eq!(sse_runtime::testing::DEFAULT_TIMEOUT, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many timeouts [`TestStream::collect`] waits in all for a stream's
/// end. Each event has its own timeout, so an endless stream that is never
/// silent for that long would otherwise be read for ever.
///
/// ```
/// // With the default timeout, `collect` waits 100 s in all for the end.
/// use sse_runtime::testing::{COLLECT_TIMEOUTS, DEFAULT_TIMEOUT};
/// assert_eq!(DEFAULT_TIMEOUT * COLLECT_TIMEOUTS, std::time::Duration::from_secs(100));
/// ```
pub const COLLECT_TIMEOUTS: u32 = 10;

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// A client for testing SSE endpoints, in process (no socket) or over TCP,
/// with any method, headers and body.
///
/// Every wait has a timeout ([`DEFAULT_TIMEOUT`] unless set), each on its
/// own: the response's headers, and then each event (or the end) read by
/// [`TestStream::next_event`], [`TestStream::take_events`] or
/// [`TestStream::collect`]. One that has not come by then panics with a
/// message saying what it was waiting for, so that a test of an endless
/// stream fails instead of hanging. The timeouts are on tokio's clock, so
/// a test on a paused clock (`#[tokio::test(start_paused = true)]`) reads
/// a slow stream at once, however many events it takes.
///
/// In process, [`send`](TestRequest::send) returns once the handler has
/// run up to its first wait (what it sent by then is kept for the reads):
/// a handler that subscribes to a hub has subscribed, so a test can
/// publish right after it; see [`TestRequest::send`].
///
/// ```
/// use axum::{routing::get, Router};
/// use sse_runtime::prelude::*;
/// use sse_runtime::testing::TestClient;
///
/// #[sse_handler]
/// async fn greet() {
///     yield_!(comment!("hello"));
///     yield_!(event!(data: "Hi", event: "greeting", id: 1));
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let client = TestClient::new(Router::new().route("/greet", get(greet)));
/// let transcript = client.get("/greet").send().await.collect().await;
/// assert_eq!(transcript.events[0].event_type, "greeting");
/// assert_eq!(transcript.events[0].data, "Hi");
/// assert_eq!(transcript.events[0].last_event_id, "1");
/// assert_eq!(transcript.comments, ["hello"]);
/// assert!(transcript.ended);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct TestClient {
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    Router(Router),
    /// `host:port` of an `http://` server.
    Url {
        authority: String,
    },
}

impl TestClient {
    /// Drives `router` in process, through `tower::ServiceExt::oneshot`.
    ///
    /// ```
    /// let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// # let _ = client;
    /// ```
    pub fn new(router: Router) -> Self {
        TestClient {
            target: Target::Router(router),
        }
    }

    /// Drives one handler in process, mounted at `/`.
    ///
    /// ```
    /// use sse_runtime::prelude::*;
    /// #[sse_handler]
    /// async fn one() { yield_!(event!("1")); }
    /// let client = sse_runtime::testing::TestClient::for_handler(one);
    /// # let _ = client;
    /// ```
    pub fn for_handler<H, T>(handler: H) -> Self
    where
        H: axum::handler::Handler<T, ()>,
        T: 'static,
    {
        TestClient::new(Router::new().route("/", axum::routing::get(handler)))
    }

    /// Talks to a running server over TCP: `base` is `http://HOST:PORT`.
    ///
    /// ```
    /// let client = sse_runtime::testing::TestClient::url("http://127.0.0.1:3000");
    /// # let _ = client;
    /// ```
    pub fn url(base: &str) -> Self {
        let authority = base
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("TestClient::url takes http://HOST:PORT, got {base:?}"))
            .trim_end_matches('/')
            .to_owned();
        TestClient {
            target: Target::Url { authority },
        }
    }

    /// Starts a GET request for `path` (with its query).
    ///
    /// ```
    /// let request = sse_runtime::testing::TestClient::new(axum::Router::new()).get("/events?x=1");
    /// # let _ = request;
    /// ```
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// Starts a POST request for `path`; give it a body with
    /// [`json`](TestRequest::json) or [`body`](TestRequest::body).
    ///
    /// ```
    /// use axum::{routing::post, Json, Router};
    /// use sse_runtime::prelude::*;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Ask { prompt: String }
    ///
    /// #[sse_handler]
    /// async fn answer(Json(ask): Json<Ask>) {
    ///     for word in ask.prompt.split(' ') {
    ///         yield_!(event!(data: word));
    ///     }
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::new(Router::new().route("/answer", post(answer)));
    /// let transcript = client
    ///     .post("/answer")
    ///     .json(&serde_json::json!({ "prompt": "two words" }))
    ///     .send()
    ///     .await
    ///     .collect()
    ///     .await;
    /// let words: Vec<_> = transcript.events.iter().map(|event| event.data.as_str()).collect();
    /// assert_eq!(words, ["two", "words"]);
    /// # });
    /// ```
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// Starts a request with any method.
    ///
    /// ```
    /// let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// let request = client.request(http::Method::PUT, "/events");
    /// # let _ = request;
    /// ```
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            target: self.target.clone(),
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A request being prepared; [`send`](Self::send) opens the stream.
///
/// ```
/// # use sse_runtime::prelude::*;
/// # #[sse_handler] async fn one() { yield_!(event!("1")); }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let client = sse_runtime::testing::TestClient::for_handler(one);
/// let request: sse_runtime::testing::TestRequest = client
///     .get("/")
///     .last_event_id("41")
///     .timeout(std::time::Duration::from_secs(2));
/// assert_eq!(request.send().await.next_event().await.unwrap().data, "1");
/// # });
/// ```
#[derive(Debug)]
#[must_use = "a request does nothing until `.send().await`"]
pub struct TestRequest {
    target: Target,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
}

impl TestRequest {
    /// Adds a request header.
    ///
    /// ```
    /// # let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// let request = client.get("/").header("x-token", "secret");
    /// # let _ = request;
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("valid header name");
        let value = HeaderValue::try_from(value).expect("valid header value");
        self.headers.append(name, value);
        self
    }

    /// The request's body, as it is.
    ///
    /// ```
    /// # let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// let request = client.post("/upload").header("content-type", "text/plain").body("hello");
    /// # let _ = request;
    /// ```
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// `value` as the request's JSON body, with `Content-Type:
    /// application/json`. Panics if it does not serialize (a test's own
    /// mistake).
    ///
    /// ```
    /// # let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// let request = client.post("/v1/chat/completions").json(&serde_json::json!({ "stream": true }));
    /// # let _ = request;
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("the test's JSON body serializes");
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = Bytes::from(body);
        self
    }

    /// Sends `Last-Event-ID`, as a reconnecting browser does.
    ///
    /// ```
    /// # let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// let request = client.get("/updates").last_event_id("5");
    /// # let _ = request;
    /// ```
    pub fn last_event_id(self, id: &str) -> Self {
        self.header("last-event-id", id)
    }

    /// How long each wait (the headers, each event, the end) may take before
    /// failing the test.
    ///
    /// ```
    /// # let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// let request = client.get("/").timeout(std::time::Duration::from_secs(2));
    /// # let _ = request;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request. Panics unless the answer is `200 OK` with
    /// `Content-Type: text/event-stream`.
    ///
    /// In process, it returns once the handler has run up to its first
    /// wait, keeping what it sent by then for the reads: whatever the
    /// handler does before it first waits (subscribing to a hub, say) is
    /// done. Over TCP, it returns when the headers arrive, which says
    /// nothing of the handler.
    ///
    /// ```
    /// use axum::{extract::State, routing::get, Router};
    /// use sse_runtime::hub::Hub;
    /// use sse_runtime::prelude::*;
    ///
    /// #[sse_handler]
    /// async fn news(State(hub): State<Hub>) {
    ///     let mut subscription = hub.subscribe(&["news"], None);
    ///     while let Some(item) = subscription.next().await {
    ///         yield_!(item);
    ///     }
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let hub = Hub::new();
    /// let client = sse_runtime::testing::TestClient::new(
    ///     Router::new().route("/news", get(news)).with_state(hub.clone()),
    /// );
    /// // Both handlers have subscribed when `send` returns.
    /// let mut first = client.get("/news").send().await;
    /// let mut second = client.get("/news").send().await;
    /// hub.publish("news", event!(data: "extra!")).await.unwrap();
    /// assert_eq!(first.next_event().await.unwrap().data, "extra!");
    /// assert_eq!(second.next_event().await.unwrap().data, "extra!");
    /// # });
    /// ```
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn one() { yield_!(event!("1")); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(one);
    /// let stream = client.get("/").send().await;
    /// assert_eq!(stream.status(), 200);
    /// assert_eq!(stream.headers()["content-type"], "text/event-stream");
    /// # });
    /// ```
    pub async fn send(self) -> TestStream {
        let stream = self.send_unchecked().await;
        assert_eq!(
            stream.status,
            StatusCode::OK,
            "expected 200 OK from {}",
            stream.path
        );
        let content_type = stream
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("text/event-stream"),
            "expected Content-Type: text/event-stream from {}, got {content_type:?}",
            stream.path
        );
        stream
    }

    /// Sends the request and returns whatever came back, for testing error
    /// statuses.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::new(axum::Router::new());
    /// let stream = client.get("/missing").send_unchecked().await;
    /// assert_eq!(stream.status(), 404);
    /// # });
    /// ```
    pub async fn send_unchecked(self) -> TestStream {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(&self.path);
        if let Some(headers) = request.headers_mut() {
            headers.extend(self.headers.clone());
        }
        let timeout = self.timeout;
        let path = self.path.clone();
        let in_process = matches!(self.target, Target::Router(_));
        let (parts, body): (http::response::Parts, ChunkStream) = match self.target {
            Target::Router(router) => {
                let request = request.body(Body::from(self.body)).expect("request");
                let response = within(timeout, "the response headers", router.oneshot(request))
                    .await
                    .unwrap_or_else(|error: Infallible| match error {});
                let (parts, body) = response.into_parts();
                (parts, chunks(body))
            }
            Target::Url { authority } => {
                let request = request
                    .header(http::header::HOST, authority.as_str())
                    .body(http_body_util::Full::new(self.body))
                    .expect("request");
                let tcp = within(
                    timeout,
                    "the TCP connection",
                    tokio::net::TcpStream::connect(authority.as_str()),
                )
                .await
                .unwrap_or_else(|error| panic!("cannot connect to {authority}: {error}"));
                let (mut sender, connection) = within(
                    timeout,
                    "the HTTP handshake",
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)),
                )
                .await
                .expect("HTTP/1.1 handshake");
                // The connection task ends when the response body is dropped.
                tokio::spawn(connection);
                let response = within(
                    timeout,
                    "the response headers",
                    sender.send_request(request),
                )
                .await
                .expect("send request");
                let (parts, body) = response.into_parts();
                (parts, chunks(body))
            }
        };
        let mut stream = TestStream {
            path,
            status: parts.status,
            headers: parts.headers,
            body,
            parser: Parser::new(),
            received: VecDeque::new(),
            comments: Vec::new(),
            ended: false,
            timeout,
            last_event_id: String::new(),
        };
        if in_process {
            stream.run_to_first_wait().await;
        }
        stream
    }
}

fn chunks<B>(body: B) -> ChunkStream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    Box::pin(DataStream {
        body: Box::pin(body),
    })
}

/// A body as a stream of its data chunks.
struct DataStream<B> {
    body: Pin<Box<B>>,
}

impl<B> Stream for DataStream<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    type Item = Result<Bytes, String>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        loop {
            match std::task::ready!(self.body.as_mut().poll_frame(cx)) {
                None => return std::task::Poll::Ready(None),
                Some(Err(error)) => return std::task::Poll::Ready(Some(Err(error.to_string()))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return std::task::Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}

/// An open event stream, from [`TestRequest::send`].
///
/// ```
/// use sse_runtime::prelude::*;
///
/// #[sse_handler]
/// async fn ticks() {
///     yield_!(comment!("hello"));
///     for n in 1..=3 {
///         yield_!(event!(data: n.to_string(), id: n));
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let client = sse_runtime::testing::TestClient::for_handler(ticks);
/// let mut stream = client.get("/").send().await;
/// let first = stream.next_event().await.unwrap();
/// assert_eq!(first.data, "1");
/// assert_eq!(stream.comments(), ["hello"]);
/// assert_eq!(stream.last_event_id(), "1");
/// let next_two = stream.take_events(2).await;
/// assert_eq!(next_two[1].data, "3");
/// assert!(stream.next_event().await.is_none());
/// assert!(stream.ended());
/// # });
/// ```
pub struct TestStream {
    path: String,
    status: StatusCode,
    headers: HeaderMap,
    body: ChunkStream,
    parser: Parser,
    received: VecDeque<ReceivedEvent>,
    comments: Vec<String>,
    ended: bool,
    timeout: Duration,
    last_event_id: String,
}

impl std::fmt::Debug for TestStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStream")
            .field("path", &self.path)
            .field("status", &self.status)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Everything a stream delivered, once it ended; from
/// [`TestStream::collect`].
///
/// ```
/// # use sse_runtime::prelude::*;
/// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let client = sse_runtime::testing::TestClient::for_handler(two);
/// let mut stream = client.get("/").send().await;
/// let transcript: sse_runtime::testing::Transcript = stream.collect().await;
/// assert_eq!(transcript.events.len(), 2);
/// assert_eq!(transcript.comments, ["hi"]);
/// assert!(transcript.ended);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The events, in order.
    pub events: Vec<ReceivedEvent>,
    /// The comments, in order (keep-alives appear as empty comments).
    pub comments: Vec<String>,
    /// Whether the server ended the body (always true for a transcript from
    /// [`TestStream::collect`]).
    pub ended: bool,
}

impl TestStream {
    /// The response status.
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(two);
    /// let mut stream = client.get("/").send().await;
    /// let ok = stream.status();
    /// assert_eq!(ok, 200);
    /// # });
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(two);
    /// let mut stream = client.get("/").send().await;
    /// assert_eq!(stream.headers()["cache-control"], "no-cache");
    /// # });
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The comments received so far.
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(two);
    /// let mut stream = client.get("/").send().await;
    /// stream.next_event().await;
    /// assert_eq!(stream.comments(), ["hi"]);
    /// # });
    /// ```
    pub fn comments(&self) -> &[String] {
        &self.comments
    }

    /// Whether the server has ended the stream.
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(two);
    /// let mut stream = client.get("/").send().await;
    /// assert!(!stream.ended());
    /// stream.take_events(2).await;
    /// assert!(stream.next_event().await.is_none());
    /// assert!(stream.ended());
    /// # });
    /// ```
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The last event id of the events returned so far, as `EventSource`
    /// would send it on reconnect after dispatching them.
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(two);
    /// let mut stream = client.get("/").send().await;
    /// stream.next_event().await;
    /// assert_eq!(stream.last_event_id(), "1");
    /// # });
    /// ```
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The next event, or `None` once the stream has ended. Panics if
    /// neither comes within the timeout (comments, keep-alives among them,
    /// do not count as progress).
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(two);
    /// let mut stream = client.get("/").send().await;
    /// assert_eq!(stream.next_event().await.unwrap().data, "1");
    /// assert_eq!(stream.next_event().await.unwrap().data, "2");
    /// assert!(stream.next_event().await.is_none());
    /// # });
    /// ```
    pub async fn next_event(&mut self) -> Option<ReceivedEvent> {
        let what = format!("the next event from {}", self.path);
        within(self.timeout, &what, self.next_event_untimed()).await
    }

    async fn next_event_untimed(&mut self) -> Option<ReceivedEvent> {
        loop {
            if let Some(event) = self.received.pop_front() {
                self.last_event_id.clone_from(&event.last_event_id);
                return Some(event);
            }
            if self.ended {
                return None;
            }
            self.read_chunk().await;
        }
    }

    /// The next event decoded as `E`, a `#[derive(SseEvent)]` type whose
    /// payloads implement `Deserialize`: its name and its JSON data are
    /// checked together. `Ok(None)` once the stream has ended; an error
    /// that shows what was received on an event `E` does not describe (one
    /// of a newer version of `E`, or a hub's `lagged` and `reset` notices
    /// when `E` has no such events); panics only after the timeout, as
    /// [`next_event`](Self::next_event) does.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use sse_runtime::prelude::*;
    /// use sse_runtime::testing::TestClient;
    ///
    /// #[derive(SseEvent, Debug, PartialEq)]
    /// enum Progress { Step { n: u32 }, Done }
    ///
    /// #[derive(SseEvent, Debug, PartialEq)]
    /// enum Old { Step { n: u32 } }
    ///
    /// #[sse_handler(events = Progress)]
    /// async fn progress() {
    ///     yield_!(Progress::Step { n: 1 });
    ///     yield_!(Progress::Done);
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = TestClient::new(Router::new().route("/", get(progress)));
    /// let mut stream = client.get("/").send().await;
    /// assert_eq!(stream.next_as::<Progress>().await?, Some(Progress::Step { n: 1 }));
    /// let unknown = stream.next_as::<Old>().await.unwrap_err();
    /// assert_eq!((unknown.name(), unknown.data()), ("done", ""));
    /// assert_eq!(stream.next_as::<Progress>().await?, None);
    /// # Ok::<(), sse_runtime::DecodeError>(())
    /// # }).unwrap();
    /// ```
    // A boxed future rather than an `async fn`: rustc checks the bound of
    // an `async fn` at the call, on its future and at its `.await`, so a
    // type that cannot be decoded was one error said three times.
    #[allow(clippy::type_complexity)]
    pub fn next_as<E>(
        &mut self,
    ) -> Pin<Box<dyn Future<Output = Result<Option<E>, crate::DecodeError>> + Send + '_>>
    where
        E: crate::DecodeEvent,
    {
        Box::pin(async move {
            match self.next_event().await {
                Some(event) => E::decode(&event.event_type, &event.data).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Exactly `n` events; panics if the stream ends first, or if one of
    /// them does not arrive within the timeout (each has the whole timeout).
    /// Works on endless streams.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sse_runtime::prelude::*;
    ///
    /// #[sse_handler]
    /// async fn seconds() {
    ///     for n in 0.. {
    ///         tokio::time::sleep(Duration::from_secs(1)).await;
    ///         yield_!(event!(data: n.to_string()));
    ///     }
    /// }
    ///
    /// // Thirty seconds of events, on tokio's paused clock: at once.
    /// # let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    /// # runtime.block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(seconds);
    /// let events = client.get("/").send().await.take_events(30).await;
    /// assert_eq!(events[29].data, "29");
    /// # });
    /// ```
    pub async fn take_events(&mut self, n: usize) -> Vec<ReceivedEvent> {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            match self.next_event().await {
                Some(event) => events.push(event),
                None => panic!(
                    "{} ended after {} events; expected {n}",
                    self.path,
                    events.len()
                ),
            }
        }
        events
    }

    /// Reads until the server ends the stream; panics if an event (or the
    /// end) does not come within the timeout, or if the end has not come
    /// within [`COLLECT_TIMEOUTS`] timeouts in all (on tokio's clock, so a
    /// paused clock still reads a slow finite stream at once): use
    /// [`take_events`](Self::take_events) on endless streams.
    ///
    /// ```
    /// # use sse_runtime::prelude::*;
    /// # #[sse_handler] async fn two() { yield_!(comment!("hi")); yield_!(event!(data: "1", id: 1)); yield_!(event!(data: "2", id: 2)); }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = sse_runtime::testing::TestClient::for_handler(two);
    /// let mut stream = client.get("/").send().await;
    /// let transcript = stream.collect().await;
    /// assert_eq!(transcript.events[1].last_event_id, "2");
    /// # });
    /// ```
    pub async fn collect(mut self) -> Transcript {
        let limit = self.timeout * COLLECT_TIMEOUTS;
        let what = format!(
            "the end of the stream from {} (collect reads a stream to its end; use take_events on an endless one)",
            self.path
        );
        let events = within(limit, &what, async {
            let mut events = Vec::new();
            while let Some(event) = self.next_event().await {
                events.push(event);
            }
            events
        })
        .await;
        Transcript {
            events,
            comments: self.comments,
            ended: true,
        }
    }

    /// Polls the body once, keeping what it yields: in process, the body
    /// runs the handler until it waits, and then either has nothing to
    /// write yet (pending) or writes what the handler sent before it
    /// waited (a frame; for a handler that never waits on anything else,
    /// the back-pressure of a full batch is its wait). Either way the
    /// handler has reached a wait.
    async fn run_to_first_wait(&mut self) {
        std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(next) = self.body.as_mut().poll_next(cx) {
                self.take_chunk(next);
            }
            std::task::Poll::Ready(())
        })
        .await
    }

    async fn read_chunk(&mut self) {
        let next = futures_next(&mut self.body).await;
        self.take_chunk(next);
    }

    fn take_chunk(&mut self, next: Option<Result<Bytes, String>>) {
        match next {
            Some(Ok(chunk)) => {
                for item in self.parser.feed(&chunk) {
                    match item {
                        Received::Event(event) => self.received.push_back(event),
                        Received::Comment(comment) => self.comments.push(comment),
                    }
                }
            }
            Some(Err(error)) => panic!("reading {}: {error}", self.path),
            None => {
                self.parser.finish();
                self.ended = true;
            }
        }
    }
}

async fn futures_next(stream: &mut ChunkStream) -> Option<Result<Bytes, String>> {
    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

async fn within<F: std::future::Future>(timeout: Duration, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(timeout, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}
