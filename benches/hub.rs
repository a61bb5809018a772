//! Fan-out: one publish delivered to 1,000 and to 10,000 subscribers over
//! loopback, through the hub of `sse-bench-server hub`; then the same hub
//! on Redis, split over two server processes, against the in-process hub in
//! the same run: delivery latency and publish throughput.
//!
//! `cargo bench --bench hub` (add `-- --quick` for 1,000 only). The Redis
//! part needs `redis-server` on `PATH` (it starts its own on a free port).
//!
//! Reports, per subscriber count, the delivery time from just before the
//! publishing request is sent to the moment each subscriber's socket yields
//! the event (p50, p99, max; medians over several publishes), and the
//! server's resident memory per subscriber. The subscribers live in this
//! process and share the machine's two cores with the server, so delivery
//! times include their own scheduling.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

#[path = "support/server.rs"]
mod server;

use server::{Redis, Server};

/// Opens one subscriber and waits until it is registered; then reports, for
/// each publish round, how long after the round's start its event arrived.
async fn subscriber(
    port: u16,
    ready: mpsc::Sender<()>,
    mut rounds: watch::Receiver<Option<(u64, Instant)>>,
    delays: mpsc::UnboundedSender<(u64, Duration)>,
) {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(b"GET /hub HTTP/1.1\r\nhost: bench\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buffer = vec![0u8; 4096];
    while !seen.windows(12).any(|w| w == b": subscribed") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buffer[..n]);
    }
    ready.send(()).await.unwrap();
    let mut events_seen = 0u64;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        if line.starts_with("event: tick") {
            let arrived = Instant::now();
            events_seen += 1;
            let round = *rounds.borrow_and_update();
            if let Some((number, started)) = round {
                if number == events_seen {
                    let _ = delays.send((number, arrived - started));
                }
            }
        }
    }
}

async fn publish(port: u16) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(b"POST /publish HTTP/1.1\r\nhost: bench\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert!(response.ends_with(b"ok"), "publish failed");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Latency of one publish to every subscriber: opens `per_server`
/// subscribers on each of `ports`, then publishes `ROUNDS` events through
/// the first; returns the medians over the rounds of p50, p99 and max, in
/// milliseconds.
async fn fan_out(ports: &[u16], per_server: usize) -> (f64, f64, f64) {
    const ROUNDS: u64 = 5;
    let count = ports.len() * per_server;
    let (ready_tx, mut ready_rx) = mpsc::channel(count);
    let (round_tx, round_rx) = watch::channel(None);
    let (delay_tx, mut delay_rx) = mpsc::unbounded_channel();
    for &port in ports {
        for _ in 0..per_server {
            tokio::spawn(subscriber(
                port,
                ready_tx.clone(),
                round_rx.clone(),
                delay_tx.clone(),
            ));
        }
    }
    for _ in 0..count {
        tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
            .await
            .expect("subscribers registered in time");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut p50s, mut p99s, mut maxes) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        round_tx.send_replace(Some((round, Instant::now())));
        publish(ports[0]).await;
        let mut delays = Vec::with_capacity(count);
        while delays.len() < count {
            let (number, delay) = tokio::time::timeout(Duration::from_secs(60), delay_rx.recv())
                .await
                .expect("every subscriber got the event in time")
                .unwrap();
            if number == round {
                delays.push(delay);
            }
        }
        delays.sort();
        p50s.push(percentile(&delays, 0.5).as_secs_f64() * 1e3);
        p99s.push(percentile(&delays, 0.99).as_secs_f64() * 1e3);
        maxes.push(delays.last().unwrap().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Closing the round channel ends the subscribers' wait; dropping the
    // servers closes their connections.
    drop(round_tx);
    (median(&mut p50s), median(&mut p99s), median(&mut maxes))
}

/// Publishes per second through `port`'s hub: `n` events from
/// `concurrency` tasks at once, timed inside the server; the median of
/// three runs.
async fn publish_rate(port: u16, n: usize, concurrency: usize) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = format!(
            "POST /publish_many?n={n}&concurrency={concurrency} HTTP/1.1\r\nhost: bench\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let nanos: f64 = response
            .rsplit("\r\n\r\n")
            .next()
            .and_then(|body| body.trim().parse().ok())
            .expect("publish_many answers its time");
        rates.push(n as f64 / (nanos / 1e9));
    }
    median(&mut rates)
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let sizes: &[usize] = if quick { &[1000] } else { &[1000, 10_000] };
    println!("In process: one publish to N subscribers (medians of 5 publishes)");
    println!(
        "{:>12} {:>10} {:>10} {:>10} {:>14}",
        "subscribers", "p50 ms", "p99 ms", "max ms", "server B/sub"
    );
    for &count in sizes {
        let server = Server::start("hub");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = server.rss_bytes();
        let (p50, p99, max) = fan_out(&[server.port], count).await;
        let per_subscriber = server.rss_bytes().saturating_sub(before) as f64 / count as f64;
        println!("{count:>12} {p50:>10.2} {p99:>10.2} {max:>10.2} {per_subscriber:>14.0}");
        drop(server);
    }

    let Some(redis) = Redis::start() else {
        println!("NOTICE: redis-server is not installed; skipping the Redis comparison");
        return;
    };
    println!();
    println!("In process against Redis: 1,000 subscribers (through Redis: 500 on each of two");
    println!("servers, publishing through the first); publishes/s of small events, one at a");
    println!("time and 64 at once (medians of 3 runs of 20,000)");
    println!(
        "{:>24} {:>10} {:>10} {:>14} {:>14}",
        "hub", "p50 ms", "p99 ms", "publish/s x1", "publish/s x64"
    );
    const PUBLISHES: usize = 20_000;
    {
        let server = Server::start("hub");
        let (p50, p99, _) = fan_out(&[server.port], 1000).await;
        let one = publish_rate(server.port, PUBLISHES, 1).await;
        let many = publish_rate(server.port, PUBLISHES, 64).await;
        println!(
            "{:>24} {p50:>10.2} {p99:>10.2} {one:>14.0} {many:>14.0}",
            "in process"
        );
    }
    {
        let env = [("REDIS_URL", redis.url.as_str())];
        let first = Server::start_with("hub", &env);
        let second = Server::start_with("hub", &env);
        let (p50, p99, _) = fan_out(&[first.port, second.port], 500).await;
        let one = publish_rate(first.port, PUBLISHES, 1).await;
        let many = publish_rate(first.port, PUBLISHES, 64).await;
        println!(
            "{:>24} {p50:>10.2} {p99:>10.2} {one:>14.0} {many:>14.0}",
            "Redis, 2 instances"
        );
    }
}
