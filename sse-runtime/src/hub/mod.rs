//! Fan-out with resumption: publish an event once, deliver it to every
//! subscriber of its topic, in one process or across many, and let a
//! reconnecting client catch up from its `Last-Event-ID` on any of them.
//!
//! * **Encoded once.** An event is encoded when published and its id added
//!   once per process; subscribers share its bytes (a reference count, no
//!   copy) and the response writes them as they are.
//! * **One log, read at each subscriber's pace** (`log.rs`). The hub keeps
//!   the last [`HubConfig::replay`] events, at most
//!   [`HubConfig::replay_bytes`] bytes and [`HubConfig::max_age`] old. A
//!   subscriber holds only its place in that log, so a slow one costs no
//!   memory and holds up no one, and a client resuming from an old id gets
//!   everything the hub still holds, whatever its size, at its own pace.
//! * **Falling behind** (`subscription.rs`). A subscriber whose unread
//!   events are evicted gets an `event: lagged` (data: how many it missed)
//!   and, by default, its stream ends ([`LagPolicy`]), so its browser
//!   reconnects with `Last-Event-ID`. A resuming client whose id the hub no
//!   longer holds (or never issued) gets an `event: reset` first. Nothing
//!   is ever skipped in silence.
//! * **Ids** ([`EventId`]) are `<milliseconds>-<sequence>`, the form Redis
//!   Streams uses, the same on every process sharing a hub, and always
//!   increasing: an id from before a restart is recognised as old.
//! * **Topics.** A subscription names any number of topics, up to
//!   [`HubConfig::max_topics`] (1,024 by default), and resumes them all from
//!   one id. Subscribing to n topics costs O(n log n); an event costs a
//!   subscriber O(log n) to read, so a subscriber of many topics delays no
//!   one ([`Hub::try_subscribe`] says why it refuses more).
//! * **Transports** (`transport.rs`, `redis.rs`). [`LocalTransport`], the
//!   default, works in one process. [`RedisTransport`] (feature `redis`)
//!   shares a hub between processes through Redis Streams. Handlers do not
//!   change.

mod id;
mod log;
mod notice;
#[cfg(feature = "redis")]
mod redis;
mod subscription;
mod transport;
mod typed;

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use crate::error::EventError;
use crate::event::IntoEvent;

pub use self::id::{EventId, ParseEventIdError};
// Named in `subscribe`'s signature, not public API: one passes the
// request's `&LastEventId`, an id as text, or an `Option<&str>`.
pub(crate) use self::id::LastSeen;
pub use self::log::HubStats;
pub use self::notice::{Delivery, Lagged, NoticeNames, Reset};
#[cfg(feature = "redis")]
pub(crate) use self::redis::{broker_error, RedisHandle};
#[cfg(feature = "redis")]
pub use self::redis::{RedisOptions, RedisTransport};
pub(crate) use self::subscription::Item;
pub use self::subscription::Subscription;
pub use self::transport::{
    BoxFuture, EntryKind, History, LiveFeed, LocalTransport, StoredEvent, Transport,
};
pub use self::typed::{TypedDelivery, TypedHub, TypedSubscription};

/// What to do with a subscriber that falls behind what the hub holds.
///
/// ```
/// use sse_runtime::hub::{Hub, HubConfig, LagPolicy};
/// let hub = Hub::with_config(HubConfig { lag: LagPolicy::SkipAhead, ..HubConfig::default() });
/// # let _ = hub;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LagPolicy {
    /// Send an `event: lagged` (data: how many events it missed) and end the
    /// stream. The browser reconnects with its `Last-Event-ID`, and gets a
    /// `reset` event if what it missed is gone. The default: a client that
    /// cannot keep up gets a fresh start rather than a stream with holes.
    Disconnect,
    /// Send an `event: lagged` (data: how many events it skipped) and carry
    /// on with the newest events.
    SkipAhead,
}

/// How much a [`Hub`] keeps, and how it treats slow subscribers.
///
/// ```
/// use std::time::Duration;
/// use sse_runtime::hub::{Hub, HubConfig};
/// // Replay up to 10,000 events or 32 MiB, none older than an hour.
/// let hub = Hub::with_config(HubConfig {
///     replay: 10_000,
///     replay_bytes: 32 << 20,
///     max_age: Some(Duration::from_secs(3600)),
///     ..HubConfig::default()
/// });
/// # let _ = hub;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Events kept, for resuming clients and for subscribers still reading
    /// them. Default 1024. A broker keeps about as many (Redis trims to
    /// this count approximately, never fewer).
    pub replay: usize,
    /// The most bytes of encoded events kept; the oldest go first. An event
    /// larger than this cannot be published. Default 8 MiB: a chat room's
    /// or a dashboard's last thousand events fit many times over, and a
    /// flood of large events cannot take the server's memory.
    pub replay_bytes: usize,
    /// The oldest an event kept may be. Default: no limit.
    pub max_age: Option<Duration>,
    /// What happens to a subscriber that falls behind.
    pub lag: LagPolicy,
    /// The event names of the hub's notices (`lagged`, `reset`).
    pub notices: NoticeNames,
    /// The most distinct topics one subscription may name; more is
    /// refused ([`HubError::TooManyTopics`], see [`Hub::try_subscribe`]).
    /// Default 1,024. (0 refuses every subscription to a topic, the
    /// streams of [`runs`](crate::runs) included.)
    ///
    /// Why a cap: the topic list often comes from the client (a query
    /// string naming the rooms or items to follow), and each topic costs
    /// the server memory for as long as the stream is open: about 64 bytes
    /// for a topic others follow too, about 380 for one no one else does.
    /// A subscription to 1,024 topics of its own holds about 390 KB, some
    /// eighteen times an idle stream's whole cost (BENCHMARKS.md); without
    /// a bound, one request could hold tens of megabytes. A page that
    /// follows more than a thousand topics is usually better served by a
    /// coarser one (a topic per user or per feed, rather than per item).
    pub max_topics: usize,
    /// The hub's `hub` label in its [metrics](crate::metrics), so that two
    /// hubs in one process can be told apart. Default `"default"`. (A
    /// name made at run time can be leaked once: `String::leak`.)
    pub name: &'static str,
    /// Whether the hub's publishes, deliveries and subscribers are counted
    /// per topic, with a `topic` label. Off by default, and best left off
    /// unless the topics are a small, fixed set: topic names often come
    /// from clients (a room, a user, a document), and each label value is
    /// a time series of its own, which a monitoring system stores and
    /// queries at a cost; unbounded values can take it down. A run's
    /// topics are all labelled `sse-runtime:run`.
    pub topic_labels: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            replay: 1024,
            replay_bytes: 8 << 20,
            max_age: None,
            lag: LagPolicy::Disconnect,
            notices: NoticeNames::default(),
            max_topics: 1024,
            name: "default",
            topic_labels: false,
        }
    }
}

/// Why publishing or subscribing failed, or a hub could not be built.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{Hub, HubConfig, HubError};
/// let hub = Hub::with_config(HubConfig { replay_bytes: 16, ..HubConfig::default() });
/// let error = hub.publish("t", sse_runtime::event!("far more than sixteen bytes")).await.unwrap_err();
/// assert!(matches!(error, HubError::TooLarge { .. }));
/// # });
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum HubError {
    /// The event could not be built; nothing was published.
    Event(EventError),
    /// The encoded event is larger than [`HubConfig::replay_bytes`]: it
    /// could never be kept for replay.
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The broker did not answer within the transport's timeout; the event
    /// may or may not have been stored.
    Timeout(Duration),
    /// The broker failed or is unreachable; the event was not stored.
    Broker(String),
    /// The connection to the broker failed after the event was sent: it
    /// may or may not have been stored (a subscriber may still get it).
    Unconfirmed(String),
    /// A subscription named more distinct topics than
    /// [`HubConfig::max_topics`]; see [`Hub::try_subscribe`].
    TooManyTopics {
        /// How many distinct topics it named.
        count: usize,
        /// The most allowed.
        limit: usize,
    },
    /// An [`auth::Guarded`](crate::auth::Guarded) hub was given a
    /// publish permit whose grants have ended; nothing was published.
    PermitExpired,
    /// The broker could not be reached when the hub was built.
    Connect {
        /// Where it was looked for.
        url: String,
        /// Why it failed.
        reason: String,
    },
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::Event(error) => write!(f, "the event could not be built: {error}"),
            HubError::TooLarge { size, limit } => write!(
                f,
                "the event is {size} bytes encoded, more than the hub keeps ({limit} bytes, HubConfig::replay_bytes)"
            ),
            HubError::Timeout(after) => write!(
                f,
                "the broker did not confirm the event within {after:?}; it may or may not have been stored"
            ),
            HubError::Broker(reason) => write!(f, "the broker failed: {reason}"),
            HubError::Unconfirmed(reason) => write!(
                f,
                "the connection to the broker failed after the event was sent, so it may or may not have been stored: {reason}"
            ),
            HubError::TooManyTopics { count, limit } => write!(
                f,
                "a subscription to {count} topics is more than the hub allows ({limit}, HubConfig::max_topics)"
            ),
            HubError::Connect { url, reason } => {
                write!(f, "could not connect to the broker at {url}: {reason}")
            }
            HubError::PermitExpired => f.write_str(
                "the publish permit's grants have ended (the credentials expired); nothing was published",
            ),
        }
    }
}

impl std::error::Error for HubError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HubError::Event(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EventError> for HubError {
    fn from(error: EventError) -> Self {
        HubError::Event(error)
    }
}

/// A broadcast hub: cheap to clone, usable from any task.
///
/// ```
/// use axum::{extract::State, routing::get, Router};
/// use sse_runtime::prelude::*;
/// use sse_runtime::hub::Hub;
///
/// #[sse_handler]
/// async fn news(State(hub): State<Hub>, last: LastEventId) {
///     let mut subscription = hub.subscribe(&["news"], &last);
///     while let Some(event) = subscription.next().await {
///         yield_!(event);
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let hub = Hub::new();
/// let app: Router = Router::new().route("/news", get(news)).with_state(hub.clone());
/// // From anywhere, e.g. a POST handler:
/// hub.publish("news", event!(data: "extra!", event: "headline")).await.unwrap();
/// # });
/// ```
#[derive(Clone)]
pub struct Hub {
    log: Arc<log::Log>,
    transport: Arc<dyn Transport>,
    /// Set when the transport is a [`RedisTransport`]: the runs keep their
    /// state beside its stream.
    #[cfg(feature = "redis")]
    redis: Option<RedisHandle>,
    /// Where the runs on this hub keep their state in process: one
    /// registry per hub, shared by every `Runs` built on it, as instances
    /// on one Redis share its keys. Typed as `Any` so that the hub needs
    /// nothing of the runs.
    runs_registry: Arc<OnceLock<Arc<dyn Any + Send + Sync>>>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    /// An in-process hub with the default [`HubConfig`].
    ///
    /// ```
    /// let hub = sse_runtime::hub::Hub::new();
    /// assert_eq!(hub.subscribers(), 0);
    /// ```
    pub fn new() -> Self {
        Hub::with_config(HubConfig::default())
    }

    /// An in-process hub.
    ///
    /// ```
    /// use sse_runtime::hub::{Hub, HubConfig};
    /// let hub = Hub::with_config(HubConfig { replay: 64, ..HubConfig::default() });
    /// # let _ = hub;
    /// ```
    pub fn with_config(config: HubConfig) -> Self {
        Hub::with_transport(LocalTransport::new(), config)
    }

    /// A hub over another transport, such as
    /// `RedisTransport` (feature `redis`).
    ///
    /// ```
    /// use sse_runtime::hub::{Hub, HubConfig, LocalTransport};
    /// let hub = Hub::with_transport(LocalTransport::new(), HubConfig::default());
    /// # let _ = hub;
    /// ```
    pub fn with_transport(transport: impl Transport, config: HubConfig) -> Self {
        let log = Arc::new(log::Log::new(config, transport.starts_after()));
        transport.attach(LiveFeed::new(&log));
        #[cfg(feature = "redis")]
        let redis = (&transport as &dyn std::any::Any)
            .downcast_ref::<RedisTransport>()
            .map(RedisTransport::handle);
        Hub {
            log,
            transport: Arc::new(transport),
            #[cfg(feature = "redis")]
            redis,
            runs_registry: Arc::new(OnceLock::new()),
        }
    }

    /// Publishes one event to `topic`, for every subscriber of it on every
    /// process sharing this hub. The hub gives the event its id (an `id:`
    /// field set on the event is overridden, since only the hub's ids
    /// resume); resolves to the id once the transport has stored the
    /// event.
    ///
    /// Fails without publishing when the event is refused or larger than
    /// [`HubConfig::replay_bytes`], and with [`HubError::Timeout`] or
    /// [`HubError::Broker`] when a broker does not store it.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::{event, hub::Hub};
    /// let hub = Hub::new();
    /// let first = hub.publish("chat", event!(data: "hi", event: "message")).await?;
    /// let second = hub.publish("chat", event!("again")).await?;
    /// assert!(first < second);
    /// # Ok::<(), sse_runtime::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub async fn publish<E: IntoEvent>(&self, topic: &str, event: E) -> Result<EventId, HubError> {
        let frame = self.frame_of(event)?;
        let id = self
            .transport
            .publish(Arc::from(topic), EntryKind::Event, frame)
            .await?;
        self.log.metrics().published(topic);
        Ok(id)
    }

    /// The encoded `event` to publish, or why it cannot be.
    pub(crate) fn frame_of<E: IntoEvent>(&self, event: E) -> Result<Bytes, HubError> {
        let frame = event.into_event()?.into_bytes();
        let limit = self.log.config().replay_bytes;
        // The id line the hub adds is at most this long.
        let size = frame.len() + transport::MAX_ID_FIELD_LEN;
        if size > limit {
            return Err(HubError::TooLarge { size, limit });
        }
        Ok(frame)
    }

    /// The Redis transport underneath, if that is what it is.
    #[cfg(feature = "redis")]
    pub(crate) fn redis(&self) -> Option<&RedisHandle> {
        self.redis.as_ref()
    }

    /// The runs' registry for this hub, made on first use.
    pub(crate) fn runs_registry<T: Any + Send + Sync + Default>(&self) -> Option<Arc<T>> {
        let registry = self
            .runs_registry
            .get_or_init(|| Arc::new(T::default()) as Arc<dyn Any + Send + Sync>);
        Arc::clone(registry).downcast::<T>().ok()
    }

    /// A subscription of the library's own, to `topics` from their next
    /// entry, not counted in [`subscribers`](Self::subscribers) nor bound
    /// by [`HubConfig::max_topics`].
    pub(crate) fn watch(&self, topics: &[&str]) -> Subscription {
        Subscription::new_uncounted(Arc::clone(&self.log), Arc::clone(&self.transport), topics)
    }

    /// The hub's transport, for the runs, which keep their marks beside
    /// the events.
    pub(crate) fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// Subscribes to `topics`, resuming after `last`: the request's
    /// [`LastEventId`](crate::LastEventId), or any id as text (`"41"`,
    /// `Some("41")`); `None` for live events only. A topic named twice
    /// counts once.
    ///
    /// ```
    /// let hub = sse_runtime::hub::Hub::new();
    /// let subscription = hub.subscribe(&["a", "b"], None);
    /// assert_eq!(hub.subscribers(), 1);
    /// drop(subscription);
    /// assert_eq!(hub.subscribers(), 0);
    /// let resumed = hub.subscribe(&["a"], &sse_runtime::LastEventId(Some("1700000000000-0".into())));
    /// # drop(resumed);
    /// ```
    ///
    /// # More topics than allowed
    ///
    /// A subscription to more distinct topics than
    /// [`HubConfig::max_topics`] is refused: it yields nothing and ends at
    /// once (its first [`next`](Subscription::next) is `None`), is not
    /// counted in [`subscribers`](Self::subscribers), and the refusal is
    /// logged as an error (target `sse_runtime::hub`) with the count and
    /// the cap. The stream of a handler that forwards it ends with nothing
    /// sent, rather than with some of the topics silently missing, a panic,
    /// or a cap that does not hold. Where the topics come from the client,
    /// call [`try_subscribe`](Self::try_subscribe) instead, and answer
    /// with an error status before the stream starts.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::hub::{Hub, HubConfig};
    /// let hub = Hub::with_config(HubConfig { max_topics: 2, ..HubConfig::default() });
    /// let mut refused = hub.subscribe(&["a", "b", "c"], None);
    /// assert!(refused.next().await.is_none());
    /// assert_eq!(hub.subscribers(), 0);
    /// # });
    /// ```
    pub fn subscribe<'a>(&self, topics: &[&str], last: impl Into<LastSeen<'a>>) -> Subscription {
        self.try_subscribe(topics, last).unwrap_or_else(|error| {
            tracing::error!(
                target: "sse_runtime::hub",
                %error,
                "subscription refused: it yields nothing and ends at once; \
                 use Hub::try_subscribe to answer the client, or raise HubConfig::max_topics"
            );
            Subscription::refused(Arc::clone(&self.log), Arc::clone(&self.transport))
        })
    }

    /// Like [`subscribe`](Self::subscribe), but fails with
    /// [`HubError::TooManyTopics`] for more distinct topics than
    /// [`HubConfig::max_topics`], before anything is registered: for topics
    /// the client chose, so that a handler can refuse the request (with
    /// `400 Bad Request`, say) instead of opening a stream.
    ///
    /// ```
    /// use axum::extract::{Query, State};
    /// use axum::http::StatusCode;
    /// use axum::response::{IntoResponse, Response};
    /// use sse_runtime::hub::{Hub, HubError};
    /// use sse_runtime::{LastEventId, SseResponse, StreamContext};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Follow { topics: String }
    ///
    /// async fn follow(
    ///     State(hub): State<Hub>,
    ///     Query(follow): Query<Follow>,
    ///     last: LastEventId,
    ///     context: StreamContext,
    /// ) -> Response {
    ///     let topics: Vec<&str> = follow.topics.split(',').collect();
    ///     match hub.try_subscribe(&topics, &last) {
    ///         Ok(subscription) => {
    ///             SseResponse::from_stream(subscription).with_context(context).into_response()
    ///         }
    ///         Err(error @ HubError::TooManyTopics { .. }) => {
    ///             (StatusCode::BAD_REQUEST, error.to_string()).into_response()
    ///         }
    ///         Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    ///     }
    /// }
    /// # let _: axum::Router = axum::Router::new().route("/follow", axum::routing::get(follow)).with_state(Hub::new());
    /// ```
    pub fn try_subscribe<'a>(
        &self,
        topics: &[&str],
        last: impl Into<LastSeen<'a>>,
    ) -> Result<Subscription, HubError> {
        Subscription::new(
            Arc::clone(&self.log),
            Arc::clone(&self.transport),
            topics,
            last.into().id(),
        )
    }

    /// Like [`subscribe`](Self::subscribe), but a subscriber without a last
    /// id (a newcomer, not a reconnecting client) first gets the newest
    /// `recent` events of `topics` this process's log holds, then live
    /// events: a chat room's recent messages for whoever opens it. Refuses
    /// more topics than [`HubConfig::max_topics`] as `subscribe` does.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::hub::Delivery;
    /// let hub = sse_runtime::hub::Hub::new();
    /// for n in 0..5 {
    ///     hub.publish("room", sse_runtime::event!(data: n.to_string())).await.unwrap();
    /// }
    /// let mut newcomer = hub.subscribe_with_recent(&["room"], None, 2);
    /// for n in [3, 4] {
    ///     let Some(Delivery::Event(event)) = newcomer.next().await else { panic!() };
    ///     assert!(event.as_bytes().starts_with(format!("data: {n}\n").as_bytes()));
    /// }
    /// # });
    /// ```
    pub fn subscribe_with_recent<'a>(
        &self,
        topics: &[&str],
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> Subscription {
        let last = last.into();
        let mut subscription = self.subscribe(topics, last);
        if last.id().is_none() && recent > 0 {
            subscription.start_with_recent(recent);
        }
        subscription
    }

    /// Like [`subscribe_with_recent`](Self::subscribe_with_recent), but
    /// fails as [`try_subscribe`](Self::try_subscribe) does.
    ///
    /// ```
    /// use sse_runtime::hub::{Hub, HubConfig, HubError};
    /// let hub = Hub::with_config(HubConfig { max_topics: 1, ..HubConfig::default() });
    /// let error = hub.try_subscribe_with_recent(&["a", "b"], None, 10).unwrap_err();
    /// assert!(matches!(error, HubError::TooManyTopics { count: 2, limit: 1 }));
    /// assert!(hub.try_subscribe_with_recent(&["a", "a"], None, 10).is_ok());
    /// ```
    pub fn try_subscribe_with_recent<'a>(
        &self,
        topics: &[&str],
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> Result<Subscription, HubError> {
        let last = last.into();
        let mut subscription = self.try_subscribe(topics, last)?;
        if last.id().is_none() && recent > 0 {
            subscription.start_with_recent(recent);
        }
        Ok(subscription)
    }

    /// How many subscriptions are open in this process.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::Hub::new().subscribers(), 0);
    /// ```
    pub fn subscribers(&self) -> usize {
        self.log.stats().subscribers
    }

    /// What this process's part of the hub holds.
    ///
    /// ```
    /// let stats = sse_runtime::hub::Hub::new().stats();
    /// assert_eq!((stats.events, stats.bytes), (0, 0));
    /// ```
    pub fn stats(&self) -> HubStats {
        self.log.stats()
    }

    /// The hub's metrics handles.
    pub(crate) fn metrics(&self) -> &crate::metrics::HubMetrics {
        self.log.metrics()
    }
}
