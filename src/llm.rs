//! An OpenAI-compatible streaming endpoint over resumable runs:
//! `POST /v1/chat/completions` with `"stream": true` answers with
//! `chat.completion.chunk` events from a deterministic stand-in for a model
//! (canned text, token by token), usage before `data: [DONE]` when
//! `stream_options.include_usage` asks for it, and errors mid-stream in the
//! shape OpenAI's clients read. The answer is produced by a run
//! ([`sse_runtime::runs`]), not by the connection: a client that drops, or
//! a page that reloads, attaches again with `GET /v1/runs/{id}/events` and
//! its `Last-Event-ID` and misses nothing. `cargo run --example llm` serves
//! it; the tests drive it with the official `openai` packages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sse_runtime::hub::Hub;
use sse_runtime::runs::{Attached, RunError, RunItem, RunSender, RunState, Runs, RunsConfig};
use sse_runtime::{Emitter, Event, LastEventId, SseConfig, SseResponse};

/// The stand-in model's name; any other is accepted and echoed.
pub const MODEL: &str = "sse-demo";

/// What the stand-in answers, after a line that quotes the prompt.
pub const CANNED: &str = "Server-sent events keep one response open and write each token as it is ready. \
This answer is produced by a run on the server: if the page reloads or the connection drops, \
the browser attaches again with the id of the last token it has, and the run sends only what came after.";

/// A prompt containing this makes the stand-in fail after a few tokens.
pub const FAIL_MARKER: &str = "[fail]";

#[derive(Clone)]
struct App {
    runs: Runs,
    token_delay: Duration,
    /// Events a run may send ([`RunsConfig::max_events`]).
    max_events: usize,
    keep_alive: Duration,
}

/// How often streams send a keep-alive while the stand-in is quiet.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The application: the endpoints above over `hub`, producing a token every
/// `token_delay`.
pub fn app(hub: Hub, token_delay: Duration) -> Router {
    app_with(hub, token_delay, RunsConfig::default(), KEEP_ALIVE)
}

/// [`app`] with limits of its own for the runs, and its own keep-alive.
pub fn app_with(
    hub: Hub,
    token_delay: Duration,
    config: RunsConfig,
    keep_alive: Duration,
) -> Router {
    let runs = Runs::new(hub, config);
    Router::new()
        .route("/", get(index))
        .route("/v1/chat/completions", post(completions))
        .route("/v1/runs/{id}/events", get(attach))
        .route("/v1/runs/{id}/cancel", post(cancel))
        .with_state(App {
            runs,
            token_delay,
            max_events: config.max_events,
            keep_alive,
        })
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../examples/llm/index.html"))
}

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: serde_json::Value,
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// What one completion is: its id, model, tokens, and whether it fails.
struct Completion {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: usize,
    tokens: Vec<String>,
    fails: bool,
    include_usage: bool,
}

impl Completion {
    fn new(request: &ChatRequest) -> Completion {
        let prompt = request
            .messages
            .iter()
            .rev()
            .find(|message| message.role == "user")
            .map(|message| match &message.content {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let prompt_tokens = request
            .messages
            .iter()
            .map(|message| tokens(&message.content.to_string()).len())
            .sum();
        let answer = format!("You asked: {}. {CANNED}", prompt.trim());
        Completion {
            id: format!("chatcmpl-{:x}", created_ns()),
            model: request.model.clone().unwrap_or_else(|| MODEL.to_owned()),
            created: created_ns() / 1_000_000_000,
            prompt_tokens,
            tokens: tokens(&answer),
            fails: prompt.contains(FAIL_MARKER),
            include_usage: request
                .stream_options
                .as_ref()
                .is_some_and(|options| options.include_usage),
        }
    }

    fn chunk(&self, delta: serde_json::Value, finish_reason: Option<&str>) -> serde_json::Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }],
        });
        if self.include_usage {
            chunk["usage"] = serde_json::Value::Null;
        }
        chunk
    }

    fn usage(&self) -> serde_json::Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.tokens.len(),
            "total_tokens": self.prompt_tokens + self.tokens.len(),
        })
    }

    /// The run's producer: a role chunk, a chunk per token, the finish
    /// chunk, usage if asked for, then `[DONE]`; or an error event.
    async fn produce(self, run: RunSender, delay: Duration) {
        let send = |value: serde_json::Value| {
            let run = run.clone();
            async move {
                let event = Event::json(&value).expect("JSON values serialize");
                if let Err(error) = run.send(event).await {
                    tracing::warn!(%error, "a completion chunk was not stored");
                }
            }
        };
        send(self.chunk(json!({ "role": "assistant", "content": "" }), None)).await;
        for (n, token) in self.tokens.iter().enumerate() {
            tokio::time::sleep(delay).await;
            if self.fails && n == 3 {
                // The shape OpenAI's clients raise as an API error.
                send(json!({ "error": {
                    "message": "the stand-in model failed on purpose",
                    "type": "server_error",
                    "param": null,
                    "code": "model_failure",
                }}))
                .await;
                return;
            }
            send(self.chunk(json!({ "content": token }), None)).await;
        }
        send(self.chunk(json!({}), Some("stop"))).await;
        if self.include_usage {
            let mut usage = self.chunk(json!({}), None);
            usage["choices"] = json!([]);
            usage["usage"] = self.usage();
            send(usage).await;
        }
        if let Err(error) = run.send(Event::data("[DONE]")).await {
            tracing::warn!(%error, "the end of a completion was not stored");
        }
    }
}

/// Splits text into tokens that join back into it: each word with the
/// spaces after it.
fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c != ' ' && current.ends_with(' ') {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn created_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// An error in OpenAI's shape.
fn api_error(status: StatusCode, message: String, code: &str) -> Response {
    let body = json!({ "error": { "message": message, "type": "invalid_request_error", "param": null, "code": code } });
    (status, Json(body)).into_response()
}

fn run_error(error: RunError) -> Response {
    match error {
        RunError::UnknownRun(_) => {
            api_error(StatusCode::NOT_FOUND, error.to_string(), "unknown_run")
        }
        RunError::TooManyRuns(_) => api_error(
            StatusCode::TOO_MANY_REQUESTS,
            error.to_string(),
            "too_many_runs",
        ),
        RunError::Ended => StatusCode::NO_CONTENT.into_response(),
        other => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            other.to_string(),
            "unavailable",
        ),
    }
}

/// A run's events as an SSE response, with the run's id in `x-run-id`.
///
/// `for_sdk`: the answer to `POST /v1/chat/completions` goes to OpenAI's
/// clients, which do not resume, so its events carry no `id:`, and the
/// run's end is left out, as OpenAI's own streams have neither. It matters:
/// openai-python keeps the last id it saw and then takes every blank line
/// as an event, so a keep-alive after an id crashes it. The hub's notices
/// and a run that ends other than finished become an error in OpenAI's
/// shape, which the SDKs raise, rather than a chunk they cannot read.
/// `GET /v1/runs/{id}/events`, which a page resumes, keeps ids, notices
/// and the end as they are.
async fn stream_of(app: &App, id: &str, last: Option<&str>, for_sdk: bool) -> Response {
    let attached = match app.runs.attach(id, last).await {
        Ok(attached) => attached,
        Err(error) => return run_error(error),
    };
    let config = SseConfig::new().keep_alive(Some(app.keep_alive));
    let mut response = if for_sdk {
        SseResponse::new(move |emitter| for_openai_clients(attached, emitter))
            .with_config(config)
            .into_response()
    } else {
        SseResponse::from_stream(attached)
            .with_config(config)
            .into_response()
    };
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-run-id", value);
    }
    response
}

/// Forwards a run to OpenAI's clients: each event's data alone; a notice,
/// or an end other than finished, as an error they raise, which ends the
/// stream.
async fn for_openai_clients(mut attached: Attached, mut emitter: Emitter) {
    while let Some(item) = attached.next().await {
        let (message, code) = match item {
            RunItem::Event(event) => {
                if let Some(data) = data_of(&event) {
                    emitter.send(Event::data(&data)).await;
                }
                continue;
            }
            RunItem::Lagged(lagged) => (
                format!(
                    "the stream fell behind the answer and {} chunks of it are gone; ask again",
                    lagged.missed()
                ),
                "stream_lagged",
            ),
            RunItem::Reset(_) => (
                "the start of the answer is no longer held; ask again".to_owned(),
                "stream_reset",
            ),
            RunItem::End(end) => match end.state() {
                RunState::Finished => return,
                RunState::Cancelled => ("the answer was cancelled".to_owned(), "run_cancelled"),
                _ => (
                    "the answer failed: the server producing it stopped".to_owned(),
                    "run_failed",
                ),
            },
            _ => continue,
        };
        emitter.send(error_chunk(&message, code)).await;
        return;
    }
}

/// A chunk in the shape OpenAI's clients raise as an API error mid-stream.
fn error_chunk(message: &str, code: &str) -> Event {
    Event::json(&json!({ "error": {
        "message": message,
        "type": "server_error",
        "param": null,
        "code": code,
    }}))
    .expect("JSON values serialize")
}

/// The data of one of the run's events (its `data:` lines joined), or
/// `None` for a comment.
fn data_of(event: &Event) -> Option<String> {
    let text = std::str::from_utf8(event.as_bytes()).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

async fn completions(
    State(app): State<App>,
    request: Result<Json<ChatRequest>, JsonRejection>,
) -> Response {
    // A body that is not the JSON expected (or too large, or not declared
    // JSON) is answered in OpenAI's shape, which its clients raise with
    // the message; axum's own rejection is plain text.
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => {
            return api_error(rejection.status(), rejection.body_text(), "invalid_request")
        }
    };
    if request.messages.is_empty() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "`messages` must hold at least one message".into(),
            "invalid_messages",
        );
    }
    let completion = Completion::new(&request);
    if !request.stream {
        return Json(whole(&completion)).into_response();
    }
    // The role chunk, a chunk per token, the finish chunk, usage, `[DONE]`.
    // A run refuses events past `max_events`: an answer that does not fit
    // would be cut off with no finish reason and no error, so it is
    // refused up front, as OpenAI refuses a request that exceeds its
    // context.
    let events = completion.tokens.len() + 4;
    if events > app.max_events {
        return api_error(
            StatusCode::BAD_REQUEST,
            format!(
                "the answer would take {events} events, more than a run may send ({})",
                app.max_events
            ),
            "context_length_exceeded",
        );
    }
    let delay = app.token_delay;
    match app
        .runs
        .start(move |run| completion.produce(run, delay))
        .await
    {
        Ok(id) => stream_of(&app, &id, None, true).await,
        Err(error) => run_error(error),
    }
}

/// A non-streaming completion.
fn whole(completion: &Completion) -> serde_json::Value {
    json!({
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": completion.tokens.concat() },
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": completion.usage(),
    })
}

#[derive(Deserialize)]
struct Resume {
    /// For clients that cannot set the `Last-Event-ID` header (a page
    /// opening an `EventSource` after a reload); the header wins.
    last_event_id: Option<String>,
}

async fn attach(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(resume): Query<Resume>,
    last: LastEventId,
) -> Response {
    let last = last.into_inner().or(resume.last_event_id);
    stream_of(&app, &id, last.as_deref(), false).await
}

async fn cancel(State(app): State<App>, Path(id): Path<String>, _headers: HeaderMap) -> Response {
    match app.runs.cancel(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => run_error(error),
    }
}

/// What the page shows as the answer for `prompt`: the tokens joined.
pub fn expected_answer(prompt: &str) -> String {
    format!("You asked: {}. {CANNED}", prompt.trim())
}
