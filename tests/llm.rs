//! The llm example held to OpenAI's own clients: the official `openai`
//! Python package (PyPI) and the official `openai` npm package stream
//! completions from it over TCP, and what they reassemble (text, finish
//! reason, usage, per choice), what they raise for an error mid-stream, and
//! what they raise for a request the example refuses (class, status,
//! `param`, `code`), is checked here, for the parameters it honours
//! (`max_tokens`, `stop`, `n`), those it accepts and ignores, and those it
//! refuses. `tests/llm/client.py` and `tests/browser/openai-client.mjs`
//! are the two clients; they take the same arguments and print the same
//! JSON. Shutdown is checked over raw HTTP.
//!
//! `.ci/run` installs both (`pip install openai`, and `npm ci --prefix
//! tests/browser`). Without Python's `openai` or Node's, the test prints a
//! notice and passes, except under `CI=true`, where it fails.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Extension;
use serde_json::{json, Value};
use sse_runtime::hub::Hub;
use sse_runtime::Shutdown;
use sse_suite::llm;
use support::serve;

/// The official clients: a name, the program, the script.
const PYTHON: Client = ("python", "python3", "tests/llm/client.py");
const NODE: Client = ("node", "node", "tests/browser/openai-client.mjs");
type Client = (&'static str, &'static str, &'static str);

/// The longest a client may take, Python's start included, on a busy machine.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}; under CI=true the SDK tests must run (.ci/run installs them)");
    }
    eprintln!("NOTICE: skipping an OpenAI SDK test: {what}");
}

/// Runs one client (see its usage: `BASE PROMPT [--max-chunks N] [--params
/// JSON]`) and reads what it prints; `None` (after a notice) when it cannot
/// run here. Runs as a child process the test awaits, so the server keeps
/// its worker threads.
async fn run_client(client: Client, args: &[&str]) -> Option<Value> {
    let (_, program, script) = client;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let child = tokio::process::Command::new(program)
        .arg(root.join(script))
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(CLIENT_TIMEOUT, child)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {CLIENT_TIMEOUT:?}"))
    {
        Ok(output) => output,
        Err(error) => {
            missing(&format!("{program} cannot be run: {error}"));
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("No module named 'openai'")
            || stderr.contains("Cannot find package 'openai'")
        {
            missing(&format!(
                "the openai package for {program} is not installed"
            ));
            return None;
        }
        panic!("{script} failed: {stderr}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    Some(
        serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
            panic!("{script} printed {stdout:?} ({error}); stderr: {stderr}")
        }),
    )
}

/// Both clients, at once, make one request for each of `cases` (request
/// parameters) asking `prompt`; their results, by client name, one per
/// case. A client that cannot run here is left out (after a notice).
async fn ask_both(base: &str, prompt: &str, cases: &[Value]) -> Vec<(&'static str, Vec<Value>)> {
    let cases = Value::from(cases.to_vec()).to_string();
    let args = [base, prompt, "--params", &cases];
    let (python, node) = tokio::join!(run_client(PYTHON, &args), run_client(NODE, &args));
    [(PYTHON.0, python), (NODE.0, node)]
        .into_iter()
        .filter_map(|(name, results)| {
            let results = results?.as_array().expect("an array of results").clone();
            Some((name, results))
        })
        .collect()
}

async fn base_url() -> String {
    let addr = serve(llm::app(Hub::new(), Duration::from_millis(1))).await;
    format!("http://{addr}/v1")
}

/// The first `n` tokens of the full answer to `prompt`: each word with the
/// spaces after it, as `str::split_inclusive` cuts it (written here apart
/// from the example's own tokenizer, which it checks).
fn first_tokens(prompt: &str, n: usize) -> String {
    llm::expected_answer(prompt)
        .split_inclusive(' ')
        .take(n)
        .collect()
}

fn token_count(prompt: &str) -> u64 {
    llm::expected_answer(prompt).split_inclusive(' ').count() as u64
}

/// What the stand-in counts as the prompt: the message's content as JSON
/// (quotes included), in tokens.
fn prompt_tokens(prompt: &str) -> u64 {
    Value::from(prompt).to_string().split_inclusive(' ').count() as u64
}

/// One client's result: no error, each of `choices` choices says `text`
/// and ends for `finish_reason`, and usage counts `completion_tokens` (all
/// choices together) after the prompt's tokens.
#[track_caller]
fn check_result(
    result: &Value,
    prompt: &str,
    text: &str,
    finish_reason: &str,
    choices: usize,
    completion_tokens: u64,
) {
    assert_eq!(result["error"], Value::Null, "{result}");
    let expected: Vec<Value> = (0..choices)
        .map(|_| json!({ "text": text, "finish_reason": finish_reason }))
        .collect();
    assert_eq!(result["choices"], Value::from(expected), "{result}");
    let prompt_tokens = prompt_tokens(prompt);
    assert_eq!(result["usage"]["prompt_tokens"], prompt_tokens, "{result}");
    assert_eq!(
        result["usage"]["completion_tokens"], completion_tokens,
        "{result}"
    );
    assert_eq!(
        result["usage"]["total_tokens"],
        prompt_tokens + completion_tokens,
        "{result}"
    );
}

fn check_answer(result: &Value, prompt: &str) {
    let answer = llm::expected_answer(prompt);
    check_result(result, prompt, &answer, "stop", 1, token_count(prompt));
    assert_eq!(result["text"], answer, "{result}");
    assert_eq!(result["finish_reason"], "stop");
}

/// What the SDKs raise for an error chunk mid-stream: their `APIError`
/// (not a status error: the response was a 200), with the chunk's message,
/// code and type, and no finish reason.
fn check_error(result: &Value) {
    assert_eq!(result["error"]["type"], "APIError", "{result}");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("failed on purpose"), "{message}");
    assert_eq!(result["error"]["code"], "model_failure", "{result}");
    assert_eq!(result["error"]["error_type"], "server_error", "{result}");
    assert_eq!(result["error"]["param"], Value::Null, "{result}");
    assert_eq!(result["error"]["status"], Value::Null, "{result}");
    assert_eq!(result["finish_reason"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_streams_a_completion() {
    let base = base_url().await;
    let prompt = "how do tokens travel?";
    let Some(result) = run_client(PYTHON, &[&base, prompt]).await else {
        return;
    };
    check_answer(&result, prompt);
    let Some(failed) = run_client(PYTHON, &[&base, "please [fail]"]).await else {
        return;
    };
    check_error(&failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_node_client_streams_a_completion() {
    let base = base_url().await;
    let prompt = "how do tokens travel?";
    let Some(result) = run_client(NODE, &[&base, prompt]).await else {
        return;
    };
    check_answer(&result, prompt);
    let Some(failed) = run_client(NODE, &[&base, "please [fail]"]).await else {
        return;
    };
    check_error(&failed);
}

/// Both clients read the answer compressed (the example offers gzip and
/// zstd; httpx and Node's fetch ask for gzip), each chunk as it is sent:
/// with 30 ms between tokens, the chunks arrive spread over the answer's
/// whole length, not at once when the compressed stream ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_clients_read_a_compressed_answer_chunk_by_chunk() {
    let encodings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&encodings);
    let app = llm::app(Hub::new(), Duration::from_millis(30)).layer(
        axum::middleware::map_response(move |response: axum::response::Response| {
            let seen = std::sync::Arc::clone(&seen);
            async move {
                let encoding = response.headers().get("content-encoding").cloned();
                seen.lock().unwrap().push(encoding);
                response
            }
        }),
    );
    let base = format!("http://{}/v1", serve(app).await);
    let prompt = "is it compressed?";
    let args = [base.as_str(), prompt];
    let (python, node) = tokio::join!(run_client(PYTHON, &args), run_client(NODE, &args));
    let results: Vec<Value> = [python, node].into_iter().flatten().collect();
    for result in &results {
        check_answer(result, prompt);
        let arrivals: Vec<f64> = result["arrivals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect();
        let tokens = token_count(prompt) as f64;
        let spread = arrivals.last().unwrap() - arrivals.first().unwrap();
        assert!(
            spread >= (tokens - 1.0) * 30.0 * 0.8,
            "{} tokens 30 ms apart arrived within {spread} ms: {arrivals:?}",
            tokens
        );
    }
    let encodings = encodings.lock().unwrap();
    assert_eq!(encodings.len(), results.len());
    for encoding in encodings.iter() {
        assert_eq!(
            encoding.as_ref().and_then(|v| v.to_str().ok()),
            Some("gzip")
        );
    }
}

/// `max_tokens` and `max_completion_tokens` bound the answer (the tighter
/// one when both are given): that many tokens, finish reason `length`, and
/// usage counts them; a bound past the end changes nothing. Streamed and
/// whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_cut_the_answer_with_finish_reason_length() {
    let base = base_url().await;
    let prompt = "hi";
    let all = token_count(prompt);
    let cases = [
        (json!({ "max_tokens": 5 }), 5),
        (json!({ "max_completion_tokens": 7 }), 7),
        (json!({ "max_tokens": 9, "max_completion_tokens": 4 }), 4),
        (json!({ "max_tokens": 3, "max_completion_tokens": 400 }), 3),
        (json!({ "stream": false, "max_completion_tokens": 6 }), 6),
        (json!({ "max_tokens": all }), all),
        (json!({ "max_tokens": all + 1, "stream": false }), all),
    ];
    assert_eq!(
        first_tokens(prompt, 5),
        "You asked: hi. Server-sent events "
    );
    let params: Vec<Value> = cases.iter().map(|(params, _)| params.clone()).collect();
    for (client, results) in ask_both(&base, prompt, &params).await {
        for ((params, kept), result) in cases.iter().zip(&results) {
            eprintln!("{client}: {params}");
            let finish_reason = if *kept < all { "length" } else { "stop" };
            let text = first_tokens(prompt, *kept as usize);
            check_result(result, prompt, &text, finish_reason, 1, *kept);
        }
    }
}

/// `stop` (a string, or up to four) ends the answer just before the first
/// place one of them begins, whichever is listed first, even inside a
/// token; the stop text is not sent, the finish reason is `stop`, and
/// usage counts the tokens sent. A stop sequence past `max_tokens` was
/// never reached: the finish reason is `length`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_sequences_end_the_answer_before_them() {
    let base = base_url().await;
    let prompt = "hi";
    let before_keep = "You asked: hi. Server-sent events ";
    let cases = [
        (json!({ "stop": "keep" }), before_keep, "stop", 5),
        (
            json!({ "stop": ["ready", "one", "keep", "open"] }),
            before_keep,
            "stop",
            5,
        ),
        (
            json!({ "stop": ["sent"] }),
            "You asked: hi. Server-",
            "stop",
            4,
        ),
        (json!({ "stop": "You" }), "", "stop", 0),
        (
            json!({ "stop": "keep", "max_tokens": 8 }),
            before_keep,
            "stop",
            5,
        ),
        (
            json!({ "stop": "keep", "max_tokens": 4 }),
            "You asked: hi. Server-sent ",
            "length",
            4,
        ),
        (json!({ "stop": "no such text" }), "", "stop", 0),
        (
            json!({ "stop": ["keep"], "stream": false }),
            before_keep,
            "stop",
            5,
        ),
    ];
    let params: Vec<Value> = cases.iter().map(|case| case.0.clone()).collect();
    for (client, results) in ask_both(&base, prompt, &params).await {
        for ((params, text, finish_reason, tokens), result) in cases.iter().zip(&results) {
            eprintln!("{client}: {params}");
            if params["stop"] == "no such text" {
                check_answer(result, prompt);
                continue;
            }
            check_result(result, prompt, text, finish_reason, 1, *tokens);
        }
    }
}

/// `n` gives that many choices, indexes 0 to n - 1, each the same
/// (deterministic) answer with its own finish reason; usage counts the
/// tokens of all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_gives_as_many_choices() {
    let base = base_url().await;
    let prompt = "hi";
    let all = token_count(prompt);
    let cases = [
        json!({ "n": 3, "max_tokens": 4 }),
        json!({ "n": 2 }),
        json!({ "n": 2, "stream": false, "stop": "keep" }),
        json!({ "n": 1 }),
    ];
    for (client, results) in ask_both(&base, prompt, &cases).await {
        eprintln!("{client}");
        check_result(
            &results[0],
            prompt,
            &first_tokens(prompt, 4),
            "length",
            3,
            12,
        );
        let answer = llm::expected_answer(prompt);
        check_result(&results[1], prompt, &answer, "stop", 2, 2 * all);
        check_result(&results[2], prompt, &first_tokens(prompt, 5), "stop", 2, 10);
        check_answer(&results[3], prompt);
    }
}

/// What the stand-in cannot honour is refused before anything streams,
/// as OpenAI refuses: a 400 the SDKs raise as `BadRequestError`, naming
/// the field (`param`) with a code saying why. So is a field it does not
/// know, and a value out of range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_honoured_is_refused_with_the_field_named() {
    let base = base_url().await;
    let tool = json!({ "type": "function", "function": { "name": "f", "parameters": {} } });
    let cases = [
        (json!({ "tools": [tool] }), "tools", "unsupported_parameter"),
        (
            json!({ "tool_choice": "none" }),
            "tool_choice",
            "unsupported_parameter",
        ),
        (
            json!({ "parallel_tool_calls": false }),
            "parallel_tool_calls",
            "unsupported_parameter",
        ),
        (
            json!({ "functions": [{ "name": "f", "parameters": {} }] }),
            "functions",
            "unsupported_parameter",
        ),
        (
            json!({ "function_call": "auto" }),
            "function_call",
            "unsupported_parameter",
        ),
        (
            json!({ "response_format": { "type": "json_object" } }),
            "response_format",
            "unsupported_value",
        ),
        (json!({ "logprobs": true }), "logprobs", "unsupported_value"),
        (
            json!({ "top_logprobs": 2 }),
            "top_logprobs",
            "unsupported_parameter",
        ),
        (
            json!({ "logit_bias": { "50256": -100 } }),
            "logit_bias",
            "unsupported_value",
        ),
        (
            json!({ "modalities": ["text", "audio"] }),
            "modalities",
            "unsupported_value",
        ),
        (
            json!({ "audio": { "voice": "alloy", "format": "wav" } }),
            "audio",
            "unsupported_parameter",
        ),
        (
            json!({ "prediction": { "type": "content", "content": "x" } }),
            "prediction",
            "unsupported_parameter",
        ),
        (
            json!({ "web_search_options": {} }),
            "web_search_options",
            "unsupported_parameter",
        ),
        (
            json!({ "reasoning_effort": "low" }),
            "reasoning_effort",
            "unsupported_parameter",
        ),
        (
            json!({ "verbosity": "low" }),
            "verbosity",
            "unsupported_parameter",
        ),
        (
            json!({ "extra_body": { "max_token": 5 } }),
            "max_token",
            "unknown_parameter",
        ),
        (json!({ "n": 0 }), "n", "integer_below_min_value"),
        (json!({ "n": 129 }), "n", "integer_above_max_value"),
        (json!({ "n": "two" }), "n", "invalid_type"),
        (
            json!({ "max_tokens": 0 }),
            "max_tokens",
            "integer_below_min_value",
        ),
        (
            json!({ "max_completion_tokens": -1 }),
            "max_completion_tokens",
            "integer_below_min_value",
        ),
        (
            json!({ "stop": ["a", "b", "c", "d", "e"] }),
            "stop",
            "array_above_max_length",
        ),
        (json!({ "stop": "" }), "stop", "invalid_value"),
        (json!({ "stop": [1] }), "stop", "invalid_value"),
        (
            json!({ "stream": false, "stream_options": { "include_usage": true } }),
            "stream_options",
            "invalid_value",
        ),
        (
            json!({ "stream_options": { "include_usage": true, "extra": 1 } }),
            "stream_options",
            "invalid_value",
        ),
    ];
    let params: Vec<Value> = cases.iter().map(|case| case.0.clone()).collect();
    for (client, results) in ask_both(&base, "hi", &params).await {
        for ((params, param, code), result) in cases.iter().zip(&results) {
            let error = &result["error"];
            assert_eq!(
                error["type"], "BadRequestError",
                "{client}: {params}: {result}"
            );
            assert_eq!(error["status"], 400, "{client}: {params}: {result}");
            assert_eq!(error["param"], *param, "{client}: {params}: {result}");
            assert_eq!(error["code"], *code, "{client}: {params}: {result}");
            assert_eq!(
                error["error_type"], "invalid_request_error",
                "{client}: {params}: {result}"
            );
            assert!(
                error["message"].as_str().unwrap().contains(param),
                "{client}: {params}: {result}"
            );
            assert_eq!(result["chunks"], 0, "{client}: {params}: {result}");
        }
    }
}

/// The knobs a deterministic stand-in has nothing to apply to (sampling,
/// bookkeeping), the harmless value of a refused field, and `null` for any
/// field, are accepted: the answer is the whole answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harmless_knobs_are_accepted() {
    let base = base_url().await;
    let prompt = "hi";
    let cases = [
        json!({
            "temperature": 0.2, "top_p": 0.9, "seed": 7, "presence_penalty": 0.5,
            "frequency_penalty": -0.5, "user": "someone", "safety_identifier": "hash",
            "metadata": { "k": "v" }, "store": false, "prompt_cache_key": "k",
            "prompt_cache_retention": "24h", "service_tier": "auto",
        }),
        json!({
            "response_format": { "type": "text" }, "logprobs": false, "logit_bias": {},
            "modalities": ["text"],
            "stream_options": { "include_usage": true, "include_obfuscation": false },
        }),
        json!({ "tools": null, "max_tokens": null, "stop": null, "n": null, "logprobs": null }),
    ];
    for (client, results) in ask_both(&base, prompt, &cases).await {
        for (params, result) in cases.iter().zip(&results) {
            eprintln!("{client}: {params}");
            check_answer(result, prompt);
        }
    }
}

/// With a `Shutdown` on the router, the server stops at once with answers
/// still streaming (here, one token every 10 s): the page's stream
/// (`GET /v1/runs/{id}/events`) just ends, so it resumes later from its
/// last id, and an OpenAI client's stream ends with an error chunk its SDK
/// raises, not with a silence it would take for a whole answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_on_shutdown_and_the_server_stops_within_a_second() {
    let shutdown = Shutdown::new();
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    let app = llm::app(Hub::new(), Duration::from_secs(10)).layer(Extension(shutdown.clone()));
    let (addr, server) = support::serve_until(app, &shutdown, async {
        fired.await.ok();
    });
    let body = r#"{"model":"sse-demo","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let posted =
        support::post_stream(addr, "/v1/chat/completions", Some("application/json"), body).await;
    assert_eq!(posted.inner.status(), 200);
    let id = posted.header("x-run-id").expect("x-run-id").to_owned();
    let mut answer = posted.events();
    let role = answer.next().await.expect("the role chunk");
    assert!(role.data.contains(r#""role":"assistant""#), "{role:?}");
    let mut page = support::get(addr, &format!("/v1/runs/{id}/events"), &[])
        .await
        .events();
    let first = page.next().await.expect("the page's first event");
    assert_eq!(first.data, role.data);
    assert!(!first.id.is_empty(), "the page's stream keeps ids");

    let started = Instant::now();
    fire.send(()).unwrap();
    support::within(server).await.unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the server took {took:?} to stop"
    );

    let rest = answer.all().await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    let error: Value = serde_json::from_str(&rest[0].data).unwrap();
    assert_eq!(
        error,
        json!({ "error": {
            "message": "the server is shutting down; the answer was cut short",
            "type": "server_error",
            "param": null,
            "code": llm::SHUTDOWN_CODE,
        }})
    );
    assert_eq!(rest[0].id, "", "the SDK's stream carries no ids");
    assert_eq!(page.all().await.len(), 0, "the page's stream just ends");
}

/// One POST to the llm example, raw: (status, content type, body).
async fn post(
    base: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .parse()
        .expect("an address");
    let (status, headers, body) = support::post(addr, path, content_type, body).await;
    let content_type = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, body)
}

/// A request the endpoint cannot read (not JSON, the wrong shape, no
/// content type, too large) is answered as OpenAI answers one: a 4xx with
/// an `{"error": {..}}` JSON body, which OpenAI's clients turn into an
/// error carrying its message. axum's own rejections are plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_requests_get_errors_in_openai_shape() {
    let base = base_url().await;
    let path = "/v1/chat/completions";
    let huge = format!(
        r#"{{"model":"sse-demo","stream":true,"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(3 << 20)
    );
    let cases: [(Option<&str>, &str); 5] = [
        (Some("application/json"), "{not json"),
        (Some("application/json"), r#"{"messages": "hi"}"#),
        (Some("application/json"), r#"{"stream": true}"#),
        (None, r#"{"messages": [{"role": "user", "content": "hi"}]}"#),
        (Some("application/json"), &huge),
    ];
    for (content_type, body) in cases {
        let (status, answered_as, answer) = post(&base, path, content_type, body).await;
        let shown = &body[..body.len().min(60)];
        assert!((400..500).contains(&status), "{shown}: {status} {answer}");
        assert!(
            answered_as.starts_with("application/json"),
            "{shown}: {status} {answered_as} {answer}"
        );
        let error: Value = serde_json::from_str(&answer).unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{shown}: {answer}"
        );
        assert_eq!(error["error"]["type"], "invalid_request_error", "{answer}");
    }
}

/// An answer longer than a run may send (`RunsConfig::max_events`) used to
/// be cut off where the run's log was full: the official client got part
/// of the text, no finish reason, no `[DONE]`, and no error. OpenAI
/// refuses such a request up front (`context_length_exceeded`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_longer_than_a_run_may_send_is_an_error_not_a_cut() {
    let config = sse_runtime::runs::RunsConfig {
        max_events: 20,
        ..Default::default()
    };
    let addr = serve(llm::app_with(
        Hub::new(),
        Duration::from_millis(1),
        config,
        llm::KEEP_ALIVE,
    ))
    .await;
    let base = format!("http://{addr}/v1");
    let prompt = "a short question";
    // The role chunk, 10 tokens, the finish chunk, usage and `[DONE]` fit.
    let cases = [json!({}), json!({ "max_tokens": 10 })];
    let Some(results) = run_client(
        PYTHON,
        &[&base, prompt, "--params", &json!(cases).to_string()],
    )
    .await
    else {
        return;
    };
    let result = &results[0];
    assert_eq!(
        result["error"]["type"], "BadRequestError",
        "a cut answer and no error: {result}"
    );
    assert_eq!(
        result["error"]["code"], "context_length_exceeded",
        "{result}"
    );
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("more than a run may send"), "{message}");
    check_result(
        &results[1],
        prompt,
        &first_tokens(prompt, 10),
        "length",
        1,
        10,
    );
}

/// The stream's keep-alive is a comment and a blank line (`:\n\n`) after a
/// silence. The official Python client (openai 3.57) dispatches a blank
/// line as an event whenever an `id:` was ever seen (it keeps the last id,
/// and does not look for data), and parses its empty data as JSON: with ids
/// on the stream, a model that pauses longer than the keep-alive crashes it
/// with `JSONDecodeError`. So the POST stream carries no ids (OpenAI's own
/// sends none either); here, keep-alives come three times per token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_survives_a_pause_longer_than_the_keep_alive() {
    // Tokens every 600 ms, keep-alives every 200 ms.
    let addr = serve(llm::app_with(
        Hub::new(),
        Duration::from_millis(600),
        sse_runtime::runs::RunsConfig::default(),
        Duration::from_millis(200),
    ))
    .await;
    let base = format!("http://{addr}/v1");
    let Some(result) = run_client(PYTHON, &[&base, "a slow answer", "--max-chunks", "2"]).await
    else {
        return;
    };
    assert_eq!(result["chunks"], 2, "{result}");
}

/// The same seen by the official clients: the server stops within a second
/// of shutdown with their answers open, and each SDK raises the error chunk
/// (its `APIError`, code `server_shutting_down`) instead of returning a cut
/// answer as if it were whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_clients_raise_an_error_when_the_server_shuts_down() {
    for client in [PYTHON, NODE] {
        let Some((result, took)) = shutdown_mid_answer(client).await else {
            continue;
        };
        let name = client.0;
        assert!(
            took < Duration::from_secs(1),
            "{name}: the server took {took:?} to stop"
        );
        let error = &result["error"];
        assert_eq!(error["type"], "APIError", "{name}: {result}");
        assert_eq!(error["code"], llm::SHUTDOWN_CODE, "{name}: {result}");
        assert_eq!(error["error_type"], "server_error", "{name}: {result}");
        assert!(
            error["message"].as_str().unwrap().contains("shutting down"),
            "{name}: {result}"
        );
        assert_eq!(result["finish_reason"], Value::Null, "{name}: {result}");
    }
}

/// Serves the llm example (a token every 10 s), has `client` ask it for an
/// answer, and shuts the server down as soon as the answer's response has
/// started: what the client printed, and how long the server took to stop.
/// `None` when the client cannot run here.
async fn shutdown_mid_answer(client: Client) -> Option<(Value, Duration)> {
    let shutdown = Shutdown::new();
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    let answering = std::sync::Arc::new(tokio::sync::Notify::new());
    let notify = answering.clone();
    let app = llm::app(Hub::new(), Duration::from_secs(10))
        .layer(Extension(shutdown.clone()))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let notify = notify.clone();
                async move {
                    let response = next.run(request).await;
                    notify.notify_one();
                    response
                }
            },
        ));
    let (addr, server) = support::serve_until(app, &shutdown, async {
        fired.await.ok();
    });
    let base = format!("http://{addr}/v1");
    let args = [base.as_str(), "hi"];
    let mut asking = std::pin::pin!(run_client(client, &args));
    tokio::select! {
        result = &mut asking => {
            let result = result?;
            panic!("{}: the client finished before the server shut down: {result}", client.0);
        }
        started = tokio::time::timeout(CLIENT_TIMEOUT, answering.notified()) => {
            started.expect("the client asked within the time allowed");
        }
    }
    let started = Instant::now();
    fire.send(()).unwrap();
    support::within(server).await.unwrap();
    let took = started.elapsed();
    Some((asking.await?, took))
}

/// What the SDKs raise for one of the library's own signals on the answer
/// stream: an `APIError` with `code`, no finish reason. It used to forward
/// each event's data alone, so a `lagged` notice reached them as a chunk
/// whose body was a bare number, and the stream then ended with no
/// `[DONE]`, no finish reason and no error.
fn check_signal_error(name: &str, result: &Value, codes: &[&str]) {
    let error = &result["error"];
    assert_eq!(error["type"], "APIError", "{name}: {result}");
    assert!(
        codes.contains(&error["code"].as_str().unwrap_or_default()),
        "{name}: {result}"
    );
    assert_eq!(error["error_type"], "server_error", "{name}: {result}");
    assert_eq!(result["finish_reason"], Value::Null, "{name}: {result}");
}

/// A hub that keeps two events, and a stand-in that answers with no delay:
/// the answer's stream falls behind what the hub keeps (`lagged`), or its
/// start is gone before it attaches (`reset`). Either reaches the SDKs as
/// an error they raise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hubs_notices_are_errors_the_official_clients_raise() {
    let hub = Hub::with_config(sse_runtime::hub::HubConfig {
        replay: 2,
        ..sse_runtime::hub::HubConfig::default()
    });
    let addr = serve(llm::app_with(
        hub,
        Duration::ZERO,
        sse_runtime::runs::RunsConfig::default(),
        llm::KEEP_ALIVE,
    ))
    .await;
    let base = format!("http://{addr}/v1");
    let prompt = "a long question, so that the answer has many more tokens than the hub keeps";
    for (name, results) in ask_both(&base, prompt, &[json!({})]).await {
        check_signal_error(name, &results[0], &["stream_lagged", "stream_reset"]);
    }
}

/// A run cancelled while an SDK reads its answer: the SDK raises an error
/// (`run_cancelled`) rather than taking a cut answer for a whole one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_answer_is_an_error_the_official_clients_raise() {
    for client in [PYTHON, NODE] {
        let (tell, mut told) = tokio::sync::mpsc::unbounded_channel::<String>();
        let app = llm::app(Hub::new(), Duration::from_secs(10)).layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let tell = tell.clone();
                async move {
                    let response = next.run(request).await;
                    if let Some(run) = response.headers().get("x-run-id") {
                        let _ = tell.send(run.to_str().unwrap().to_owned());
                    }
                    response
                }
            },
        ));
        let addr = serve(app).await;
        let base = format!("http://{addr}/v1");
        let args = [base.as_str(), "hi"];
        let mut asking = std::pin::pin!(run_client(client, &args));
        let run = tokio::select! {
            result = &mut asking => {
                let Some(result) = result else { continue };
                panic!("{}: the client finished before the run was cancelled: {result}", client.0);
            }
            run = tokio::time::timeout(CLIENT_TIMEOUT, told.recv()) => {
                run.expect("the client asked within the time allowed").unwrap()
            }
        };
        let (status, _, _) = support::post(addr, &format!("/v1/runs/{run}/cancel"), None, "").await;
        assert_eq!(status, 204);
        let Some(result) = asking.await else {
            continue;
        };
        check_signal_error(client.0, &result, &["run_cancelled"]);
    }
}

/// `Prefer: resumable` (RFC 7240; the page asks this way) makes the answer
/// to the POST the run's own stream: every event with its id, then the
/// run's `run_end`, and `Preference-Applied` says so; a GET of the run from
/// any of those ids gives exactly the rest. Without it, the POST's stream
/// stays OpenAI's: no ids, no `run_end`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_prefers_resumable_gets_the_runs_own_stream() {
    let addr = serve(llm::app(Hub::new(), Duration::from_millis(1))).await;
    let body = r#"{"model":"sse-demo","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let text = |events: &[eventsource_stream::Event]| -> String {
        events
            .iter()
            .filter_map(|event| serde_json::from_str::<Value>(&event.data).ok())
            .filter_map(|chunk| {
                chunk["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };

    // Any case, among other preferences and with parameters.
    for prefer in [
        "resumable",
        "respond-async, Resumable; x=1",
        "wait=1,resumable=yes",
    ] {
        let posted = support::post_stream_with(
            addr,
            "/v1/chat/completions",
            &[("content-type", "application/json"), ("prefer", prefer)],
            body,
        )
        .await;
        assert_eq!(posted.inner.status(), 200, "{prefer}");
        assert_eq!(
            posted.header("preference-applied"),
            Some("resumable"),
            "{prefer}"
        );
        let id = posted.header("x-run-id").expect("x-run-id").to_owned();
        let events = posted.events().all().await;
        let (last, answer) = events.split_last().expect("events");
        assert!(
            events.iter().all(|event| !event.id.is_empty()),
            "{events:?}"
        );
        assert_eq!(last.event, "run_end", "{events:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&last.data).unwrap(),
            json!({ "state": "finished" })
        );
        assert_eq!(answer.last().unwrap().data, "[DONE]");
        assert_eq!(text(answer), llm::expected_answer("hi"));

        // Resumed from the middle: the rest, exactly.
        let middle = &events[events.len() / 2];
        let rest = support::get(
            addr,
            &format!("/v1/runs/{id}/events"),
            &[("last-event-id", middle.id.as_bytes())],
        )
        .await
        .events()
        .all()
        .await;
        let expected: Vec<_> = events[events.len() / 2 + 1..]
            .iter()
            .map(|event| (&event.event, &event.data, &event.id))
            .collect();
        let got: Vec<_> = rest
            .iter()
            .map(|event| (&event.event, &event.data, &event.id))
            .collect();
        assert_eq!(got, expected, "{prefer}");
    }

    for prefer in [None, Some("respond-async"), Some("resumable-not")] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(prefer.map(|prefer| ("prefer", prefer)));
        let posted = support::post_stream_with(addr, "/v1/chat/completions", &headers, body).await;
        assert_eq!(posted.header("preference-applied"), None, "{prefer:?}");
        let events = posted.events().all().await;
        assert!(events.iter().all(|event| event.id.is_empty()), "{events:?}");
        assert!(
            events.iter().all(|event| event.event == "message"),
            "{events:?}"
        );
        assert_eq!(events.last().unwrap().data, "[DONE]");
        assert_eq!(text(&events), llm::expected_answer("hi"));
    }
}
