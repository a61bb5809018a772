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
    Brotli(Box<BrotliDecoder>),
}

/// Brotli's own streaming decoder, driven directly: its `Write` adapter
/// (`DecompressorWriter`) gives back at most its buffer's size of output
/// on `flush`, and would keep the rest of a large event from the test;
/// the decoder is called again as long as it fills its buffer.
struct BrotliDecoder {
    state: brotli::BrotliState<
        brotli::reader::StandardAlloc,
        brotli::reader::StandardAlloc,
        brotli::reader::StandardAlloc,
    >,
    ended: bool,
}

impl BrotliDecoder {
    fn new() -> BrotliDecoder {
        BrotliDecoder {
            state: brotli::BrotliState::new(
                brotli::reader::StandardAlloc::default(),
                brotli::reader::StandardAlloc::default(),
                brotli::reader::StandardAlloc::default(),
            ),
            ended: false,
        }
    }

    /// Everything `chunk` decodes to.
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut decoded = Vec::new();
        let mut buffer = vec![0; 64 * 1024];
        let (mut available_in, mut in_offset) = (chunk.len(), 0);
        loop {
            let (mut available_out, mut out_offset, mut total) = (buffer.len(), 0, 0);
            let result = brotli::BrotliDecompressStream(
                &mut available_in,
                &mut in_offset,
                chunk,
                &mut available_out,
                &mut out_offset,
                &mut buffer,
                &mut total,
                &mut self.state,
            );
            decoded.extend_from_slice(&buffer[..out_offset]);
            match result {
                // A full buffer may hold back output even when the
                // decoder asks for input.
                _ if out_offset == buffer.len() => {}
                brotli::BrotliResult::NeedsMoreOutput => {}
                brotli::BrotliResult::NeedsMoreInput => return decoded,
                brotli::BrotliResult::ResultSuccess => {
                    assert_eq!(available_in, 0, "bytes after the end of the Brotli stream");
                    self.ended = true;
                    return decoded;
                }
                brotli::BrotliResult::ResultFailure => panic!("not a valid Brotli stream"),
            }
        }
    }
}

impl Decoder {
    fn new(encoding: Option<&str>) -> Decoder {
        match encoding {
            None => Decoder::Identity(Vec::new()),
            Some("gzip") => Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(Vec::new()))),
            Some("zstd") => Decoder::Zstd(zstd::stream::write::Decoder::new(Vec::new()).unwrap()),
            Some("br") => Decoder::Brotli(Box::new(BrotliDecoder::new())),
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
            Decoder::Brotli(decoder) => return decoder.feed(chunk),
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
            Decoder::Brotli(decoder) => assert!(decoder.ended, "a complete Brotli stream"),
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

// ---------------------------------------------------------------------
// Round trips at the body, frame by frame, on one thread.

/// One step of a scripted handler.
#[derive(Debug, Clone)]
enum Step {
    /// An event whose data is `len` bytes: repetitive text when `plain`,
    /// otherwise letters from `seed` (close to incompressible).
    Event { len: usize, seed: u64, plain: bool },
    /// The handler waits with nothing queued: the body returns `Pending`,
    /// and gzip gives its context back.
    Idle,
}

fn event_data(len: usize, seed: u64, plain: bool) -> String {
    let mut state = seed | 1;
    (0..len)
        .map(|n| {
            if plain {
                char::from(b"data stream of tokens "[n % 22])
            } else {
                // xorshift: letters a compressor cannot predict.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            }
        })
        .collect()
}

/// A `StreamContext` as `#[sse_handler]` would extract it from a request
/// with these `Accept-Encoding` values.
async fn context_with(accept: &[&[u8]]) -> StreamContext {
    use axum::extract::FromRequestParts;
    let mut request = axum::http::Request::get("/");
    for value in accept {
        request = request.header("accept-encoding", *value);
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    StreamContext::from_request_parts(&mut parts, &())
        .await
        .unwrap()
}

/// The scripted stream as a response, compressed as `accept` allows.
async fn scripted(steps: Vec<Step>, accept: &[&[u8]]) -> (Option<String>, axum::body::Body) {
    let response = SseResponse::new(move |mut emitter| async move {
        for step in steps {
            match step {
                Step::Event { len, seed, plain } => {
                    emitter
                        .send(Event::data(&event_data(len, seed, plain)))
                        .await;
                }
                Step::Idle => {
                    // Twice: the first lets the queued frame go, the
                    // second finds the outbox empty.
                    tokio::task::yield_now().await;
                    tokio::task::yield_now().await;
                }
            }
        }
    })
    .with_context(context_with(accept).await)
    .with_config(
        SseConfig::new()
            .keep_alive(None)
            .compression(Compression::new().brotli(true)),
    );
    let response = axum::response::IntoResponse::into_response(response);
    let encoding = response
        .headers()
        .get("content-encoding")
        .map(|value| value.to_str().unwrap().to_owned());
    (encoding, response.into_body())
}

/// The body's frames, as written.
async fn frames_of(body: &mut axum::body::Body) -> Option<Bytes> {
    let frame = http_body_util::BodyExt::frame(body).await?;
    Some(frame.unwrap().into_data().unwrap())
}

/// Reads `body` frame by frame; after each frame the decoder must have
/// given back whole events only, and a prefix of `plain`. Returns the
/// wire's frames.
async fn check_frame_by_frame(
    encoding: &str,
    mut body: axum::body::Body,
    plain: &[u8],
) -> Vec<Bytes> {
    let mut decoder = Decoder::new(Some(encoding));
    let mut decoded = Vec::new();
    let mut wire = Vec::new();
    while let Some(frame) = frames_of(&mut body).await {
        decoded.extend(decoder.feed(&frame));
        wire.push(frame);
        assert!(
            plain.starts_with(&decoded),
            "{encoding}: decoded bytes differ from the plain stream at {}",
            decoded
                .iter()
                .zip(plain)
                .position(|(a, b)| a != b)
                .unwrap_or(decoded.len())
        );
        // Each frame decodes to whole events, at once: nothing held back.
        assert!(
            decoded.is_empty() || decoded.ends_with(b"\n\n"),
            "{encoding}: an event was held back after frame {}",
            wire.len()
        );
    }
    decoder.finish();
    assert_eq!(decoded.len(), plain.len(), "{encoding}: the whole stream");
    wire
}

/// Decodes a gzip stream chunk by chunk with Python's zlib (a C zlib of
/// its own, sharing nothing with zlib-rs), each chunk flushed as it comes;
/// `None` without `python3`.
fn python_gunzip(chunks: &[Bytes]) -> Option<Vec<Vec<u8>>> {
    const SCRIPT: &str = r#"
import sys, zlib, struct
data = sys.stdin.buffer.read()
d = zlib.decompressobj(wbits=31)
out = sys.stdout.buffer
at = 0
while at < len(data):
    (n,) = struct.unpack_from("<I", data, at); at += 4
    piece = d.decompress(data[at:at + n]); at += n
    out.write(struct.pack("<I", len(piece))); out.write(piece)
assert d.eof and not d.unused_data, "incomplete gzip stream"
"#;
    let mut child = match std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("NOTICE: no python3: the independent gzip decoder is skipped");
            return None;
        }
        Err(error) => panic!("python3: {error}"),
    };
    let mut input = Vec::new();
    for chunk in chunks {
        input.extend((chunk.len() as u32).to_le_bytes());
        input.extend_from_slice(chunk);
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "python's zlib refused the stream");
    let mut pieces = Vec::new();
    let mut rest = &output.stdout[..];
    while !rest.is_empty() {
        let n = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        pieces.push(rest[4..4 + n].to_vec());
        rest = &rest[4 + n..];
    }
    Some(pieces)
}

/// Event sizes around every buffer and window the codecs have: gzip's
/// 4 KiB history, deflate's 32 KiB window, 64 KiB, and larger.
fn event_len() -> impl proptest::strategy::Strategy<Value = usize> {
    use proptest::prelude::*;
    prop_oneof![
        4 => 0usize..200,
        1 => prop::sample::select(vec![
            4086, 4087, 4088, 4096, 4097, 8192, 32 * 1024 - 9, 32 * 1024 - 8, 32 * 1024,
            32 * 1024 + 1, 64 * 1024 - 8, 64 * 1024, 64 * 1024 + 1, 100_000,
        ]),
        1 => 0usize..70_000,
    ]
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        3 => (event_len(), any::<u64>(), any::<bool>())
            .prop_map(|(len, seed, plain)| Step::Event { len, seed, plain }),
        2 => Just(Step::Idle),
    ];
    prop::collection::vec(step, 0..24)
}

/// Every encoding decodes, frame by frame, to exactly the plain stream,
/// whatever the events' sizes and wherever the stream idles; two streams
/// interleaved on one thread (sharing its spare gzip contexts) each decode
/// alone, with a fresh decoder, so neither refers to the other's bytes.
#[test]
fn random_streams_decode_exactly_frame_by_frame() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: 40,
        ..ProptestConfig::default()
    };
    proptest!(config, |(first in steps(), second in steps())| {
        runtime.block_on(async {
            let plain_first = {
                let (encoding, body) = scripted(first.clone(), &[]).await;
                assert_eq!(encoding, None);
                http_body_util::BodyExt::collect(body).await.unwrap().to_bytes()
            };
            let plain_second = {
                let (_, body) = scripted(second.clone(), &[]).await;
                http_body_util::BodyExt::collect(body).await.unwrap().to_bytes()
            };
            for encoding in ["gzip", "zstd", "br"] {
                let (got, body_first) = scripted(first.clone(), &[encoding.as_bytes()]).await;
                assert_eq!(got.as_deref(), Some(encoding));
                let (_, body_second) = scripted(second.clone(), &[encoding.as_bytes()]).await;
                let (wire, _) = tokio::join!(
                    check_frame_by_frame(encoding, body_first, &plain_first),
                    check_frame_by_frame(encoding, body_second, &plain_second),
                );
                if encoding == "gzip" {
                    if let Some(pieces) = python_gunzip(&wire) {
                        let mut decoded = Vec::new();
                        for piece in &pieces {
                            decoded.extend_from_slice(piece);
                            assert!(decoded.is_empty() || decoded.ends_with(b"\n\n"), "python: an event was held back");
                        }
                        assert_eq!(decoded, plain_first, "python's zlib decodes another stream");
                    }
                }
            }
        });
    });
}

/// RFC 9110 §5.3: several `Accept-Encoding` lines are one list, read as
/// if joined with commas; a proxy may well split them.
#[tokio::test]
async fn accept_encoding_split_over_several_lines_is_one_list() {
    let one = vec![Step::Event {
        len: 10,
        seed: 1,
        plain: true,
    }];
    for (lines, expected) in [
        (&[&b"identity"[..], b"gzip"][..], Some("gzip")),
        (&[&b"br;q=0.1"[..], b"zstd;q=0.5"][..], Some("zstd")),
        (&[&b"gzip"[..], b"gzip;q=0"][..], Some("gzip")),
        (&[&b"\xff\xfe"[..], b"gzip"][..], Some("gzip")),
        (&[&b"identity"[..], b"*;q=0"][..], None),
    ] {
        let (encoding, _) = scripted(one.clone(), lines).await;
        assert_eq!(encoding.as_deref(), expected, "{lines:?}");
    }
}

/// `sse_bytes_sent_total` and `StreamSummary::bytes` count the event
/// stream before compression: one figure for a stream whatever encoding
/// its client accepted (the bytes on the wire are the proxy's figure).
#[tokio::test]
async fn bytes_sent_are_counted_before_compression() {
    let steps = vec![
        Step::Event {
            len: 5000,
            seed: 3,
            plain: true,
        },
        Step::Idle,
        Step::Event {
            len: 10,
            seed: 4,
            plain: true,
        },
    ];
    let plain = {
        let (_, body) = scripted(steps.clone(), &[]).await;
        http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes()
    };
    for encoding in ["gzip", "zstd", "br"] {
        let counted = Arc::new(std::sync::Mutex::new(None));
        let record = Arc::clone(&counted);
        let response = SseResponse::new({
            let steps = steps.clone();
            move |mut emitter| async move {
                for step in steps {
                    if let Step::Event { len, seed, plain } = step {
                        emitter
                            .send(Event::data(&event_data(len, seed, plain)))
                            .await;
                    }
                    tokio::task::yield_now().await;
                }
            }
        })
        .with_context(context_with(&[encoding.as_bytes()]).await)
        .with_config(
            SseConfig::new()
                .keep_alive(None)
                .compression(Compression::new().brotli(true))
                .on_close(move |summary| *record.lock().unwrap() = Some(summary.bytes)),
        );
        let response = axum::response::IntoResponse::into_response(response);
        assert_eq!(response.headers()["content-encoding"], encoding);
        let wire = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(wire.len() < plain.len() / 4, "{encoding}");
        assert_eq!(
            *counted.lock().unwrap(),
            Some(plain.len() as u64),
            "{encoding}"
        );
    }
}

#[sse_handler(compress = true, error_event = true, keep_alive = false)]
async fn fails_after_two() -> Result<(), std::io::Error> {
    yield_!(event!(data: "one"));
    yield_!(event!(data: "two"));
    Err(std::io::Error::other("the source went away"))
}

#[sse_handler(compress = true, error_event = true, keep_alive = false)]
async fn panics_after_two() {
    yield_!(event!(data: "one"));
    yield_!(event!(data: "two"));
    // Written before the panic, in their own frame.
    tokio::task::yield_now().await;
    panic!("a bug in the handler");
}

/// A handler that fails or panics ends its compressed stream the way an
/// uncompressed one ends: the events before it, then the final `error`
/// event (the panic's message never sent), then a complete compressed
/// stream (gzip's trailer, zstd's last block), which `Reader` checks at
/// the end. The server, and its thread's spare contexts, serve the next
/// stream as before.
#[tokio::test]
async fn failing_and_panicking_handlers_end_their_compressed_streams_whole() {
    let addr = serve(
        Router::new()
            .route("/fails", get(fails_after_two))
            .route("/panics", get(panics_after_two))
            .route("/ticks", get(ticks)),
    )
    .await;
    for encoding in ["gzip", "zstd"] {
        for (path, error) in [
            ("/fails", "the source went away"),
            ("/panics", "handler panicked"),
        ] {
            let response =
                support::get(addr, path, &[("accept-encoding", encoding.as_bytes())]).await;
            assert_eq!(response.header("content-encoding"), Some(encoding));
            let (received, _) = within(Reader::new(response).all()).await;
            let events: Vec<(String, String)> = events_of(&received)
                .into_iter()
                .map(|(name, data, _)| (name, data))
                .collect();
            assert_eq!(
                events,
                [
                    ("message".to_owned(), "one".to_owned()),
                    ("message".to_owned(), "two".to_owned()),
                    ("error".to_owned(), error.to_owned()),
                ],
                "{encoding} {path}"
            );
        }
        let response =
            support::get(addr, "/ticks", &[("accept-encoding", encoding.as_bytes())]).await;
        let (received, _) = within(Reader::new(response).all()).await;
        assert_eq!(events_of(&received).len(), 200, "{encoding}");
    }
}

/// A client that goes away in the middle of a compressed stream (its
/// connection closed while the handler still sends) ends that stream
/// only: the streams after it, on the same threads and spare contexts,
/// decode whole.
#[tokio::test]
async fn a_client_leaving_mid_stream_leaves_the_next_streams_whole() {
    #[sse_handler(compress = true, keep_alive = false)]
    async fn endless() {
        let mut n = 0u64;
        loop {
            yield_!(event!(data: format!("event {n} of a stream no one reads to the end"), id: n));
            n += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let addr = serve(
        Router::new()
            .route("/endless", get(endless))
            .route("/ticks", get(ticks)),
    )
    .await;
    for encoding in ["gzip", "zstd"] {
        for _ in 0..5 {
            let response = support::get(
                addr,
                "/endless",
                &[("accept-encoding", encoding.as_bytes())],
            )
            .await;
            let mut reader = Reader::new(response);
            let mut seen = 0;
            while seen < 3 {
                let received = within(reader.next()).await.expect("events");
                seen += events_of(&received).len();
            }
            // Gone mid-stream: the connection closes with the reader.
            drop(reader);
        }
        let response =
            support::get(addr, "/ticks", &[("accept-encoding", encoding.as_bytes())]).await;
        let (received, _) = within(Reader::new(response).all()).await;
        assert_eq!(events_of(&received).len(), 200, "{encoding}");
    }
}
