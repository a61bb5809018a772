//! What an idle stream keeps on the heap after one large event, counted by
//! a global allocator that tracks live bytes (a test binary of its own, so
//! that nothing else allocates meanwhile).
//!
//! A snapshot larger than the outbox's high-water mark (16 KiB) fills it and
//! starts a burst; an earlier design then kept a burst-sized buffer in every
//! stream for as long as it stayed idle, about 20 KB each.

use std::alloc::System;
use std::pin::Pin;
use std::task::{Context, Poll};

use sse_runtime::{Event, SseConfig, SseResponse};

/// A response's body, as `SseResponse::into_body` gives it.
type StreamBody =
    Pin<Box<dyn http_body::Body<Data = bytes::Bytes, Error = std::convert::Infallible> + Send>>;

/// Counts live heap bytes.
#[global_allocator]
static ALLOCATOR: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

fn live_bytes() -> isize {
    ALLOCATOR.allocated() as isize
}

const STREAMS: usize = 200;

/// Opens `STREAMS` streams that each send one `size`-byte event and then
/// wait; writes the event out of each; returns the live heap bytes per
/// stream while they all sit idle.
fn idle_bytes_per_stream(size: usize) -> isize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let snapshot: std::sync::Arc<str> = "x".repeat(size).into();
        let before = live_bytes();
        let mut bodies: Vec<StreamBody> = Vec::with_capacity(STREAMS);
        for _ in 0..STREAMS {
            let snapshot = snapshot.clone();
            let body = SseResponse::new(|mut emitter| async move {
                emitter.send(Event::data(&*snapshot)).await;
                std::future::pending::<()>().await;
            })
            .with_config(SseConfig::new().keep_alive(None))
            .into_body();
            bodies.push(Box::pin(body));
        }
        std::future::poll_fn(|cx: &mut Context<'_>| {
            for body in &mut bodies {
                let frame = match body.as_mut().poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => frame,
                    other => panic!("expected the snapshot, got {other:?}"),
                };
                assert!(frame.into_data().unwrap().len() > size);
                assert!(body.as_mut().poll_frame(cx).is_pending(), "now idle");
            }
            Poll::Ready(())
        })
        .await;
        let live = live_bytes() - before;
        let per_stream = live / STREAMS as isize;
        drop(bodies);
        per_stream
    })
}

/// One test, running the checks in turn: the count is of the whole
/// process's heap, and with two tests the harness's own thread recorded
/// the first one's end (allocating) while the second measured, which made
/// the second fail now and then.
#[test]
fn idle_streams_keep_no_memory() {
    an_idle_stream_keeps_no_buffer_after_a_large_event();
    an_idle_stream_keeps_nothing_of_a_burst_of_hub_events();
}

fn an_idle_stream_keeps_no_buffer_after_a_large_event() {
    // Just under and just over the 16 KiB high-water mark.
    let under = idle_bytes_per_stream(15_800);
    let over = idle_bytes_per_stream(17_000);
    assert!(
        over - under < 256,
        "an idle stream keeps {over} bytes after a 17,000-byte event, {under} after 15,800"
    );
    assert!(under < 1024, "{under} bytes per idle stream");
}

/// Streams that each forward a hub subscription, idle after a burst of
/// shared (hub) events larger than the outbox's high-water mark: what
/// each keeps beyond what it kept before the burst, the hub's own log
/// aside.
fn an_idle_stream_keeps_nothing_of_a_burst_of_hub_events() {
    use sse_runtime::hub::{Hub, HubConfig};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let hub = Hub::with_config(HubConfig {
            replay: 200,
            ..HubConfig::default()
        });
        let mut bodies: Vec<StreamBody> = Vec::with_capacity(STREAMS);
        for _ in 0..STREAMS {
            let hub = hub.clone();
            let body = SseResponse::new(|mut emitter| async move {
                let mut subscription = hub.subscribe(&["t"], None);
                while let Some(event) = subscription.next().await {
                    emitter.send(event).await;
                }
            })
            .with_config(SseConfig::new().keep_alive(None))
            .into_body();
            bodies.push(Box::pin(body));
        }
        let drain = |bodies: &mut Vec<StreamBody>| {
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            let mut bytes = 0;
            for body in bodies.iter_mut() {
                while let Poll::Ready(frame) = body.as_mut().poll_frame(&mut cx) {
                    bytes += frame.unwrap().unwrap().into_data().unwrap().len();
                }
            }
            bytes
        };
        // Each stream subscribes and waits.
        assert_eq!(drain(&mut bodies), 0);
        let before = live_bytes();
        let payload = "h".repeat(1000);
        for _ in 0..100 {
            hub.publish("t", Event::data(&payload)).await.unwrap();
        }
        let published = live_bytes() - before;
        assert!(drain(&mut bodies) > STREAMS * 100 * 1000);
        let kept = (live_bytes() - before - published) / STREAMS as isize;
        drop(bodies);
        // The frame queue keeps room for four frames (`IDLE_QUEUE_CAPACITY`
        // in emitter.rs), so that a stream fed one hub event at a time does
        // not allocate for each: 128 bytes, and nothing of the burst.
        let queue = 4 * std::mem::size_of::<bytes::Bytes>() as isize;
        assert!(
            kept <= queue + 16,
            "an idle stream keeps {kept} bytes after a burst of hub events"
        );
    });
}
