//! Why a request was refused, and the response that says so: `401` or
//! `403` with RFC 6750's `WWW-Authenticate: Bearer`, a line of text, and
//! never a stream.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use super::Action;

/// Why a request may not do what it asked, as a response: a handler
/// returns it (it is `IntoResponse`), and the [`TopicAccess`] extractor
/// rejects with it, so a refused request gets its status before any stream
/// starts.
///
/// | variant | status | when |
/// |---|---|---|
/// | [`InvalidCredentials`](Refusal::InvalidCredentials) | `401` | credentials were presented and do not hold: forged, expired, not yet valid, signed with another algorithm, malformed |
/// | [`Unauthenticated`](Refusal::Unauthenticated) | `401` | no credentials, and the topic is not open to requests without |
/// | [`Forbidden`](Refusal::Forbidden) | `403` | valid credentials that do not allow the topic |
/// | [`NotConfigured`](Refusal::NotConfigured) | `500` | the router has no [`Authorizer`]: nothing is allowed (logged as an error) |
/// | [`AuthorizerPanicked`](Refusal::AuthorizerPanicked) | `500` | the [`Authorizer`]'s hook panicked: nothing is allowed (logged as an error) |
///
/// `401` and `403` carry `WWW-Authenticate: Bearer` (with RFC 6750's
/// `error="invalid_token"` or `error="insufficient_scope"`), every refusal
/// `Cache-Control: no-store`, and a body of one line of text: this type's
/// `Display`.
///
/// ```
/// use axum::response::IntoResponse;
/// use sse_runtime::auth::{Action, Refusal};
/// let refusal = Refusal::Forbidden { action: Action::Subscribe, topic: "room:b".into() };
/// let response = refusal.into_response();
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="insufficient_scope""#);
/// ```
///
/// [`TopicAccess`]: super::TopicAccess
/// [`Authorizer`]: super::Authorizer
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The request's credentials do not hold; why, in a few words (sent to
    /// the client, so nothing secret).
    InvalidCredentials(String),
    /// The request has no credentials, and `topic` is not open to requests
    /// without.
    Unauthenticated {
        /// What was asked.
        action: Action,
        /// Of which topic.
        topic: String,
    },
    /// The request's credentials are valid, and do not allow `topic`.
    Forbidden {
        /// What was asked.
        action: Action,
        /// Of which topic.
        topic: String,
    },
    /// No [`Authorizer`](super::Authorizer) is installed on the router, so
    /// no request can be allowed anything.
    NotConfigured,
    /// The router's [`Authorize`](super::Authorize) hook panicked: the
    /// panic is caught (as a handler's is), so that the request gets this
    /// answer rather than its connection being dropped.
    AuthorizerPanicked,
}

impl Refusal {
    /// Credentials that do not hold, for an
    /// [`Authorize`](super::Authorize) implementation: `reason` is sent
    /// to the client.
    ///
    /// ```
    /// let refusal = sse_runtime::auth::Refusal::invalid_credentials("the session has ended");
    /// assert_eq!(refusal.status(), 401);
    /// ```
    pub fn invalid_credentials(reason: impl Into<String>) -> Refusal {
        Refusal::InvalidCredentials(reason.into())
    }

    /// The status it answers with.
    ///
    /// ```
    /// assert_eq!(sse_runtime::auth::Refusal::NotConfigured.status(), 500);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::InvalidCredentials(_) | Refusal::Unauthenticated { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Refusal::Forbidden { .. } => StatusCode::FORBIDDEN,
            Refusal::NotConfigured | Refusal::AuthorizerPanicked => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// RFC 6750's challenge for this refusal, if it has one.
    fn challenge(&self) -> Option<HeaderValue> {
        let text = match self {
            Refusal::InvalidCredentials(reason) => format!(
                r#"Bearer error="invalid_token", error_description="{}""#,
                description(reason)
            ),
            Refusal::Unauthenticated { .. } => "Bearer".to_owned(),
            Refusal::Forbidden { .. } => r#"Bearer error="insufficient_scope""#.to_owned(),
            Refusal::NotConfigured | Refusal::AuthorizerPanicked => return None,
        };
        // Only visible ASCII is written (see `description`), so this holds.
        HeaderValue::from_str(&text).ok()
    }
}

/// `reason` as RFC 6750 allows an `error_description`: visible ASCII and
/// spaces, without `"` or `\`; anything else becomes `?`, so that no
/// reason can break the header or forge another parameter.
fn description(reason: &str) -> String {
    reason
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::InvalidCredentials(reason) => write!(f, "invalid credentials: {reason}"),
            Refusal::Unauthenticated { action, topic } => write!(
                f,
                "credentials are needed to {action} to the topic {topic:?}"
            ),
            Refusal::Forbidden { action, topic } => write!(
                f,
                "these credentials do not allow to {action} to the topic {topic:?}"
            ),
            Refusal::NotConfigured => f.write_str(
                "the server has no authorizer for topics (an sse_runtime::auth::Authorizer extension)",
            ),
            Refusal::AuthorizerPanicked => {
                f.write_str("the server failed to check the request's credentials")
            }
        }
    }
}

impl std::error::Error for Refusal {}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match &self {
            Refusal::NotConfigured => tracing::error!(
                target: "sse_runtime::auth",
                "a request was refused because the router has no Authorizer: \
                 add .layer(Extension(Authorizer::new(..))) to it"
            ),
            Refusal::AuthorizerPanicked => tracing::error!(
                target: "sse_runtime::auth",
                "a request was refused because the Authorizer's hook panicked"
            ),
            refusal => tracing::debug!(target: "sse_runtime::auth", %refusal, "request refused"),
        }
        let mut response = (self.status(), format!("{self}\n")).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge() {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_reason_can_break_the_challenge() {
        let refusal = Refusal::invalid_credentials("bad \"token\"\r\nX-Forged: 1 \\ é");
        let challenge = refusal.challenge().expect("a challenge");
        assert_eq!(
            challenge,
            r#"Bearer error="invalid_token", error_description="bad ?token???X-Forged: 1 ? ?""#
        );
    }
}
