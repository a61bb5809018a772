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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = match Command::new(program)
        .arg(root.join(script))
        .arg(base)
        .arg(prompt)
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
