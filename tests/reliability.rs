//! Many connections and faults, over loopback; every loop is bounded in
//! count and time. One test per binary, so that the process-wide gauges it
//! reads see no other test's streams.

mod support;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use support::{get as request, serve, within};

#[sse_handler(keep_alive = "1s")]
async fn ticker() {
    let payload = "x".repeat(64);
    loop {
        yield_!(event!(data: &payload, event: "tick"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn settle<F: Fn() -> bool>(done: F) {
    within(async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connect_disconnect_cycles_leave_nothing_behind() {
    const CYCLES: usize = 10_000;
    const AT_ONCE: usize = 100;
    let addr = serve(Router::new().route("/", get(ticker))).await;
    let runtime = tokio::runtime::Handle::current();

    // Warm up allocator pools and the runtime before taking the baseline.
    for _ in 0..3 {
        join_all((0..AT_ONCE).map(|_| async {
            let mut events = request(addr, "/", &[]).await.events();
            events.next().await.expect("event");
        }))
        .await;
    }
    settle(|| sse_runtime::open_streams() == 0).await;
    let tasks_before = runtime.metrics().num_alive_tasks();
    let memory_before = resident_bytes();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut cycles = 0;
    while cycles < CYCLES {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cycles took too long"
        );
        join_all((0..AT_ONCE).map(|i| async move {
            let mut events = request(addr, "/", &[]).await.events();
            // Half read an event first; half hang up at once.
            if i % 2 == 0 {
                assert_eq!(events.next().await.expect("event").event, "tick");
            }
        }))
        .await;
        cycles += AT_ONCE;
    }

    settle(|| sse_runtime::open_streams() == 0).await;
    settle(|| runtime.metrics().num_alive_tasks() <= tasks_before).await;
    let memory_after = resident_bytes();
    let growth = memory_after.saturating_sub(memory_before);
    eprintln!(
        "{CYCLES} cycles: open streams 0, tasks {} -> {}, RSS {} KiB -> {} KiB",
        tasks_before,
        runtime.metrics().num_alive_tasks(),
        memory_before / 1024,
        memory_after / 1024
    );
    // 10,000 leaked streams would hold at least 10,000 buffers and futures
    // (tens of MiB); allocator noise stays well under this.
    assert!(growth < 16 << 20, "RSS grew by {} KiB", growth / 1024);
}
