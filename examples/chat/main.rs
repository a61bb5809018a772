//! A chat room: `POST /messages` publishes to every open `GET /stream`, and
//! a browser that reconnects catches up from its `Last-Event-ID`.
//!
//! `cargo run --example chat`, then open <http://127.0.0.1:3001/> in two
//! windows. `PORT=8081 cargo run --example chat` listens elsewhere.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use sse_runtime::hub::Hub;
use sse_runtime::prelude::*;
use sse_runtime::Shutdown;

#[derive(Deserialize)]
struct NewMessage {
    user: String,
    text: String,
}

/// What subscribers receive: the message and the id the hub gave it.
#[derive(Serialize)]
struct Message<'a> {
    id: u64,
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
    let published = hub.publish(TOPIC, |id| {
        event!(json: Message { id, user: &message.user, text: &message.text }, event: "message", id: id)
    });
    match published {
        Ok(id) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response(),
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
    Html(include_str!("index.html"))
}

/// The chat application, for the example and its tests.
pub fn app(hub: Hub, shutdown: Shutdown) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/messages", post(post_message))
        .route("/stream", get(stream))
        .layer(Extension(shutdown))
        .with_state(hub)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let listener = sse_suite::bind_port_from_env(3001)?;
    tracing::info!("chat listening on http://{}/", listener.local_addr()?);
    let shutdown = Shutdown::new();
    axum::serve(listener, app(Hub::new(), shutdown.clone()))
        .with_graceful_shutdown(shutdown.after(sse_runtime::ctrl_c_or_sigterm()))
        .await?;
    tracing::info!("chat stopped");
    Ok(())
}
