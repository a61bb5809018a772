//! The glue to axum: the hook that makes [`Grants`] from a request
//! ([`Authorize`], [`Authorizer`]) and the [`TopicAccess`] extractor that
//! runs it before the handler, so a refused request is answered before any
//! stream starts.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::{Grants, Refusal, TopicAccess};

/// Decides from a request's parts (its headers, URI, extensions) what it
/// may do. Return [`Grants::anonymous`] (allowing what is open to
/// everyone) for a request without credentials, and
/// [`Refusal::invalid_credentials`] for credentials that do not hold.
///
/// It runs once per request, before the handler, when the handler (or one
/// of its extractors) takes a [`TopicAccess`]. A closure will do for a
/// check that does not wait ([`Authorizer::from_fn`]); implement this trait
/// for one that does (a session store, say). With the `jwt` feature,
/// [`JwtAuthorizer`](super::JwtAuthorizer) implements it.
///
/// Nothing times it out: a hook that waits on a store that does not
/// answer holds its request (with no response and no stream) until the
/// client gives up. Give such a wait a deadline of its own
/// (`tokio::time::timeout`) and refuse when it passes. A panic in it is
/// caught ([`Refusal::AuthorizerPanicked`]).
///
/// ```
/// use http::request::Parts;
/// use sse_runtime::auth::{Authorize, Authorizer, Grants, Refusal};
///
/// /// Sessions, looked up by their cookie.
/// struct Sessions;
///
/// impl Authorize for Sessions {
///     async fn authorize(&self, request: &Parts) -> Result<Grants, Refusal> {
///         let Some(cookie) = request.headers.get("cookie") else {
///             return Ok(Grants::anonymous());
///         };
///         // .. look the session up (awaiting a store) ..
///         # let _ = cookie;
///         Ok(Grants::authenticated().allow_subscribe("user:42:*"))
///     }
/// }
///
/// let authorizer = Authorizer::new(Sessions);
/// # let _ = authorizer;
/// ```
pub trait Authorize: Send + Sync + 'static {
    /// The grants of `request`, or why it is refused.
    ///
    /// ```
    /// use http::request::Parts;
    /// use sse_runtime::auth::{Authorize, Grants, Refusal};
    ///
    /// struct EveryoneReads;
    ///
    /// impl Authorize for EveryoneReads {
    ///     async fn authorize(&self, _: &Parts) -> Result<Grants, Refusal> {
    ///         Ok(Grants::anonymous().allow_subscribe("news"))
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (request, ()) = http::Request::new(()).into_parts();
    /// let grants = EveryoneReads.authorize(&request).await.unwrap();
    /// assert!(grants.may_subscribe("news"));
    /// # });
    /// ```
    fn authorize(&self, request: &Parts) -> impl Future<Output = Result<Grants, Refusal>> + Send;
}

/// [`Authorize`] with its future boxed, so that any implementation fits in
/// one [`Authorizer`].
trait ErasedAuthorize: Send + Sync {
    fn authorize<'a>(
        &'a self,
        request: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Result<Grants, Refusal>> + Send + 'a>>;
}

impl<A: Authorize> ErasedAuthorize for A {
    fn authorize<'a>(
        &'a self,
        request: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Result<Grants, Refusal>> + Send + 'a>> {
        Box::pin(Authorize::authorize(self, request))
    }
}

/// A closure as an [`Authorize`].
struct FromFn<F>(F);

impl<F> Authorize for FromFn<F>
where
    F: Fn(&Parts) -> Result<Grants, Refusal> + Send + Sync + 'static,
{
    fn authorize(&self, request: &Parts) -> impl Future<Output = Result<Grants, Refusal>> + Send {
        std::future::ready((self.0)(request))
    }
}

/// The router's hook for topic authorization: install it as an
/// [`Extension`](axum::Extension), and every [`TopicAccess`] extractor on
/// the router runs it. Cheap to clone.
///
/// Without one, a [`TopicAccess`] extractor refuses every request
/// ([`Refusal::NotConfigured`], `500`, logged as an error): a router that
/// forgot it allows nothing rather than everything.
///
/// ```
/// use axum::{routing::get, Extension, Router};
/// use sse_runtime::auth::{Authorizer, Grants, Refusal};
///
/// // Everyone may read `news`; a request with the right API key may read
/// // and write every topic.
/// let authorizer = Authorizer::from_fn(|request: &http::request::Parts| {
///     match request.headers.get("x-api-key") {
///         None => Ok(Grants::anonymous().allow_subscribe("news")),
///         Some(key) if key == "let-me-in" => {
///             Ok(Grants::authenticated().allow_subscribe("*").allow_publish("*"))
///         }
///         Some(_) => Err(Refusal::invalid_credentials("unknown API key")),
///     }
/// });
/// let app: Router = Router::new()
///     .route("/", get(|| async { "routes that take a TopicAccess" }))
///     .layer(Extension(authorizer));
/// ```
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<dyn ErasedAuthorize>,
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

impl Authorizer {
    /// The hook `authorize` implements.
    ///
    /// ```
    /// # #[cfg(feature = "jwt")] {
    /// use sse_runtime::auth::{Authorizer, JwtAuthorizer};
    /// use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// let key = DecodingKey::from_secret(b"a secret of at least 32 bytes......").unwrap();
    /// let authorizer = Authorizer::new(JwtAuthorizer::new(key, Algorithm::HS256).unwrap());
    /// # let _ = authorizer; }
    /// ```
    pub fn new(authorize: impl Authorize) -> Authorizer {
        Authorizer {
            inner: Arc::new(authorize),
        }
    }

    /// The hook `check` is: a closure of the request's parts that does not
    /// wait.
    ///
    /// ```
    /// use sse_runtime::auth::{Authorizer, Grants};
    /// let open = Authorizer::from_fn(|_: &http::request::Parts| Ok(Grants::anonymous().allow_subscribe("*")));
    /// # let _ = open;
    /// ```
    pub fn from_fn<F>(check: F) -> Authorizer
    where
        F: Fn(&Parts) -> Result<Grants, Refusal> + Send + Sync + 'static,
    {
        Authorizer::new(FromFn(check))
    }

    /// The grants of `request`, or why it is refused: what the
    /// [`TopicAccess`] extractor does, for a handler or extractor of one's
    /// own.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::auth::{Authorizer, Grants};
    /// let authorizer = Authorizer::from_fn(|_: &http::request::Parts| Ok(Grants::anonymous()));
    /// let (parts, ()) = http::Request::new(()).into_parts();
    /// let grants = authorizer.authorize(&parts).await.unwrap();
    /// assert!(!grants.is_authenticated());
    /// # });
    /// ```
    ///
    /// A panic in the hook (as it is called, or as its future runs) is
    /// caught and answered as [`Refusal::AuthorizerPanicked`] (`500`), as
    /// a panic in a handler ends its own stream only: unwinding into the
    /// server's connection task would drop the connection without a
    /// response.
    pub async fn authorize(&self, request: &Parts) -> Result<Grants, Refusal> {
        let caught = |panic: Box<dyn std::any::Any + Send>| {
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic without a message");
            tracing::error!(target: "sse_runtime::auth", panic = message, "the Authorizer's hook panicked");
            Refusal::AuthorizerPanicked
        };
        // A closure's hook runs as its future is made.
        let mut future =
            catch_unwind(AssertUnwindSafe(|| self.inner.authorize(request))).map_err(caught)?;
        std::future::poll_fn(|cx| {
            match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                Ok(poll) => poll,
                Err(panic) => Poll::Ready(Err(caught(panic))),
            }
        })
        .await
    }
}

/// The extractor; see [`TopicAccess`].
impl<S: Send + Sync> FromRequestParts<S> for TopicAccess {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refusal> {
        if let Some(access) = parts.extensions.get::<TopicAccess>() {
            return Ok(access.clone());
        }
        let authorizer = parts
            .extensions
            .get::<Authorizer>()
            .cloned()
            .ok_or(Refusal::NotConfigured)?;
        let access = TopicAccess::new(authorizer.authorize(parts).await?);
        parts.extensions.insert(access.clone());
        Ok(access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct PanicsAfterWaiting;

    impl Authorize for PanicsAfterWaiting {
        async fn authorize(&self, _: &Parts) -> Result<Grants, Refusal> {
            tokio::task::yield_now().await;
            panic!("a bug in the application's hook");
        }
    }

    /// A panic in the application's hook, as it is called or as its
    /// future runs, is refused with `500` like a panic in a handler ends
    /// its stream only: it never unwinds into the connection's task, which
    /// would drop the connection (and the requests after it on it) without
    /// a response.
    #[tokio::test]
    async fn a_panicking_hook_is_a_500_refusal() {
        let (parts, ()) = http::Request::new(()).into_parts();
        let hooks = [
            Authorizer::from_fn(|_: &Parts| panic!("a bug in the application's closure")),
            Authorizer::new(PanicsAfterWaiting),
        ];
        for authorizer in hooks {
            let refusal = authorizer.authorize(&parts).await.unwrap_err();
            assert_eq!(refusal, Refusal::AuthorizerPanicked);
            assert_eq!(refusal.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
}
