//! An OpenAI-compatible streaming endpoint over resumable runs:
//! `POST /v1/chat/completions` with `"stream": true` answers with
//! `chat.completion.chunk` events from a deterministic stand-in for a model
//! (canned text, token by token), usage before `data: [DONE]` when
//! `stream_options.include_usage` asks for it, and errors mid-stream in the
//! shape OpenAI's clients read ([`error_chunk`]). The answer is produced by
//! a run ([`sse_runtime::runs`]), not by the connection: a client that
//! drops, or a page that reloads, attaches again with
//! `GET /v1/runs/{id}/events` and its `Last-Event-ID` and misses nothing.
//! `cargo run --example llm` serves it; the tests drive it with the
//! official `openai` packages.
//!
//! # The page's stream
//!
//! OpenAI's clients do not resume, so the answer to their POST carries no
//! ids (see `stream_of`). A client that does resume asks for the run's own
//! stream with the request header `Prefer: resumable` (RFC 7240): the
//! answer to its POST is then what `GET /v1/runs/{id}/events` sends, ids,
//! the hub's notices and the run's `run_end` included, and says so with
//! `Preference-Applied: resumable`. The page at `/` asks this way, reads
//! the answer from its POST with the generated `EventStream`, and resumes
//! it, on a dropped connection or after a reload, with a GET of the run and
//! the last id it has.
//!
//! # What a request may ask
//!
//! The stand-in is honest about the Chat Completions parameters: it does
//! what it is asked, or it refuses the request with a 400 in OpenAI's shape
//! (`{"error": {"message", "type": "invalid_request_error", "param", "code"}}`,
//! which the SDKs raise as `BadRequestError` with that `param` and `code`).
//! Nothing that would change the answer is ignored. A field set to `null`
//! counts as not set, as it does for OpenAI.
//!
//! - **Honoured**: `model` (echoed), `messages`, `stream`,
//!   `stream_options` (`include_usage`; `include_obfuscation` is accepted,
//!   and no padding is ever sent), `max_tokens` and `max_completion_tokens`
//!   (at most that many tokens, finish reason `length`; both bounds hold
//!   when both are given), `stop` (a string or up to 4, not empty: the
//!   answer ends just before the first place one begins, without it,
//!   finish reason `stop`), and `n` (1 to 128 choices, indexes `0..n`).
//!   Usage counts the tokens sent, over all choices.
//! - **Accepted and ignored**: the sampling knobs `temperature`, `top_p`,
//!   `seed`, `presence_penalty` and `frequency_penalty`, which a
//!   deterministic stand-in has nothing to apply to (a real model honours
//!   them only in distribution, which one answer cannot show); and the
//!   bookkeeping `user`, `safety_identifier`, `metadata`, `store`,
//!   `prompt_cache_key`, `prompt_cache_options`, `prompt_cache_retention`
//!   and `service_tier`, on which no answer depends (nothing is stored or
//!   cached). Their values are not checked.
//! - **Refused** (`unsupported_parameter`, or `unsupported_value` where
//!   one value is harmless and accepted): tool and function calling
//!   (`tools`, `tool_choice`, `parallel_tool_calls`, `functions`,
//!   `function_call`), `response_format` other than `{"type": "text"}`,
//!   `logprobs` other than `false`, `top_logprobs`, `logit_bias` other than
//!   `{}`, `modalities` other than `["text"]`, `audio`, `prediction`,
//!   `web_search_options`, `moderation`, and `reasoning_effort` and
//!   `verbosity` (it is not a reasoning model; OpenAI refuses
//!   `reasoning_effort` for its own non-reasoning models too).
//! - **Unknown** fields are refused as OpenAI refuses them
//!   (`Unrecognized request argument supplied: ..`), with the field as
//!   `param` and code `unknown_parameter`: a misspelt `max_token` must not
//!   silently give a full-length answer.
//!
//! `n` is honoured rather than refused because the stand-in can do it
//! exactly: it is deterministic, so its `n` choices are the same answer,
//! each under its own index, all in one chunk per token (the `choices` array
//! of a chunk may hold several), so a run sends as many events for `n = 8`
//! as for `n = 1`.
//!
//! # Shutdown
//!
//! Its streams end when a [`Shutdown`](sse_runtime::Shutdown) installed on
//! the router fires (`app(..).layer(Extension(shutdown))`), so a graceful
//! shutdown does not wait for answers to finish. The page's stream just
//! ends (it resumes from its last id elsewhere or later); the stream of an
//! OpenAI client ends with [`error_chunk`], which the SDKs raise, since a
//! stream that stopped with no finish reason would look to them like a
//! whole answer. The run itself is not cancelled: the server stopping is
//! not the user asking to stop.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sse_runtime::hub::Hub;
use sse_runtime::runs::{Attached, RunError, RunItem, RunSender, RunState, Runs, RunsConfig};
use sse_runtime::{
    Emitter, Event, LastEventId, ShutdownSignal, SseConfig, SseResponse, StreamContext,
};

/// The stand-in model's name; any other is accepted and echoed.
pub const MODEL: &str = "sse-demo";

/// What the stand-in answers, after a line that quotes the prompt.
pub const CANNED: &str = "Server-sent events keep one response open and write each token as it is ready. \
This answer is produced by a run on the server: if the page reloads or the connection drops, \
the browser attaches again with the id of the last token it has, and the run sends only what came after.";

/// A prompt containing this makes the stand-in fail after a few tokens.
pub const FAIL_MARKER: &str = "[fail]";

/// The most choices a request may ask for (`n`), as OpenAI allows.
pub const MAX_CHOICES: u64 = 128;

/// The most stop sequences a request may give (`stop`), as OpenAI allows.
pub const MAX_STOPS: usize = 4;

/// The code of the [`error_chunk`] that ends an OpenAI client's stream
/// when the server shuts down.
pub const SHUTDOWN_CODE: &str = "server_shutting_down";

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
/// `token_delay`. Its streams end on the [`Shutdown`](sse_runtime::Shutdown)
/// installed on it as an `Extension`, if any:
///
/// ```no_run
/// use axum::Extension;
/// use sse_runtime::{hub::Hub, Shutdown};
///
/// # async fn run() -> std::io::Result<()> {
/// let shutdown = Shutdown::new();
/// let app = sse_suite::llm::app(Hub::new(), std::time::Duration::from_millis(60))
///     .layer(Extension(shutdown.clone()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3003").await?;
/// axum::serve(listener, app)
///     .with_graceful_shutdown(shutdown.after(sse_runtime::ctrl_c_or_sigterm()))
///     .await
/// # }
/// ```
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
        .route(
            "/app.js",
            get(|| async { script(include_str!("../examples/llm/app.js")) }),
        )
        .route(
            "/event-stream.js",
            get(|| async { script(include_str!("../examples/llm/event-stream.js")) }),
        )
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

/// The page's script, or the transport it imports (generated by
/// `sse_runtime::typescript::event_stream`, checked in and kept up to date
/// by `tests/typescript.rs`).
fn script(source: &'static str) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        source,
    )
}

/// The chunk that ends an answer with an error mid-stream, in the shape
/// OpenAI's clients raise: openai-python's `APIError` and the npm
/// package's `APIError`, whose `message` and `code` are these, `type` is
/// `server_error` and `param` is `null`. It carries no `id:`, like every
/// event of the stream an OpenAI client reads (see `stream_of`); nothing
/// may follow it on that stream, not even `[DONE]`.
///
/// ```
/// let chunk = sse_suite::llm::error_chunk("the answer is gone", "answer_lost");
/// let frame = std::str::from_utf8(chunk.as_bytes()).unwrap();
/// let data = frame.strip_prefix("data: ").unwrap().strip_suffix("\n\n").unwrap();
/// assert_eq!(
///     serde_json::from_str::<serde_json::Value>(data).unwrap(),
///     serde_json::json!({ "error": {
///         "message": "the answer is gone",
///         "type": "server_error",
///         "param": null,
///         "code": "answer_lost",
///     }})
/// );
/// ```
pub fn error_chunk(message: &str, code: &str) -> Event {
    let error = json!({ "error": {
        "message": message,
        "type": "server_error",
        "param": null,
        "code": code,
    }});
    Event::json(&error).expect("JSON values serialize")
}

/// A request, read field by field (see the module docs for what each does)
/// so that a refusal can name its field.
struct ChatRequest {
    model: Option<String>,
    messages: Vec<ChatMessage>,
    stream: bool,
    stream_options: Option<StreamOptions>,
    /// The tighter of `max_tokens` and `max_completion_tokens`.
    max_tokens: Option<usize>,
    stop: Vec<String>,
    n: usize,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
    // Either value is accepted, and no padding is ever sent: it guards
    // against a side channel on the network, and no client reads it.
    #[serde(default, rename = "include_obfuscation")]
    _include_obfuscation: bool,
}

/// Accepted and ignored: sampling knobs a deterministic stand-in has
/// nothing to apply to, and bookkeeping no answer depends on.
const IGNORED: &[&str] = &[
    "temperature",
    "top_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "safety_identifier",
    "metadata",
    "store",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "service_tier",
];

/// What the stand-in cannot do, why, and the one value (as JSON), if
/// any, that asks for nothing it cannot do: that value is accepted.
const UNSUPPORTED: &[(&str, &str, Option<&str>)] = &[
    ("tools", "it cannot call tools", None),
    ("tool_choice", "it cannot call tools", None),
    ("parallel_tool_calls", "it cannot call tools", None),
    ("functions", "it cannot call functions", None),
    ("function_call", "it cannot call functions", None),
    (
        "response_format",
        "it writes plain text",
        Some(r#"{"type":"text"}"#),
    ),
    ("logprobs", "it has no log probabilities", Some("false")),
    ("top_logprobs", "it has no log probabilities", None),
    ("logit_bias", "it has no token ids", Some("{}")),
    ("modalities", "it writes text only", Some(r#"["text"]"#)),
    ("audio", "it writes text only", None),
    ("prediction", "it takes no predicted output", None),
    ("web_search_options", "it cannot search the web", None),
    ("moderation", "it runs no moderation", None),
    ("reasoning_effort", "it is not a reasoning model", None),
    ("verbosity", "it is not a reasoning model", None),
];

impl ChatRequest {
    /// Reads a request body, or the 400 that refuses it. Fields are looked
    /// at in the order of their names, so with several problems the same
    /// one is reported every time.
    fn read(body: Map<String, Value>) -> Result<ChatRequest, Refusal> {
        let mut request = ChatRequest {
            model: None,
            messages: Vec::new(),
            stream: false,
            stream_options: None,
            max_tokens: None,
            stop: Vec::new(),
            n: 1,
        };
        let mut has_messages = false;
        for (name, value) in body {
            if value.is_null() {
                continue;
            }
            match name.as_str() {
                "model" => request.model = Some(field(&name, value)?),
                "messages" => {
                    request.messages = field(&name, value)?;
                    has_messages = true;
                }
                "stream" => request.stream = field(&name, value)?,
                "stream_options" => request.stream_options = Some(field(&name, value)?),
                "max_tokens" | "max_completion_tokens" => {
                    let limit = bounded(&name, value, 1, u64::MAX)?;
                    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                    request.max_tokens =
                        Some(request.max_tokens.map_or(limit, |other| other.min(limit)));
                }
                "stop" => request.stop = stops(value)?,
                "n" => request.n = bounded(&name, value, 1, MAX_CHOICES)? as usize,
                known if IGNORED.contains(&known) => {}
                _ => unsupported(&name, &value)?,
            }
        }
        if !has_messages {
            return Err(invalid(
                "messages",
                "Missing required parameter: 'messages'.".into(),
                "missing_required_parameter",
            ));
        }
        if request.messages.is_empty() {
            return Err(invalid(
                "messages",
                "`messages` must hold at least one message".into(),
                "invalid_messages",
            ));
        }
        if request.stream_options.is_some() && !request.stream {
            return Err(invalid(
                "stream_options",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.".into(),
                "invalid_value",
            ));
        }
        Ok(request)
    }
}

/// One field's value as `T`, or the 400 that names it.
fn field<T: DeserializeOwned>(name: &str, value: Value) -> Result<T, Refusal> {
    serde_json::from_value(value)
        .map_err(|error| invalid(name, format!("Invalid '{name}': {error}."), "invalid_value"))
}

/// An integer field within `min..=max`, worded as OpenAI words a value
/// outside its range.
fn bounded(name: &str, value: Value, min: u64, max: u64) -> Result<u64, Refusal> {
    let out_of_range = |code: &'static str, bound: String| {
        invalid(
            name,
            format!("Invalid '{name}': {bound}, but got {value} instead."),
            code,
        )
    };
    match value.as_i64() {
        Some(n) if n < min as i64 => Err(out_of_range(
            "integer_below_min_value",
            format!("integer below minimum value. Expected a value >= {min}"),
        )),
        _ => match value.as_u64() {
            Some(n) if n > max => Err(out_of_range(
                "integer_above_max_value",
                format!("integer above maximum value. Expected a value <= {max}"),
            )),
            Some(n) => Ok(n),
            None => Err(invalid(
                name,
                format!("Invalid type for '{name}': expected an integer, but got {value} instead."),
                "invalid_type",
            )),
        },
    }
}

/// `stop`: one string or up to [`MAX_STOPS`], none empty (an empty one
/// would end every answer before it began).
fn stops(value: Value) -> Result<Vec<String>, Refusal> {
    let stops = match value {
        Value::String(stop) => vec![stop],
        other => field::<Vec<String>>("stop", other)?,
    };
    if stops.len() > MAX_STOPS {
        return Err(invalid(
            "stop",
            format!(
                "Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOPS}, but got an array with length {} instead.",
                stops.len()
            ),
            "array_above_max_length",
        ));
    }
    if stops.iter().any(String::is_empty) {
        return Err(invalid(
            "stop",
            "Invalid 'stop': a stop sequence may not be empty.".into(),
            "invalid_value",
        ));
    }
    Ok(stops)
}

/// Accepts a field the stand-in cannot honour only with the value that
/// asks for nothing; refuses it otherwise, and refuses any field it does
/// not know. Worded as OpenAI words the same refusals.
fn unsupported(name: &str, value: &Value) -> Result<(), Refusal> {
    let Some((_, why, harmless)) = UNSUPPORTED.iter().find(|(known, ..)| *known == name) else {
        return Err(invalid(
            name,
            format!("Unrecognized request argument supplied: {name}"),
            "unknown_parameter",
        ));
    };
    match harmless {
        None => Err(invalid(
            name,
            format!("Unsupported parameter: '{name}' is not supported with the stand-in model ({why})."),
            "unsupported_parameter",
        )),
        Some(harmless) if serde_json::from_str::<Value>(harmless).ok().as_ref() == Some(value) => Ok(()),
        Some(harmless) => Err(invalid(
            name,
            format!(
                "Unsupported value: '{name}' does not support {value} with the stand-in model ({why}). Only {harmless} is supported."
            ),
            "unsupported_value",
        )),
    }
}

/// What one completion is: its id, model, tokens, and whether it fails.
struct Completion {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: usize,
    /// What each choice says, token by token, cut as the request asked.
    tokens: Vec<String>,
    finish_reason: &'static str,
    choices: usize,
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
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let prompt_tokens = request
            .messages
            .iter()
            .map(|message| tokens(&message.content.to_string()).len())
            .sum();
        let (tokens, finish_reason) = answer(&prompt, request.max_tokens, &request.stop);
        Completion {
            id: format!("chatcmpl-{:x}", created_ns()),
            model: request.model.clone().unwrap_or_else(|| MODEL.to_owned()),
            created: created_ns() / 1_000_000_000,
            prompt_tokens,
            tokens,
            finish_reason,
            choices: request.n,
            fails: prompt.contains(FAIL_MARKER),
            include_usage: request
                .stream_options
                .as_ref()
                .is_some_and(|options| options.include_usage),
        }
    }

    /// A chunk with the same `delta` for every choice: the choices are the
    /// same answer.
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        let choices: Vec<Value> = (0..self.choices)
            .map(|index| json!({ "index": index, "delta": delta, "logprobs": null, "finish_reason": finish_reason }))
            .collect();
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": choices,
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn usage(&self) -> Value {
        let completion_tokens = self.tokens.len() * self.choices;
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        })
    }

    /// The run's producer: a role chunk, a chunk per token, the finish
    /// chunk, usage if asked for, then `[DONE]`; or an error chunk.
    async fn produce(self, run: RunSender, delay: Duration) {
        let send = |event: Event| {
            let run = run.clone();
            async move {
                if let Err(error) = run.send(event).await {
                    tracing::warn!(%error, "a completion chunk was not stored");
                }
            }
        };
        let json = |value: Value| Event::json(&value).expect("JSON values serialize");
        send(json(
            self.chunk(json!({ "role": "assistant", "content": "" }), None),
        ))
        .await;
        for (n, token) in self.tokens.iter().enumerate() {
            tokio::time::sleep(delay).await;
            if self.fails && n == 3 {
                send(error_chunk(
                    "the stand-in model failed on purpose",
                    "model_failure",
                ))
                .await;
                return;
            }
            send(json(self.chunk(json!({ "content": token }), None))).await;
        }
        send(json(self.chunk(json!({}), Some(self.finish_reason)))).await;
        if self.include_usage {
            let mut usage = self.chunk(json!({}), None);
            usage["choices"] = json!([]);
            usage["usage"] = self.usage();
            send(json(usage)).await;
        }
        send(Event::data("[DONE]")).await;
    }
}

/// What the stand-in answers to `prompt`, token by token, and why it
/// stopped: after `max_tokens` tokens (`length`), or just before the first
/// place a stop sequence begins (`stop`, the sequence left out), or at the
/// end. A stop sequence that would only have been complete past
/// `max_tokens` was never generated, so it does not count.
fn answer(prompt: &str, max_tokens: Option<usize>, stop: &[String]) -> (Vec<String>, &'static str) {
    let mut tokens = tokens(&expected_answer(prompt));
    let mut finish_reason = "stop";
    if let Some(limit) = max_tokens.filter(|limit| *limit < tokens.len()) {
        tokens.truncate(limit);
        finish_reason = "length";
    }
    let text = tokens.concat();
    if let Some(at) = stop
        .iter()
        .filter_map(|stop| text.find(stop.as_str()))
        .min()
    {
        // Keep whole tokens up to `at`, and the part of the next one before it.
        let mut kept = 0;
        let mut cut = Vec::new();
        for token in tokens {
            if kept + token.len() > at {
                let part = &token[..at - kept];
                if !part.is_empty() {
                    cut.push(part.to_owned());
                }
                break;
            }
            kept += token.len();
            cut.push(token);
        }
        tokens = cut;
        finish_reason = "stop";
    }
    (tokens, finish_reason)
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

/// An error in OpenAI's shape, about the request field `param` if there
/// is one.
fn api_error(status: StatusCode, message: String, param: Option<&str>, code: &str) -> Response {
    let body = json!({ "error": { "message": message, "type": "invalid_request_error", "param": param, "code": code } });
    (status, Json(body)).into_response()
}

/// Why a request is refused: a 400 about one of its fields.
struct Refusal {
    param: String,
    message: String,
    code: &'static str,
}

fn invalid(param: &str, message: String, code: &'static str) -> Refusal {
    Refusal {
        param: param.to_owned(),
        message,
        code,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        api_error(
            StatusCode::BAD_REQUEST,
            self.message,
            Some(&self.param),
            self.code,
        )
    }
}

fn run_error(error: RunError) -> Response {
    match error {
        RunError::UnknownRun(_) => api_error(
            StatusCode::NOT_FOUND,
            error.to_string(),
            None,
            "unknown_run",
        ),
        RunError::TooManyRuns(_) => api_error(
            StatusCode::TOO_MANY_REQUESTS,
            error.to_string(),
            None,
            "too_many_runs",
        ),
        RunError::Ended => StatusCode::NO_CONTENT.into_response(),
        other => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            other.to_string(),
            None,
            "unavailable",
        ),
    }
}

/// A run's events as an SSE response, with the run's id in `x-run-id`,
/// ended by the router's `Shutdown` (`context`).
///
/// `for_sdk` (the shutdown signal, given): the answer to
/// `POST /v1/chat/completions` goes to OpenAI's clients, which do not
/// resume, so its events carry no `id:`, and the run's end is left out, as
/// OpenAI's own streams have neither. It matters: openai-python keeps the
/// last id it saw and then takes every blank line as an event, so a
/// keep-alive after an id crashes it. The hub's notices, a run that ends
/// other than finished, and a shutdown become an [`error_chunk`], which
/// the SDKs raise, rather than a chunk they cannot read or an answer cut
/// short in silence. `GET /v1/runs/{id}/events`, which a page resumes,
/// keeps ids, notices and the run's end as they are, and just ends on
/// shutdown.
async fn stream_of(
    app: &App,
    id: &str,
    last: Option<&str>,
    context: StreamContext,
    for_sdk: Option<ShutdownSignal>,
) -> Response {
    let attached = match app.runs.attach(id, last).await {
        Ok(attached) => attached,
        Err(error) => return run_error(error),
    };
    // gzip or zstd when the client accepts one: an answer is a tenth the
    // size, and each token still arrives as it is sent.
    let config = SseConfig::new()
        .keep_alive(Some(app.keep_alive))
        .compression(sse_runtime::Compression::new());
    let mut response = match for_sdk {
        Some(shutdown) => {
            SseResponse::new(move |emitter| for_openai_clients(attached, shutdown, emitter))
                .with_config(config)
                .with_context(context)
                .into_response()
        }
        None => SseResponse::from_stream(attached)
            .with_config(config)
            .with_context(context)
            .into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-run-id", value);
    }
    response
}

/// Forwards a run to OpenAI's clients: each event's data alone; a notice,
/// an end other than finished, or a shutdown, as an error they raise,
/// which ends the stream.
async fn for_openai_clients(
    mut attached: Attached,
    mut shutdown: ShutdownSignal,
    mut emitter: Emitter,
) {
    loop {
        // Shutdown first: the stream polls its body once more when
        // shutdown fires, and this is the only chance to say so before it
        // ends.
        let item = tokio::select! {
            biased;
            () = shutdown.wait() => {
                let message = "the server is shutting down; the answer was cut short";
                emitter.send(error_chunk(message, SHUTDOWN_CODE)).await;
                return;
            }
            item = attached.next() => item,
        };
        let (message, code) = match item {
            None => return,
            Some(RunItem::Event(event)) => {
                if let Some(data) = data_of(&event) {
                    emitter.send(Event::data(&data)).await;
                }
                continue;
            }
            Some(RunItem::Lagged(lagged)) => (
                format!(
                    "the stream fell behind the answer and {} chunks of it are gone; ask again",
                    lagged.missed()
                ),
                "stream_lagged",
            ),
            Some(RunItem::Reset(_)) => (
                "the start of the answer is no longer held; ask again".to_owned(),
                "stream_reset",
            ),
            Some(RunItem::End(end)) => match end.state() {
                RunState::Finished => return,
                RunState::Cancelled => ("the answer was cancelled".to_owned(), "run_cancelled"),
                _ => (
                    "the answer failed: the server producing it stopped".to_owned(),
                    "run_failed",
                ),
            },
            Some(_) => continue,
        };
        emitter.send(error_chunk(&message, code)).await;
        return;
    }
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

/// Whether the request's `Prefer` headers (RFC 7240: a list of
/// `token[=value][; parameter]`, the token in any case) ask for `preference`.
fn prefers(headers: &HeaderMap, preference: &str) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.split([';', '=']).next())
        .any(|token| token.trim().eq_ignore_ascii_case(preference))
}

/// The preference that asks for the run's own stream (see the module docs).
pub const RESUMABLE: &str = "resumable";

async fn completions(
    State(app): State<App>,
    context: StreamContext,
    shutdown: ShutdownSignal,
    headers: HeaderMap,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Response {
    // A body that is not a JSON object (or too large, or not declared
    // JSON) is answered in OpenAI's shape, which its clients raise with
    // the message; axum's own rejection is plain text.
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return api_error(
                rejection.status(),
                rejection.body_text(),
                None,
                "invalid_request",
            )
        }
    };
    let request = match ChatRequest::read(body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
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
            None,
            "context_length_exceeded",
        );
    }
    let delay = app.token_delay;
    match app
        .runs
        .start(move |run| completion.produce(run, delay))
        .await
    {
        Ok(id) if prefers(&headers, RESUMABLE) => {
            let mut response = stream_of(&app, &id, None, context, None).await;
            response
                .headers_mut()
                .insert("preference-applied", HeaderValue::from_static(RESUMABLE));
            response
        }
        Ok(id) => stream_of(&app, &id, None, context, Some(shutdown)).await,
        Err(error) => run_error(error),
    }
}

/// A non-streaming completion.
fn whole(completion: &Completion) -> Value {
    let content = completion.tokens.concat();
    let choices: Vec<Value> = (0..completion.choices)
        .map(|index| {
            json!({
                "index": index,
                "message": { "role": "assistant", "content": content },
                "logprobs": null,
                "finish_reason": completion.finish_reason,
            })
        })
        .collect();
    json!({
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": choices,
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
    context: StreamContext,
) -> Response {
    let last = last.into_inner().or(resume.last_event_id);
    stream_of(&app, &id, last.as_deref(), context, None).await
}

async fn cancel(State(app): State<App>, Path(id): Path<String>, _headers: HeaderMap) -> Response {
    match app.runs.cancel(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => run_error(error),
    }
}

/// What the stand-in answers to `prompt` in full: the tokens joined.
pub fn expected_answer(prompt: &str) -> String {
    format!("You asked: {}. {CANNED}", prompt.trim())
}
