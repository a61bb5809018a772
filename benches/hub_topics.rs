//! What the number of topics in one subscription costs, in process: one
//! subscriber of 1, 100 and 10,000 topics; and the hub's own share of a
//! fan-out, without the network of `benches/hub.rs`.
//!
//! `cargo bench --bench hub_topics`. Four cases, each with divan's median:
//!
//! * `subscribe`: creating a subscription to N distinct topics (and
//!   dropping it, outside the timing);
//! * `deliver`: one event published to one of the subscriber's topics
//!   (round robin over them) and read by it: the cost of a delivered event
//!   under the hub's lock, as the number of topics the subscriber holds
//!   grows;
//! * `fan_out`: one event published to one topic and read by each of its
//!   1,000 or 10,000 subscribers (each then waits again, registering its
//!   waker, as a stream does);
//! * `churn`: one more subscriber of a topic that 1,000 or 10,000 others
//!   hold, subscribing and leaving (a browser tab opened and closed).
//!
//! No other subscriber and no network: what is measured is the hub's own
//! work (`src/hub/log.rs`, `src/hub/subscription.rs`).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use divan::Bencher;
use futures_util::StreamExt;
use sse_runtime::event;
use sse_runtime::hub::{Hub, HubConfig};

const SIZES: [usize; 3] = [1, 100, 10_000];

fn main() {
    divan::main();
}

fn hub() -> Hub {
    Hub::with_config(HubConfig {
        max_topics: 10_000,
        ..HubConfig::default()
    })
}

fn names(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("topic-{n}")).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

#[divan::bench(args = SIZES)]
fn subscribe(bencher: Bencher, topics: usize) {
    let hub = hub();
    let names = names(topics);
    let topics: Vec<&str> = names.iter().map(String::as_str).collect();
    bencher.bench_local(|| hub.subscribe(&topics, None));
}

#[divan::bench(args = SIZES)]
fn deliver(bencher: Bencher, topics: usize) {
    let runtime = runtime();
    let hub = hub();
    let names = names(topics);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut subscription = hub.subscribe(&refs, None);
    let mut n = 0;
    bencher.bench_local(|| {
        let topic = refs[n % refs.len()];
        n += 1;
        runtime.block_on(async {
            hub.publish(topic, event!("x")).await.expect("publish");
            subscription.next().await.expect("delivered")
        })
    });
}

#[divan::bench(args = [1_000, 10_000])]
fn fan_out(bencher: Bencher, subscribers: usize) {
    let hub = hub();
    let mut subscriptions: Vec<_> = (0..subscribers)
        .map(|_| hub.subscribe(&["room"], None))
        .collect();
    let mut cx = Context::from_waker(Waker::noop());
    let mut read_all = |cx: &mut Context<'_>| {
        for subscription in &mut subscriptions {
            while let Poll::Ready(item) = subscription.poll_next_unpin(cx) {
                assert!(item.is_some());
            }
        }
    };
    read_all(&mut cx);
    bencher.bench_local(|| {
        // The in-process transport appends when `publish` is called.
        let published = pin!(hub.publish("room", event!("x"))).poll(&mut cx);
        assert!(matches!(published, Poll::Ready(Ok(_))));
        read_all(&mut cx);
    });
}

#[divan::bench(args = [1_000, 10_000])]
fn churn(bencher: Bencher, subscribers: usize) {
    let hub = hub();
    let _others: Vec<_> = (0..subscribers)
        .map(|_| hub.subscribe(&["room"], None))
        .collect();
    bencher.bench_local(|| drop(hub.subscribe(&["room"], None)));
}
