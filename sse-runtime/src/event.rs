//! The event type: one encoded `text/event-stream` frame, and its builder.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::encode;
use crate::error::EventError;

/// One frame of an event stream, already encoded: an event, a comment or a
/// keep-alive.
///
/// An `Event` is built once and is cheap to clone (a reference-counted byte
/// buffer), so the same event can be sent to many clients without encoding it
/// again. The usual way to make one is the [`event!`](crate::event!),
/// [`comment!`](crate::comment!) and [`keep_alive!`](crate::keep_alive!)
/// macros; [`Event::builder`] is the same thing as plain method calls.
///
/// ```
/// use sse_runtime::Event;
///
/// let event = Event::builder().event("greeting").id(&7).data("Hello")?;
/// assert_eq!(event.as_bytes(), b"event: greeting\nid: 7\ndata: Hello\n\n");
/// # Ok::<(), sse_runtime::EventError>(())
/// ```
#[derive(Clone)]
pub struct Event {
    frame: Bytes,
    /// Encoded once and sent to many streams (by the hub): written as its
    /// own frame, never copied into a stream's batch. Not part of what the
    /// event is: two events are equal when they send the same bytes.
    shared: bool,
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.frame == other.frame
    }
}

impl Eq for Event {}

impl std::hash::Hash for Event {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.frame.hash(state);
    }
}

impl Event {
    /// Starts an event with optional fields; finish it with
    /// [`EventBuilder::data`] or [`EventBuilder::json`].
    ///
    /// ```
    /// let event = sse_runtime::Event::builder().retry(std::time::Duration::from_secs(5)).data("x")?;
    /// assert_eq!(event.as_bytes(), b"retry: 5000\ndata: x\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn builder<'a>() -> EventBuilder<'a> {
        EventBuilder::default()
    }

    /// An event of the default type (`message`) whose data is `text`.
    ///
    /// Text data can always be sent, so this cannot fail.
    ///
    /// ```
    /// let event = sse_runtime::Event::data("two\nlines");
    /// assert_eq!(event.as_bytes(), b"data: two\ndata: lines\n\n");
    /// ```
    pub fn data<T: AsRef<str> + ?Sized>(text: &T) -> Event {
        let mut out = Vec::with_capacity(text.as_ref().len() + 8);
        encode::put_data_lines(&mut out, text.as_ref());
        encode::put_end_of_event(&mut out);
        Event {
            frame: Bytes::from(out),
            shared: false,
        }
    }

    /// An event of the default type whose data is `value` as compact JSON.
    ///
    /// ```
    /// let event = sse_runtime::Event::json(&serde_json::json!({"a": 1}))?;
    /// assert_eq!(event.as_bytes(), b"data: {\"a\":1}\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Event, EventError> {
        EventBuilder::default().json(value)
    }

    /// A comment: ignored by `EventSource`, useful for debugging with `curl`
    /// and for keeping a connection busy. A comment holding line breaks is
    /// sent as several comment lines, so it can never start a field.
    ///
    /// ```
    /// let comment = sse_runtime::Event::comment("Starting process");
    /// assert_eq!(comment.as_bytes(), b": Starting process\n\n");
    /// ```
    pub fn comment<T: AsRef<str> + ?Sized>(text: &T) -> Event {
        let mut out = Vec::new();
        encode::put_comment(&mut out, text.as_ref());
        Event {
            frame: Bytes::from(out),
            shared: false,
        }
    }

    /// The keep-alive frame, an empty comment (`:\n\n`). Allocates nothing.
    ///
    /// ```
    /// assert_eq!(sse_runtime::Event::keep_alive().as_bytes(), b":\n\n");
    /// ```
    pub fn keep_alive() -> Event {
        Event {
            frame: Bytes::from_static(encode::KEEP_ALIVE_FRAME),
            shared: false,
        }
    }

    /// An event whose bytes many streams share.
    pub(crate) fn shared(frame: Bytes) -> Event {
        Event {
            frame,
            shared: true,
        }
    }

    pub(crate) fn is_shared(&self) -> bool {
        self.shared
    }

    /// The encoded bytes, exactly as they are written to the client.
    ///
    /// ```
    /// assert_eq!(sse_runtime::Event::data("x").as_bytes(), b"data: x\n\n");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.frame
    }

    /// The encoded bytes as a shared buffer, without copying.
    ///
    /// ```
    /// let bytes: bytes::Bytes = sse_runtime::Event::data("x").into_bytes();
    /// assert_eq!(&bytes[..], b"data: x\n\n");
    /// ```
    pub fn into_bytes(self) -> Bytes {
        self.frame
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Event")
            .field(&String::from_utf8_lossy(&self.frame))
            .finish()
    }
}

/// A comment or keep-alive: ignored by `EventSource`, and accepted by every
/// handler, typed or not. What [`comment!`](crate::comment!) and
/// [`keep_alive!`](crate::keep_alive!) make.
///
/// ```
/// let comment = sse_runtime::Comment::new("two\nlines");
/// assert_eq!(comment.as_bytes(), b": two\n: lines\n\n");
/// assert_eq!(sse_runtime::Comment::keep_alive().as_bytes(), b":\n\n");
/// let event: sse_runtime::Event = comment.into();
/// # let _ = event;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Comment {
    event: Event,
}

impl Comment {
    /// A comment; line breaks make several comment lines (see
    /// [`Event::comment`]).
    ///
    /// ```
    /// assert_eq!(sse_runtime::Comment::new("hi").as_bytes(), b": hi\n\n");
    /// ```
    pub fn new<T: AsRef<str> + ?Sized>(text: &T) -> Comment {
        Comment {
            event: Event::comment(text),
        }
    }

    /// The keep-alive, an empty comment (`:\n\n`).
    ///
    /// ```
    /// assert_eq!(sse_runtime::Comment::keep_alive().as_bytes(), b":\n\n");
    /// ```
    pub fn keep_alive() -> Comment {
        Comment {
            event: Event::keep_alive(),
        }
    }

    /// The encoded bytes.
    ///
    /// ```
    /// assert_eq!(sse_runtime::comment!("x").as_bytes(), b": x\n\n");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.event.as_bytes()
    }
}

impl From<Comment> for Event {
    fn from(comment: Comment) -> Event {
        comment.event
    }
}

impl fmt::Debug for Comment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Comment")
            .field(&String::from_utf8_lossy(self.as_bytes()))
            .finish()
    }
}

impl IntoEvent for Comment {
    fn into_event(self) -> Result<Event, EventError> {
        Ok(self.event)
    }
}

/// Collects an event's optional fields; [`data`](Self::data) or
/// [`json`](Self::json) encodes them together with the data.
///
/// Fields are written in a fixed order (`event`, `id`, `retry`, then data)
/// whatever order they were set in; the order of fields inside one event does
/// not change what the receiver sees. Setting a field twice keeps the last
/// value. A refused value (see [`EventError`]) is reported by the finishing
/// call.
///
/// ```
/// use sse_runtime::{Event, EventError};
///
/// let refused = Event::builder().event("bad\nname").data("x");
/// assert!(matches!(refused, Err(EventError::LineBreakInEventName)));
/// ```
#[derive(Debug, Default)]
#[must_use = "an event builder does nothing until `.data(..)` or `.json(..)` finishes it"]
pub struct EventBuilder<'a> {
    event: Option<&'a str>,
    id: Option<IdRepr<'a>>,
    retry: Option<u64>,
    error: Option<EventError>,
}

impl<'a> EventBuilder<'a> {
    /// Sets the event type (`event:`); without it the browser dispatches a
    /// `message` event. A name holding CR or LF is refused.
    ///
    /// ```
    /// let event = sse_runtime::Event::builder().event("time").data("now")?;
    /// assert_eq!(event.as_bytes(), b"event: time\ndata: now\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn event<T: AsRef<str> + ?Sized>(mut self, name: &'a T) -> Self {
        let name = name.as_ref();
        match encode::check_event_name(name) {
            Ok(()) => self.event = Some(name),
            Err(error) => self.refuse(error),
        }
        self
    }

    /// Sets the event id (`id:`), which the browser sends back as
    /// `Last-Event-ID` when it reconnects: a string or an integer. An id
    /// holding CR, LF or NUL is refused. An empty id is sent, and resets the
    /// browser's last event id.
    ///
    /// ```
    /// let event = sse_runtime::Event::builder().id(&42u64).data("x")?;
    /// assert_eq!(event.as_bytes(), b"id: 42\ndata: x\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn id<T: EventIdValue + ?Sized>(mut self, id: &'a T) -> Self {
        let id = id.to_id_repr();
        if let IdRepr::Text(text) = id {
            if let Err(error) = encode::check_id(text) {
                self.refuse(error);
                return self;
            }
        }
        self.id = Some(id);
        self
    }

    /// Sets the reconnection time (`retry:`): milliseconds as an integer, or
    /// a [`Duration`] (whole milliseconds; a fraction of a millisecond is
    /// dropped). A negative integer is refused.
    ///
    /// ```
    /// let event = sse_runtime::Event::builder().retry(5000).data("x")?;
    /// assert_eq!(event.as_bytes(), b"retry: 5000\ndata: x\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn retry<T: RetryValue>(mut self, retry: T) -> Self {
        match retry.to_milliseconds() {
            Ok(milliseconds) => self.retry = Some(milliseconds),
            Err(error) => self.refuse(error),
        }
        self
    }

    /// Finishes the event with text data.
    ///
    /// ```
    /// let event = sse_runtime::Event::builder().event("e").data("")?;
    /// assert_eq!(event.as_bytes(), b"event: e\ndata: \n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn data<T: AsRef<str> + ?Sized>(self, text: &T) -> Result<Event, EventError> {
        let text = text.as_ref();
        let mut out = self.start_frame(text.len())?;
        encode::put_data_lines(&mut out, text);
        encode::put_end_of_event(&mut out);
        Ok(Event {
            frame: Bytes::from(out),
            shared: false,
        })
    }

    /// Finishes the event with `value` serialized as compact JSON, written
    /// straight into the event's buffer.
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Count { count: u32 }
    /// let event = sse_runtime::Event::builder().event("update").json(&Count { count: 1 })?;
    /// assert_eq!(event.as_bytes(), b"event: update\ndata: {\"count\":1}\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Event, EventError> {
        let mut out = self.start_frame(64)?;
        encode::put_json_data(&mut out, value).map_err(EventError::Json)?;
        encode::put_end_of_event(&mut out);
        Ok(Event {
            frame: Bytes::from(out),
            shared: false,
        })
    }

    fn refuse(&mut self, error: EventError) {
        // The first refusal is the one reported: it names the first bad field.
        self.error.get_or_insert(error);
    }

    /// Allocates the frame once, sized for the fields plus `data_len`, and
    /// writes the fields that precede the data.
    fn start_frame(self, data_len: usize) -> Result<Vec<u8>, EventError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut digits = itoa::Buffer::new();
        let id = self.id.map(|id| match id {
            IdRepr::Text(text) => text,
            IdRepr::Unsigned(n) => digits.format(n),
            IdRepr::Signed(n) => digits.format(n),
        });
        let capacity = data_len
            + b"data: \n\n".len()
            + self.event.map_or(0, |name| name.len() + b"event: \n".len())
            + id.map_or(0, |id| id.len() + b"id: \n".len())
            + self
                .retry
                .map_or(0, |_| b"retry: 18446744073709551615\n".len());
        let mut out = Vec::with_capacity(capacity);
        if let Some(name) = self.event {
            encode::put_event_name(&mut out, name);
        }
        if let Some(id) = id {
            encode::put_id(&mut out, id);
        }
        if let Some(milliseconds) = self.retry {
            encode::put_retry(&mut out, milliseconds);
        }
        Ok(out)
    }
}

/// How an id is held until the frame is written: borrowed text, or an integer
/// formatted only then.
#[derive(Debug, Clone, Copy)]
#[doc(hidden)]
pub enum IdRepr<'a> {
    Text(&'a str),
    Unsigned(u64),
    Signed(i64),
}

/// A value usable as an event id: text (`str`, `String`, `Cow<str>`,
/// `Box<str>`, `Arc<str>`) or an integer.
///
/// ```
/// let text = String::from("abc");
/// let event = sse_runtime::Event::builder().id(&text).data("x")?;
/// assert_eq!(event.as_bytes(), b"id: abc\ndata: x\n\n");
/// # Ok::<(), sse_runtime::EventError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as an SSE event id",
    label = "an event id must be text (`&str`, `String`, ...) or an integer"
)]
pub trait EventIdValue {
    #[doc(hidden)]
    fn to_id_repr(&self) -> IdRepr<'_>;
}

impl EventIdValue for str {
    fn to_id_repr(&self) -> IdRepr<'_> {
        IdRepr::Text(self)
    }
}

macro_rules! id_from_text {
    ($($ty:ty),*) => {$(
        impl EventIdValue for $ty {
            fn to_id_repr(&self) -> IdRepr<'_> {
                IdRepr::Text(self)
            }
        }
    )*};
}
id_from_text!(
    String,
    Cow<'_, str>,
    Box<str>,
    std::sync::Arc<str>,
    std::rc::Rc<str>
);

macro_rules! id_from_integer {
    ($variant:ident as $wide:ty: $($ty:ty),*) => {$(
        impl EventIdValue for $ty {
            fn to_id_repr(&self) -> IdRepr<'_> {
                // Lossless: every listed type fits in the wide type.
                IdRepr::$variant(*self as $wide)
            }
        }
    )*};
}
id_from_integer!(Unsigned as u64: u8, u16, u32, u64, usize);
id_from_integer!(Signed as i64: i8, i16, i32, i64, isize);

impl<T: EventIdValue + ?Sized> EventIdValue for &T {
    fn to_id_repr(&self) -> IdRepr<'_> {
        (**self).to_id_repr()
    }
}

/// A value usable as a retry time: milliseconds as an integer, or a
/// [`Duration`].
///
/// ```
/// use std::time::Duration;
/// let event = sse_runtime::Event::builder().retry(Duration::from_millis(1500)).data("x")?;
/// assert_eq!(event.as_bytes(), b"retry: 1500\ndata: x\n\n");
/// # Ok::<(), sse_runtime::EventError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as an SSE retry time",
    label = "retry must be milliseconds as an integer, or a `std::time::Duration`"
)]
pub trait RetryValue {
    /// The retry time in whole milliseconds, or why it cannot be sent.
    ///
    /// ```
    /// use sse_runtime::RetryValue;
    /// assert_eq!(std::time::Duration::from_secs(2).to_milliseconds().unwrap(), 2000);
    /// assert!((-1i32).to_milliseconds().is_err());
    /// ```
    fn to_milliseconds(self) -> Result<u64, EventError>;
}

impl RetryValue for Duration {
    fn to_milliseconds(self) -> Result<u64, EventError> {
        u64::try_from(self.as_millis()).map_err(|_| EventError::RetryTooLong)
    }
}

macro_rules! retry_from_integer {
    ($($ty:ty),*) => {$(
        impl RetryValue for $ty {
            fn to_milliseconds(self) -> Result<u64, EventError> {
                u64::try_from(self).map_err(|_| EventError::NegativeRetry(self as i128))
            }
        }
    )*};
}
retry_from_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// What a handler can yield: an [`Event`], or a `Result<Event, EventError>`
/// as returned by [`event!`](crate::event!) and [`EventBuilder`].
///
/// Yielding an `Err` ends the stream (see [`EventError`]).
///
/// ```
/// use sse_runtime::{Event, IntoEvent};
/// assert!(Event::data("x").into_event().is_ok());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be yielded from an SSE handler",
    label = "expected an SSE event",
    note = "yield an `Event` (build one with `event!(..)`), a `#[derive(SseEvent)]` value, `comment!(..)` or `keep_alive!()`"
)]
pub trait IntoEvent {
    /// Converts into the event to send, or the reason it cannot be sent.
    ///
    /// ```
    /// use sse_runtime::IntoEvent;
    /// let event = sse_runtime::comment!("note").into_event()?;
    /// assert_eq!(event.as_bytes(), b": note\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    fn into_event(self) -> Result<Event, EventError>;
}

impl IntoEvent for Event {
    fn into_event(self) -> Result<Event, EventError> {
        Ok(self)
    }
}

impl IntoEvent for Result<Event, EventError> {
    fn into_event(self) -> Result<Event, EventError> {
        self
    }
}
