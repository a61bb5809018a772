//! A hub event's id, and the clock ids are made from.
//!
//! Ids are `<milliseconds>-<sequence>`, the form Redis Streams uses, so that
//! an id means the same on every process sharing a hub, and one from before
//! a restart reads as older than anything issued since.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A hub event's id: the milliseconds since the Unix epoch when it was
/// stored, and a sequence number among the events of that millisecond.
/// Written `<ms>-<seq>` on the wire (as Redis Streams writes its ids), and
/// ordered as published.
///
/// ```
/// use sse_runtime::hub::EventId;
/// let id: EventId = "1700000000000-3".parse().unwrap();
/// assert_eq!((id.ms(), id.seq()), (1_700_000_000_000, 3));
/// assert_eq!(id.to_string(), "1700000000000-3");
/// assert!(id < EventId::new(1_700_000_000_001, 0));
/// assert!("7".parse::<EventId>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    ms: u64,
    seq: u64,
}

impl EventId {
    /// The id `<ms>-<seq>`.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::EventId::new(5, 1).to_string(), "5-1");
    /// ```
    pub const fn new(ms: u64, seq: u64) -> EventId {
        EventId { ms, seq }
    }

    /// The milliseconds part.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::EventId::new(5, 1).ms(), 5);
    /// ```
    pub const fn ms(&self) -> u64 {
        self.ms
    }

    /// The sequence part.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::EventId::new(5, 1).seq(), 1);
    /// ```
    pub const fn seq(&self) -> u64 {
        self.seq
    }

    /// The id after this one for an event stored at `now_ms`: later
    /// milliseconds start a new sequence; the same or an earlier one (the
    /// clock stepped back) continues this one's.
    pub(crate) fn next_at(self, now_ms: u64) -> EventId {
        if now_ms > self.ms {
            EventId::new(now_ms, 0)
        } else {
            EventId::new(self.ms, self.seq + 1)
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The error of parsing text that is not an [`EventId`].
///
/// ```
/// assert!("abc".parse::<sse_runtime::hub::EventId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseEventIdError;

impl fmt::Display for ParseEventIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a hub event id (expected <milliseconds>-<sequence>)")
    }
}

impl std::error::Error for ParseEventIdError {}

impl FromStr for EventId {
    type Err = ParseEventIdError;

    fn from_str(text: &str) -> Result<EventId, ParseEventIdError> {
        let (ms, seq) = text.split_once('-').ok_or(ParseEventIdError)?;
        let digits = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseEventIdError);
            }
            part.parse::<u64>().map_err(|_| ParseEventIdError)
        };
        Ok(EventId::new(digits(ms)?, digits(seq)?))
    }
}

/// Milliseconds since the Unix epoch, on the system clock.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Where a subscription starts: after the event a client saw last, or
/// (with no id) at the next live event. What [`Hub::subscribe`](super::Hub::subscribe)
/// accepts: made from the [`LastEventId`](crate::LastEventId) extractor,
/// an id as text, or an `Option<&str>`; the hub itself knows nothing of
/// requests. Not public API: it is only named in signatures (the type is
/// public so that it may be, and reachable at no path).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LastSeen<'a>(Option<&'a str>);

impl<'a> LastSeen<'a> {
    /// The id, or `None` to start with live events.
    pub fn id(&self) -> Option<&'a str> {
        self.0
    }
}

impl<'a> From<Option<&'a str>> for LastSeen<'a> {
    fn from(id: Option<&'a str>) -> Self {
        LastSeen(id)
    }
}

impl<'a> From<&'a str> for LastSeen<'a> {
    fn from(id: &'a str) -> Self {
        LastSeen(Some(id))
    }
}

impl<'a> From<&'a String> for LastSeen<'a> {
    fn from(id: &'a String) -> Self {
        LastSeen(Some(id))
    }
}
