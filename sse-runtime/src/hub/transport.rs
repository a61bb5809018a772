//! Where a hub's events travel: the [`Transport`] contract, and the
//! in-process transport every hub uses unless told otherwise.
//!
//! A transport does three things, each of which may involve a broker:
//! publish an entry and say its id once it is stored; deliver every entry
//! published anywhere to this process's log, in id order, exactly once
//! ([`LiveFeed`]); and read older entries back for a subscriber that is
//! behind what this process's log holds ([`Transport::history`]).
//! Everything else (fan-out, replay, lag, topics) is the hub's, the same
//! over every transport.
//!
//! An entry is a published event or one of the library's own marks (a
//! run's start and end), told apart by its [`EntryKind`], which every
//! transport stores beside the entry and hands back: never by reading the
//! entry's bytes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;

use super::id::unix_ms;
use super::log::Log;
use super::{EventId, HubConfig, HubError};
use crate::encode;

/// A boxed future, as [`Transport`] methods return them.
///
/// ```
/// use sse_runtime::hub::{BoxFuture, EventId, HubError};
/// let ready: BoxFuture<Result<EventId, HubError>> = Box::pin(std::future::ready(Ok(EventId::new(1, 0))));
/// # let _ = ready;
/// ```
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
    ///
    /// ```
    /// use sse_runtime::hub::{EventId, LocalTransport, Transport};
    /// // In process: the time it was made, so that an id from before a
    /// // restart reads as old.
    /// assert!(LocalTransport::new().starts_after() > EventId::new(1_700_000_000_000, 0));
    /// ```
    fn starts_after(&self) -> EventId;

    /// Called once, when the hub is built: where this transport delivers
    /// every published event (from this process and, for a broker, from
    /// every other), in id order.
    ///
    /// ```
    /// use sse_runtime::hub::{Hub, HubConfig, LocalTransport};
    /// // `Hub::with_transport` calls it.
    /// let hub = Hub::with_transport(LocalTransport::new(), HubConfig::default());
    /// # let _ = hub;
    /// ```
    fn attach(&self, feed: LiveFeed);

    /// Publishes an entry of `kind` to `topic`: for
    /// [`EntryKind::Event`], an encoded event without an `id:` field (the
    /// hub adds the id when it delivers it). Stores the kind with the
    /// entry, to give back with it. Resolves to the entry's id once
    /// stored, or to why it was not.
    ///
    /// [Runs](crate::runs) on a hub over a transport other than
    /// [`LocalTransport`] and `RedisTransport` keep their state in process
    /// and rely on the entry taking its place in the order when `publish`
    /// is called, not when the future is first polled, and on that place
    /// being kept if the future is dropped (an ordered queue filled at the
    /// call does it): they change a run's state and publish its mark under
    /// one lock. A transport that does its work only when polled breaks
    /// their ordering: a send confirmed while a cancel came can be stored
    /// after the run's end mark, where no attached stream reads it, and a
    /// cancel whose future is dropped may store no end mark at all.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::hub::{EntryKind, HubError, LocalTransport, Transport};
    /// // A transport publishes once a hub is attached to it; `Hub::publish`
    /// // calls this.
    /// let unattached = LocalTransport::new();
    /// let frame = sse_runtime::Event::data("x").into_bytes();
    /// let refused = unattached.publish("t".into(), EntryKind::Event, frame).await;
    /// assert!(matches!(refused, Err(HubError::Broker(_))));
    /// # });
    /// ```
    fn publish(
        &self,
        topic: Arc<str>,
        kind: EntryKind,
        frame: Bytes,
    ) -> BoxFuture<Result<EventId, HubError>>;

    /// Up to `limit` entries after `after`, oldest first, or
    /// [`History::Gone`] when some of them can no longer be read (trimmed,
    /// or lost with the broker's data), or when `after` was never issued.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::hub::{EventId, History, LocalTransport, Transport};
    /// let history = LocalTransport::new().history(EventId::new(1, 0), 256).await.unwrap();
    /// assert!(matches!(history, History::Gone));
    /// # });
    /// ```
    fn history(&self, after: EventId, limit: usize) -> BoxFuture<Result<History, HubError>>;
}

/// What a stored entry is. A transport stores it beside the entry (as
/// [`as_str`](Self::as_str)) and gives it back with the entry; the hub
/// never decides it from the entry's bytes, so a publisher may send any
/// event name and any text.
///
/// ```
/// use sse_runtime::hub::EntryKind;
/// assert_eq!(EntryKind::from_name("run-end"), Some(EntryKind::RunEnd));
/// assert_eq!(EntryKind::Event.as_str(), "event");
/// // A kind from a newer version of the library is not one of these.
/// assert_eq!(EntryKind::from_name("something-new"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// An event published with [`Hub::publish`](super::Hub::publish), or
    /// sent by a run's producer: delivered to subscribers as it is.
    Event,
    /// The start of a run ([`runs`](crate::runs)): never delivered.
    RunStart,
    /// The end of a run: ends the streams attached to it. Holds the run's
    /// final state.
    RunEnd,
}

impl EntryKind {
    /// The kind's name, as transports store it.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::EntryKind::RunStart.as_str(), "run-start");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Event => "event",
            EntryKind::RunStart => "run-start",
            EntryKind::RunEnd => "run-end",
        }
    }

    /// The kind named `name`, or `None` for a name this version of the
    /// library does not know (written by a newer one).
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::EntryKind::from_name("event"), Some(sse_runtime::hub::EntryKind::Event));
    /// ```
    pub fn from_name(name: &str) -> Option<EntryKind> {
        match name {
            "event" => Some(EntryKind::Event),
            "run-start" => Some(EntryKind::RunStart),
            "run-end" => Some(EntryKind::RunEnd),
            _ => None,
        }
    }
}

/// Older events, read back by [`Transport::history`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{EventId, History, LocalTransport, Transport};
/// // In process, the hub's log is the whole history: what it no longer
/// // holds is gone.
/// let history = LocalTransport::new().history(EventId::new(1, 0), 10).await.unwrap();
/// assert!(matches!(history, History::Gone));
/// # });
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum History {
    /// The events after the id asked for, oldest first; empty when there
    /// are none yet.
    Events(Vec<StoredEvent>),
    /// Events after the id asked for were lost, or the id is unknown.
    Gone,
}

/// One entry as a transport stores it.
///
/// ```
/// use sse_runtime::hub::{EntryKind, EventId, StoredEvent};
/// let event = StoredEvent {
///     id: EventId::new(1, 0),
///     topic: "news".into(),
///     kind: EntryKind::Event,
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
    /// What it is.
    pub kind: EntryKind,
    /// For an event, the encoded event without an `id:` field; for a mark,
    /// what the mark holds.
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
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use sse_runtime::hub::{BoxFuture, EntryKind, EventId, History, Hub, HubConfig, HubError, LiveFeed, Transport};
///
/// /// A transport whose "broker" is a function call: it hands each
/// /// published event straight to the feed, with ids it counts itself.
/// #[derive(Default)]
/// struct Direct { feed: Mutex<Option<LiveFeed>>, next: Mutex<u64> }
///
/// impl Transport for Direct {
///     fn starts_after(&self) -> EventId { EventId::new(0, 0) }
///     fn attach(&self, feed: LiveFeed) { *self.feed.lock().unwrap() = Some(feed); }
///     fn publish(&self, topic: Arc<str>, kind: EntryKind, frame: bytes::Bytes) -> BoxFuture<Result<EventId, HubError>> {
///         let mut next = self.next.lock().unwrap();
///         *next += 1;
///         let id = EventId::new(*next, 0);
///         if let Some(feed) = &*self.feed.lock().unwrap() {
///             feed.append(id, &topic, kind, frame);
///         }
///         Box::pin(std::future::ready(Ok(id)))
///     }
///     fn history(&self, _: EventId, _: usize) -> BoxFuture<Result<History, HubError>> {
///         Box::pin(std::future::ready(Ok(History::Gone)))
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let hub = Hub::with_transport(Direct::default(), HubConfig::default());
/// let mut subscription = hub.subscribe(&["t"], None);
/// hub.publish("t", sse_runtime::event!("x")).await.unwrap();
/// assert!(subscription.next().await.is_some());
/// # });
/// ```
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

    /// Delivers one entry to this process's subscribers. Ids must
    /// increase: an entry whose id is not newer than the last one delivered
    /// is ignored (returns `false`), so a transport that reads an entry
    /// twice after reconnecting delivers it once. Returns `false` too once
    /// the hub is gone.
    ///
    /// ```
    /// use sse_runtime::hub::{EntryKind, EventId, Hub, HubConfig, LiveFeed, LocalTransport, Transport};
    /// # struct Wrapper(LocalTransport);
    /// # impl Transport for Wrapper {
    /// #     fn starts_after(&self) -> EventId { EventId::new(0, 0) }
    /// #     fn attach(&self, feed: LiveFeed) {
    /// assert!(feed.append(EventId::new(5, 0), "news", EntryKind::Event, sse_runtime::Event::data("x").into_bytes()));
    /// #     }
    /// #     fn publish(&self, t: std::sync::Arc<str>, k: EntryKind, f: bytes::Bytes) -> sse_runtime::hub::BoxFuture<Result<EventId, sse_runtime::hub::HubError>> { self.0.publish(t, k, f) }
    /// #     fn history(&self, a: EventId, l: usize) -> sse_runtime::hub::BoxFuture<Result<sse_runtime::hub::History, sse_runtime::hub::HubError>> { self.0.history(a, l) }
    /// # }
    /// # let hub = Hub::with_transport(Wrapper(LocalTransport::new()), HubConfig::default());
    /// # assert_eq!(hub.stats().events, 1);
    /// ```
    pub fn append(&self, id: EventId, topic: &str, kind: EntryKind, frame: Bytes) -> bool {
        self.log.upgrade().is_some_and(|log| {
            log.append(topic, kind, |_| id, |id| log_frame(kind, &frame, id))
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
    ///
    /// ```
    /// # use std::sync::{Arc, OnceLock};
    /// # use sse_runtime::hub::{BoxFuture, EntryKind, EventId, History, Hub, HubConfig, HubError, LiveFeed, Transport};
    /// # #[derive(Clone, Default)]
    /// # struct Capture(Arc<OnceLock<LiveFeed>>);
    /// # impl Transport for Capture {
    /// #     fn starts_after(&self) -> EventId { EventId::new(1, 0) }
    /// #     fn attach(&self, feed: LiveFeed) { let _ = self.0.set(feed); }
    /// #     fn publish(&self, _: Arc<str>, _: EntryKind, _: bytes::Bytes) -> BoxFuture<Result<EventId, HubError>> { Box::pin(std::future::ready(Err(HubError::Broker("none".into())))) }
    /// #     fn history(&self, _: EventId, _: usize) -> BoxFuture<Result<History, HubError>> { Box::pin(std::future::ready(Ok(History::Gone))) }
    /// # }
    /// # let capture = Capture::default();
    /// # let hub = Hub::with_transport(capture.clone(), HubConfig::default());
    /// # let feed = capture.0.get().unwrap().clone();
    /// let mut subscriber = hub.subscribe(&["t"], None);
    /// assert!(feed.append(EventId::new(2, 0), "t", EntryKind::Event, sse_runtime::Event::data("x").into_bytes()));
    /// feed.gap();
    /// // What was held is forgotten; resuming after it asks the broker.
    /// assert_eq!(hub.stats().events, 0);
    /// # drop(subscriber);
    /// ```
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
    ///
    /// ```
    /// # use std::sync::{Arc, OnceLock};
    /// # use sse_runtime::hub::{BoxFuture, EntryKind, EventId, History, Hub, HubConfig, HubError, LiveFeed, Transport};
    /// # #[derive(Clone, Default)]
    /// # struct Capture(Arc<OnceLock<LiveFeed>>);
    /// # impl Transport for Capture {
    /// #     fn starts_after(&self) -> EventId { EventId::new(1, 0) }
    /// #     fn attach(&self, feed: LiveFeed) { let _ = self.0.set(feed); }
    /// #     fn publish(&self, _: Arc<str>, _: EntryKind, _: bytes::Bytes) -> BoxFuture<Result<EventId, HubError>> { Box::pin(std::future::ready(Err(HubError::Broker("none".into())))) }
    /// #     fn history(&self, _: EventId, _: usize) -> BoxFuture<Result<History, HubError>> { Box::pin(std::future::ready(Ok(History::Gone))) }
    /// # }
    /// # let capture = Capture::default();
    /// # let hub = Hub::with_transport(capture.clone(), HubConfig::default());
    /// # let feed = capture.0.get().unwrap().clone();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut subscriber = hub.subscribe(&["t"], None);
    /// feed.lost();
    /// let item = subscriber.next().await.unwrap();
    /// assert!(matches!(item, sse_runtime::hub::Delivery::Lagged(_)));
    /// # });
    /// ```
    pub fn lost(&self) {
        if let Some(log) = self.log.upgrade() {
            log.lost();
        }
    }

    /// The hub's options, for a transport that bounds its broker's history
    /// the same way.
    ///
    /// ```
    /// # use std::sync::{Arc, OnceLock};
    /// # use sse_runtime::hub::{BoxFuture, EntryKind, EventId, History, Hub, HubConfig, HubError, LiveFeed, Transport};
    /// # #[derive(Clone, Default)]
    /// # struct Capture(Arc<OnceLock<LiveFeed>>);
    /// # impl Transport for Capture {
    /// #     fn starts_after(&self) -> EventId { EventId::new(1, 0) }
    /// #     fn attach(&self, feed: LiveFeed) { let _ = self.0.set(feed); }
    /// #     fn publish(&self, _: Arc<str>, _: EntryKind, _: bytes::Bytes) -> BoxFuture<Result<EventId, HubError>> { Box::pin(std::future::ready(Err(HubError::Broker("none".into())))) }
    /// #     fn history(&self, _: EventId, _: usize) -> BoxFuture<Result<History, HubError>> { Box::pin(std::future::ready(Ok(History::Gone))) }
    /// # }
    /// # let capture = Capture::default();
    /// # let hub = Hub::with_transport(capture.clone(), HubConfig::default());
    /// # let feed = capture.0.get().unwrap().clone();
    /// assert_eq!(feed.config().replay, HubConfig::default().replay);
    /// ```
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Whether the hub is gone (every clone of it and every subscription
    /// dropped): a transport's background reader stops then.
    ///
    /// ```
    /// # use std::sync::{Arc, OnceLock};
    /// # use sse_runtime::hub::{BoxFuture, EntryKind, EventId, History, Hub, HubConfig, HubError, LiveFeed, Transport};
    /// # #[derive(Clone, Default)]
    /// # struct Capture(Arc<OnceLock<LiveFeed>>);
    /// # impl Transport for Capture {
    /// #     fn starts_after(&self) -> EventId { EventId::new(1, 0) }
    /// #     fn attach(&self, feed: LiveFeed) { let _ = self.0.set(feed); }
    /// #     fn publish(&self, _: Arc<str>, _: EntryKind, _: bytes::Bytes) -> BoxFuture<Result<EventId, HubError>> { Box::pin(std::future::ready(Err(HubError::Broker("none".into())))) }
    /// #     fn history(&self, _: EventId, _: usize) -> BoxFuture<Result<History, HubError>> { Box::pin(std::future::ready(Ok(History::Gone))) }
    /// # }
    /// # let capture = Capture::default();
    /// # let hub = Hub::with_transport(capture.clone(), HubConfig::default());
    /// # let feed = capture.0.get().unwrap().clone();
    /// assert!(!feed.is_closed());
    /// drop(hub);
    /// assert!(feed.is_closed());
    /// ```
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

    /// Appends at once, when called, not when the future is polled: a
    /// caller that holds a lock across the call (the runs' registry does)
    /// changes its state and appends the entry as one step.
    fn publish(
        &self,
        topic: Arc<str>,
        kind: EntryKind,
        frame: Bytes,
    ) -> BoxFuture<Result<EventId, HubError>> {
        let published = match self.feed.get().and_then(|feed| feed.log.upgrade()) {
            Some(log) => log
                .append(
                    &topic,
                    kind,
                    |newest| newest.next_at(unix_ms()),
                    |id| log_frame(kind, &frame, id),
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

/// What the log holds for an entry of `kind` with id `id`: an event with
/// its id as its last field (encoded once, shared by every subscriber); a
/// mark as it is.
pub(crate) fn log_frame(kind: EntryKind, frame: &Bytes, id: EventId) -> Bytes {
    match kind {
        EntryKind::Event => frame_with_id(frame, id),
        EntryKind::RunStart | EntryKind::RunEnd => frame.clone(),
    }
}

/// `id: ` + two 20-digit numbers and a dash + LF.
pub(super) const MAX_ID_FIELD_LEN: usize = 4 + 20 + 1 + 20 + 1;

/// The event `frame` (a complete event, without an `id:` field) with the
/// hub's id added as its last field, so that it overrides any other.
fn frame_with_id(frame: &[u8], id: EventId) -> Bytes {
    let mut out = Vec::with_capacity(frame.len() + MAX_ID_FIELD_LEN);
    // Invariant: every frame ends with the blank line that ends an event;
    // the id goes just before it.
    debug_assert!(frame.ends_with(b"\n\n"), "{frame:?}");
    let body = frame.strip_suffix(b"\n").unwrap_or(frame);
    out.extend_from_slice(body);
    encode::put_id(&mut out, &id.to_string());
    encode::put_end_of_event(&mut out);
    Bytes::from(out)
}
