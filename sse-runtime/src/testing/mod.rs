//! Testing SSE endpoints as a browser sees them (feature `testing`).
//!
//! * [`Parser`] follows the WHATWG HTML "Interpreting an event stream"
//!   algorithm exactly, and shares no code with the encoder.
//! * [`TestClient`] requests a stream from a `Router` in process or from a
//!   URL over TCP, and returns the events an `EventSource` would dispatch,
//!   the comments, and whether the stream ended.
//!
//! ```toml
//! [dev-dependencies]
//! sse-runtime = { path = "../sse-runtime", features = ["testing"] }
//! ```

mod client;
mod parser;

pub use client::{
    TestClient, TestRequest, TestStream, Transcript, COLLECT_TIMEOUTS, DEFAULT_TIMEOUT,
};
pub use parser::{parse_all, Parser, Received, ReceivedEvent};
