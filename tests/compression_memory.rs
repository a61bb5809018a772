//! What an idle compressed stream keeps on the heap, at small scale (200
//! streams; nothing is timed): the claims of BENCHMARKS.md's "Compressed
//! streams" that an idle gzip stream costs what a plain one does and that
//! zstd and Brotli keep their contexts, also after a large event; and the
//! spare gzip contexts kept per thread go with their thread.

use std::alloc::System;

use axum::extract::FromRequestParts;
use sse_runtime::prelude::*;
use sse_runtime::{Compression, StreamContext};

#[global_allocator]
static ALLOCATOR: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

const STREAMS: usize = 200;

/// The heap count is the whole process's: the tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

async fn context_with(accept: &str) -> StreamContext {
    let mut request = axum::http::Request::get("/");
    if !accept.is_empty() {
        request = request.header("accept-encoding", accept);
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    StreamContext::from_request_parts(&mut parts, &())
        .await
        .unwrap()
}

fn text(len: usize) -> String {
    (0..len)
        .map(|n| char::from(b'a' + (n * 7 % 26) as u8))
        .collect()
}

/// A stream that sends one event of `len` bytes and waits, read up to its
/// wait: its body, as hyper would hold it.
async fn idle_stream(accept: &str, len: usize) -> axum::body::Body {
    let response = SseResponse::new(move |mut emitter| async move {
        // A temporary, gone before the wait: the handler keeps nothing.
        emitter.send(Event::data(&text(len))).await;
        std::future::pending::<()>().await;
    })
    .with_context(context_with(accept).await)
    .with_config(
        SseConfig::new()
            .keep_alive(None)
            .compression(Compression::new().brotli(true)),
    );
    let mut body = axum::response::IntoResponse::into_response(response).into_body();
    let frame = http_body_util::BodyExt::frame(&mut body).await;
    assert!(frame.is_some());
    let mut next = http_body_util::BodyExt::frame(&mut body);
    assert!(
        futures_util::poll!(&mut next).is_pending(),
        "the stream waits"
    );
    body
}

/// Heap bytes per idle stream, over `STREAMS` of them.
async fn per_stream(accept: &str, len: usize) -> usize {
    let before = ALLOCATOR.allocated();
    let mut bodies = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        bodies.push(idle_stream(accept, len).await);
    }
    let per_stream = ALLOCATOR.allocated().saturating_sub(before) / STREAMS;
    drop(bodies);
    per_stream
}

#[test]
fn idle_compressed_streams_keep_what_benchmarks_md_says() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Warm the thread's spare contexts, so that they are not counted.
        per_stream("gzip", 100).await;
        let plain = per_stream("", 100).await;
        let gzip = per_stream("gzip", 100).await;
        let zstd = per_stream("zstd", 100).await;
        let brotli = per_stream("br", 100).await;
        let plain_after_large = per_stream("", 200_000).await;
        let gzip_after_large = per_stream("gzip", 200_000).await;
        let zstd_after_large = per_stream("zstd", 200_000).await;
        let brotli_after_large = per_stream("br", 200_000).await;
        eprintln!(
            "heap per idle stream: plain {plain}, gzip {gzip}, zstd {zstd}, br {brotli}; \
             after a 200 KB event: plain {plain_after_large}, gzip {gzip_after_large}, zstd {zstd_after_large}, br {brotli_after_large}"
        );
        // gzip keeps its last event (at most 4 KiB) and its header state.
        assert!(gzip < plain + 1024, "gzip {gzip} against plain {plain}");
        assert!(
            gzip_after_large < plain + 4096 + 1024,
            "gzip after a large event: {gzip_after_large} against plain {plain}"
        );
        // zstd's context is the C library's (its own malloc, not counted
        // here); Brotli's, in Rust, stays while idle: its 256 KiB hash
        // table at once, and the buffers a large event grew (BENCHMARKS.md
        // gives both figures).
        assert!(brotli > plain + 256 * 1024, "br {brotli}");
        assert!(brotli_after_large > brotli, "br after a large event {brotli_after_large} against {brotli}");
        assert!(brotli_after_large < 1024 * 1024, "br after a large event {brotli_after_large}");
        let _ = (zstd, zstd_after_large);
    });
}

/// Many short-lived threads, each with its own runtime and gzip streams
/// that idle (filling the thread's spare contexts): once they exit, the
/// heap is back where it was.
#[test]
fn spare_gzip_contexts_go_with_their_thread() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let warm = || {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let bodies = [
                    idle_stream("gzip", 100).await,
                    idle_stream("gzip", 100).await,
                    idle_stream("gzip", 100).await,
                ];
                drop(bodies);
            });
        })
        .join()
        .unwrap();
    };
    // The first thread's one-time allocations (tracing, the runtime's
    // globals) are not the pool's.
    warm();
    let before = ALLOCATOR.allocated();
    for _ in 0..50 {
        warm();
    }
    let after = ALLOCATOR.allocated();
    assert!(
        after < before + 64 * 1024,
        "50 threads left {} bytes behind",
        after.saturating_sub(before)
    );
}
