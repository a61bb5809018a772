//! An event stream parser that follows the WHATWG HTML algorithm
//! ("Interpreting an event stream", §9.2.6) step by step, as a browser's
//! `EventSource` does. It shares no code with the encoder: it is the oracle
//! the encoder is tested against.

use std::time::Duration;

/// One event as `EventSource` would dispatch it.
///
/// ```
/// use sse_runtime::testing::{parse_all, Received};
/// let parsed = parse_all(b"event: e\nid: 1\ndata: x\n\n");
/// let [Received::Event(event)] = parsed.as_slice() else { panic!("one event") };
/// assert_eq!((event.event_type.as_str(), event.data.as_str(), event.last_event_id.as_str()), ("e", "x", "1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    /// The event type: `message` unless the stream named another.
    pub event_type: String,
    /// The data, lines joined with LF.
    pub data: String,
    /// The last event id in force when the event was dispatched (ids persist
    /// across events until the stream sets another).
    pub last_event_id: String,
    /// The reconnection time the stream set with this event, if any.
    pub retry: Option<Duration>,
}

/// What the parser saw: events, and comments (which `EventSource` ignores but
/// tests may want to see).
///
/// ```
/// use sse_runtime::testing::{parse_all, Received};
/// let items = parse_all(b": hello\ndata: x\n\n");
/// assert!(matches!(&items[0], Received::Comment(text) if text == "hello"));
/// assert!(matches!(&items[1], Received::Event(event) if event.data == "x"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A dispatched event.
    Event(ReceivedEvent),
    /// A comment line's text, after the colon and one optional space.
    Comment(String),
}

/// An incremental parser: feed it bytes as they arrive, in chunks split
/// anywhere (even inside a UTF-8 sequence or a CRLF).
///
/// ```
/// use sse_runtime::testing::{Parser, Received};
///
/// let mut parser = Parser::new();
/// let mut seen = parser.feed(b"event: greeting\r\ndata: hel");
/// seen.extend(parser.feed(b"lo\r\n\r\n: note\n"));
/// assert!(matches!(&seen[0], Received::Event(e) if e.event_type == "greeting" && e.data == "hello"));
/// assert_eq!(seen[1], Received::Comment("note".into()));
/// ```
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes of an incomplete line (or of an incomplete UTF-8 sequence).
    pending: Vec<u8>,
    /// The previous chunk ended in CR: an LF starting the next one belongs to
    /// that line end.
    after_cr: bool,
    /// Whether the first bytes were seen (the BOM check applies once).
    started: bool,
    data: String,
    event_type: String,
    last_event_id: String,
    /// The id buffer that will become `last_event_id` on dispatch.
    id_buffer: String,
    retry: Option<Duration>,
    reconnection_time: Option<Duration>,
}

impl Parser {
    /// A parser at the start of a stream.
    ///
    /// ```
    /// assert!(sse_runtime::testing::Parser::new().feed(b"").is_empty());
    /// ```
    pub fn new() -> Self {
        Parser::default()
    }

    /// Parses the next chunk; returns what it completed.
    ///
    /// ```
    /// let mut parser = sse_runtime::testing::Parser::new();
    /// assert_eq!(parser.feed(b"data: x\n\n").len(), 1);
    /// ```
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Received> {
        let mut out = Vec::new();
        let mut chunk = chunk;
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        self.pending.extend_from_slice(chunk);
        if !self.started {
            // The stream must be long enough to tell whether it begins with
            // a BOM (EF BB BF) before any byte is used.
            if self.pending.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.pending) {
                return out;
            }
            self.started = true;
            if self.pending.starts_with(b"\xEF\xBB\xBF") {
                self.pending.drain(..3);
            }
        }
        let mut line_start = 0;
        let mut i = 0;
        while i < self.pending.len() {
            match self.pending[i] {
                b'\n' => {
                    let line = self.pending[line_start..i].to_vec();
                    self.process_line(&line, &mut out);
                    i += 1;
                    line_start = i;
                }
                b'\r' => {
                    let line = self.pending[line_start..i].to_vec();
                    self.process_line(&line, &mut out);
                    i += 1;
                    if i == self.pending.len() {
                        self.after_cr = true;
                    } else if self.pending[i] == b'\n' {
                        i += 1;
                    }
                    line_start = i;
                }
                _ => i += 1,
            }
        }
        self.pending.drain(..line_start);
        out
    }

    /// Ends the stream. An event not yet ended by a blank line is discarded,
    /// as the algorithm says; so is an unterminated last line.
    ///
    /// ```
    /// let mut parser = sse_runtime::testing::Parser::new();
    /// assert!(parser.feed(b"data: never dispatched\n").is_empty());
    /// parser.finish();
    /// ```
    pub fn finish(&mut self) {
        self.pending.clear();
        self.data.clear();
        self.event_type.clear();
    }

    /// The last event id, as `EventSource` would send it in `Last-Event-ID`.
    ///
    /// ```
    /// let mut parser = sse_runtime::testing::Parser::new();
    /// parser.feed(b"id: 7\ndata: x\n\n");
    /// assert_eq!(parser.last_event_id(), "7");
    /// ```
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream last set with `retry:`, if any.
    ///
    /// ```
    /// let mut parser = sse_runtime::testing::Parser::new();
    /// parser.feed(b"retry: 250\n\n");
    /// assert_eq!(parser.reconnection_time(), Some(std::time::Duration::from_millis(250)));
    /// ```
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.reconnection_time
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<Received>) {
        // Decoding happens per line: a line end is ASCII, so it never splits
        // a UTF-8 sequence, and invalid bytes become U+FFFD as the spec's
        // "UTF-8 decode" does.
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            let comment = comment.strip_prefix(' ').unwrap_or(comment);
            out.push(Received::Comment(comment.to_owned()));
            return;
        }
        let (field, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => self.event_type = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            // An id holding NUL is ignored.
            "id" if !value.contains('\0') => self.id_buffer = value.to_owned(),
            // Digits only; a number too large for u64 is treated as the
            // largest, which no browser distinguishes.
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let millis = value.parse::<u64>().unwrap_or(u64::MAX);
                self.retry = Some(Duration::from_millis(millis));
                self.reconnection_time = self.retry;
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Received>) {
        self.last_event_id = self.id_buffer.clone();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event_type = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event_type)
        };
        out.push(Received::Event(ReceivedEvent {
            event_type,
            data: std::mem::take(&mut self.data),
            last_event_id: self.last_event_id.clone(),
            retry: self.retry.take(),
        }));
        self.event_type.clear();
    }
}

/// Parses a whole stream at once (then ends it).
///
/// ```
/// let events = sse_runtime::testing::parse_all(b"data: a\n\ndata: b\n\ndata: cut off");
/// assert_eq!(events.len(), 2);
/// ```
pub fn parse_all(stream: &[u8]) -> Vec<Received> {
    let mut parser = Parser::new();
    let out = parser.feed(stream);
    parser.finish();
    out
}
