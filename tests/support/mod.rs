#![allow(dead_code)]
//! Support for the integration tests: serve a router on 127.0.0.1, request a
//! stream over a real TCP connection, and read its events with
//! `eventsource-stream`, a parser this project did not write. Each test
//! file includes it with `mod support;`.
//!
//! Every wait is bounded by [`TIMEOUT`], so a broken stream fails its test
//! instead of hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{Event as ParsedEvent, Eventsource};
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The longest any single wait in a test may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A listener on an ephemeral port of 127.0.0.1 (see [`bind`]).
pub fn listener() -> tokio::net::TcpListener {
    sse_suite::bind("127.0.0.1:0".parse().unwrap()).expect("bind 127.0.0.1:0")
}

/// Serves `app` on an ephemeral port of 127.0.0.1 in a background task.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = listener();
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    addr
}

/// Serves `app` until `shutdown` is triggered by `trigger`, as an
/// application using graceful shutdown would. The handle completes when the
/// server has stopped.
pub fn serve_until(
    app: axum::Router,
    shutdown: &sse_runtime::Shutdown,
    trigger: impl std::future::Future<Output = ()> + Send + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = listener();
    let addr = listener.local_addr().expect("local addr");
    let signal = shutdown.after(trigger);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
            .expect("serve");
    });
    (addr, server)
}

/// One HTTP/2 request (cleartext, prior knowledge) on its own connection.
pub async fn get_h2(addr: SocketAddr, path: &str) -> Response {
    let stream = within(TcpStream::connect(addr)).await.expect("connect");
    let (mut sender, connection) = within(hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    ))
    .await
    .expect("h2 handshake");
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(format!("http://{addr}{path}"))
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = within(sender.send_request(request))
        .await
        .expect("send request");
    Response {
        inner: response,
        _connection: AbortOnDrop(connection),
    }
}

/// One HTTP/1.1 request on its own connection. Dropping the response closes
/// the connection.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &[u8])]) -> Response {
    let stream = within(TcpStream::connect(addr)).await.expect("connect");
    let (mut sender, connection) =
        within(hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
            .expect("handshake");
    let connection = tokio::spawn(connection);
    let mut request = hyper::Request::get(path).header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::<Bytes>::new()).expect("request");
    let response = within(sender.send_request(request))
        .await
        .expect("send request");
    Response {
        inner: response,
        _connection: AbortOnDrop(connection),
    }
}

/// One HTTP/1.1 POST of `body` (with `content-type: CONTENT_TYPE` when one
/// is given) on its own connection, read whole: status, headers, body text.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, hyper::HeaderMap, String) {
    let response = post_stream(addr, path, content_type, body).await;
    let status = response.inner.status().as_u16();
    let headers = response.inner.headers().clone();
    (status, headers, response.text().await)
}

/// [`post`], answered as it arrives: for a POST that answers with a stream.
/// Dropping the response closes the connection.
pub async fn post_stream(
    addr: SocketAddr,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Response {
    let stream = within(TcpStream::connect(addr)).await.expect("connect");
    let (mut sender, connection) =
        within(hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
            .expect("handshake");
    let connection = tokio::spawn(connection);
    let mut request = hyper::Request::post(path).header("host", addr.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request
        .body(http_body_util::Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let response = within(sender.send_request(request))
        .await
        .expect("send request");
    Response {
        inner: response,
        _connection: AbortOnDrop(connection),
    }
}

/// [`post_stream`] with headers of the caller's (`content-type` among
/// them, if any).
pub async fn post_stream_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let stream = within(TcpStream::connect(addr)).await.expect("connect");
    let (mut sender, connection) =
        within(hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
            .expect("handshake");
    let connection = tokio::spawn(connection);
    let mut request = hyper::Request::post(path).header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let response = within(sender.send_request(request))
        .await
        .expect("send request");
    Response {
        inner: response,
        _connection: AbortOnDrop(connection),
    }
}

/// A response whose connection closes when it is dropped.
pub struct Response {
    /// The response as hyper gave it.
    pub inner: hyper::Response<Incoming>,
    _connection: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Response {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name)?.to_str().ok()
    }

    /// The body as a stream of data chunks, as they arrive.
    pub fn chunks(self) -> Chunks {
        let Response { inner, _connection } = self;
        let stream = BodyStream::new(inner.into_body()).filter_map(|frame| {
            std::future::ready(match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(error) => Some(Err(error)),
            })
        });
        Chunks {
            inner: Box::pin(stream),
            _connection,
        }
    }

    /// The whole body, for streams that end by themselves.
    pub async fn text(self) -> String {
        let body = within(self.inner.into_body().collect())
            .await
            .expect("read body")
            .to_bytes();
        String::from_utf8(body.to_vec()).expect("utf-8 body")
    }

    /// Events as `eventsource-stream` parses them.
    pub fn events(self) -> Events {
        let Chunks { inner, _connection } = self.chunks();
        Events {
            inner: Box::pin(inner.eventsource()),
            _connection,
        }
    }
}

type ChunkStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, hyper::Error>> + Send>>;

/// The raw body of one response; the connection closes when it is dropped.
pub struct Chunks {
    inner: ChunkStream,
    _connection: AbortOnDrop,
}

impl Chunks {
    /// The next chunk, or `None` when the body ended. Fails the test after
    /// [`TIMEOUT`].
    pub async fn next(&mut self) -> Option<Bytes> {
        within(self.inner.next())
            .await
            .map(|chunk| chunk.expect("body chunk"))
    }
}

type ParsedStream = std::pin::Pin<
    Box<
        dyn Stream<Item = Result<ParsedEvent, eventsource_stream::EventStreamError<hyper::Error>>>
            + Send,
    >,
>;

/// The events of one response.
pub struct Events {
    inner: ParsedStream,
    _connection: AbortOnDrop,
}

impl Events {
    /// The next event, or `None` when the stream ended. Panics (fails the
    /// test) after [`TIMEOUT`].
    pub async fn next(&mut self) -> Option<ParsedEvent> {
        within(self.inner.next())
            .await
            .map(|event| event.expect("well-formed event stream"))
    }

    /// Exactly `n` events.
    pub async fn take(&mut self, n: usize) -> Vec<ParsedEvent> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next().await.expect("stream ended early"));
        }
        events
    }

    /// Every event until the stream ends.
    pub async fn all(mut self) -> Vec<ParsedEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

/// Waits while `condition` holds, checking every few milliseconds; fails
/// the test after [`TIMEOUT`].
pub async fn wait_while(mut condition: impl FnMut() -> bool) {
    within(async {
        while condition() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// Awaits `future`, failing the test after [`TIMEOUT`].
pub async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("timed out waiting")
}

/// Shorthand for a parsed event's fields: (type, data, last event id, retry).
pub fn fields(event: &ParsedEvent) -> (&str, &str, &str, Option<Duration>) {
    (&event.event, &event.data, &event.id, event.retry)
}
pub mod hub_suite;
pub mod redis;
