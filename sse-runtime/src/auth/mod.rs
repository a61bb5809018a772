//! Per-topic authorization: which topics a request may subscribe to and
//! publish to, decided before its response starts.
//!
//! * **A hook per router** ([`Authorizer`], installed as an axum
//!   `Extension`) makes a request's [`Grants`] from its parts: a verified
//!   token's claims ([`JwtAuthorizer`], feature `jwt`, reads Mercure's
//!   `mercure.subscribe` and `mercure.publish`), a session, an API key.
//!   The core does not depend on JWTs: any [`Authorize`] implementation
//!   or closure will do.
//! * **An extractor per request** ([`TopicAccess`]) runs it before the
//!   handler, and rejects credentials that do not hold with `401`.
//!   [`TopicAccess::subscribe`] and [`TopicAccess::publish`] check topics
//!   against the grants ([`TopicSelector`]: exact names, or a prefix and a
//!   trailing `*`) and give a permit, or a [`Refusal`]: `401` without
//!   credentials, `403` with credentials that do not allow the topic.
//! * **A hub reached only with permits** ([`Guarded`]): put it in the
//!   router's state instead of the hub, and a handler cannot subscribe or
//!   publish to a topic no check allowed. A subscription holds exactly the
//!   topics of its permit, and every way an event reaches a subscriber
//!   (live delivery, recent events, resuming from a `Last-Event-ID` out of
//!   the log or the broker's history) reads its own topics only. It ends
//!   when its grants expire.
//!
//! With `#[sse_handler]`, whose body runs only once the response has
//! started, check topics in an extractor (see [`TopicAccess`] for a
//! whole example): a refusal is then the response, and no stream starts.
//! An axum handler that returns `Result<SseResponse<_>, Refusal>` works as
//! well.
//!
//! ```
//! use axum::extract::{Query, State};
//! use axum::http::StatusCode;
//! use axum::response::{IntoResponse, Response};
//! use axum::{routing::post, Extension, Router};
//! use sse_runtime::auth::{Authorizer, Grants, Guarded, TopicAccess};
//! use sse_runtime::hub::Hub;
//! use sse_runtime::event;
//!
//! #[derive(serde::Deserialize)]
//! struct Target { topic: String }
//!
//! /// Publishes the body to a topic the request may publish to: 401 or 403
//! /// otherwise, and nothing is published.
//! async fn publish(
//!     access: TopicAccess,
//!     State(hub): State<Guarded<Hub>>,
//!     Query(target): Query<Target>,
//!     body: String,
//! ) -> Response {
//!     let permit = match access.publish(&target.topic) {
//!         Ok(permit) => permit,
//!         Err(refusal) => return refusal.into_response(),
//!     };
//!     match hub.publish(&permit, event!(data: body)).await {
//!         Ok(id) => (StatusCode::CREATED, id.to_string()).into_response(),
//!         Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
//!     }
//! }
//!
//! let authorizer = Authorizer::from_fn(|_: &http::request::Parts| {
//!     Ok(Grants::anonymous().allow_publish("guestbook"))
//! });
//! let app: Router = Router::new()
//!     .route("/publish", post(publish))
//!     .layer(Extension(authorizer))
//!     .with_state(Guarded::new(Hub::new()));
//! ```
//!
//! **Runs** ([`runs`](crate::runs)) are not topics a request names: a
//! run's events are reached by its id, 128 random bits that only whoever
//! started the run (and whoever it tells) knows. The id is the
//! capability: `Runs::attach` does not ask for grants. Where a run
//! belongs to a user, keep its owner beside its id and check it before
//! attaching.

mod extract;
mod grants;
mod guarded;
#[cfg(feature = "jwt")]
mod jwt;
mod refusal;

pub use self::extract::{Authorize, Authorizer};
pub use self::grants::{
    Action, Grants, PublishPermit, SubscribePermit, TopicAccess, TopicSelector,
};
pub use self::guarded::Guarded;
#[cfg(feature = "jwt")]
pub use self::jwt::{JwtAuthorizer, JwtConfigError};
pub use self::refusal::Refusal;

/// The JWT crate [`JwtAuthorizer`] verifies with (feature `jwt`): its
/// `DecodingKey` and `Algorithm` make one, and tests sign tokens with its
/// `encode`, at the same version.
#[cfg(feature = "jwt")]
pub use jsonwebtoken;
