//! Encoding throughput: our encoder against axum's `Event` on identical
//! inputs, both as bare event building and through each library's response
//! body; and the macro-generated handler against the same stream written by
//! hand with async-stream.
//!
//! `cargo bench --bench encode`. Each benchmark handles `EVENTS` events, so
//! divan's times divided by `EVENTS` are per event; compare `ours` with
//! `axum` in the same run (the machines are shared: absolute times drift,
//! ratios much less).

use std::convert::Infallible;
use std::hint::black_box;

use axum::response::sse::{Event as AxumEvent, Sse};
use axum::response::IntoResponse;
use bytes::Bytes;
use divan::Bencher;
use http_body_util::BodyExt;
use serde::Serialize;
use sse_runtime::prelude::*;
use sse_runtime::StreamContext;
use sse_runtime::StreamForwarder;

const EVENTS: usize = 1000;

fn main() {
    divan::main();
}

fn payload(len: usize) -> String {
    "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(len)
        .collect()
}

fn multi_line() -> String {
    "first line of data\nsecond line\nthird line here\nfourth".to_owned()
}

#[derive(Serialize, Clone, Copy)]
struct Tick {
    id: u64,
    price: f64,
    symbol: &'static str,
    open: bool,
}

const TICK: Tick = Tick {
    id: 42,
    price: 101.25,
    symbol: "ACME",
    open: true,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn collect<B>(body: B) -> Bytes
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    body.collect().await.unwrap().to_bytes()
}

/// The inputs of one benchmark case.
#[derive(Clone, Copy, Debug)]
enum Case {
    Text16,
    Text256,
    Text4K,
    Text16Named,
    Text256Named,
    MultiLine,
    Json,
}

const CASES: [Case; 7] = [
    Case::Text16,
    Case::Text256,
    Case::Text4K,
    Case::Text16Named,
    Case::Text256Named,
    Case::MultiLine,
    Case::Json,
];

impl Case {
    fn data(self) -> String {
        match self {
            Case::Text16 | Case::Text16Named => payload(16),
            Case::Text256 | Case::Text256Named => payload(256),
            Case::Text4K => payload(4096),
            Case::MultiLine => multi_line(),
            Case::Json => String::new(),
        }
    }

    fn named(self) -> bool {
        matches!(self, Case::Text16Named | Case::Text256Named)
    }

    fn ours(self, data: &str, i: usize) -> sse_runtime::Event {
        let built = match (self, self.named()) {
            (Case::Json, _) => event!(json: TICK, event: "tick", id: i),
            (_, true) => event!(data: data, event: "update", id: i),
            (_, false) => event!(data: data),
        };
        built.unwrap()
    }

    fn axum(self, data: &str, i: usize) -> AxumEvent {
        match (self, self.named()) {
            (Case::Json, _) => AxumEvent::default()
                .event("tick")
                .id(i.to_string())
                .json_data(TICK)
                .unwrap(),
            (_, true) => AxumEvent::default()
                .event("update")
                .id(i.to_string())
                .data(data),
            (_, false) => AxumEvent::default().data(data),
        }
    }
}

/// Building events alone: for axum, building is encoding.
mod build {
    use super::*;

    #[divan::bench(args = CASES)]
    fn ours(bencher: Bencher, case: Case) {
        let data = case.data();
        bencher.bench(|| {
            for i in 0..EVENTS {
                black_box(case.ours(black_box(&data), i));
            }
        });
    }

    #[divan::bench(args = CASES)]
    fn axum(bencher: Bencher, case: Case) {
        let data = case.data();
        bencher.bench(|| {
            for i in 0..EVENTS {
                let _ = black_box(case.axum(black_box(&data), i));
            }
        });
    }
}

/// Events built inside a handler body and read out of the response body, as
/// a server does.
mod body {
    use super::*;

    #[divan::bench(args = CASES)]
    fn ours(bencher: Bencher, case: Case) {
        let runtime = runtime();
        let data = case.data();
        bencher.bench(|| {
            let data = data.clone();
            let response = SseResponse::new(move |mut emitter| async move {
                for i in 0..EVENTS {
                    emitter.send(case.ours(&data, i)).await;
                }
            })
            .with_config(SseConfig::new().keep_alive(None));
            black_box(runtime.block_on(collect(response.into_body())))
        });
    }

    #[divan::bench(args = CASES)]
    fn axum(bencher: Bencher, case: Case) {
        let runtime = runtime();
        let data = case.data();
        bencher.bench(|| {
            let data = data.clone();
            let events = futures_util::stream::iter(0..EVENTS)
                .map(move |i| Ok::<_, Infallible>(case.axum(&data, i)));
            let response = Sse::new(events).into_response();
            black_box(runtime.block_on(collect(response.into_body())))
        });
    }

    use futures_util::StreamExt;
}

/// The macro adds nothing: the same stream through `#[sse_handler]` and
/// written by hand with async-stream over our encoder.
mod macro_overhead {
    use super::*;

    #[sse_handler(keep_alive = false)]
    async fn generated() {
        let data = payload(16);
        for i in 0..EVENTS {
            yield_!(event!(data: &data, event: "update", id: i));
        }
    }

    fn hand_written() -> SseResponse<StreamForwarder> {
        let data = payload(16);
        let stream = async_stream::stream! {
            for i in 0..EVENTS {
                yield event!(data: &data, event: "update", id: i);
            }
        };
        SseResponse::from_stream(stream).with_config(SseConfig::new().keep_alive(None))
    }

    #[divan::bench]
    fn macro_generated(bencher: Bencher) {
        let runtime = runtime();
        bencher.bench(|| {
            runtime.block_on(async {
                let response = generated(StreamContext::default()).await;
                black_box(collect(response.into_body()).await)
            })
        });
    }

    #[divan::bench]
    fn async_stream_by_hand(bencher: Bencher) {
        let runtime = runtime();
        bencher.bench(|| {
            runtime.block_on(async { black_box(collect(hand_written().into_body()).await) })
        });
    }
}
