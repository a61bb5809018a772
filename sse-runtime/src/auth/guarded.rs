//! A hub whose topics are reached only with permits: put it in the
//! router's state instead of the hub, and a handler cannot subscribe or
//! publish to a topic no [`TopicAccess`](super::TopicAccess) allowed.

use super::{PublishPermit, SubscribePermit};
use crate::event::IntoEvent;
use crate::hub::{EventId, Hub, HubError, LastSeen, Subscription, TypedHub, TypedSubscription};
use crate::typed::SseEvent;

/// A [`Hub`] (or [`TypedHub`]) that subscribes and publishes only with a
/// permit: [`SubscribePermit`] and [`PublishPermit`], which only
/// [`TopicAccess`](super::TopicAccess) gives, for the topics it allows.
/// Handlers that have this in their state, and not the hub, cannot reach a
/// topic the request was not allowed.
///
/// A subscription holds exactly the permit's topics, and every way an
/// event reaches a subscriber (live delivery, the recent events of
/// `subscribe_with_recent`, and resuming from a `Last-Event-ID`, out of
/// the log or the broker's history) reads those topics only, so nothing
/// of another topic can come through. One made with a permit whose grants
/// expire ([`Grants::until`](super::Grants::until), a token's `exp`) ends
/// then: its client must come back with fresh credentials.
///
/// The server's own code keeps the hub itself, to publish what no request
/// asked for.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::auth::{Grants, Guarded, TopicAccess};
/// use sse_runtime::hub::{Delivery, Hub};
/// let hub = Hub::new();
/// let guarded = Guarded::new(hub.clone());
/// let access = TopicAccess::new(Grants::authenticated().allow_subscribe("a").allow_publish("a"));
/// let mut subscription = guarded.subscribe(&access.subscribe(&["a"])?, None);
/// hub.publish("b", sse_runtime::event!("not for this subscriber")).await.unwrap();
/// guarded.publish(&access.publish("a")?, sse_runtime::event!("hello")).await.unwrap();
/// let Some(Delivery::Event(event)) = subscription.next().await else { panic!() };
/// assert!(event.as_bytes().starts_with(b"data: hello\n"));
/// # Ok::<(), sse_runtime::auth::Refusal>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Guarded<H> {
    hub: H,
}

impl<H> Guarded<H> {
    /// `hub`, reached only with permits.
    ///
    /// ```
    /// let guarded = sse_runtime::auth::Guarded::new(sse_runtime::hub::Hub::new());
    /// # let _ = guarded;
    /// ```
    pub fn new(hub: H) -> Guarded<H> {
        Guarded { hub }
    }
}

/// A subscription made with `permit` ends when its grants do.
fn ending_with(mut subscription: Subscription, permit: &SubscribePermit) -> Subscription {
    if let Some(at) = permit.expires_at() {
        subscription.end_at(at);
    }
    subscription
}

/// A permit publishes only while its grants hold.
fn still_held(permit: &PublishPermit) -> Result<(), HubError> {
    match permit.has_expired() {
        true => Err(HubError::PermitExpired),
        false => Ok(()),
    }
}

impl Guarded<Hub> {
    /// Subscribes to the permit's topics; see [`Hub::subscribe`].
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// let guarded = Guarded::new(sse_runtime::hub::Hub::new());
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// let subscription = guarded.subscribe(&permit, None);
    /// # let _ = subscription;
    /// ```
    pub fn subscribe<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
    ) -> Subscription {
        ending_with(self.hub.subscribe(&permit.topic_refs(), last), permit)
    }

    /// Like [`subscribe`](Self::subscribe), but fails as
    /// [`Hub::try_subscribe`] does.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// let guarded = Guarded::new(sse_runtime::hub::Hub::new());
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// assert!(guarded.try_subscribe(&permit, None).is_ok());
    /// ```
    pub fn try_subscribe<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
    ) -> Result<Subscription, HubError> {
        let subscription = self.hub.try_subscribe(&permit.topic_refs(), last)?;
        Ok(ending_with(subscription, permit))
    }

    /// Like [`subscribe`](Self::subscribe), with the newest `recent`
    /// events of the permit's topics first; see
    /// [`Hub::subscribe_with_recent`].
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// let guarded = Guarded::new(sse_runtime::hub::Hub::new());
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// let subscription = guarded.subscribe_with_recent(&permit, None, 50);
    /// # let _ = subscription;
    /// ```
    pub fn subscribe_with_recent<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> Subscription {
        let subscription = self
            .hub
            .subscribe_with_recent(&permit.topic_refs(), last, recent);
        ending_with(subscription, permit)
    }

    /// Like [`subscribe_with_recent`](Self::subscribe_with_recent), but
    /// fails as [`Hub::try_subscribe`] does.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// let guarded = Guarded::new(sse_runtime::hub::Hub::new());
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// assert!(guarded.try_subscribe_with_recent(&permit, None, 50).is_ok());
    /// ```
    pub fn try_subscribe_with_recent<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> Result<Subscription, HubError> {
        let subscription =
            self.hub
                .try_subscribe_with_recent(&permit.topic_refs(), last, recent)?;
        Ok(ending_with(subscription, permit))
    }

    /// Publishes `event` to the permit's topic; see [`Hub::publish`].
    /// A permit past its grants' end publishes nothing
    /// ([`HubError::PermitExpired`]).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// let guarded = Guarded::new(sse_runtime::hub::Hub::new());
    /// let permit = TopicAccess::new(Grants::anonymous().allow_publish("a")).publish("a").unwrap();
    /// guarded.publish(&permit, sse_runtime::event!("hi")).await.unwrap();
    /// # });
    /// ```
    pub async fn publish<E: IntoEvent>(
        &self,
        permit: &PublishPermit,
        event: E,
    ) -> Result<EventId, HubError> {
        still_held(permit)?;
        self.hub.publish(permit.topic(), event).await
    }
}

impl<E: SseEvent> Guarded<TypedHub<E>> {
    /// Subscribes to the permit's topics; see [`TypedHub::subscribe`].
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// #[derive(sse_runtime::SseEvent)]
    /// enum Feed { Item(u32) }
    /// let guarded = Guarded::new(TypedHub::<Feed>::new(Hub::new()));
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// let subscription = guarded.subscribe(&permit, None);
    /// # let _ = subscription;
    /// ```
    pub fn subscribe<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
    ) -> TypedSubscription<E> {
        let subscription = self.hub.hub().subscribe(&permit.topic_refs(), last);
        TypedSubscription::new(ending_with(subscription, permit))
    }

    /// Like [`subscribe`](Self::subscribe), but fails as
    /// [`Hub::try_subscribe`] does.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// let guarded = Guarded::new(TypedHub::<Feed>::new(Hub::new()));
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// assert!(guarded.try_subscribe(&permit, None).is_ok());
    /// ```
    pub fn try_subscribe<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
    ) -> Result<TypedSubscription<E>, HubError> {
        let subscription = self.hub.hub().try_subscribe(&permit.topic_refs(), last)?;
        Ok(TypedSubscription::new(ending_with(subscription, permit)))
    }

    /// Like [`subscribe`](Self::subscribe), with the newest `recent`
    /// events of the permit's topics first; see
    /// [`Hub::subscribe_with_recent`].
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// let guarded = Guarded::new(TypedHub::<Feed>::new(Hub::new()));
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// let subscription = guarded.subscribe_with_recent(&permit, None, 50);
    /// # let _ = subscription;
    /// ```
    pub fn subscribe_with_recent<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> TypedSubscription<E> {
        let subscription = self
            .hub
            .hub()
            .subscribe_with_recent(&permit.topic_refs(), last, recent);
        TypedSubscription::new(ending_with(subscription, permit))
    }

    /// Like [`subscribe_with_recent`](Self::subscribe_with_recent), but
    /// fails as [`Hub::try_subscribe`] does.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// let guarded = Guarded::new(TypedHub::<Feed>::new(Hub::new()));
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// assert!(guarded.try_subscribe_with_recent(&permit, None, 50).is_ok());
    /// ```
    pub fn try_subscribe_with_recent<'a>(
        &self,
        permit: &SubscribePermit,
        last: impl Into<LastSeen<'a>>,
        recent: usize,
    ) -> Result<TypedSubscription<E>, HubError> {
        let subscription =
            self.hub
                .hub()
                .try_subscribe_with_recent(&permit.topic_refs(), last, recent)?;
        Ok(TypedSubscription::new(ending_with(subscription, permit)))
    }

    /// Publishes `event` to the permit's topic; see
    /// [`TypedHub::publish`]. A permit past its grants' end publishes
    /// nothing ([`HubError::PermitExpired`]).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # use sse_runtime::auth::{Grants, Guarded, TopicAccess};
    /// # use sse_runtime::hub::{Hub, TypedHub};
    /// # #[derive(sse_runtime::SseEvent)] enum Feed { Item(u32) }
    /// let guarded = Guarded::new(TypedHub::<Feed>::new(Hub::new()));
    /// let permit = TopicAccess::new(Grants::anonymous().allow_publish("a")).publish("a").unwrap();
    /// guarded.publish(&permit, Feed::Item(1)).await.unwrap();
    /// # });
    /// ```
    pub async fn publish(&self, permit: &PublishPermit, event: E) -> Result<EventId, HubError> {
        still_held(permit)?;
        self.hub.publish(permit.topic(), event).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::auth::{Grants, TopicAccess};

    /// A publish permit holds as long as the grants it came from: one kept
    /// past their end (by a long stream that publishes as it goes)
    /// publishes nothing, as a subscription made with them ends.
    #[tokio::test]
    async fn a_publish_permit_past_its_grants_publishes_nothing() {
        let hub = Hub::new();
        let guarded = Guarded::new(hub.clone());
        let grants = Grants::authenticated()
            .allow_publish("a")
            .until(SystemTime::now() + Duration::from_millis(50));
        let permit = TopicAccess::new(grants).publish("a").unwrap();
        assert!(permit.expires_at().is_some());
        let mut watcher = hub.subscribe(&["a"], None);
        guarded
            .publish(&permit, crate::event!("in time"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = guarded.publish(&permit, crate::event!("too late")).await;
        assert!(
            matches!(refused, Err(HubError::PermitExpired)),
            "{refused:?}"
        );
        hub.publish("a", crate::event!("after")).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            let Some(crate::hub::Delivery::Event(event)) = watcher.next().await else {
                panic!("an event")
            };
            got.push(String::from_utf8_lossy(event.as_bytes()).into_owned());
        }
        assert!(got[0].starts_with("data: in time\n"), "{got:?}");
        assert!(got[1].starts_with("data: after\n"), "{got:?}");
    }
}
