//! What the number of topics in one subscription costs, in process: one
//! subscriber of 1, 100 and 10,000 topics.
//!
//! `cargo bench --bench hub_topics`. Two cases, each with divan's median:
//!
//! * `subscribe`: creating a subscription to N distinct topics (and
//!   dropping it, outside the timing);
//! * `deliver`: one event published to one of the subscriber's topics
//!   (round robin over them) and read by it: the cost of a delivered event
//!   under the hub's lock, as the number of topics the subscriber holds
//!   grows.
//!
//! No other subscriber and no network: what is measured is the hub's own
//! work (`src/hub/log.rs`, `src/hub/subscription.rs`).

use divan::Bencher;
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
