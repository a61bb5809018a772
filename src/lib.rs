//! The applications the examples serve and the tests drive: `demo`, `chat`
//! and `llm`, and how the examples listen. The examples (`examples/*/main.rs`)
//! only start them; the integration tests build them with `app(..)`.

pub mod chat;
pub mod demo;
pub mod llm;

use std::net::SocketAddr;

/// Binds `addr` with a deep accept backlog (4096), so that many
/// simultaneous connects are not refused; `TcpListener::bind` asks for 1024,
/// and SSE servers see bursts of reconnects.
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Binds 127.0.0.1 on the port in the `PORT` environment variable, or on
/// `default` (see [`bind`]): how the examples listen.
pub fn bind_port_from_env(default: u16) -> std::io::Result<tokio::net::TcpListener> {
    let port = match std::env::var("PORT") {
        Ok(text) => text.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("PORT must be a port number, got {text:?}"),
            )
        })?,
        Err(_) => default,
    };
    bind(([127, 0, 0, 1], port).into())
}
