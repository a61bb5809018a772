//! The chat application: `POST /messages` publishes to every open
//! `GET /stream`, on this process or, through Redis, on any other one, and a
//! browser that reconnects (to any of them) catches up from its
//! `Last-Event-ID`. `cargo run --example chat` serves it; the tests build it
//! with [`app`].

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use sse_runtime::hub::{Hub, HubError};
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

#[derive(Deserialize)]
struct NewMessage {
    user: String,
    text: String,
}

/// What subscribers receive; the event's id is the hub's.
#[derive(Serialize)]
struct Message<'a> {
    user: &'a str,
    text: &'a str,
}

const TOPIC: &str = "room";

async fn post_message(
    State(hub): State<Hub>,
    Json(message): Json<NewMessage>,
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
    let event =
        event!(json: Message { user: &message.user, text: &message.text }, event: "message");
    match hub.publish(TOPIC, event).await {
        Ok(id) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "id": id.to_string() })),
        )
            .into_response(),
        Err(error @ (HubError::Timeout(_) | HubError::Broker(_))) => {
            tracing::warn!(%error, "publishing a chat message failed");
            (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Every message of the room; after a reconnect, the ones missed first.
#[sse_handler(keep_alive = "15s")]
async fn stream(State(hub): State<Hub>, last: LastEventId) {
    let mut subscription = hub.subscribe(&[TOPIC], &last);
    while let Some(event) = subscription.next().await {
        yield_!(event);
    }
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../examples/chat/index.html"))
}

/// The chat application over `hub`, ended by `shutdown`.
pub fn app(hub: Hub, shutdown: Shutdown) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/messages",
            post(post_message).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/stream", get(stream))
        .layer(Extension(shutdown))
        .with_state(hub)
}
