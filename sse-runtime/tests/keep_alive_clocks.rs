//! Keep-alive timing when tokio clocks disagree: here, the first runtime to
//! use keep-alive has advanced its paused clock by 30 days, so the next
//! runtime's clock reads a time a month before that first use. Its streams
//! must still get their keep-alives on time.
//!
//! A test binary of its own: which runtime uses keep-alive first in the
//! process is what is being tested.

use std::time::Duration;

use http_body_util::BodyExt;
use sse_runtime::{Event, SseConfig, SseResponse};
use tokio::time::Instant;

/// Builds an idle stream, reads its first event, and returns when its
/// first keep-alive arrived, counted from when the stream was built.
async fn first_keep_alive_after(interval: Duration) -> Duration {
    let start = Instant::now();
    let body = SseResponse::new(|mut emitter| async move {
        emitter.send(Event::data("x")).await;
        std::future::pending::<()>().await;
    })
    .with_config(SseConfig::new().keep_alive(Some(interval)))
    .into_body();
    let mut body = Box::pin(body);
    for expected in [&b"data: x\n\n"[..], b":\n\n"] {
        let frame = tokio::time::timeout(Duration::from_secs(86_400), body.frame())
            .await
            .expect("a frame within a day")
            .expect("open")
            .expect("infallible");
        assert_eq!(frame.into_data().expect("data"), expected);
    }
    start.elapsed()
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

#[test]
fn a_clock_behind_the_first_user_still_times_keep_alives() {
    let ahead = paused_runtime();
    let first = ahead.block_on(async {
        tokio::time::advance(Duration::from_secs(30 * 86_400)).await;
        first_keep_alive_after(Duration::from_secs(2)).await
    });
    assert_eq!(first, Duration::from_secs(2));

    let behind = paused_runtime();
    let second = behind.block_on(first_keep_alive_after(Duration::from_secs(2)));
    assert_eq!(second, Duration::from_secs(2));
}
