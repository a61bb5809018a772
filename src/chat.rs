//! The chat application: `POST /messages` publishes to every open
//! `GET /stream`, on this process or, through Redis, on any other one, and a
//! browser that reconnects (to any of them) catches up from its
//! `Last-Event-ID`. Its events are one type, [`ChatEvent`], from the
//! handler to the page (`examples/chat/events.d.ts` and `events.js` are
//! generated from it). `cargo run --example chat` serves it; the tests build
//! it with [`app`].

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
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

const TOPIC: &str = "room";

/// The room's hub, carrying [`ChatEvent`]s.
type Room = TypedHub<ChatEvent>;

async fn post_message(State(room): State<Room>, Json(message): Json<Message>) -> impl IntoResponse {
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
    match room.publish(TOPIC, ChatEvent::Message(message)).await {
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
}

/// The room's events: a newcomer first sees the newest [`RECENT`] ones (and
/// is announced); after a reconnect, the browser gets those it missed.
#[sse_handler(keep_alive = "15s", events = ChatEvent)]
async fn stream(State(room): State<Room>, Query(visitor): Query<Visitor>, last: LastEventId) {
    let mut subscription = room.subscribe_with_recent(&[TOPIC], &last, RECENT);
    if last.as_str().is_none() {
        if let Some(user) = visitor.user.filter(|user| valid_user(user)) {
            if let Err(error) = room.publish(TOPIC, ChatEvent::Join { user }).await {
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

/// [`app`], with the process's metrics at `GET /metrics` in Prometheus's
/// text format: `prometheus` is the handle of the recorder installed for
/// the process (`examples/chat/main.rs` installs it before it builds the
/// hub, which takes its metrics handles when built; see
/// [`sse_runtime::metrics`]).
pub fn app_with_metrics(hub: Hub, shutdown: Shutdown, prometheus: PrometheusHandle) -> Router {
    app(hub, shutdown).route(
        "/metrics",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                prometheus.render(),
            )
        }),
    )
}

/// The chat application over `hub`, ended by `shutdown`.
pub fn app(hub: Hub, shutdown: Shutdown) -> Router {
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
        .with_state(Room::new(hub))
}
