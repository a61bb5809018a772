//! The llm example held to OpenAI's own clients: the official `openai`
//! Python package (PyPI) and the official `openai` npm package stream a
//! completion from it over TCP, and what they reassemble (text, finish
//! reason, usage), and how they report an error mid-stream, is checked
//! here. `tests/llm/client.py` and `tests/browser/openai-client.mjs` are
//! the two clients.
//!
//! `.ci/run` installs both (`pip install openai`, and `npm ci --prefix
//! tests/browser`). Without Python's `openai` or Node's, the test prints a
//! notice and passes, except under `CI=true`, where it fails.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sse_runtime::hub::Hub;
use sse_suite::llm;
use support::serve;

fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}; under CI=true the SDK tests must run (.ci/run installs them)");
    }
    eprintln!("NOTICE: skipping an OpenAI SDK test: {what}");
}

/// Runs one client; `None` (after a notice) when it cannot run here.
fn run_client(program: &str, script: &str, base: &str, prompt: &str) -> Option<Value> {
    run_client_with(program, script, &[base, prompt])
}

/// Runs one client with these arguments; `None` (after a notice) when it
/// cannot run here.
fn run_client_with(program: &str, script: &str, args: &[&str]) -> Option<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = match Command::new(program)
        .arg(root.join(script))
        .args(args)
        .output()
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

async fn base_url() -> String {
    let addr = serve(llm::app(Hub::new(), Duration::from_millis(1))).await;
    format!("http://{addr}/v1")
}

fn check_answer(result: &Value, prompt: &str) {
    assert_eq!(result["error"], Value::Null, "{result}");
    assert_eq!(result["text"], llm::expected_answer(prompt), "{result}");
    assert_eq!(result["finish_reason"], "stop");
    let usage = &result["usage"];
    let completion = usage["completion_tokens"].as_u64().unwrap();
    assert!(completion > 20, "{usage}");
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + completion
    );
}

fn check_error(result: &Value) {
    assert_eq!(result["error"]["type"], "APIError", "{result}");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("failed on purpose"), "{message}");
    assert_eq!(result["finish_reason"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_streams_a_completion() {
    let base = base_url().await;
    let prompt = "how do tokens travel?";
    let Some(result) = run_client("python3", "tests/llm/client.py", &base, prompt) else {
        return;
    };
    check_answer(&result, prompt);
    let Some(failed) = run_client("python3", "tests/llm/client.py", &base, "please [fail]") else {
        return;
    };
    check_error(&failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_node_client_streams_a_completion() {
    let base = base_url().await;
    let prompt = "how do tokens travel?";
    let Some(result) = run_client("node", "tests/browser/openai-client.mjs", &base, prompt) else {
        return;
    };
    check_answer(&result, prompt);
    let Some(failed) = run_client(
        "node",
        "tests/browser/openai-client.mjs",
        &base,
        "please [fail]",
    ) else {
        return;
    };
    check_error(&failed);
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
    let Some(result) = run_client("python3", "tests/llm/client.py", &base, "a short question")
    else {
        return;
    };
    assert_eq!(
        result["error"]["type"], "BadRequestError",
        "a cut answer and no error: {result}"
    );
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("more than a run may send"), "{message}");
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
    let Some(result) = run_client_with(
        "python3",
        "tests/llm/client.py",
        &[&base, "a slow answer", "2"],
    ) else {
        return;
    };
    assert_eq!(result["chunks"], 2, "{result}");
}
