//! The benchmark server as a child process, and what `/proc` says about it.
//! Shared by the `e2e` and `hub` benchmarks (`#[path]`-included).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SERVER: &str = env!("CARGO_BIN_EXE_sse-bench-server");

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `sse-bench-server WHICH` and waits for its port.
    pub fn start(which: &str) -> Server {
        Server::start_with(which, &[])
    }

    /// Starts `sse-bench-server WHICH` with environment variables `env`.
    pub fn start_with(which: &str, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(SERVER)
            .arg(which)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sse-bench-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("server prints its port");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|port| port.parse().ok())
            .expect("`listening PORT`");
        Server { child, port }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time of all the server's threads so far, in nanoseconds.
    #[allow(dead_code, reason = "used by one of the two benchmarks")]
    pub fn cpu_ns(&self) -> u64 {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).expect("proc tasks");
        tasks
            .filter_map(|task| {
                let path = task.ok()?.path().join("schedstat");
                let text = std::fs::read_to_string(path).ok()?;
                text.split_whitespace().next()?.parse::<u64>().ok()
            })
            .sum()
    }

    /// Resident memory, from `/proc/PID/status`.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` of the benchmark's own, on a free port of 127.0.0.1,
/// keeping nothing on disk; killed when dropped.
#[allow(dead_code, reason = "used by one of the two benchmarks")]
pub struct Redis {
    child: Child,
    pub url: String,
}

#[allow(dead_code, reason = "used by one of the two benchmarks")]
impl Redis {
    /// `None` when `redis-server` is not installed.
    pub fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(Redis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
