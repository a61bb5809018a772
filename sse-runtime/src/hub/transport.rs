//! Where a hub's events travel: the [`Transport`] contract, and the
//! in-process transport every hub uses unless told otherwise.
//!
//! A transport does three things, each of which may involve a broker:
//! publish an event and say its id once it is stored; deliver every event
//! published anywhere to this process's log, in id order, exactly once
//! ([`LiveFeed`]); and read older events back for a subscriber that is
//! behind what this process's log holds ([`Transport::history`]).
//! Everything else (fan-out, replay, lag, topics) is the hub's, the same
//! over every transport.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::log::Log;
use super::{frame_with_id, EventId, HubConfig, HubError};

/// A boxed future, as [`Transport`] methods return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How a hub's events travel between the processes that serve it.
///
/// [`LocalTransport`] is the default, for one process.
/// [`RedisTransport`](super::RedisTransport) (feature `redis`) shares one
/// hub between processes through Redis Streams. Another broker fits the
/// same way: a NATS JetStream transport would publish to a stream subject
/// and return the stream sequence as the id, run one ordered consumer per
/// process that feeds [`LiveFeed::append`], and answer `history` with a
/// fetch by sequence range.
///
/// ```
/// use sse_runtime::hub::{Hub, HubConfig, LocalTransport};
/// let hub = Hub::with_transport(LocalTransport::new(), HubConfig::default());
/// # let _ = hub;
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Ids up to this one were issued before this transport started; the
    /// hub's log knows nothing of them (it asks [`history`](Self::history)).
    fn starts_after(&self) -> EventId;

    /// Called once, when the hub is built: where this transport delivers
    /// every published event (from this process and, for a broker, from
    /// every other), in id order.
    fn attach(&self, feed: LiveFeed);

    /// Publishes an encoded event without an `id:` field (the hub adds the
    /// id when it delivers it) to `topic`; resolves to its id once stored,
    /// or to why it was not.
    fn publish(&self, topic: Arc<str>, frame: Bytes) -> BoxFuture<Result<EventId, HubError>>;

    /// Up to `limit` events after `after`, oldest first, or
    /// [`History::Gone`] when some of them can no longer be read (trimmed,
    /// or lost with the broker's data), or when `after` was never issued.
    fn history(&self, after: EventId, limit: usize) -> BoxFuture<Result<History, HubError>>;
}

/// Older events, read back by [`Transport::history`].
#[derive(Debug)]
#[non_exhaustive]
pub enum History {
    /// The events after the id asked for, oldest first; empty when there
    /// are none yet.
    Events(Vec<StoredEvent>),
    /// Events after the id asked for were lost, or the id is unknown.
    Gone,
}

/// One event as a transport stores it.
///
/// ```
/// use sse_runtime::hub::{EventId, StoredEvent};
/// let event = StoredEvent {
///     id: EventId::new(1, 0),
///     topic: "news".into(),
///     frame: sse_runtime::Event::data("x").into_bytes(),
/// };
/// # let _ = event;
/// ```
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Its id.
    pub id: EventId,
    /// Its topic.
    pub topic: Arc<str>,
    /// The encoded event, without an `id:` field.
    pub frame: Bytes,
}

/// Where a transport delivers events: the hub's log in this process. See
/// [`Transport::attach`].
///
/// It does not keep the hub alive: a transport keeps it for as long as it
/// runs (its background reader holds it, and often the transport itself
/// too), so a strong reference here would keep the log, and with it the
/// reader, alive forever once the hub is dropped. [`is_closed`](Self::is_closed)
/// tells a reader when to stop.
#[derive(Clone)]
pub struct LiveFeed {
    log: Weak<Log>,
    config: HubConfig,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed").finish_non_exhaustive()
    }
}

impl LiveFeed {
    pub(crate) fn new(log: &Arc<Log>) -> LiveFeed {
        LiveFeed {
            log: Arc::downgrade(log),
            config: *log.config(),
        }
    }

    /// Delivers one event to this process's subscribers. Ids must increase:
    /// an event whose id is not newer than the last one delivered is
    /// ignored (returns `false`), so a transport that reads an event twice
    /// after reconnecting delivers it once. Returns `false` too once the hub
    /// is gone.
    ///
    /// ```
    /// use sse_runtime::hub::{EventId, Hub, HubConfig, LiveFeed, LocalTransport, Transport};
    /// # struct Wrapper(LocalTransport);
    /// # impl Transport for Wrapper {
    /// #     fn starts_after(&self) -> EventId { EventId::new(0, 0) }
    /// #     fn attach(&self, feed: LiveFeed) {
    /// assert!(feed.append(EventId::new(5, 0), "news", sse_runtime::Event::data("x").into_bytes()));
    /// #     }
    /// #     fn publish(&self, t: std::sync::Arc<str>, f: bytes::Bytes) -> sse_runtime::hub::BoxFuture<Result<EventId, sse_runtime::hub::HubError>> { self.0.publish(t, f) }
    /// #     fn history(&self, a: EventId, l: usize) -> sse_runtime::hub::BoxFuture<Result<sse_runtime::hub::History, sse_runtime::hub::HubError>> { self.0.history(a, l) }
    /// # }
    /// # let hub = Hub::with_transport(Wrapper(LocalTransport::new()), HubConfig::default());
    /// # assert_eq!(hub.stats().events, 1);
    /// ```
    pub fn append(&self, id: EventId, topic: &str, frame: Bytes) -> bool {
        self.log.upgrade().is_some_and(|log| {
            log.append(topic, |_| id, |id| frame_with_id(&frame, id))
                .is_some()
        })
    }

    /// Tells the hub that some events published after the newest one
    /// delivered may never be delivered (the broker lost its data, and
    /// cannot tell whether any came after that one; when some surely did,
    /// call [`lost`](Self::lost)). The hub forgets what it holds, so that
    /// no subscriber reads across the gap: each that had not read
    /// everything, and each client resuming after any id held until now,
    /// finds what it misses gone from [`Transport::history`] and is told
    /// so; subscribers that had read everything go on with the next event
    /// delivered.
    pub fn gap(&self) {
        if let Some(log) = self.log.upgrade() {
            log.gap();
        }
    }

    /// Tells the hub that events published after the newest one delivered
    /// were lost for sure before this transport could deliver them (the
    /// broker trimmed them while this process was slow or away). As with
    /// [`gap`](Self::gap) the hub forgets what it holds, and every
    /// subscriber falls behind, those that had read everything too: each
    /// gets `event: lagged` (how many were lost is not known; each of its
    /// topics counts one) rather than going on past the loss in silence.
    pub fn lost(&self) {
        if let Some(log) = self.log.upgrade() {
            log.lost();
        }
    }

    /// The hub's options, for a transport that bounds its broker's history
    /// the same way.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Whether the hub is gone (every clone of it and every subscription
    /// dropped): a transport's background reader stops then.
    pub fn is_closed(&self) -> bool {
        self.log.strong_count() == 0
    }
}

/// The in-process transport: publishing appends to the hub's log directly,
/// and the log is the whole history.
///
/// Ids are the time of publishing in milliseconds since the Unix epoch and
/// a sequence number within that millisecond, as Redis Streams makes them:
/// an id from before a restart of the process is older than anything the new
/// process issued, so a client reconnecting with one is told its history is
/// gone rather than resumed at the wrong place.
///
/// ```
/// let transport = sse_runtime::hub::LocalTransport::new();
/// # let _ = transport;
/// ```
#[derive(Debug)]
pub struct LocalTransport {
    started: EventId,
    feed: OnceLock<LiveFeed>,
}

impl Default for LocalTransport {
    fn default() -> Self {
        LocalTransport::new()
    }
}

impl LocalTransport {
    /// A transport for one hub in this process.
    ///
    /// ```
    /// let hub = sse_runtime::hub::Hub::with_transport(
    ///     sse_runtime::hub::LocalTransport::new(),
    ///     Default::default(),
    /// );
    /// # let _ = hub;
    /// ```
    pub fn new() -> Self {
        LocalTransport {
            started: EventId::new(unix_ms(), 0),
            feed: OnceLock::new(),
        }
    }
}

impl Transport for LocalTransport {
    fn starts_after(&self) -> EventId {
        self.started
    }

    fn attach(&self, feed: LiveFeed) {
        // A second hub on the same transport would split one id sequence
        // between two logs.
        assert!(
            self.feed.set(feed).is_ok(),
            "a LocalTransport serves one hub"
        );
    }

    fn publish(&self, topic: Arc<str>, frame: Bytes) -> BoxFuture<Result<EventId, HubError>> {
        let published = match self.feed.get().and_then(|feed| feed.log.upgrade()) {
            Some(log) => log
                .append(
                    &topic,
                    |newest| newest.next_at(unix_ms()),
                    |id| frame_with_id(&frame, id),
                )
                .ok_or_else(|| HubError::Broker("event ids are exhausted".into())),
            None => Err(HubError::Broker(
                "the transport is not attached to a hub".into(),
            )),
        };
        Box::pin(std::future::ready(published))
    }

    fn history(&self, _after: EventId, _limit: usize) -> BoxFuture<Result<History, HubError>> {
        // The log is all there is: what it no longer holds is gone.
        Box::pin(std::future::ready(Ok(History::Gone)))
    }
}

/// Milliseconds since the Unix epoch, on the system clock.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
