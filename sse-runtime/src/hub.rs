//! Fan-out with resumption: publish an event once, deliver it to every
//! subscriber of its topic, and let a reconnecting client catch up from its
//! `Last-Event-ID`.
//!
//! * Each event is encoded once, when published; subscribers share its
//!   bytes (a reference count, no copy) and the response writes them as they
//!   are.
//! * Each subscriber has a bounded queue. One that falls
//!   [`HubConfig::queue`] events behind is handled by the [`LagPolicy`]:
//!   by default its stream gets a `lagged` event and ends, so its browser
//!   reconnects with `Last-Event-ID` and catches up from the replay buffer.
//!   Slow subscribers never hold up the others or grow memory without bound,
//!   and a lagging subscriber never ends silently.
//! * The hub keeps the last [`HubConfig::replay`] events (and at most
//!   [`HubConfig::max_age`] old). Subscribing with a last id delivers what
//!   came after it, then live events, with no gap and no duplicate: the
//!   replay is read and the subscriber registered under the same lock that
//!   publishing takes. An id the hub no longer has (too old, or unknown)
//!   gets a `reset` event first, telling the client it missed events.
//! * Publishing and subscribing go through the [`Transport`] trait; the
//!   default [`LocalTransport`] works inside one process. A transport backed
//!   by a broker (Redis, NATS) can replace it without changing handlers.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::encode;
use crate::error::EventError;
use crate::event::{Event, EventIdValue};
use crate::sync::lock;

/// What to do with a subscriber whose queue is full.
///
/// ```
/// use sse_runtime::hub::{Hub, HubConfig, LagPolicy};
/// let hub = Hub::with_config(HubConfig { queue: 256, lag: LagPolicy::SkipAhead, ..HubConfig::default() });
/// # let _ = hub;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LagPolicy {
    /// Send an `event: lagged` (data: how many events it was behind) and end
    /// the stream. The browser reconnects with its `Last-Event-ID` and
    /// resumes from the replay buffer, so nothing is lost while the replay
    /// still holds what it missed. The default.
    Disconnect,
    /// Drop the queued events, send an `event: lagged` (data: how many were
    /// dropped), and carry on with live events.
    SkipAhead,
}

/// How a [`Hub`] buffers.
///
/// ```
/// use std::time::Duration;
/// use sse_runtime::hub::{Hub, HubConfig};
/// // Replay up to 10,000 events, none older than an hour.
/// let hub = Hub::with_config(HubConfig {
///     replay: 10_000,
///     max_age: Some(Duration::from_secs(3600)),
///     ..HubConfig::default()
/// });
/// # let _ = hub;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Events each subscriber may fall behind before its [`LagPolicy`]
    /// applies. Default 1024.
    pub queue: usize,
    /// What happens to a subscriber that falls behind.
    pub lag: LagPolicy,
    /// Events kept for replay. Default 1024.
    pub replay: usize,
    /// The oldest an event kept for replay may be. Default: no limit.
    pub max_age: Option<Duration>,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            queue: 1024,
            lag: LagPolicy::Disconnect,
            replay: 1024,
            max_age: None,
        }
    }
}

/// One published event, encoded, as a transport carries it; see
/// [`SubscriberQueue::push`] for an example.
#[derive(Debug, Clone)]
pub struct Published {
    /// The hub's sequence number: increasing by one per event.
    pub seq: u64,
    /// The id on the wire (the sequence number, unless the publisher gave
    /// one).
    pub id: Arc<str>,
    /// The topic it was published to.
    pub topic: Arc<str>,
    /// The encoded frame, shared by every subscriber.
    pub frame: Bytes,
    /// When it was published.
    pub at: Instant,
}

/// Where a hub's events go: delivery to subscribers and the replay buffer.
///
/// [`LocalTransport`] delivers within this process. A transport for several
/// server processes would publish through a broker and feed what it receives
/// into a `LocalTransport` of its own; handlers only ever see [`Hub`].
///
/// ```
/// use sse_runtime::hub::{Hub, HubConfig, LocalTransport, Transport};
/// let transport = LocalTransport::new(HubConfig::default());
/// assert_eq!(transport.subscribers(), 0);
/// let hub = Hub::with_transport(transport);
/// # let _ = hub;
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Assigns the next sequence number, lets `encode` build the frame with
    /// it, and delivers the result. Must deliver events in sequence order.
    fn publish(
        &self,
        topic: &str,
        encode: &mut dyn FnMut(u64) -> Result<(Event, Arc<str>), EventError>,
    ) -> Result<u64, EventError>;

    /// Registers a subscriber for `topics`, first queueing what it missed
    /// after `last_id`, atomically with respect to `publish`.
    fn subscribe(&self, topics: &[&str], last_id: Option<&str>) -> Subscription;

    /// How many subscribers are registered.
    fn subscribers(&self) -> usize;
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
/// let hub = Hub::new();
/// let app: Router = Router::new().route("/news", get(news)).with_state(hub.clone());
/// // From anywhere, e.g. a POST handler:
/// hub.publish("news", |id| event!(data: "extra!", event: "headline", id: id)).unwrap();
/// ```
#[derive(Clone)]
pub struct Hub {
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.transport.subscribers())
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
    /// use sse_runtime::hub::{Hub, HubConfig, LagPolicy};
    /// let hub = Hub::with_config(HubConfig { queue: 64, lag: LagPolicy::SkipAhead, ..HubConfig::default() });
    /// # let _ = hub;
    /// ```
    pub fn with_config(config: HubConfig) -> Self {
        Hub::with_transport(LocalTransport::new(config))
    }

    /// A hub over another transport.
    ///
    /// ```
    /// use sse_runtime::hub::{Hub, HubConfig, LocalTransport};
    /// let hub = Hub::with_transport(LocalTransport::new(HubConfig::default()));
    /// # let _ = hub;
    /// ```
    pub fn with_transport(transport: impl Transport) -> Self {
        Hub {
            transport: Arc::new(transport),
        }
    }

    /// Publishes one event to `topic`. `build` receives the id the hub
    /// assigned (put it in the event's `id:` so that clients can resume) and
    /// returns the event, usually with `event!`. It runs once, under the
    /// hub's lock, so keep it to building the event. Returns the id.
    ///
    /// ```
    /// let hub = sse_runtime::hub::Hub::new();
    /// let id = hub.publish("chat", |id| sse_runtime::event!(data: "hi", id: id))?;
    /// assert_eq!(id, 1);
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn publish(
        &self,
        topic: &str,
        mut build: impl FnMut(u64) -> Result<Event, EventError>,
    ) -> Result<u64, EventError> {
        self.transport.publish(topic, &mut |seq| {
            let event = build(seq)?;
            let mut digits = itoa::Buffer::new();
            Ok((event, Arc::from(digits.format(seq))))
        })
    }

    /// Publishes an event that carries its own id (`id` must be the id in
    /// `event`); subscribers resume by that id.
    ///
    /// ```
    /// let hub = sse_runtime::hub::Hub::new();
    /// let event = sse_runtime::event!(data: "x", id: "order-7")?;
    /// hub.publish_with_id("orders", "order-7", event)?;
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    pub fn publish_with_id<I: EventIdValue + ?Sized>(
        &self,
        topic: &str,
        id: &I,
        event: Event,
    ) -> Result<u64, EventError> {
        let id: Arc<str> = match id.to_id_repr() {
            crate::event::IdRepr::Text(text) => {
                encode::check_id(text)?;
                Arc::from(text)
            }
            crate::event::IdRepr::Unsigned(n) => Arc::from(itoa::Buffer::new().format(n)),
            crate::event::IdRepr::Signed(n) => Arc::from(itoa::Buffer::new().format(n)),
        };
        let mut event = Some(event);
        self.transport.publish(topic, &mut |_| {
            // Transports call this once per publish; were one to call it
            // again, a keep-alive (invisible to clients) stands in rather
            // than a panic.
            let event = event.take().unwrap_or_else(Event::keep_alive);
            Ok((event, id.clone()))
        })
    }

    /// Subscribes to `topics`, resuming after `last`: the request's
    /// [`LastEventId`](crate::LastEventId), or any id as text
    /// (`Some("41")`, `"41"`); `None` for live events only.
    ///
    /// ```
    /// let hub = sse_runtime::hub::Hub::new();
    /// let subscription = hub.subscribe(&["a", "b"], None);
    /// assert_eq!(hub.subscribers(), 1);
    /// drop(subscription);
    /// assert_eq!(hub.subscribers(), 0);
    /// let resumed = hub.subscribe(&["a"], &sse_runtime::LastEventId(Some("7".into())));
    /// # drop(resumed);
    /// ```
    pub fn subscribe<'a>(&self, topics: &[&str], last: impl Into<LastSeen<'a>>) -> Subscription {
        self.transport.subscribe(topics, last.into().id())
    }

    /// How many subscribers are connected.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::Hub::new().subscribers(), 0);
    /// ```
    pub fn subscribers(&self) -> usize {
        self.transport.subscribers()
    }
}

/// Where a subscription starts: after the event a client saw last, or
/// (with no id) at the next live event. What [`Hub::subscribe`] accepts:
/// made from the [`LastEventId`](crate::LastEventId) extractor, an id as
/// text, or an `Option<&str>`; the hub itself knows nothing of requests.
///
/// ```
/// use sse_runtime::hub::LastSeen;
/// assert_eq!(LastSeen::from(Some("7")).id(), Some("7"));
/// assert_eq!(LastSeen::from("7").id(), Some("7"));
/// assert_eq!(LastSeen::from(&sse_runtime::LastEventId(None)).id(), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LastSeen<'a>(Option<&'a str>);

impl<'a> LastSeen<'a> {
    /// The id, or `None` to start with live events.
    ///
    /// ```
    /// assert_eq!(sse_runtime::hub::LastSeen::default().id(), None);
    /// ```
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

/// The in-process transport: one lock orders publishing, replay and
/// subscribing. See [`LocalTransport::new`].
pub struct LocalTransport {
    config: HubConfig,
    state: Arc<Mutex<LocalState>>,
}

impl fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct LocalState {
    next_seq: u64,
    replay: VecDeque<Published>,
    topics: HashMap<Arc<str>, Vec<Arc<Queue>>>,
    subscribers: usize,
}

impl LocalTransport {
    /// An empty transport.
    ///
    /// ```
    /// let transport = sse_runtime::hub::LocalTransport::new(Default::default());
    /// # let _ = transport;
    /// ```
    pub fn new(config: HubConfig) -> Self {
        LocalTransport {
            config,
            state: Arc::new(Mutex::new(LocalState {
                next_seq: 1,
                ..LocalState::default()
            })),
        }
    }

    fn evict(&self, state: &mut LocalState, now: Instant) {
        while state.replay.len() > self.config.replay {
            state.replay.pop_front();
        }
        if let Some(max_age) = self.config.max_age {
            while state
                .replay
                .front()
                .is_some_and(|oldest| now.duration_since(oldest.at) > max_age)
            {
                state.replay.pop_front();
            }
        }
    }
}

impl Transport for LocalTransport {
    fn publish(
        &self,
        topic: &str,
        encode: &mut dyn FnMut(u64) -> Result<(Event, Arc<str>), EventError>,
    ) -> Result<u64, EventError> {
        let mut state = lock(&self.state);
        let seq = state.next_seq;
        let (event, id) = encode(seq)?;
        state.next_seq += 1;
        let now = Instant::now();
        let topic: Arc<str> = state
            .topics
            .get_key_value(topic)
            .map_or_else(|| Arc::from(topic), |(key, _)| key.clone());
        let published = Published {
            seq,
            id,
            topic: topic.clone(),
            frame: event.into_bytes(),
            at: now,
        };
        if let Some(queues) = state.topics.get(&topic) {
            for queue in queues {
                queue.push(&published, &self.config);
            }
        }
        if self.config.replay > 0 {
            state.replay.push_back(published);
        }
        self.evict(&mut state, now);
        Ok(seq)
    }

    fn subscribe(&self, topics: &[&str], last_id: Option<&str>) -> Subscription {
        let queue = Arc::new(Queue::default());
        let mut state = lock(&self.state);
        self.evict(&mut state, Instant::now());
        if let Some(last_id) = last_id {
            let position = state.replay.iter().rposition(|event| &*event.id == last_id);
            let mut inner = lock(&queue.inner);
            match position {
                Some(position) => {
                    for event in state.replay.iter().skip(position + 1) {
                        if topics.contains(&&*event.topic) {
                            inner.frames.push_back(event.frame.clone());
                        }
                    }
                }
                None => inner.frames.push_back(reset_frame(last_id)),
            }
        }
        let mut keys = Vec::with_capacity(topics.len());
        for topic in topics {
            if keys.iter().any(|key: &Arc<str>| &**key == *topic) {
                continue;
            }
            let key = match state.topics.get_key_value(*topic) {
                Some((key, _)) => key.clone(),
                None => Arc::from(*topic),
            };
            state
                .topics
                .entry(key.clone())
                .or_default()
                .push(queue.clone());
            keys.push(key);
        }
        state.subscribers += 1;
        drop(state);
        let shared = Arc::clone(&self.state);
        let registered = Arc::clone(&queue);
        Subscription {
            queue,
            unsubscribe: Some(Box::new(move || {
                let mut state = lock(&shared);
                for key in keys {
                    if let Some(queues) = state.topics.get_mut(&key) {
                        queues.retain(|queue| !Arc::ptr_eq(queue, &registered));
                        if queues.is_empty() {
                            state.topics.remove(&key);
                        }
                    }
                }
                state.subscribers -= 1;
            })),
        }
    }

    fn subscribers(&self) -> usize {
        lock(&self.state).subscribers
    }
}

fn reset_frame(last_id: &str) -> Bytes {
    let mut out = Vec::new();
    encode::put_named_event(
        &mut out,
        "reset",
        &format!("events after id {last_id:?} are no longer available; reload"),
    );
    Bytes::from(out)
}

/// A subscriber's bounded queue.
#[derive(Default)]
struct Queue {
    inner: Mutex<QueueInner>,
}

#[derive(Default)]
struct QueueInner {
    frames: VecDeque<Bytes>,
    waker: Option<Waker>,
    /// Events dropped by `SkipAhead` not yet reported.
    skipped: u64,
    /// Set by `Disconnect`: the last frame is queued; end after it.
    closing: bool,
}

impl Queue {
    fn push(&self, published: &Published, config: &HubConfig) {
        let mut inner = lock(&self.inner);
        if inner.closing {
            return;
        }
        if inner.frames.len() >= config.queue.max(1) {
            let behind = inner.frames.len() as u64 + 1;
            match config.lag {
                LagPolicy::Disconnect => {
                    inner.frames.clear();
                    inner.frames.push_back(lagged_frame(behind));
                    inner.closing = true;
                }
                LagPolicy::SkipAhead => {
                    inner.skipped += behind;
                    inner.frames.clear();
                }
            }
        } else {
            inner.frames.push_back(published.frame.clone());
        }
        if let Some(waker) = inner.waker.take() {
            waker.wake();
        }
    }
}

fn lagged_frame(behind: u64) -> Bytes {
    let mut out = Vec::new();
    encode::put_named_event(&mut out, "lagged", itoa::Buffer::new().format(behind));
    Bytes::from(out)
}

/// The events of one subscriber: replayed first, then live. Also a
/// `Stream` of [`Event`]s, for [`SseResponse::from_stream`](crate::SseResponse::from_stream).
///
/// ```
/// use axum::extract::State;
/// use sse_runtime::hub::Hub;
/// use sse_runtime::{LastEventId, SseResponse};
///
/// async fn stream(State(hub): State<Hub>, last: LastEventId) -> SseResponse<sse_runtime::response::StreamForwarder> {
///     SseResponse::from_stream(hub.subscribe(&["news"], &last))
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(stream)).with_state(Hub::new());
/// ```
pub struct Subscription {
    queue: Arc<Queue>,
    unsubscribe: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(unsubscribe) = self.unsubscribe.take() {
            unsubscribe();
        }
    }
}

impl Subscription {
    /// A subscription fed by a custom [`Transport`]: events pushed to the
    /// returned [`SubscriberQueue`] come out of the subscription, and
    /// `unsubscribe` runs when it is dropped.
    ///
    /// ```
    /// let (subscription, queue) = sse_runtime::hub::Subscription::new(|| {});
    /// # let _ = (subscription, queue);
    /// ```
    pub fn new(
        unsubscribe: impl FnOnce() + Send + Sync + 'static,
    ) -> (Subscription, SubscriberQueue) {
        let queue = Arc::new(Queue::default());
        (
            Subscription {
                queue: Arc::clone(&queue),
                unsubscribe: Some(Box::new(unsubscribe)),
            },
            SubscriberQueue { queue },
        )
    }

    /// The next event; `None` once the subscription was ended for lagging.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let hub = sse_runtime::hub::Hub::new();
    /// let mut subscription = hub.subscribe(&["t"], &sse_runtime::LastEventId(None));
    /// hub.publish("t", |id| sse_runtime::event!(data: "x", id: id)).unwrap();
    /// let event = subscription.next().await.unwrap();
    /// assert_eq!(event.as_bytes(), b"id: 1\ndata: x\n\n");
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    fn poll_next_event(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut inner = lock(&self.queue.inner);
        if inner.skipped > 0 {
            let skipped = std::mem::take(&mut inner.skipped);
            return Poll::Ready(Some(Event::shared(lagged_frame(skipped))));
        }
        match inner.frames.pop_front() {
            Some(frame) => Poll::Ready(Some(Event::shared(frame))),
            None if inner.closing => Poll::Ready(None),
            None => {
                match &inner.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => inner.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl futures_core::Stream for Subscription {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.poll_next_event(cx)
    }
}

/// The sending side of a [`Subscription`], for custom transports; see
/// [`SubscriberQueue::push`].
#[derive(Clone)]
pub struct SubscriberQueue {
    queue: Arc<Queue>,
}

impl fmt::Debug for SubscriberQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberQueue").finish_non_exhaustive()
    }
}

impl SubscriberQueue {
    /// Queues a published event for this subscriber, applying `config`'s
    /// queue bound and lag policy.
    ///
    /// ```
    /// let (mut subscription, queue) = sse_runtime::hub::Subscription::new(|| {});
    /// let published = sse_runtime::hub::Published {
    ///     seq: 1,
    ///     id: "1".into(),
    ///     topic: "t".into(),
    ///     frame: sse_runtime::Event::data("x").into_bytes(),
    ///     at: std::time::Instant::now(),
    /// };
    /// queue.push(&published, &Default::default());
    /// ```
    pub fn push(&self, published: &Published, config: &HubConfig) {
        self.queue.push(published, config);
    }
}
