//! A private `redis-server` for one test: on a free port of 127.0.0.1, with
//! its own directory, stopped and restarted at will, killed when dropped.
//!
//! Without `redis-server` on `PATH`, [`RedisServer::start`] prints a notice
//! and returns `None` (the test then skips), except under `CI=true`, where
//! a missing server fails the test: CI installs it (`.ci/run`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    persist: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// A server that keeps nothing on disk (`--save ''`, no AOF): a restart
    /// loses its data.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with(false)
    }

    /// A server that writes every command to an append-only file: a restart
    /// keeps its data.
    pub fn start_persistent() -> Option<RedisServer> {
        RedisServer::start_with(true)
    }

    fn start_with(persist: bool) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("redis-server is not installed; under CI=true the Redis tests must run (.ci/run installs it)");
            }
            eprintln!("NOTICE: skipping a Redis test: redis-server is not on PATH (apt-get install redis-server)");
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sse-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis directory");
        let mut server = RedisServer {
            port,
            dir,
            persist,
            child: None,
        };
        server.restart();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server at once, as a crash would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and waits until it
    /// answers.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--protected-mode", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.persist {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        self.child = Some(command.spawn().expect("start redis-server"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs one command (inline protocol) and returns the raw reply, read
    /// until it is complete.
    pub fn command(&self, line: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        while reply_end(&reply, 0).is_none() {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// One field of `INFO`, as a number.
    pub fn info(&self, field: &str) -> u64 {
        let info = self.command("INFO");
        info.lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {field} in INFO"))
            .trim()
            .parse()
            .unwrap()
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut reply = [0u8; 7];
        matches!(stream.read(&mut reply), Ok(n) if reply[..n].starts_with(b"+PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the RESP reply starting at `at` in `buf` ends, if it is complete.
fn reply_end(buf: &[u8], at: usize) -> Option<usize> {
    let line_end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(&buf[at + 1..line_end]).ok()?;
    let after = line_end + 2;
    match buf.get(at)? {
        b'$' => {
            let len: i64 = header.parse().ok()?;
            if len < 0 {
                return Some(after);
            }
            let end = after + len as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' => {
            let count: i64 = header.parse().ok()?;
            let mut end = after;
            for _ in 0..count.max(0) {
                end = reply_end(buf, end)?;
            }
            Some(end)
        }
        _ => Some(after),
    }
}

/// A port of 127.0.0.1 free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}
