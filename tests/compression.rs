//! Compressed streams over real TCP, read with real decompressors (flate2,
//! zstd's reference library, Brotli's decoder), which share nothing with
//! the compressor but the format: each event decodes as soon as it is
//! written, the whole stream decodes to the same events as an uncompressed
//! one, keep-alives, hub frames and shutdown's final event go through the
//! same context, HTTP/2 works, and tower-http's `CompressionLayer` in front
//! neither compresses twice nor breaks them.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use sse_runtime::prelude::*;
use sse_runtime::testing::{Parser, Received};
use sse_runtime::{Compression, Shutdown, StreamContext};
use tokio::sync::Notify;

use support::{serve, serve_until, within};

/// A streaming decoder for one `Content-Encoding`, fed chunks as they come.
enum Decoder {
    Identity(Vec<u8>),
    Gzip(Box<flate2::write::GzDecoder<Vec<u8>>>),
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
}

impl Decoder {
    fn new(encoding: Option<&str>) -> Decoder {
        match encoding {
            None => Decoder::Identity(Vec::new()),
            Some("gzip") => Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(Vec::new()))),
            Some("zstd") => Decoder::Zstd(zstd::stream::write::Decoder::new(Vec::new()).unwrap()),
            Some("br") => {
                Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096)))
            }
            Some(other) => panic!("unexpected Content-Encoding {other}"),
        }
    }

    /// Everything `chunk` decodes to, now.
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let out = match self {
            Decoder::Identity(out) => {
                out.extend_from_slice(chunk);
                out
            }
            Decoder::Gzip(decoder) => {
                decoder.write_all(chunk).unwrap();
                decoder.flush().unwrap();
                decoder.get_mut()
            }
            Decoder::Zstd(decoder) => {
                decoder.write_all(chunk).unwrap();
                decoder.flush().unwrap();
                decoder.get_mut()
            }
            Decoder::Brotli(decoder) => {
                decoder.write_all(chunk).unwrap();
                decoder.flush().unwrap();
                decoder.get_mut()
            }
        };
        std::mem::take(out)
    }

    /// Checks the end of the compressed stream (gzip's CRC and length,
    /// zstd's last block, Brotli's last meta-block).
    fn finish(self) {
        match self {
            Decoder::Identity(_) => {}
            Decoder::Gzip(decoder) => {
                decoder.finish().expect("a complete gzip stream");
            }
            Decoder::Zstd(mut decoder) => decoder.flush().expect("a complete zstd stream"),
            Decoder::Brotli(decoder) => {
                decoder.into_inner().expect("a complete Brotli stream");
            }
        }
    }
}

/// A compressed response read as it arrives.
struct Reader {
    chunks: support::Chunks,
    decoder: Option<Decoder>,
    parser: Parser,
    /// Bytes on the wire (after HTTP framing, before decoding).
    wire_bytes: usize,
}

impl Reader {
    fn new(response: support::Response) -> Reader {
        let encoding = response.header("content-encoding").map(str::to_owned);
        Reader {
            decoder: Some(Decoder::new(encoding.as_deref())),
            chunks: response.chunks(),
            parser: Parser::new(),
            wire_bytes: 0,
        }
    }

    /// What the next chunk decodes to, parsed; `None` at the end, where the
    /// compressed stream is checked complete.
    async fn next(&mut self) -> Option<Vec<Received>> {
        match self.chunks.next().await {
            Some(chunk) => {
                self.wire_bytes += chunk.len();
                let decoded = self.decoder.as_mut().unwrap().feed(&chunk);
                Some(self.parser.feed(&decoded))
            }
            None => {
                self.decoder.take().unwrap().finish();
                None
            }
        }
    }

    /// Everything to the end.
    async fn all(mut self) -> (Vec<Received>, usize) {
        let mut all = Vec::new();
        while let Some(received) = self.next().await {
            all.extend(received);
        }
        (all, self.wire_bytes)
    }
}

fn events_of(received: &[Received]) -> Vec<(String, String, String)> {
    received
        .iter()
        .filter_map(|received| match received {
            Received::Event(event) => Some((
                event.event_type.clone(),
                event.data.clone(),
                event.last_event_id.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn comments_of(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .filter_map(|received| match received {
            Received::Comment(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[derive(serde::Serialize)]
struct Chunk<'a> {
    object: &'a str,
    index: u32,
    content: String,
}

const EVENTS: u32 = 20;

/// Sends `EVENTS` events, each only once the client says it read the one
/// before.
async fn lockstep(
    State(read): State<Arc<Notify>>,
    context: StreamContext,
) -> impl axum::response::IntoResponse {
    SseResponse::new(move |mut emitter| async move {
        for index in 0..EVENTS {
            let chunk = Chunk {
                object: "chat.completion.chunk",
                index,
                content: format!(" token {index}"),
            };
            emitter
                .send(event!(json: chunk, event: "chunk", id: index))
                .await;
            read.notified().await;
        }
    })
    .with_context(context)
    .with_config(SseConfig::new().compression(Compression::new().brotli(true)))
}

/// The latency check, for each encoding: the handler produces the next
/// event only after the client has read and decoded the one before, so a
/// compressor that held an event back would stall the stream (and fail it
/// at the read timeout).
#[tokio::test]
async fn each_event_decodes_before_the_handler_makes_the_next() {
    for encoding in ["gzip", "zstd", "br"] {
        let read = Arc::new(Notify::new());
        let app = Router::new()
            .route("/", get(lockstep))
            .with_state(Arc::clone(&read));
        let addr = serve(app).await;
        let response = support::get(addr, "/", &[("accept-encoding", encoding.as_bytes())]).await;
        assert_eq!(response.header("content-encoding"), Some(encoding));
        let mut reader = Reader::new(response);
        let mut seen = Vec::new();
        while seen.len() < EVENTS as usize {
            let received = reader.next().await.expect("the stream ended early");
            for (_, data, id) in events_of(&received) {
                assert_eq!(id, seen.len().to_string(), "{encoding}: in order");
                seen.push(data);
                // Only now may the handler go on.
                read.notify_one();
            }
        }
        assert!(events_of(&reader.all().await.0).is_empty());
        assert_eq!(
            seen[3],
            r#"{"object":"chat.completion.chunk","index":3,"content":" token 3"}"#
        );
    }
}

#[sse_handler(compress = true, keep_alive = false)]
async fn ticks() {
    for n in 0..200 {
        yield_!(
            event!(data: format!("tick number {n} of a stream that repeats itself"), event: "tick", id: n)
        );
    }
}

/// The same events whatever the encoding; compressed, a fraction of the
/// bytes; and the headers a cache and a client need.
#[tokio::test]
async fn every_encoding_decodes_to_the_same_events_with_the_right_headers() {
    let addr = serve(Router::new().route("/", get(ticks))).await;
    let plain = support::get(addr, "/", &[]).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    let (expected, plain_bytes) = Reader::new(plain).all().await;
    assert_eq!(events_of(&expected).len(), 200);
    for (accept, encoding) in [
        ("gzip, deflate, br, zstd", Some("gzip")),
        ("zstd;q=1, gzip;q=0.5", Some("zstd")),
        // Brotli is not offered by `compress = true`.
        ("br", None),
        ("gzip;q=0, identity", None),
    ] {
        let response = support::get(addr, "/", &[("accept-encoding", accept.as_bytes())]).await;
        assert_eq!(response.header("content-encoding"), encoding, "{accept}");
        assert_eq!(response.header("vary"), Some("accept-encoding"), "{accept}");
        assert_eq!(response.header("content-length"), None, "{accept}");
        assert_eq!(response.header("content-type"), Some("text/event-stream"));
        let (received, wire) = Reader::new(response).all().await;
        assert_eq!(events_of(&received), events_of(&expected), "{accept}");
        if encoding.is_some() {
            assert!(
                wire * 5 < plain_bytes,
                "{accept}: {wire} bytes against {plain_bytes}"
            );
        }
    }
}

/// Keep-alives, shared hub frames and shutdown's final event, each through
/// the stream's one context.
#[tokio::test]
async fn keep_alives_hub_frames_and_the_final_event_are_compressed_too() {
    async fn handler(
        State(hub): State<sse_runtime::hub::Hub>,
        context: StreamContext,
    ) -> impl axum::response::IntoResponse {
        SseResponse::new(move |mut emitter| async move {
            let mut subscription = hub.subscribe(&["room"], None);
            emitter.send(comment!("subscribed")).await;
            while let Some(event) = subscription.next().await {
                emitter.send(event).await;
            }
        })
        .with_context(context)
        .with_config(
            SseConfig::new()
                .keep_alive(Some(Duration::from_millis(20)))
                .compression(Compression::new()),
        )
    }
    for encoding in ["gzip", "zstd"] {
        let hub = sse_runtime::hub::Hub::new();
        let shutdown =
            Shutdown::new().final_event(event!(data: "restarting", event: "bye").unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/", get(handler))
            .with_state(hub.clone())
            .layer(axum::Extension(shutdown.clone()));
        let (addr, server) = serve_until(app, &shutdown, async move {
            let _ = stopped.await;
        });
        let response = support::get(addr, "/", &[("accept-encoding", encoding.as_bytes())]).await;
        assert_eq!(response.header("content-encoding"), Some(encoding));
        let mut reader = Reader::new(response);
        let mut received = Vec::new();
        while !comments_of(&received).contains(&"subscribed".to_owned()) {
            received.extend(reader.next().await.unwrap());
        }
        for n in 0..3 {
            hub.publish(
                "room",
                event!(data: format!("message {n}"), event: "message"),
            )
            .await
            .unwrap();
        }
        // Three messages, then a keep-alive (an empty comment).
        while !(events_of(&received).len() == 3 && comments_of(&received).contains(&String::new()))
        {
            received.extend(reader.next().await.expect("the stream goes on"));
        }
        stop.send(()).unwrap();
        let (rest, _) = reader.all().await;
        received.extend(rest);
        let events = events_of(&received);
        assert_eq!(events.len(), 4, "{encoding}: {events:?}");
        assert_eq!(events[2].1, "message 2");
        assert_eq!(
            (events[3].0.as_str(), events[3].1.as_str()),
            ("bye", "restarting")
        );
        within(server).await.unwrap();
    }
}

#[tokio::test]
async fn http2_streams_are_compressed_the_same_way() {
    let addr = serve(Router::new().route("/", get(ticks))).await;
    let stream = within(tokio::net::TcpStream::connect(addr)).await.unwrap();
    let (mut sender, connection) = within(hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    ))
    .await
    .unwrap();
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(format!("http://{addr}/"))
        .header("accept-encoding", "gzip")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = within(sender.send_request(request)).await.unwrap();
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert!(response.headers().get("content-length").is_none());
    let body = within(http_body_util::BodyExt::collect(response.into_body()))
        .await
        .unwrap()
        .to_bytes();
    let mut decoder = Decoder::new(Some("gzip"));
    let decoded = decoder.feed(&body);
    decoder.finish();
    assert_eq!(events_of(&Parser::new().feed(&decoded)).len(), 200);
    connection.abort();
}

/// tower-http's `CompressionLayer` skips `text/event-stream` and any
/// response that already has a `Content-Encoding`: in front of these
/// streams it neither compresses them a second time nor holds them back.
#[tokio::test]
async fn tower_http_compression_layer_leaves_the_streams_alone() {
    #[sse_handler(keep_alive = false)]
    async fn plain() {
        for n in 0..200 {
            yield_!(event!(data: format!("tick number {n} of a stream that repeats itself")));
        }
    }
    let read = Arc::new(Notify::new());
    let app = Router::new()
        .route("/compressed", get(ticks))
        .route("/plain", get(plain))
        .route("/lockstep", get(lockstep))
        .with_state(Arc::clone(&read))
        .layer(tower_http::compression::CompressionLayer::new());
    let addr = serve(app).await;
    for (path, encoding) in [("/compressed", Some("gzip")), ("/plain", None)] {
        let response = support::get(addr, path, &[("accept-encoding", b"gzip, br, zstd")]).await;
        let encodings: Vec<_> = response
            .inner
            .headers()
            .get_all("content-encoding")
            .iter()
            .collect();
        assert_eq!(encodings.len(), usize::from(encoding.is_some()), "{path}");
        assert_eq!(response.header("content-encoding"), encoding, "{path}");
        let (received, _) = Reader::new(response).all().await;
        assert_eq!(events_of(&received).len(), 200, "{path}");
    }
    // And each event still arrives as it is sent.
    let response = support::get(addr, "/lockstep", &[("accept-encoding", b"gzip")]).await;
    let mut reader = Reader::new(response);
    let mut seen = 0;
    while seen < EVENTS {
        let received = reader.next().await.expect("the stream ended early");
        for _ in events_of(&received) {
            seen += 1;
            read.notify_one();
        }
    }
}

/// Frames far larger than the compressor's buffers, in each encoding.
#[tokio::test]
async fn large_events_round_trip() {
    async fn large(context: StreamContext) -> impl axum::response::IntoResponse {
        SseResponse::new(|mut emitter| async move {
            let text: String = (0..200_000u32)
                .map(|n| char::from(b'a' + (n * 7 % 26) as u8))
                .collect();
            emitter.send(Event::data(&text)).await;
            emitter.send(Event::data("after")).await;
        })
        .with_context(context)
        .with_config(SseConfig::new().compression(Compression::new().brotli(true)))
    }
    let addr = serve(Router::new().route("/", get(large))).await;
    for encoding in ["gzip", "zstd", "br"] {
        let response = support::get(addr, "/", &[("accept-encoding", encoding.as_bytes())]).await;
        assert_eq!(response.header("content-encoding"), Some(encoding));
        let (received, _) = Reader::new(response).all().await;
        let events = events_of(&received);
        assert_eq!(events.len(), 2, "{encoding}");
        assert_eq!(events[0].1.len(), 200_000);
        assert_eq!(events[1].1, "after");
    }
}
