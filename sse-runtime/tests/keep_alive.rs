//! Keep-alive timing, on tokio's paused clock so that every moment is exact:
//! a keep-alive goes out when, and only when, a stream has been silent for
//! its interval, for one stream or a thousand, and across runtimes on the
//! same thread.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use sse_runtime::{Event, SseConfig, SseResponse};
use tokio::time::Instant;

/// A response's body, as `SseResponse::into_body` gives it.
type StreamBody =
    Pin<Box<dyn http_body::Body<Data = Bytes, Error = std::convert::Infallible> + Send>>;

/// Reads the next data frame, with how long after `start` it arrived.
async fn next_frame(body: &mut StreamBody, start: Instant) -> (Bytes, Duration) {
    // On the paused clock, a missing wake-up turns into this timeout at
    // once instead of a hang.
    let frame = tokio::time::timeout(Duration::from_secs(86_400), body.frame())
        .await
        .expect("a frame within a day")
        .expect("the stream is still open")
        .expect("infallible");
    let data = frame.into_data().expect("a data frame");
    (data, start.elapsed())
}

fn with_keep_alive(interval: Duration) -> SseConfig {
    SseConfig::new().keep_alive(Some(interval))
}

/// A stream that sends `data: open`, then nothing.
fn idle_stream(interval: Duration) -> StreamBody {
    let body = SseResponse::new(|mut emitter| async move {
        emitter.send(Event::data("open")).await;
        std::future::pending::<()>().await;
    })
    .with_config(with_keep_alive(interval))
    .into_body();
    Box::pin(body)
}

#[tokio::test(start_paused = true)]
async fn keep_alive_counts_silence_from_the_last_frame() {
    let start = Instant::now();
    let body = SseResponse::new(|mut emitter| async move {
        emitter.send(Event::data("a")).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        emitter.send(Event::data("b")).await;
        std::future::pending::<()>().await;
    })
    .with_config(with_keep_alive(Duration::from_secs(15)))
    .into_body();
    let mut body: StreamBody = Box::pin(body);

    let expected: [(&[u8], u64); 5] = [
        (b"data: a\n\n", 0),
        (b"data: b\n\n", 10_000),
        // Not at 15 s: "b" went out at 10 s.
        (b":\n\n", 25_000),
        (b":\n\n", 40_000),
        (b":\n\n", 55_000),
    ];
    for (bytes, at_ms) in expected {
        let (frame, elapsed) = next_frame(&mut body, start).await;
        assert_eq!(&frame[..], bytes);
        assert_eq!(elapsed, Duration::from_millis(at_ms), "{frame:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_busy_stream_sends_no_keep_alive() {
    let start = Instant::now();
    let body = SseResponse::new(|mut emitter| async move {
        for n in 0..20 {
            emitter.send(Event::data(&n.to_string())).await;
            tokio::time::sleep(Duration::from_millis(900)).await;
        }
        std::future::pending::<()>().await;
    })
    .with_config(with_keep_alive(Duration::from_secs(1)))
    .into_body();
    let mut body: StreamBody = Box::pin(body);

    for n in 0..20u64 {
        let (frame, elapsed) = next_frame(&mut body, start).await;
        assert_eq!(frame, format!("data: {n}\n\n"));
        assert_eq!(elapsed, Duration::from_millis(900 * n));
    }
    // Silent from 17.1 s on.
    let (frame, elapsed) = next_frame(&mut body, start).await;
    assert_eq!(&frame[..], b":\n\n");
    assert_eq!(elapsed, Duration::from_millis(900 * 19 + 1000));
}

#[tokio::test(start_paused = true)]
async fn a_thousand_streams_each_get_their_own_interval() {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 1..=1000u64 {
        tasks.spawn(async move {
            let interval = Duration::from_millis(n * 7);
            let mut body = idle_stream(interval);
            let (open, _) = next_frame(&mut body, start).await;
            assert_eq!(&open[..], b"data: open\n\n");
            for round in 1..=3 {
                let (frame, elapsed) = next_frame(&mut body, start).await;
                assert_eq!(&frame[..], b":\n\n");
                assert_eq!(elapsed, interval * round, "stream {n}, keep-alive {round}");
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("every stream saw its keep-alives on time");
    }
}

#[tokio::test(start_paused = true)]
async fn a_sub_millisecond_interval_is_not_turned_off() {
    let start = Instant::now();
    let mut body = idle_stream(Duration::from_micros(300));
    next_frame(&mut body, start).await;
    let (frame, elapsed) = next_frame(&mut body, start).await;
    assert_eq!(&frame[..], b":\n\n");
    assert_eq!(elapsed, Duration::from_millis(1), "rounded up to 1 ms");
}

/// Keep-alive on each of several runtimes run one after another on this
/// thread: a stream on a later runtime must not rely on the timer of one
/// that is gone (or merely not running).
#[test]
fn keep_alive_works_on_each_runtime_in_turn() {
    let mut stalled = Vec::new();
    for round in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let start = Instant::now();
            let mut body = idle_stream(Duration::from_millis(250));
            next_frame(&mut body, start).await;
            let (frame, elapsed) = next_frame(&mut body, start).await;
            assert_eq!(&frame[..], b":\n\n", "round {round}");
            assert_eq!(elapsed, Duration::from_millis(250), "round {round}");
        });
        // Keep every other runtime alive but idle: its timer task is not
        // running, so the next runtime needs its own.
        if round % 2 == 0 {
            stalled.push(runtime);
        }
    }
}

/// A body first polled by one task and then by another (handed over once
/// idle) still gets its keep-alive: the timer wakes whoever polls it now.
#[tokio::test(start_paused = true)]
async fn a_body_handed_to_another_task_is_still_woken() {
    let start = Instant::now();
    let mut body = idle_stream(Duration::from_secs(5));
    let body = tokio::spawn(async move {
        let (frame, _) = next_frame(&mut body, start).await;
        assert_eq!(&frame[..], b"data: open\n\n");
        // Poll until it waits, so that its keep-alive is armed for this task.
        std::future::poll_fn(|cx| {
            assert!(body.as_mut().poll_frame(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        body
    })
    .await
    .expect("first task");
    let mut body = body;
    let (frame, elapsed) = next_frame(&mut body, start).await;
    assert_eq!(&frame[..], b":\n\n");
    assert_eq!(elapsed, Duration::from_secs(5));
}
