//! End-to-end: a load generator over loopback against `sse-bench-server`,
//! run as sse-runtime (`ours`) and as axum's `Sse` (`axum`) in alternation.
//!
//! `cargo bench --bench e2e` (add `-- --quick` for fewer, smaller runs,
//! `-- --bursts` or `-- --idle` for one half).
//!
//! For a burst of N events to one client it reports the server's CPU time
//! per event (summed over its threads from `/proc/PID/task/*/schedstat`,
//! nanosecond resolution), events/s and MB/s; for idle connections, the
//! server's resident memory per open stream. Each figure is the median of
//! several runs; the ratio column is ours / axum (below 1 is better for us on
//! CPU and memory). The load generator shares the machine's cores, so
//! events/s swings between runs while CPU per event stays steady: CPU per
//! event is the main figure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[path = "support/server.rs"]
mod server;

use server::Server;

/// Requests on the benchmark server.
trait Connect {
    fn connect(&self, path: &str, close: bool) -> TcpStream;
}

impl Connect for Server {
    fn connect(&self, path: &str, close: bool) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let connection = if close { "close" } else { "keep-alive" };
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: bench\r\nconnection: {connection}\r\n\r\n"
        )
        .unwrap();
        stream
    }
}

struct Burst {
    cpu_ns_per_event: f64,
    events_per_s: f64,
    mb_per_s: f64,
}

/// One client reads a whole burst; the server closes the connection after.
fn burst(server: &Server, path: &str, events: usize) -> Burst {
    let cpu_before = server.cpu_ns();
    let started = Instant::now();
    let mut stream = server.connect(path, true);
    let mut buffer = vec![0u8; 256 * 1024];
    let mut bytes = 0usize;
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => bytes += n,
            Err(error) => panic!("reading the burst: {error}"),
        }
    }
    let elapsed = started.elapsed();
    // Let the server finish its bookkeeping for this connection.
    std::thread::sleep(Duration::from_millis(20));
    let cpu = server.cpu_ns() - cpu_before;
    Burst {
        cpu_ns_per_event: cpu as f64 / events as f64,
        events_per_s: events as f64 / elapsed.as_secs_f64(),
        mb_per_s: bytes as f64 / elapsed.as_secs_f64() / 1e6,
    }
}

/// Server memory per idle open stream, measured over `connections`.
fn idle_cost(which: &str, connections: usize) -> f64 {
    let server = Server::start(which);
    // Warm up the runtime and allocator with one stream.
    let warm = open_idle(&server, 1);
    drop(warm);
    std::thread::sleep(Duration::from_millis(100));
    let before = server.rss_bytes();
    let streams = open_idle(&server, connections);
    std::thread::sleep(Duration::from_millis(200));
    let after = server.rss_bytes();
    drop(streams);
    (after.saturating_sub(before)) as f64 / connections as f64
}

/// Opens `n` streams and reads each one's first event, so that each is open
/// and idle on the server.
fn open_idle(server: &Server, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        streams.push(server.connect("/idle", false));
    }
    for stream in &mut streams {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 512];
        while !seen.windows(12).any(|w| w == b"data: open\n\n") {
            let read = stream.read(&mut buffer).expect("idle stream");
            assert!(read > 0, "idle stream closed");
            seen.extend_from_slice(&buffer[..read]);
        }
    }
    streams
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    // `--idle` measures only idle connections; `--bursts` only bursts.
    let idle_only = std::env::args().any(|arg| arg == "--idle");
    let bursts_only = std::env::args().any(|arg| arg == "--bursts");
    // `cargo bench` passes `--bench`; any other argument is a filter we ignore.
    let runs = if quick { 3 } else { 7 };
    let events = if quick { 50_000 } else { 200_000 };
    let big_events = if quick { 10_000 } else { 50_000 };
    let cases = [
        ("text 64 B", format!("/burst?n={events}&size=64"), events),
        (
            "text 4 KiB",
            format!("/burst?n={big_events}&size=4096"),
            big_events,
        ),
        ("json small", format!("/json?n={events}"), events),
    ];
    println!(
        "machine: {} cores; medians of {runs} alternated runs",
        num_cpus()
    );
    println!();
    println!(
        "{:<12} {:>9} {:>12} {:>12} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "burst",
        "events",
        "ours ns/ev",
        "axum ns/ev",
        "ratio cpu",
        "ours ev/s",
        "axum ev/s",
        "ours MB/s",
        "axum MB/s"
    );
    let ours = Server::start("ours");
    let axum = Server::start("axum");
    for (name, path, n) in cases.iter().filter(|_| !idle_only) {
        // Warm-up run on each.
        burst(&ours, path, *n);
        burst(&axum, path, *n);
        let (mut ours_cpu, mut axum_cpu) = (Vec::new(), Vec::new());
        let (mut ours_rate, mut axum_rate) = (Vec::new(), Vec::new());
        let (mut ours_mb, mut axum_mb) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let a = burst(&ours, path, *n);
            let b = burst(&axum, path, *n);
            ours_cpu.push(a.cpu_ns_per_event);
            axum_cpu.push(b.cpu_ns_per_event);
            ours_rate.push(a.events_per_s);
            axum_rate.push(b.events_per_s);
            ours_mb.push(a.mb_per_s);
            axum_mb.push(b.mb_per_s);
        }
        let (oc, ac) = (median(&mut ours_cpu), median(&mut axum_cpu));
        println!(
            "{:<12} {:>9} {:>12.0} {:>12.0} {:>12.2} {:>12.0} {:>10.0} {:>10.0} {:>8.0}",
            name,
            n,
            oc,
            ac,
            oc / ac,
            median(&mut ours_rate),
            median(&mut axum_rate),
            median(&mut ours_mb),
            median(&mut axum_mb),
        );
    }
    drop(ours);
    drop(axum);

    println!();
    println!(
        "{:<22} {:>14} {:>14} {:>10}",
        "idle streams", "ours B/conn", "axum B/conn", "ratio"
    );
    let sizes: &[usize] = match (quick, bursts_only) {
        (_, true) => &[],
        (true, false) => &[1000],
        (false, false) => &[1000, 10_000],
    };
    let idle_runs = if quick { 1 } else { 3 };
    for &connections in sizes {
        let (mut ours_cost, mut axum_cost) = (Vec::new(), Vec::new());
        for _ in 0..idle_runs {
            ours_cost.push(idle_cost("ours", connections));
            axum_cost.push(idle_cost("axum", connections));
        }
        let (o, a) = (median(&mut ours_cost), median(&mut axum_cost));
        println!(
            "{:<22} {:>14.0} {:>14.0} {:>10.3}",
            format!("{connections} open"),
            o,
            a,
            o / a
        );
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
