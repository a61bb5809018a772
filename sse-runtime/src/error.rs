//! Why an event could not be built: the one error type the encoder and the
//! event builder share (its own module, so that neither depends on the
//! other for it).

use std::fmt;

/// Why an event could not be built. Nothing is ever sent for a refused event:
/// sending a changed event name or id would silently deliver a different
/// event, and sending it unchanged could forge fields.
///
/// Yielding a refused event from a handler ends the stream, logs the error
/// with `tracing`, and, with `error_event = true`, sends a final `error`
/// event (see [`SseConfig`](crate::SseConfig)).
///
/// ```
/// use sse_runtime::{event, EventError};
/// let id = String::from("7\r\nevent: forged");
/// assert!(matches!(event!(data: "x", id: id), Err(EventError::LineBreakInId)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum EventError {
    /// The event name holds CR or LF, which would end the `event:` line early
    /// and let the rest of the name be read as another field.
    LineBreakInEventName,
    /// The id holds CR or LF, which would end the `id:` line early.
    LineBreakInId,
    /// The id holds NUL; the receiver ignores such an `id` field entirely.
    NulInId,
    /// The retry time is negative; it holds the value given.
    NegativeRetry(i128),
    /// The retry duration is longer than `u64::MAX` milliseconds.
    RetryTooLong,
    /// The JSON data could not be serialized.
    Json(serde_json::Error),
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::LineBreakInEventName => {
                f.write_str("event name contains a line break (CR or LF)")
            }
            EventError::LineBreakInId => f.write_str("event id contains a line break (CR or LF)"),
            EventError::NulInId => f.write_str("event id contains a NUL character"),
            EventError::NegativeRetry(value) => {
                write!(f, "retry time is negative ({value} ms)")
            }
            EventError::RetryTooLong => f.write_str("retry time exceeds u64::MAX milliseconds"),
            EventError::Json(error) => {
                write!(f, "event data could not be serialized as JSON: {error}")
            }
        }
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EventError::Json(error) => Some(error),
            _ => None,
        }
    }
}
