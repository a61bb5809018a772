//! What a request may do: topic selectors, the grants made of them, and
//! the permits a check gives. No axum here: a hub's user outside a server
//! checks topics the same way.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::Refusal;

/// A pattern of topic names, as a token's `mercure.subscribe` and
/// `mercure.publish` claims list them.
///
/// The syntax has one special character, a `*` at the very end:
///
/// | selector | matches |
/// |---|---|
/// | `room:a` | the topic `room:a` only |
/// | `room:*` | every topic that starts with `room:` (`room:a`, `room:a/b`, `room:`) |
/// | `*` | every topic |
///
/// A `*` anywhere else is an ordinary character (`a*b` matches the topic
/// `a*b` only), and nothing else is special: no URI templates, no regular
/// expressions. A selector never matches more than its text says, so a
/// typo grants less, never more. Topics themselves are exact names: a
/// subscription to the topic `room:*` receives what is published to that
/// one topic, not to every room.
///
/// ```
/// use sse_runtime::auth::TopicSelector;
/// let rooms = TopicSelector::new("room:*");
/// assert!(rooms.matches("room:a"));
/// assert!(!rooms.matches("rooms"));
/// assert!(TopicSelector::new("*").matches("anything"));
/// assert!(!TopicSelector::new("a*b").matches("axb"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicSelector(Box<str>);

impl TopicSelector {
    /// The selector `text` (see the table above).
    ///
    /// ```
    /// let exact = sse_runtime::auth::TopicSelector::new("news");
    /// assert_eq!(exact.as_str(), "news");
    /// ```
    pub fn new(text: impl Into<String>) -> TopicSelector {
        TopicSelector(text.into().into_boxed_str())
    }

    /// Whether `topic` is one the selector names.
    ///
    /// ```
    /// let selector = sse_runtime::auth::TopicSelector::new("news");
    /// assert!(selector.matches("news"));
    /// assert!(!selector.matches("news:extra"));
    /// ```
    pub fn matches(&self, topic: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => topic.starts_with(prefix),
            None => *self.0 == *topic,
        }
    }

    /// The selector as written.
    ///
    /// ```
    /// assert_eq!(sse_runtime::auth::TopicSelector::new("room:*").as_str(), "room:*");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TopicSelector {
    fn from(text: &str) -> Self {
        TopicSelector::new(text)
    }
}

impl From<String> for TopicSelector {
    fn from(text: String) -> Self {
        TopicSelector::new(text)
    }
}

impl fmt::Display for TopicSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Subscribing or publishing: what a [`Refusal`] refused.
///
/// ```
/// assert_eq!(sse_runtime::auth::Action::Publish.to_string(), "publish");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Receiving a topic's events: live, replayed, or resumed.
    Subscribe,
    /// Publishing to a topic.
    Publish,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Subscribe => "subscribe",
            Action::Publish => "publish",
        })
    }
}

/// What one request may do: the topics it may subscribe to and publish to,
/// whether it proved who it is, and until when.
///
/// An [`Authorizer`](super::Authorizer) makes them from a request (a
/// [`JwtAuthorizer`](super::JwtAuthorizer) from a token's claims); a
/// handler checks topics against them through
/// [`TopicAccess`](super::TopicAccess).
///
/// Whether the request is *authenticated* decides the status of a refusal:
/// a request without credentials that asks for a topic not open to it gets
/// `401 Unauthorized` (credentials might help), one with valid credentials
/// `403 Forbidden` (they do not allow it).
///
/// ```
/// use sse_runtime::auth::Grants;
/// let reader = Grants::authenticated().allow_subscribe("room:*");
/// assert!(reader.may_subscribe("room:a"));
/// assert!(!reader.may_publish("room:a"));
/// let visitor = Grants::anonymous().allow_subscribe("room:public").allow_publish("room:public");
/// assert!(visitor.may_publish("room:public"));
/// assert!(!visitor.is_authenticated());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Grants {
    authenticated: bool,
    subscribe: Vec<TopicSelector>,
    publish: Vec<TopicSelector>,
    expires_at: Option<SystemTime>,
}

impl Grants {
    /// Grants for a request without credentials, allowing nothing yet.
    ///
    /// ```
    /// let nothing = sse_runtime::auth::Grants::anonymous();
    /// assert!(!nothing.may_subscribe("any"));
    /// ```
    pub fn anonymous() -> Grants {
        Grants::default()
    }

    /// Grants for a request whose credentials were verified, allowing
    /// nothing yet.
    ///
    /// ```
    /// assert!(sse_runtime::auth::Grants::authenticated().is_authenticated());
    /// ```
    pub fn authenticated() -> Grants {
        Grants {
            authenticated: true,
            ..Grants::default()
        }
    }

    /// Also allows subscribing to the topics `selector` matches.
    ///
    /// ```
    /// let grants = sse_runtime::auth::Grants::authenticated().allow_subscribe("news");
    /// assert!(grants.may_subscribe("news"));
    /// ```
    pub fn allow_subscribe(mut self, selector: impl Into<TopicSelector>) -> Grants {
        self.subscribe.push(selector.into());
        self
    }

    /// Also allows publishing to the topics `selector` matches.
    ///
    /// ```
    /// let grants = sse_runtime::auth::Grants::authenticated().allow_publish("news");
    /// assert!(grants.may_publish("news"));
    /// assert!(!grants.may_subscribe("news"));
    /// ```
    pub fn allow_publish(mut self, selector: impl Into<TopicSelector>) -> Grants {
        self.publish.push(selector.into());
        self
    }

    /// The grants hold until `at` (a token's expiry): a stream a permit of
    /// them opened through [`Guarded`](super::Guarded) ends then, and its
    /// client must present fresh credentials to resume.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let until = SystemTime::now() + Duration::from_secs(600);
    /// let grants = sse_runtime::auth::Grants::authenticated().until(until);
    /// assert_eq!(grants.expires_at(), Some(until));
    /// ```
    pub fn until(mut self, at: SystemTime) -> Grants {
        self.expires_at = Some(match self.expires_at {
            Some(earlier) => earlier.min(at),
            None => at,
        });
        self
    }

    /// Whether the request proved who it is.
    ///
    /// ```
    /// assert!(!sse_runtime::auth::Grants::anonymous().is_authenticated());
    /// ```
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// When the grants end, if they do.
    ///
    /// ```
    /// assert_eq!(sse_runtime::auth::Grants::anonymous().expires_at(), None);
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Whether `topic` may be subscribed to.
    ///
    /// ```
    /// let grants = sse_runtime::auth::Grants::authenticated().allow_subscribe("a:*");
    /// assert!(grants.may_subscribe("a:1") && !grants.may_subscribe("b:1"));
    /// ```
    pub fn may_subscribe(&self, topic: &str) -> bool {
        self.subscribe
            .iter()
            .any(|selector| selector.matches(topic))
    }

    /// Whether `topic` may be published to.
    ///
    /// ```
    /// let grants = sse_runtime::auth::Grants::authenticated().allow_publish("*");
    /// assert!(grants.may_publish("anything"));
    /// ```
    pub fn may_publish(&self, topic: &str) -> bool {
        self.publish.iter().any(|selector| selector.matches(topic))
    }

    /// The selectors of the topics that may be subscribed to.
    ///
    /// ```
    /// let grants = sse_runtime::auth::Grants::anonymous().allow_subscribe("a");
    /// assert_eq!(grants.subscribe_selectors()[0].as_str(), "a");
    /// ```
    pub fn subscribe_selectors(&self) -> &[TopicSelector] {
        &self.subscribe
    }

    /// The selectors of the topics that may be published to.
    ///
    /// ```
    /// let grants = sse_runtime::auth::Grants::anonymous().allow_publish("a");
    /// assert_eq!(grants.publish_selectors()[0].as_str(), "a");
    /// ```
    pub fn publish_selectors(&self) -> &[TopicSelector] {
        &self.publish
    }

    /// Adds what `other` allows (not whether it is authenticated, nor its
    /// expiry): what every request may do, added to a token's grants.
    #[cfg(feature = "jwt")]
    pub(crate) fn with_selectors_of(mut self, other: &Grants) -> Grants {
        self.subscribe.extend(other.subscribe.iter().cloned());
        self.publish.extend(other.publish.iter().cloned());
        self
    }

    /// The refusal of `action` on `topic`: 401 without credentials, 403
    /// with.
    fn refuse(&self, action: Action, topic: &str) -> Refusal {
        let topic = topic.to_owned();
        if self.authenticated {
            Refusal::Forbidden { action, topic }
        } else {
            Refusal::Unauthenticated { action, topic }
        }
    }
}

/// The topics one request may do something with, checked: the only way a
/// handler reaches a [`Guarded`](super::Guarded) hub's topics. A handler
/// gets it as an extractor (below), or builds one from [`Grants`] it has
/// made itself.
///
/// ```
/// use sse_runtime::auth::{Grants, Refusal, TopicAccess};
/// let access = TopicAccess::new(Grants::authenticated().allow_subscribe("room:a"));
/// let permit = access.subscribe(&["room:a"]).unwrap();
/// assert_eq!(permit.topics(), ["room:a"]);
/// let refused = access.subscribe(&["room:a", "room:b"]).unwrap_err();
/// assert_eq!(refused.status(), http::StatusCode::FORBIDDEN);
/// assert!(matches!(refused, Refusal::Forbidden { ref topic, .. } if topic == "room:b"));
/// ```
///
/// # As an extractor
///
/// It runs the router's [`Authorizer`](super::Authorizer) on the request,
/// once (a `TopicAccess` already in the request's extensions, from an
/// earlier extractor or a middleware, is used as it is), and rejects with
/// its [`Refusal`] (`401`, or `500` without an authorizer) before the
/// handler runs. The handler then checks its topics with
/// [`subscribe`](Self::subscribe) and [`publish`](Self::publish).
///
/// With `#[sse_handler]`, whose body runs only once the response has
/// started, check the topics in an extractor, as here, so that a refused
/// request gets `403` and no stream:
///
/// ```
/// use axum::extract::{FromRequestParts, Query, State};
/// use axum::response::{IntoResponse, Response};
/// use axum::{routing::get, Extension, Router};
/// use http::request::Parts;
/// use sse_runtime::auth::{Authorizer, Grants, Guarded, SubscribePermit, TopicAccess};
/// use sse_runtime::hub::Hub;
/// use sse_runtime::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct Feed { feed: String }
///
/// /// Leave to read the feed the query names: refused (401, 403, or 400
/// /// for a bad query) before the handler runs.
/// struct FeedPermit(SubscribePermit);
///
/// impl<S: Send + Sync> FromRequestParts<S> for FeedPermit {
///     type Rejection = Response;
///     async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
///         let Query(asked) = Query::<Feed>::from_request_parts(parts, state)
///             .await
///             .map_err(IntoResponse::into_response)?;
///         let access = TopicAccess::from_request_parts(parts, state)
///             .await
///             .map_err(IntoResponse::into_response)?;
///         let topic = format!("feed:{}", asked.feed);
///         access.subscribe(&[&topic]).map(FeedPermit).map_err(IntoResponse::into_response)
///     }
/// }
///
/// #[sse_handler]
/// async fn feed(FeedPermit(permit): FeedPermit, State(hub): State<Guarded<Hub>>, last: LastEventId) {
///     let mut subscription = hub.subscribe(&permit, &last);
///     while let Some(event) = subscription.next().await {
///         yield_!(event);
///     }
/// }
///
/// let authorizer = Authorizer::from_fn(|_: &Parts| Ok(Grants::anonymous().allow_subscribe("feed:public")));
/// let app: Router = Router::new()
///     .route("/feed", get(feed))
///     .layer(Extension(authorizer))
///     .with_state(Guarded::new(Hub::new()));
/// ```
#[derive(Debug, Clone)]
pub struct TopicAccess {
    grants: Arc<Grants>,
}

impl TopicAccess {
    /// Access as `grants` allow. Handlers usually take `TopicAccess` as an
    /// extractor instead, made by the router's
    /// [`Authorizer`](super::Authorizer).
    ///
    /// ```
    /// let access = sse_runtime::auth::TopicAccess::new(sse_runtime::auth::Grants::anonymous());
    /// assert!(!access.grants().is_authenticated());
    /// ```
    pub fn new(grants: Grants) -> TopicAccess {
        TopicAccess {
            grants: Arc::new(grants),
        }
    }

    /// What the request may do.
    ///
    /// ```
    /// let access = sse_runtime::auth::TopicAccess::new(sse_runtime::auth::Grants::anonymous().allow_subscribe("a"));
    /// assert!(access.grants().may_subscribe("a"));
    /// ```
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// A permit to subscribe to every one of `topics`, or the refusal of
    /// the first one not allowed (`401` without credentials, `403` with):
    /// all or nothing, so a subscription never holds some of the topics
    /// asked for in silence. Grants past their expiry give no permit
    /// (`401`).
    ///
    /// ```
    /// use sse_runtime::auth::{Grants, TopicAccess};
    /// let visitor = TopicAccess::new(Grants::anonymous().allow_subscribe("public"));
    /// assert!(visitor.subscribe(&["public"]).is_ok());
    /// let refusal = visitor.subscribe(&["private"]).unwrap_err();
    /// assert_eq!(refusal.status(), http::StatusCode::UNAUTHORIZED);
    /// ```
    pub fn subscribe(&self, topics: &[&str]) -> Result<SubscribePermit, Refusal> {
        self.check_not_expired()?;
        if let Some(topic) = topics
            .iter()
            .find(|topic| !self.grants.may_subscribe(topic))
        {
            return Err(self.grants.refuse(Action::Subscribe, topic));
        }
        Ok(SubscribePermit {
            topics: topics.iter().map(|&topic| topic.to_owned()).collect(),
            expires_at: self.grants.expires_at,
        })
    }

    /// A permit to publish to `topic`, or its refusal (`401` without
    /// credentials, `403` with; `401` for grants past their expiry).
    ///
    /// The permit holds as long as the grants: kept past their end (by a
    /// long stream that publishes as it goes), it publishes nothing
    /// ([`HubError::PermitExpired`](crate::hub::HubError::PermitExpired)).
    ///
    /// ```
    /// use sse_runtime::auth::{Grants, TopicAccess};
    /// let reader = TopicAccess::new(Grants::authenticated().allow_subscribe("news"));
    /// assert_eq!(reader.publish("news").unwrap_err().status(), http::StatusCode::FORBIDDEN);
    /// ```
    pub fn publish(&self, topic: &str) -> Result<PublishPermit, Refusal> {
        self.check_not_expired()?;
        if !self.grants.may_publish(topic) {
            return Err(self.grants.refuse(Action::Publish, topic));
        }
        Ok(PublishPermit {
            topic: topic.to_owned(),
            expires_at: self.grants.expires_at,
        })
    }
}

impl TopicAccess {
    /// Grants past their expiry ([`Grants::until`]) allow nothing: a hook
    /// that returned them (a session that just ended) gets `401`, before
    /// a stream starts rather than a stream that ends at once.
    fn check_not_expired(&self) -> Result<(), Refusal> {
        match self.grants.expires_at {
            Some(at) if at <= SystemTime::now() => {
                Err(Refusal::invalid_credentials("the credentials have expired"))
            }
            _ => Ok(()),
        }
    }
}

/// Leave to subscribe to some topics, from [`TopicAccess::subscribe`]: what
/// [`Guarded`](super::Guarded)'s `subscribe` methods take. It holds the
/// topics checked, and nothing else can be subscribed to with it.
///
/// ```
/// use sse_runtime::auth::{Grants, TopicAccess};
/// let access = TopicAccess::new(Grants::authenticated().allow_subscribe("*"));
/// let permit = access.subscribe(&["a", "b"]).unwrap();
/// assert_eq!(permit.topics(), ["a", "b"]);
/// ```
#[derive(Debug, Clone)]
pub struct SubscribePermit {
    topics: Vec<String>,
    expires_at: Option<SystemTime>,
}

impl SubscribePermit {
    /// The topics it allows.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, TopicAccess};
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// assert_eq!(permit.topics().len(), 1);
    /// ```
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// When the grants it came from end, if they do: a subscription made
    /// with it ends then.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, TopicAccess};
    /// let permit = TopicAccess::new(Grants::anonymous().allow_subscribe("a")).subscribe(&["a"]).unwrap();
    /// assert_eq!(permit.expires_at(), None);
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The topics as `subscribe` takes them.
    pub(crate) fn topic_refs(&self) -> Vec<&str> {
        self.topics.iter().map(String::as_str).collect()
    }
}

/// Leave to publish to one topic, from [`TopicAccess::publish`]: what
/// [`Guarded`](super::Guarded)'s `publish` takes.
///
/// ```
/// use sse_runtime::auth::{Grants, TopicAccess};
/// let permit = TopicAccess::new(Grants::authenticated().allow_publish("news")).publish("news").unwrap();
/// assert_eq!(permit.topic(), "news");
/// ```
#[derive(Debug, Clone)]
pub struct PublishPermit {
    topic: String,
    expires_at: Option<SystemTime>,
}

impl PublishPermit {
    /// The topic it allows.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, TopicAccess};
    /// let permit = TopicAccess::new(Grants::anonymous().allow_publish("a")).publish("a").unwrap();
    /// assert_eq!(permit.topic(), "a");
    /// ```
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// When the grants it came from end, if they do: it publishes nothing
    /// after then.
    ///
    /// ```
    /// # use sse_runtime::auth::{Grants, TopicAccess};
    /// let permit = TopicAccess::new(Grants::anonymous().allow_publish("a")).publish("a").unwrap();
    /// assert_eq!(permit.expires_at(), None);
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Whether its grants have ended.
    pub(crate) fn has_expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// Grants hold until their expiry, and not after: an application's
    /// hook that returns grants already past it (a session that ended)
    /// gets its request refused with `401` before any stream starts, not a
    /// permit whose stream opens and ends at once.
    #[test]
    fn grants_past_their_expiry_give_no_permit() {
        let ended = Grants::authenticated()
            .allow_subscribe("a")
            .allow_publish("a")
            .until(SystemTime::now() - Duration::from_secs(1));
        let access = TopicAccess::new(ended);
        for refusal in [
            access.subscribe(&["a"]).unwrap_err(),
            access.publish("a").unwrap_err(),
        ] {
            assert!(
                matches!(refusal, Refusal::InvalidCredentials(_)),
                "{refusal:?}"
            );
            assert_eq!(refusal.status(), http::StatusCode::UNAUTHORIZED);
        }
        let live = Grants::authenticated()
            .allow_subscribe("a")
            .until(SystemTime::now() + Duration::from_secs(60));
        assert!(TopicAccess::new(live).subscribe(&["a"]).is_ok());
    }
}
