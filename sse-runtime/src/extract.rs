//! The axum extractors: [`LastEventId`], [`StreamContext`], and
//! [`ShutdownSignal`]'s. The only module besides the response types that
//! knows about axum requests.

use std::convert::Infallible;
use std::str::FromStr;

use axum::extract::{FromRequestParts, MatchedPath};
use http::request::Parts;

use crate::lifecycle::{Shutdown, ShutdownSignal};

/// The longest `Last-Event-ID` value accepted, in bytes. Ids are meant to be
/// short keys; a longer header is treated as absent rather than copied.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// let long = "7".repeat(sse_runtime::MAX_LAST_EVENT_ID_LEN + 1);
/// headers.insert("last-event-id", long.parse().unwrap());
/// assert_eq!(sse_runtime::LastEventId::from_headers(&headers).as_str(), None);
/// ```
pub const MAX_LAST_EVENT_ID_LEN: usize = 1024;

/// The `Last-Event-ID` header a reconnecting `EventSource` sends: the id of
/// the last event it received.
///
/// Extracting it never fails, because refusing the request would make the
/// browser give up on the stream for good (`EventSource` does not reconnect
/// after an error status). Instead, a value that cannot be an id this server
/// sent is treated as absent, and the stream starts from the beginning:
///
/// | header                                          | value        |
/// |-------------------------------------------------|--------------|
/// | absent, or empty                                 | `None`       |
/// | valid UTF-8, at most [`MAX_LAST_EVENT_ID_LEN`] bytes | `Some(text)` |
/// | not UTF-8, or longer than that                   | `None`, logged at `debug` |
///
/// When the header appears more than once, the first one counts.
///
/// ```
/// use axum::{routing::get, Router};
/// use sse_runtime::prelude::*;
///
/// #[sse_handler]
/// async fn updates(last: LastEventId) {
///     let start = last.parse::<u32>().map_or(1, |n| n + 1);
///     for i in start..=10 {
///         yield_!(event!(data: i.to_string(), id: i));
///     }
/// }
///
/// let app: Router = Router::new().route("/updates", get(updates));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl LastEventId {
    /// The id, if the client sent a usable one.
    ///
    /// ```
    /// let last = sse_runtime::LastEventId(Some("7".into()));
    /// assert_eq!(last.as_str(), Some("7"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The id parsed as `T` (for example a `u64` sequence number); `None` if
    /// absent or not parsable.
    ///
    /// ```
    /// let last = sse_runtime::LastEventId(Some("7".into()));
    /// assert_eq!(last.parse::<u64>(), Some(7));
    /// assert_eq!(sse_runtime::LastEventId(None).parse::<u64>(), None);
    /// ```
    pub fn parse<T: FromStr>(&self) -> Option<T> {
        self.as_str()?.parse().ok()
    }

    /// The id, taken out.
    ///
    /// ```
    /// assert_eq!(sse_runtime::LastEventId(None).into_inner(), None);
    /// ```
    pub fn into_inner(self) -> Option<String> {
        self.0
    }

    /// Reads the id from request headers, with the rules above.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("last-event-id", "42".parse().unwrap());
    /// assert_eq!(sse_runtime::LastEventId::from_headers(&headers).as_str(), Some("42"));
    /// ```
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let Some(value) = headers.get("last-event-id") else {
            return LastEventId(None);
        };
        if value.len() > MAX_LAST_EVENT_ID_LEN {
            tracing::debug!(
                len = value.len(),
                "ignoring Last-Event-ID longer than {MAX_LAST_EVENT_ID_LEN} bytes"
            );
            return LastEventId(None);
        }
        match std::str::from_utf8(value.as_bytes()) {
            Ok("") => LastEventId(None),
            Ok(text) => LastEventId(Some(text.to_owned())),
            Err(_) => {
                tracing::debug!("ignoring Last-Event-ID that is not UTF-8");
                LastEventId(None)
            }
        }
    }
}

impl<'a> From<&'a LastEventId> for crate::hub::LastSeen<'a> {
    fn from(last: &'a LastEventId) -> Self {
        last.as_str().into()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(LastEventId::from_headers(&parts.headers))
    }
}

/// What a stream needs from its request: the matched route (for the
/// end-of-stream record), the router's [`Shutdown`], if one is installed,
/// and, with the `compression` feature, the request's `Accept-Encoding`.
///
/// `#[sse_handler]` functions extract it by themselves. A response built by
/// hand takes it as an extractor argument and passes it to
/// [`SseResponse::with_context`](crate::SseResponse::with_context):
///
/// ```
/// use sse_runtime::{Event, SseResponse, StreamContext};
///
/// async fn by_hand(context: StreamContext) -> SseResponse<impl std::future::Future<Output = ()> + Send> {
///     SseResponse::new(|mut emitter| async move {
///         emitter.send(Event::data("hi")).await;
///     })
///     .with_context(context)
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(by_hand));
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamContext {
    // Kept as axum's shared string: no copy per request.
    pub(crate) route: Option<MatchedPath>,
    pub(crate) shutdown: Option<Shutdown>,
    /// Read only if the response is compressed (a shared buffer: no copy).
    #[cfg(feature = "compression")]
    pub(crate) accept_encoding: Option<http::HeaderValue>,
}

impl<S: Send + Sync> FromRequestParts<S> for StreamContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(StreamContext {
            route: parts.extensions.get::<MatchedPath>().cloned(),
            shutdown: parts.extensions.get::<Shutdown>().cloned(),
            #[cfg(feature = "compression")]
            accept_encoding: accept_encoding(&parts.headers),
        })
    }
}

/// The request's `Accept-Encoding` lines as one list: several lines mean
/// what they would joined with commas (RFC 9110 §5.3), and a proxy may
/// split one. A line that is not visible ASCII cannot be read, and is left
/// out. One line, the usual case, is kept as it is (a shared buffer).
#[cfg(feature = "compression")]
fn accept_encoding(headers: &http::HeaderMap) -> Option<http::HeaderValue> {
    let mut lines = headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter(|line| line.to_str().is_ok());
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        return Some(first.clone());
    };
    let mut joined = first.as_bytes().to_vec();
    for line in std::iter::once(second).chain(lines) {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(line.as_bytes());
    }
    http::HeaderValue::from_bytes(&joined).ok()
}

/// With no [`Shutdown`] installed on the router, the signal never fires.
impl<S: Send + Sync> FromRequestParts<S> for ShutdownSignal {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Shutdown>()
            .map(Shutdown::signal)
            .unwrap_or_default())
    }
}
