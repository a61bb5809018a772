//! A hub that carries one typed event enum: publishing takes only that type,
//! and subscriptions yield [`Shared`] values of it, which a handler declared
//! with `#[sse_handler(events = E)]` accepts.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{EventId, Hub, HubError, LastSeen, Subscription};
use crate::typed::{holds, Shared, SseEvent};

/// A [`Hub`] for the events of one type `E`. The hub's own notices,
/// `lagged` and `reset`, are events of `E` too: `E` must have variants
/// with those names (`Lagged(u64)`, whose data is how many events were
/// missed, and `Reset(String)`, whose data is the id the client gave).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{Hub, TypedHub};
/// use sse_runtime::SseEvent;
///
/// #[derive(SseEvent)]
/// enum Room { Said(String), Lagged(u64), Reset(String) }
///
/// let room = TypedHub::<Room>::new(Hub::new());
/// let mut subscription = room.subscribe(&["room"], None);
/// room.publish("room", Room::Said("hello".into())).await?;
/// assert!(subscription.next().await.is_some());
/// # Ok::<(), sse_runtime::hub::HubError>(())
/// # }).unwrap();
/// ```
pub struct TypedHub<E> {
    hub: Hub,
    _events: PhantomData<fn(E) -> E>,
}

impl<E> Clone for TypedHub<E> {
    fn clone(&self) -> Self {
        TypedHub {
            hub: self.hub.clone(),
            _events: PhantomData,
        }
    }
}

impl<E> std::fmt::Debug for TypedHub<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedHub").field(&self.hub).finish()
    }
}

impl<E: SseEvent> TypedHub<E> {
    /// Carries `E` over `hub`. Publish through this typed hub only: an
    /// event published to `hub` directly would reach typed subscribers as
    /// an `E` it is not.
    ///
    /// ```
    /// use sse_runtime::hub::{Hub, TypedHub};
    /// #[derive(sse_runtime::SseEvent)]
    /// enum Feed { Item(u32), Lagged(u64), Reset(String) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// # let _ = feed;
    /// ```
    pub fn new(hub: Hub) -> Self {
        const {
            assert!(
                holds(E::EVENT_NAMES, "lagged") && holds(E::EVENT_NAMES, "reset"),
                "a TypedHub's event type needs `lagged` and `reset` events (for example `Lagged(u64)` and `Reset(String)`): the hub sends them to subscribers that fell behind or resumed from a lost id"
            );
        }
        TypedHub {
            hub,
            _events: PhantomData,
        }
    }

    /// Publishes `event` to `topic`; see [`Hub::publish`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32), Lagged(u64), Reset(String) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// let id = feed.publish("items", Feed::Item(7)).await?;
    /// # let _ = id;
    /// # Ok::<(), sse_runtime::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub async fn publish(&self, topic: &str, event: E) -> Result<EventId, HubError> {
        self.hub.publish(topic, event).await
    }

    /// Subscribes to `topics`, resuming after `last`; see [`Hub::subscribe`].
    ///
    /// ```
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32), Lagged(u64), Reset(String) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// let subscription = feed.subscribe(&["items"], None);
    /// # let _ = subscription;
    /// ```
    pub fn subscribe<'a>(
        &self,
        topics: &[&str],
        last: impl Into<LastSeen<'a>>,
    ) -> TypedSubscription<E> {
        TypedSubscription::new(self.hub.subscribe(topics, last))
    }

    /// Like [`subscribe`](Self::subscribe), but a subscriber without a last
    /// id first gets the newest `recent` events; see
    /// [`Hub::subscribe_with_recent`].
    ///
    /// ```
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32), Lagged(u64), Reset(String) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// let subscription = feed.subscribe_with_recent(&["items"], None, 50);
    /// # let _ = subscription;
    /// ```
    pub fn subscribe_with_recent<'a>(
        &self,
        topics: &[&str],
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> TypedSubscription<E> {
        TypedSubscription::new(self.hub.subscribe_with_recent(topics, last, recent))
    }

    /// The untyped hub underneath, for its statistics.
    ///
    /// ```
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32), Lagged(u64), Reset(String) }
    /// assert_eq!(TypedHub::<Feed>::new(Hub::new()).hub().subscribers(), 0);
    /// ```
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

/// A [`TypedHub`]'s subscription: yields [`Shared`] events of `E`.
///
/// ```
/// # use sse_runtime::hub::{Hub, TypedHub};
/// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32), Lagged(u64), Reset(String) }
/// let subscription: sse_runtime::hub::TypedSubscription<Feed> =
///     TypedHub::new(Hub::new()).subscribe(&["items"], None);
/// # let _ = subscription;
/// ```
pub struct TypedSubscription<E> {
    inner: Subscription,
    _events: PhantomData<fn() -> E>,
}

impl<E> std::fmt::Debug for TypedSubscription<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedSubscription")
            .field(&self.inner)
            .finish()
    }
}

impl<E> TypedSubscription<E> {
    fn new(inner: Subscription) -> Self {
        TypedSubscription {
            inner,
            _events: PhantomData,
        }
    }

    /// The next event; `None` once the subscription ended for lagging.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32), Lagged(u64), Reset(String) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// let mut items = feed.subscribe(&["items"], None);
    /// feed.publish("items", Feed::Item(1)).await.unwrap();
    /// let item = items.next().await.unwrap();
    /// assert!(item.as_bytes().starts_with(b"event: item\ndata: 1\n"));
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<Shared<E>> {
        self.inner.next().await.map(Shared::new)
    }
}

impl<E> futures_core::Stream for TypedSubscription<E> {
    type Item = Shared<E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Shared<E>>> {
        let this = self.get_mut();
        Pin::new(&mut this.inner)
            .poll_next(cx)
            .map(|event| event.map(Shared::new))
    }
}
