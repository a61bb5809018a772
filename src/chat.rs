//! The chat application: `POST /messages` publishes to every open
//! `GET /stream`, on this process or, through Redis, on any other one, and a
//! browser that reconnects (to any of them) catches up from its
//! `Last-Event-ID`. Its events are one type, [`ChatEvent`], from the
//! handler to the page (`examples/chat/events.d.ts` and `events.js` are
//! generated from it). `cargo run --example chat` serves it; the tests build
//! it with [`app`] and [`app_with`].
//!
//! Rooms: `?room=NAME` on both routes (the [`PUBLIC_ROOM`] without one).
//! The public room is open to everyone; any other is private, and needs a
//! token whose `mercure.subscribe` (to read) or `mercure.publish` (to
//! post) claim allows its topic, `room:NAME` ([`room_topic`]), in an
//! `Authorization: Bearer` header or, for the browser's `EventSource`,
//! the `access_token` query parameter. A refused request gets `401` or
//! `403` and no stream.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use sse_runtime::auth::jsonwebtoken::{self, Algorithm, DecodingKey, EncodingKey};
use sse_runtime::auth::{
    Authorizer, Grants, Guarded, JwtAuthorizer, JwtConfigError, PublishPermit, SubscribePermit,
    TopicAccess,
};
use sse_runtime::hub::{Hub, HubError, TypedHub};
use sse_runtime::prelude::*;
use sse_runtime::Shutdown;

/// The longest message text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// The longest user name accepted, in characters.
pub const MAX_USER_CHARS: usize = 64;
/// The largest request body `POST /messages` reads: a message at its
/// longest, escaped as JSON, fits several times over. Larger bodies get
/// `413 Payload Too Large` before they are read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// How many of the room's newest events a newcomer sees first.
pub const RECENT: usize = 50;

/// A message posted to the room: what `POST /messages` takes, and the data
/// of a `message` event.
#[derive(Serialize, Deserialize, ts_rs::TS, Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
}

/// Everything the room's stream sends, from the Rust handler to the page,
/// besides the hub's own notices (`lagged`: the stream fell behind and
/// ends, and the browser reconnects and resumes; `reset`: the events after
/// the id the browser resumed from are gone, and the page starts over).
#[derive(SseEvent, Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A message posted to the room.
    Message(Message),
    /// Someone opened the room.
    Join {
        /// Their name.
        user: String,
    },
}

/// The room everyone may read and post to, without a token; the room of a
/// request that names none.
pub const PUBLIC_ROOM: &str = "public";
/// The longest room name accepted, in characters.
pub const MAX_ROOM_CHARS: usize = 64;
/// The query parameter a token may come in, for `EventSource`.
pub const TOKEN_PARAMETER: &str = "access_token";

/// The hub topic of `room`: what a token's claims name.
pub fn room_topic(room: &str) -> String {
    format!("room:{room}")
}

/// The rooms' hub, carrying [`ChatEvent`]s, reached only with permits.
type Rooms = Guarded<TypedHub<ChatEvent>>;

/// What every request may do, with or without a token: read and post in
/// the public room.
fn open_to_everyone() -> Grants {
    let public = room_topic(PUBLIC_ROOM);
    Grants::anonymous()
        .allow_subscribe(public.as_str())
        .allow_publish(public)
}

/// The authorizer of a chat with the public room only: no token is
/// verified, and every private room is refused (`401`).
pub fn public_only() -> Authorizer {
    Authorizer::from_fn(|_: &Parts| Ok(open_to_everyone()))
}

/// The authorizer of a chat with private rooms: HS256 tokens signed with
/// `secret`, in the `Authorization: Bearer` header or the
/// [`TOKEN_PARAMETER`] query parameter.
pub fn authorizer(secret: &[u8]) -> Result<Authorizer, JwtConfigError> {
    let jwt = JwtAuthorizer::new(DecodingKey::from_secret(secret)?, Algorithm::HS256)?
        .query(TOKEN_PARAMETER)
        .anonymous(open_to_everyone());
    Ok(Authorizer::new(jwt))
}

/// A token signed with `secret` that lets its holder read and post in
/// `rooms` for `lifetime`: what an application's login would hand out
/// (`cargo run --example chat -- token ROOM..` prints one).
pub fn token(
    secret: &[u8],
    rooms: &[&str],
    lifetime: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(lifetime)
        .as_secs();
    let topics: Vec<String> = rooms.iter().map(|room| room_topic(room)).collect();
    let claims = serde_json::json!({
        "exp": expires,
        "mercure": { "subscribe": topics, "publish": topics },
    });
    let key = EncodingKey::from_secret(secret)?;
    jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims, &key)
}

/// The topic of the room a query names, or `400` for a name that cannot
/// be one.
fn topic_of(room: Option<&str>) -> Result<String, (StatusCode, String)> {
    let room = room.unwrap_or(PUBLIC_ROOM);
    let valid = !room.is_empty()
        && room.chars().count() <= MAX_ROOM_CHARS
        && room
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("a room name is 1 to {MAX_ROOM_CHARS} ASCII letters, digits, - or _"),
        ));
    }
    Ok(room_topic(room))
}

#[derive(Deserialize)]
struct Target {
    room: Option<String>,
}

/// Leave to post to the room the query names: refused (`401`, `403`, or
/// `400` for a bad name) before the body is read.
struct RoomPost(PublishPermit);

impl<S: Send + Sync> FromRequestParts<S> for RoomPost {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let access = TopicAccess::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(target) = Query::<Target>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let topic = topic_of(target.room.as_deref()).map_err(IntoResponse::into_response)?;
        access
            .publish(&topic)
            .map(RoomPost)
            .map_err(IntoResponse::into_response)
    }
}

async fn post_message(
    RoomPost(permit): RoomPost,
    State(rooms): State<Rooms>,
    Json(message): Json<Message>,
) -> impl IntoResponse {
    if message.user.trim().is_empty() || message.text.trim().is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "user and text must not be empty",
        )
            .into_response();
    }
    if message.user.chars().count() > MAX_USER_CHARS
        || message.text.chars().count() > MAX_TEXT_CHARS
    {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a user name is at most {MAX_USER_CHARS} characters and a message at most {MAX_TEXT_CHARS}"
            ),
        )
            .into_response();
    }
    match rooms.publish(&permit, ChatEvent::Message(message)).await {
        Ok(id) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "id": id.to_string() })),
        )
            .into_response(),
        Err(error @ (HubError::Timeout(_) | HubError::Broker(_) | HubError::Unconfirmed(_))) => {
            tracing::warn!(%error, "publishing a chat message failed");
            (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct Visitor {
    /// The name the page shows; announced with a `join` event.
    user: Option<String>,
    /// The room; the public one without.
    room: Option<String>,
}

/// Leave to read the room the query names: refused (`401`, `403`, or `400`
/// for a bad name) before the response starts. With it, whether the
/// visitor may post there too, and so be announced.
struct RoomStream {
    read: SubscribePermit,
    announce: Option<PublishPermit>,
    user: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RoomStream {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let access = TopicAccess::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(visitor) = Query::<Visitor>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let topic = topic_of(visitor.room.as_deref()).map_err(IntoResponse::into_response)?;
        let read = access
            .subscribe(&[&topic])
            .map_err(IntoResponse::into_response)?;
        Ok(RoomStream {
            read,
            announce: access.publish(&topic).ok(),
            user: visitor.user.filter(|user| valid_user(user)),
        })
    }
}

/// The room's events: a newcomer first sees the newest [`RECENT`] ones (and
/// is announced, if it may post there); after a reconnect, the browser
/// gets those it missed. Nothing of another room, by any of these paths:
/// the subscription holds the permit's topic only.
#[sse_handler(keep_alive = "15s", events = ChatEvent)]
async fn stream(visitor: RoomStream, State(rooms): State<Rooms>, last: LastEventId) {
    let mut subscription = rooms.subscribe_with_recent(&visitor.read, &last, RECENT);
    if last.as_str().is_none() {
        if let (Some(user), Some(announce)) = (visitor.user, &visitor.announce) {
            if let Err(error) = rooms.publish(announce, ChatEvent::Join { user }).await {
                tracing::warn!(%error, "announcing a visitor failed");
            }
        }
    }
    while let Some(event) = subscription.next().await {
        yield_!(event);
    }
}

fn valid_user(user: &str) -> bool {
    !user.trim().is_empty() && user.chars().count() <= MAX_USER_CHARS
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../examples/chat/index.html"))
}

fn script(source: &'static str) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        source,
    )
}

/// [`app`], with the process's metrics at `GET /metrics` (see
/// [`with_metrics`]).
pub fn app_with_metrics(hub: Hub, shutdown: Shutdown, prometheus: PrometheusHandle) -> Router {
    with_metrics(app(hub, shutdown), prometheus)
}

/// `app` with the process's metrics at `GET /metrics` in Prometheus's
/// text format: `prometheus` is the handle of the recorder installed for
/// the process (`examples/chat/main.rs` installs it before it builds the
/// hub, which takes its metrics handles when built; see
/// [`sse_runtime::metrics`]).
pub fn with_metrics(app: Router, prometheus: PrometheusHandle) -> Router {
    app.route(
        "/metrics",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                prometheus.render(),
            )
        }),
    )
}

/// The chat application over `hub`, ended by `shutdown`, with the public
/// room only ([`public_only`]).
pub fn app(hub: Hub, shutdown: Shutdown) -> Router {
    app_with(hub, shutdown, public_only())
}

/// The chat application over `hub`, ended by `shutdown`, its rooms
/// opened by `authorizer` (see [`authorizer`]).
pub fn app_with(hub: Hub, shutdown: Shutdown, authorizer: Authorizer) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| async { script(include_str!("../examples/chat/app.js")) }),
        )
        .route(
            "/events.js",
            get(|| async { script(include_str!("../examples/chat/events.js")) }),
        )
        .route(
            "/messages",
            post(post_message).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/stream", get(stream))
        .layer(Extension(shutdown))
        .layer(Extension(authorizer))
        .with_state(Rooms::new(TypedHub::new(hub)))
}
