//! A hub that carries one typed event enum: publishing takes only that type,
//! and subscriptions yield [`Shared`] values of it, or the hub's own
//! notices, all of which a handler declared with
//! `#[sse_handler(events = E)]` accepts.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::notice::{Delivery, Lagged, Reset};
use super::{EventId, Hub, HubError, LastSeen, Subscription};
use crate::error::EventError;
use crate::event::{Event, IntoEvent};
use crate::typed::{Shared, SseEvent, TypedEvents, YieldOf};

/// A [`Hub`] for the events of one type `E`. Its notices (`lagged`,
/// `reset`) are the library's own types ([`TypedDelivery`]), not
/// variants of `E`.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{Hub, TypedDelivery, TypedHub};
/// use sse_runtime::SseEvent;
///
/// #[derive(SseEvent)]
/// enum Room { Said(String) }
///
/// let room = TypedHub::<Room>::new(Hub::new());
/// let mut subscription = room.subscribe(&["room"], None);
/// room.publish("room", Room::Said("hello".into())).await?;
/// assert!(matches!(subscription.next().await, Some(TypedDelivery::Event(_))));
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
    /// enum Feed { Item(u32) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// # let _ = feed;
    /// ```
    pub fn new(hub: Hub) -> Self {
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
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
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
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
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

    /// Like [`subscribe`](Self::subscribe), but fails with
    /// [`HubError::TooManyTopics`] for more distinct topics than
    /// [`HubConfig::max_topics`](super::HubConfig::max_topics); see
    /// [`Hub::try_subscribe`].
    ///
    /// ```
    /// # use sse_runtime::hub::{Hub, HubConfig, HubError, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// let feed = TypedHub::<Feed>::new(Hub::with_config(HubConfig { max_topics: 1, ..HubConfig::default() }));
    /// assert!(feed.try_subscribe(&["items"], None).is_ok());
    /// let error = feed.try_subscribe(&["items", "more"], None).unwrap_err();
    /// assert!(matches!(error, HubError::TooManyTopics { count: 2, limit: 1 }));
    /// ```
    pub fn try_subscribe<'a>(
        &self,
        topics: &[&str],
        last: impl Into<LastSeen<'a>>,
    ) -> Result<TypedSubscription<E>, HubError> {
        self.hub
            .try_subscribe(topics, last)
            .map(TypedSubscription::new)
    }

    /// Like [`subscribe`](Self::subscribe), but a subscriber without a last
    /// id first gets the newest `recent` events; see
    /// [`Hub::subscribe_with_recent`].
    ///
    /// ```
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
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

    /// Like [`subscribe_with_recent`](Self::subscribe_with_recent), but
    /// fails as [`try_subscribe`](Self::try_subscribe) does.
    ///
    /// ```
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// let subscription = feed.try_subscribe_with_recent(&["items"], None, 50)?;
    /// # let _ = subscription;
    /// # Ok::<(), sse_runtime::hub::HubError>(())
    /// ```
    pub fn try_subscribe_with_recent<'a>(
        &self,
        topics: &[&str],
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> Result<TypedSubscription<E>, HubError> {
        self.hub
            .try_subscribe_with_recent(topics, last, recent)
            .map(TypedSubscription::new)
    }

    /// The untyped hub underneath, for its statistics.
    ///
    /// ```
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// assert_eq!(TypedHub::<Feed>::new(Hub::new()).hub().subscribers(), 0);
    /// ```
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

/// One item of a [`TypedSubscription`]: an event of `E`, or one of the
/// hub's notices. A handler declared with `#[sse_handler(events = E)]`
/// yields it as it is, or `match`es it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{Hub, TypedDelivery, TypedHub};
/// #[derive(sse_runtime::SseEvent)]
/// enum Feed { Item(u32) }
/// let feed = TypedHub::<Feed>::new(Hub::new());
/// let mut resumed = feed.subscribe(&["items"], Some("5-5"));
/// match resumed.next().await.unwrap() {
///     TypedDelivery::Reset(reset) => assert_eq!(reset.last_event_id(), "5-5"),
///     _ => panic!("5-5 was never issued"),
/// }
/// # });
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TypedDelivery<E> {
    /// An event of `E` published to one of the subscription's topics.
    Event(Shared<E>),
    /// The subscriber fell behind; see [`Lagged`].
    Lagged(Lagged),
    /// The id it resumed after is gone; see [`Reset`].
    Reset(Reset),
}

impl<E> Clone for TypedDelivery<E> {
    fn clone(&self) -> Self {
        match self {
            TypedDelivery::Event(event) => TypedDelivery::Event(event.clone()),
            TypedDelivery::Lagged(lagged) => TypedDelivery::Lagged(lagged.clone()),
            TypedDelivery::Reset(reset) => TypedDelivery::Reset(reset.clone()),
        }
    }
}

impl<E> IntoEvent for TypedDelivery<E> {
    fn into_event(self) -> Result<Event, EventError> {
        match self {
            TypedDelivery::Event(event) => event.into_event(),
            TypedDelivery::Lagged(lagged) => lagged.into_event(),
            TypedDelivery::Reset(reset) => reset.into_event(),
        }
    }
}

impl<E> YieldOf<E> for TypedDelivery<E> {
    fn into_event_of(self, _: TypedEvents<E>) -> Result<Event, EventError> {
        self.into_event()
    }
}

// Bounded by `E: SseEvent`, as `Comment`'s impl is, or they would overlap
// the impl for `E` itself at `E = Lagged`.
impl<E: SseEvent> YieldOf<E> for Lagged {
    fn into_event_of(self, _: TypedEvents<E>) -> Result<Event, EventError> {
        self.into_event()
    }
}

impl<E: SseEvent> YieldOf<E> for Reset {
    fn into_event_of(self, _: TypedEvents<E>) -> Result<Event, EventError> {
        self.into_event()
    }
}

/// A [`TypedHub`]'s subscription: yields events of `E` and the hub's
/// notices ([`TypedDelivery`]).
///
/// ```
/// # use sse_runtime::hub::{Hub, TypedHub};
/// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
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
    pub(crate) fn new(inner: Subscription) -> Self {
        TypedSubscription {
            inner,
            _events: PhantomData,
        }
    }

    /// The next event or notice; `None` once the subscription ended for
    /// lagging.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # use sse_runtime::hub::{Hub, TypedDelivery, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// let feed = TypedHub::<Feed>::new(Hub::new());
    /// let mut items = feed.subscribe(&["items"], None);
    /// feed.publish("items", Feed::Item(1)).await.unwrap();
    /// let Some(TypedDelivery::Event(item)) = items.next().await else { panic!() };
    /// assert!(item.as_bytes().starts_with(b"event: item\ndata: 1\n"));
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<TypedDelivery<E>> {
        self.inner.next().await.map(typed)
    }
}

impl<E> futures_core::Stream for TypedSubscription<E> {
    type Item = TypedDelivery<E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TypedDelivery<E>>> {
        let this = self.get_mut();
        Pin::new(&mut this.inner)
            .poll_next(cx)
            .map(|delivery| delivery.map(typed))
    }
}

/// A delivery of a typed hub's subscription, typed.
fn typed<E>(delivery: Delivery) -> TypedDelivery<E> {
    match delivery {
        // Invariant: every event of a typed hub's topics was published as
        // an `E` (see `TypedHub::new`).
        Delivery::Event(event) => TypedDelivery::Event(Shared::new(event)),
        Delivery::Lagged(lagged) => TypedDelivery::Lagged(lagged),
        Delivery::Reset(reset) => TypedDelivery::Reset(reset),
    }
}
