//! What a subscription yields: a published event, or one of the hub's own
//! notices, each a type of its own.
//!
//! A notice is the library's signal, never an event a publisher sent: the
//! hub decides it from its own state (a cursor that fell behind, an id it
//! does not hold), and nothing reads an event's bytes to tell one from the
//! other. A notice becomes SSE bytes only where a response is written
//! ([`IntoEvent`]), under the names in [`NoticeNames`], so a publisher may
//! itself send events named `lagged` or `reset`, and its subscribers receive
//! exactly what it sent.

use std::fmt;

use bytes::Bytes;

use crate::encode;
use crate::error::EventError;
use crate::event::{Event, IntoEvent};

/// One item of a [`Subscription`](super::Subscription): an event published
/// to one of its topics, or a notice from the hub. Yield it as it is
/// (`yield_!(item)`) to forward everything, or `match` it to act on a
/// notice.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{Delivery, Hub};
///
/// let hub = Hub::new();
/// let mut subscription = hub.subscribe(&["news"], Some("1-0"));
/// hub.publish("news", sse_runtime::event!("hello")).await.unwrap();
/// // `1-0` was never issued: the hub says so before the live events.
/// match subscription.next().await.unwrap() {
///     Delivery::Reset(reset) => assert_eq!(reset.last_event_id(), "1-0"),
///     other => panic!("{other:?}"),
/// }
/// let Delivery::Event(event) = subscription.next().await.unwrap() else { panic!() };
/// assert!(event.as_bytes().starts_with(b"data: hello\nid: "));
/// # });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Delivery {
    /// An event published to one of the subscription's topics, with the
    /// hub's `id:` as its last field.
    Event(Event),
    /// The subscriber fell behind what the hub holds.
    Lagged(Lagged),
    /// The id the subscriber resumed after is not one the hub holds.
    Reset(Reset),
}

impl IntoEvent for Delivery {
    fn into_event(self) -> Result<Event, EventError> {
        match self {
            Delivery::Event(event) => Ok(event),
            Delivery::Lagged(lagged) => lagged.into_event(),
            Delivery::Reset(reset) => reset.into_event(),
        }
    }
}

/// The notice that a subscriber fell behind: events of its topics were
/// evicted before it read them. Written as `event: lagged` (see
/// [`NoticeNames`]) whose data is [`missed`](Self::missed). With
/// [`LagPolicy::Disconnect`](super::LagPolicy::Disconnect) the subscription
/// ends after it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{Delivery, Hub, HubConfig};
/// let hub = Hub::with_config(HubConfig { replay: 2, ..HubConfig::default() });
/// let mut slow = hub.subscribe(&["t"], None);
/// for n in 0..5 {
///     hub.publish("t", sse_runtime::event!(data: n.to_string())).await.unwrap();
/// }
/// // Three of its five events were evicted before it read them: it is told
/// // it did not get the five (by default its stream ends here, and its
/// // browser resumes from the replay).
/// let Delivery::Lagged(lagged) = slow.next().await.unwrap() else { panic!() };
/// assert_eq!(lagged.missed(), 5);
/// let frame = sse_runtime::IntoEvent::into_event(lagged).unwrap();
/// assert_eq!(frame.as_bytes(), b"event: lagged\ndata: 5\n\n");
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lagged {
    missed: u64,
    name: &'static str,
}

impl Lagged {
    pub(crate) fn new(missed: u64, names: &NoticeNames) -> Lagged {
        Lagged {
            missed,
            name: names.lagged,
        }
    }

    /// How many events of the subscription's topics it did not get. When a
    /// broker lost events before this process received them, how many is
    /// not known; each topic then counts one.
    ///
    /// ```
    /// # let _ = |lagged: sse_runtime::hub::Lagged| lagged.missed();
    /// ```
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

impl IntoEvent for Lagged {
    fn into_event(self) -> Result<Event, EventError> {
        let mut out = Vec::new();
        encode::put_named_event(&mut out, self.name, itoa::Buffer::new().format(self.missed));
        Ok(Event::shared(Bytes::from(out)))
    }
}

/// The notice that the id a subscriber resumed after is gone from the hub
/// (trimmed, or lost with a broker's data) or was never issued: what it
/// missed cannot be sent, and it goes on with live events. Written as
/// `event: reset` (see [`NoticeNames`]) whose data is the id as a JSON
/// string.
///
/// ```
/// use sse_runtime::hub::{Delivery, Hub};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut resumed = Hub::new().subscribe(&["t"], Some("not an id"));
/// let Delivery::Reset(reset) = resumed.next().await.unwrap() else { panic!() };
/// assert_eq!(reset.last_event_id(), "not an id");
/// let frame = sse_runtime::IntoEvent::into_event(reset).unwrap();
/// assert_eq!(frame.as_bytes(), b"event: reset\ndata: \"not an id\"\n\n");
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reset {
    last_event_id: String,
    name: &'static str,
}

impl Reset {
    pub(crate) fn new(last_event_id: String, names: &NoticeNames) -> Reset {
        Reset {
            last_event_id,
            name: names.reset,
        }
    }

    /// The id the subscriber asked to resume after.
    ///
    /// ```
    /// # let _ = |reset: sse_runtime::hub::Reset| reset.last_event_id().len();
    /// ```
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }
}

impl IntoEvent for Reset {
    fn into_event(self) -> Result<Event, EventError> {
        let mut out = Vec::new();
        // A JSON string, so that a typed client decodes it like any event.
        let data = serde_json::to_string(&self.last_event_id).map_err(EventError::Json)?;
        encode::put_named_event(&mut out, self.name, &data);
        Ok(Event::shared(Bytes::from(out)))
    }
}

/// The event names the hub's notices are written with:
/// `lagged` and `reset` unless [`new`](Self::new) gives others, for an
/// application whose own events already use those names.
///
/// ```
/// use sse_runtime::hub::{Hub, HubConfig, NoticeNames};
/// let names = NoticeNames::new("hub-lagged", "hub-reset")?;
/// let hub = Hub::with_config(HubConfig { notices: names, ..HubConfig::default() });
/// # let _ = hub;
/// assert!(NoticeNames::new("two\nlines", "reset").is_err());
/// # Ok::<(), sse_runtime::EventError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NoticeNames {
    lagged: &'static str,
    reset: &'static str,
}

impl NoticeNames {
    /// Names for the `lagged` and `reset` notices. Fails, as an event name
    /// would, for a name holding a line break.
    ///
    /// ```
    /// let names = sse_runtime::hub::NoticeNames::new("behind", "gone").unwrap();
    /// assert_eq!((names.lagged(), names.reset()), ("behind", "gone"));
    /// ```
    pub fn new(lagged: &'static str, reset: &'static str) -> Result<NoticeNames, EventError> {
        encode::check_event_name(lagged)?;
        encode::check_event_name(reset)?;
        Ok(NoticeNames { lagged, reset })
    }

    /// The `lagged` notice's event name.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::NoticeNames::default().lagged(), "lagged");
    /// ```
    pub fn lagged(&self) -> &'static str {
        self.lagged
    }

    /// The `reset` notice's event name.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::NoticeNames::default().reset(), "reset");
    /// ```
    pub fn reset(&self) -> &'static str {
        self.reset
    }
}

impl Default for NoticeNames {
    fn default() -> Self {
        NoticeNames {
            lagged: "lagged",
            reset: "reset",
        }
    }
}

impl fmt::Debug for NoticeNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoticeNames")
            .field("lagged", &self.lagged)
            .field("reset", &self.reset)
            .finish()
    }
}
