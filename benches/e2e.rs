//! End-to-end: a load generator over loopback against `sse-bench-server`,
//! run as sse-runtime (`ours`) and as axum's `Sse` (`axum`) in alternation.
//!
//! `cargo bench --bench e2e` (add `-- --quick` for fewer, smaller runs,
//! `-- --bursts` or `-- --idle` for one half, `-- --compression` for the
//! compressed streams alone: bytes on the wire, server CPU per event and
//! memory per idle stream, uncompressed and in each encoding).
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
    fn connect(&self, path: &str, close: bool) -> TcpStream {
        self.connect_with(path, close, None)
    }
    /// With `Accept-Encoding: ENCODING` when one is given.
    fn connect_with(&self, path: &str, close: bool, encoding: Option<&str>) -> TcpStream;
}

impl Connect for Server {
    fn connect_with(&self, path: &str, close: bool, encoding: Option<&str>) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let connection = if close { "close" } else { "keep-alive" };
        let accept = encoding
            .map(|encoding| format!("accept-encoding: {encoding}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: bench\r\nconnection: {connection}\r\n{accept}\r\n"
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
    burst_with(server, path, events, None)
}

fn burst_with(server: &Server, path: &str, events: usize, encoding: Option<&str>) -> Burst {
    let cpu_before = server.cpu_ns();
    let started = Instant::now();
    let mut stream = server.connect_with(path, true, encoding);
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

/// [`idle_cost`] of `/compressed/idle` on `ours-all`, the stream in
/// `encoding` (or none).
fn idle_cost_compressed(encoding: Option<&str>, connections: usize) -> f64 {
    let server = Server::start("ours-all");
    let open = |n: usize| {
        let mut streams: Vec<TcpStream> = (0..n)
            .map(|_| server.connect_with("/compressed/idle", false, encoding))
            .collect();
        for stream in &mut streams {
            read_first_chunk(stream);
        }
        streams
    };
    drop(open(1));
    std::thread::sleep(Duration::from_millis(100));
    let before = server.rss_bytes();
    let streams = open(connections);
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

/// Reads a chunked response's headers and its first chunk (the first
/// event, compressed or not).
fn read_first_chunk(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = &seen[end + 4..];
            if let Some(line) = body.windows(2).position(|w| w == b"\r\n") {
                let size = std::str::from_utf8(&body[..line])
                    .ok()
                    .and_then(|hex| usize::from_str_radix(hex.trim(), 16).ok())
                    .expect("a chunk size");
                if body.len() >= line + 2 + size + 2 {
                    return;
                }
            }
        }
        let read = stream.read(&mut buffer).expect("idle stream");
        assert!(read > 0, "idle stream closed");
        seen.extend_from_slice(&buffer[..read]);
    }
}

/// The body of an HTTP/1.1 response read to its end: what follows the
/// headers, chunked framing included (bytes on the wire but for headers).
fn body_bytes(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read the response");
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    all.split_off(end + 4)
}

/// Bytes on the wire for whole streams of the examples, uncompressed and
/// in each encoding: the llm example's answer, the demo's JSON updates,
/// and 64-byte text events one per frame (1 ms apart) and in a burst.
fn wire_bytes() {
    let apps = Server::start("apps");
    let ours = Server::start("ours-all");
    let llm = |encoding: Option<&str>| {
        let body = r#"{"model":"bench","stream":true,"messages":[{"role":"user","content":"how much does compression save on an answer streamed token by token?"}]}"#;
        let mut stream = TcpStream::connect(("127.0.0.1", apps.port)).expect("connect");
        let accept = encoding
            .map(|encoding| format!("accept-encoding: {encoding}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST /llm/v1/chat/completions HTTP/1.1\r\nhost: bench\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{accept}\r\n{body}",
            body.len()
        )
        .unwrap();
        body_bytes(&mut stream).len()
    };
    let get = |server: &Server, path: &str, encoding: Option<&str>| {
        body_bytes(&mut server.connect_with(path, true, encoding)).len()
    };
    let encodings = [None, Some("gzip"), Some("zstd"), Some("br")];
    println!();
    println!(
        "{:<34} {:>10} {:>14} {:>14} {:>14}",
        "bytes on the wire (body)", "plain", "gzip", "zstd", "br"
    );
    type Fetch<'a> = Box<dyn Fn(Option<&str>) -> usize + 'a>;
    let rows: [(&str, Fetch); 4] = [
        ("llm example, one answer", Box::new(llm)),
        (
            "demo /updates, 10 JSON events",
            Box::new(|e| get(&apps, "/demo/updates?interval_ms=1", e)),
        ),
        (
            "text 64 B x 200, one per frame",
            Box::new(|e| get(&ours, "/compressed/spaced?n=200&size=64", e)),
        ),
        (
            "text 64 B x 200, burst",
            Box::new(|e| get(&ours, "/compressed/burst?n=200&size=64", e)),
        ),
    ];
    for (name, fetch) in rows {
        let sizes: Vec<usize> = encodings.iter().map(|e| fetch(*e)).collect();
        let cell = |n: usize| format!("{} ({:.3})", n, n as f64 / sizes[0] as f64);
        println!(
            "{:<34} {:>10} {:>14} {:>14} {:>14}",
            name,
            sizes[0],
            cell(sizes[1]),
            cell(sizes[2]),
            cell(sizes[3])
        );
    }
}

/// Server CPU per event, uncompressed and in each encoding, alternated
/// run by run; and memory per idle stream in each.
fn compression(quick: bool) {
    let runs = if quick { 3 } else { 7 };
    let events = if quick { 50_000 } else { 200_000 };
    let spaced = if quick { 500 } else { 2_000 };
    let server = Server::start("ours-all");
    let encodings = [None, Some("gzip"), Some("zstd"), Some("br")];
    println!();
    println!(
        "{:<26} {:>12} {:>12} {:>12} {:>12}",
        "server CPU ns/event", "plain", "gzip", "zstd", "br"
    );
    let cases = [
        (
            "text 64 B, burst",
            format!("/compressed/burst?n={events}&size=64"),
            events,
        ),
        (
            "json small, burst",
            format!("/compressed/json?n={events}"),
            events,
        ),
        (
            "text 64 B, one per frame",
            format!("/compressed/spaced?n={spaced}&size=64"),
            spaced,
        ),
    ];
    for (name, path, n) in &cases {
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); encodings.len()];
        for encoding in encodings {
            burst_with(&server, path, *n, encoding);
        }
        for _ in 0..runs {
            for (i, encoding) in encodings.iter().enumerate() {
                cpu[i].push(burst_with(&server, path, *n, *encoding).cpu_ns_per_event);
            }
        }
        let medians: Vec<f64> = cpu.iter_mut().map(|values| median(values)).collect();
        println!(
            "{:<26} {:>12.0} {:>12.0} {:>12.0} {:>12.0}",
            name, medians[0], medians[1], medians[2], medians[3]
        );
    }
    drop(server);
    // 2,000 rather than 10,000: a Brotli stream keeps hundreds of KiB, and
    // the cost per stream does not change with the count.
    let connections = if quick { 1_000 } else { 2_000 };
    let idle_runs = if quick { 1 } else { 3 };
    let mut cost: Vec<Vec<f64>> = vec![Vec::new(); encodings.len()];
    for _ in 0..idle_runs {
        for (i, encoding) in encodings.iter().enumerate() {
            cost[i].push(idle_cost_compressed(*encoding, connections));
        }
    }
    let medians: Vec<f64> = cost.iter_mut().map(|values| median(values)).collect();
    println!(
        "{:<26} {:>12.0} {:>12.0} {:>12.0} {:>12.0}",
        format!("idle B/conn, {connections}"),
        medians[0],
        medians[1],
        medians[2],
        medians[3]
    );
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
    let compression_only = std::env::args().any(|arg| arg == "--compression");
    if compression_only {
        println!("machine: {} cores; load {}", num_cpus(), load());
        wire_bytes();
        compression(quick);
        return;
    }
    // `cargo bench` passes `--bench`; any other argument is a filter we ignore.
    let runs = if quick { 3 } else { 7 };
    let events = if quick { 50_000 } else { 200_000 };
    let big_events = if quick { 10_000 } else { 50_000 };
    let cases = [
        ("text 64 B", format!("/burst?n={events}&size=64"), events),
        (
            "text 1 KiB",
            format!("/burst?n={big_events}&size=1024"),
            big_events,
        ),
        (
            "text 4 KiB",
            format!("/burst?n={big_events}&size=4096"),
            big_events,
        ),
        ("json small", format!("/json?n={events}"), events),
    ];
    println!(
        "machine: {} cores; medians of {runs} alternated runs; load {}",
        num_cpus(),
        load()
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

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
