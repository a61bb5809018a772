//! The demo in a real browser: headless Chromium (Debian's `chromium`,
//! driven by playwright-core) opens the demo page, and undici's
//! `EventSource` reads the same routes; the chat and llm pages run there
//! too, and the generated fetch transport (`EventStream`) reads streams
//! that need an `Authorization` header ([`private_app`]).
//! `tests/browser/run.mjs` collects what they saw, and the assertions are
//! here.
//!
//! Needs `/usr/bin/chromium` (or `CHROMIUM=path`; `.ci/run` installs
//! Debian's package) and Node.js; the test runs `npm ci --prefix
//! tests/browser` itself when the packages are missing. Without Chromium or
//! Node it prints a notice and passes, except under CI (`CI=true`), where it
//! fails. Run it alone:
//! `cargo test --test browser -- --nocapture`. It saves a screenshot to
//! `target/browser-demo.png` and `target/browser-chat.png`.

mod support;

use sse_suite::demo;

use sse_suite::chat;
use sse_suite::llm;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use sse_runtime::prelude::*;
use sse_runtime::Shutdown;

/// Installs the Node packages from the lock file when they are missing and
/// npm is there: it reaches only the npm registry.
fn install_node_packages(root: &Path) {
    let packages = root.join("tests/browser");
    if packages.join("node_modules/playwright-core").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&packages)
        .status();
    if !matches!(status, Ok(status) if status.success()) {
        eprintln!("NOTICE: `npm ci --prefix tests/browser` failed: {status:?}");
    }
}

fn missing_requirements(root: &Path) -> Vec<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut missing = Vec::new();
    if !Path::new(&chromium).exists() {
        missing.push(format!("Chromium at {chromium} (apt-get install chromium)"));
    }
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        missing.push("Node.js".into());
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .exists()
        || !root.join("tests/browser/node_modules/undici").exists()
    {
        missing.push("tests/browser/node_modules (npm ci --prefix tests/browser)".into());
    }
    missing
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|item| item.as_str().expect("string").to_owned())
        .collect()
}

fn field<'a>(entry: &'a Value, name: &str) -> &'a str {
    entry[name].as_str().unwrap_or_default()
}

/// What a request asked, as a test app records it: method, path, and the
/// headers the fetch transport sends.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    last_event_id: Option<String>,
    prefer: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn seen(request: &Request) -> Seen {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    Seen {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        authorization: header("authorization"),
        last_event_id: header("last-event-id"),
        prefer: header("prefer"),
    }
}

/// Records every request that reaches the app.
async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    log.lock().unwrap().push(seen(&request));
    next.run(request).await
}

/// Cuts the answer to every POST after its first four body frames (the
/// llm's role chunk and first tokens): the server closing the stream
/// mid-answer.
async fn cut_posts(request: Request, next: Next) -> Response {
    use futures_util::StreamExt;
    let post = request.method() == axum::http::Method::POST;
    let response = next.run(request).await;
    if !post {
        return response;
    }
    let (parts, body) = response.into_parts();
    let cut = axum::body::Body::from_stream(body.into_data_stream().take(4));
    Response::from_parts(parts, cut)
}

/// The token the private streams want.
const TOKEN: &str = "Bearer s3cret";

/// The private streams' app: streams that answer 401 without
/// `Authorization: Bearer s3cret`, and a page that loads the fetch
/// transport (`sse_runtime::typescript::event_stream`).
///
/// - `/private` sends two events (ids 1 and 2, then 3 and 4, then 5 and 6,
///   after the `Last-Event-ID` it is given) with `retry: 300`, and closes:
///   the client comes back with the header and its last id; after 6 it
///   answers 204.
/// - `/forever` sends an event every 50 ms until the client goes; `gone`
///   is set when its body is dropped.
/// - `/done` answers 204.
fn private_app(log: Log, gone: Arc<AtomicBool>) -> Router {
    /// Lets through only requests with the token.
    async fn authorized(request: Request, next: Next) -> Response {
        let authorization = request.headers().get("authorization");
        if authorization.map(|value| value.as_bytes()) != Some(TOKEN.as_bytes()) {
            return (StatusCode::UNAUTHORIZED, "a bearer token is needed").into_response();
        }
        next.run(request).await
    }

    async fn private(headers: HeaderMap) -> Response {
        let last: u32 = headers
            .get("last-event-id")
            .and_then(|value| value.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        if last >= 6 {
            return StatusCode::NO_CONTENT.into_response();
        }
        let body = format!(
            "retry: 300\n\nid: {}\ndata: event {}\n\nid: {}\ndata: event {}\n\n",
            last + 1,
            last + 1,
            last + 2,
            last + 2
        );
        ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
    }

    struct Gone(Arc<AtomicBool>);
    impl Drop for Gone {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[sse_handler]
    async fn forever(State(gone): State<Arc<AtomicBool>>) {
        let _gone = Gone(gone);
        for n in 1u64.. {
            yield_!(event!(data: n.to_string(), id: n.to_string()));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn page() -> axum::response::Html<&'static str> {
        axum::response::Html(
            r#"<!doctype html><meta charset="utf-8"><title>private</title>
<script type="module">
import { EventStream } from "/event-stream.js";
window.EventStream = EventStream;
document.body.dataset.ready = "yes";
</script><body></body>"#,
        )
    }

    Router::new()
        .route("/", get(page))
        .route(
            "/event-stream.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript")],
                    sse_runtime::typescript::event_stream(),
                )
            }),
        )
        .merge(
            Router::new()
                .route("/private", get(private))
                .route("/forever", get(forever))
                .route_layer(axum::middleware::from_fn(authorized)),
        )
        .route("/done", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(gone)
        .layer(axum::middleware::from_fn_with_state(log, record))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_in_chromium_and_undici() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    install_node_packages(&root);
    let missing = missing_requirements(&root);
    if !missing.is_empty() {
        let message = format!("browser test needs: {}", missing.join(", "));
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{message}");
        }
        eprintln!("NOTICE: skipping the browser test: {message}");
        return;
    }

    let listener = support::listener();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // The `Content-Encoding` of every event stream the demo answers, to
    // show that Chromium and undici read them compressed.
    let encodings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&encodings);
    let demo_app = demo::app(Shutdown::new()).layer(axum::middleware::map_response(
        move |response: axum::response::Response| {
            let seen = std::sync::Arc::clone(&seen);
            async move {
                let headers = response.headers();
                if headers
                    .get("content-type")
                    .is_some_and(|t| t == "text/event-stream")
                {
                    let encoding = headers.get("content-encoding").cloned();
                    seen.lock().unwrap().push(encoding);
                }
                response
            }
        },
    ));
    let server = tokio::spawn(async move {
        axum::serve(listener, demo_app).await.unwrap();
    });
    let chat_listener = support::listener();
    let chat_base = format!("http://{}", chat_listener.local_addr().unwrap());
    // Private rooms on, with a token for the room `secret` signed here.
    let secret = b"the browser test's chat secret, 32+ bytes";
    let room_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({
            "exp": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 600,
            "mercure": { "subscribe": ["room:secret"], "publish": ["room:secret"] },
        }),
        &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap();
    let authorizer = chat::authorizer(secret).unwrap();
    let chat_server = tokio::spawn(async move {
        let app = chat::app_with(sse_runtime::hub::Hub::new(), Shutdown::new(), authorizer);
        axum::serve(chat_listener, app).await.unwrap();
    });
    let llm_listener = support::listener();
    let llm_base = format!("http://{}", llm_listener.local_addr().unwrap());
    let llm_log = Log::default();
    let llm_server = tokio::spawn({
        let log = llm_log.clone();
        async move {
            // Slow enough that a reload lands mid-answer.
            let app = llm::app(sse_runtime::hub::Hub::new(), Duration::from_millis(40))
                .layer(axum::middleware::from_fn_with_state(log, record));
            axum::serve(llm_listener, app).await.unwrap();
        }
    });
    // The llm again, its POSTs' answers cut short by the server.
    let cut_listener = support::listener();
    let cut_base = format!("http://{}", cut_listener.local_addr().unwrap());
    let cut_log = Log::default();
    let cut_server = tokio::spawn({
        let log = cut_log.clone();
        async move {
            let app = llm::app(sse_runtime::hub::Hub::new(), Duration::from_millis(40))
                .layer(axum::middleware::from_fn(cut_posts))
                .layer(axum::middleware::from_fn_with_state(log, record));
            axum::serve(cut_listener, app).await.unwrap();
        }
    });
    let private_listener = support::listener();
    let private_base = format!("http://{}", private_listener.local_addr().unwrap());
    let private_log = Log::default();
    let gone = Arc::new(AtomicBool::new(false));
    let private_server = tokio::spawn({
        let app = private_app(private_log.clone(), gone.clone());
        async move { axum::serve(private_listener, app).await.unwrap() }
    });
    let screenshot = root.join("target/browser-demo.png");
    let chat_screenshot = root.join("target/browser-chat.png");
    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/run.mjs"))
        .arg(&base)
        .arg(&screenshot)
        .arg(&chat_base)
        .arg(&chat_screenshot)
        .arg(&llm_base)
        .arg(&room_token)
        .arg(&private_base)
        .arg(&cut_base)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("browser run finished within 120 s")
        .expect("node runs");
    server.abort();
    chat_server.abort();
    llm_server.abort();
    private_server.abort();
    cut_server.abort();
    assert!(
        output.status.success(),
        "run.mjs failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON from run.mjs");
    let browser = &result["browser"];
    eprintln!("screenshot: {}", screenshot.display());

    // Every stream went out compressed with gzip, the first encoding both
    // clients accept (Chromium's page and undici's EventSource).
    let encodings = encodings.lock().unwrap().clone();
    assert!(encodings.len() >= 10, "{encodings:?}");
    assert!(
        encodings
            .iter()
            .all(|e| e.as_ref().is_some_and(|e| e == "gzip")),
        "{encodings:?}"
    );

    // What the page shows.
    let dom = &browser["dom"];
    assert_eq!(
        strings(&dom["events"]),
        ["message: Hello, SSE!", "greeting: World!"]
    );
    assert_eq!(strings(&dom["process"]), ["Done!"]);
    assert_eq!(
        strings(&dom["echo"]),
        [r#"message "line one\nline two" id="""#]
    );
    assert_eq!(dom["updatesCount"], "10");
    assert_eq!(dom["updatesLastId"], "10");
    assert_eq!(dom["notifications"], "open");
    let clock = dom["clock"].as_str().unwrap();
    assert!(
        clock.len() == 24 && clock.ends_with('Z') && clock.as_bytes()[10] == b'T',
        "ISO-8601 UTC time, got {clock:?}"
    );
    assert_eq!(browser["consoleErrors"], Value::Array(vec![]));

    // Every update exactly once and in order across the dropped connection,
    // each with its id as the last event id.
    let log = browser["log"].as_array().unwrap();
    let updates: Vec<&Value> = log
        .iter()
        .filter(|entry| field(entry, "panel") == "updates")
        .collect();
    let ids: Vec<&str> = updates
        .iter()
        .map(|entry| field(entry, "lastEventId"))
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    for (n, entry) in updates.iter().enumerate() {
        assert_eq!(field(entry, "type"), "update");
        assert_eq!(field(entry, "data"), format!("{{\"count\":{}}}", n + 1));
    }
    // Each update was read as it was sent, 100 ms apart, not when the
    // compressed stream ended: the seven of the second connection (ids 4
    // to 10, about 600 ms) arrive spread out. Checked over all seven, at
    // half their nominal span, so that a busy machine delaying one or two
    // of them cannot fail it; held back to the end, they would arrive
    // within a few milliseconds.
    let at = |n: usize| updates[n]["t"].as_f64().unwrap();
    assert!(
        at(9) - at(3) >= 300.0,
        "updates 4 to 10 within {} ms",
        at(9) - at(3)
    );
    // The browser waited the stream's `retry` (4000 ms, more than Chromium's
    // own 3 s default) before reconnecting after the drop after id 3.
    let gap = updates[3]["t"].as_f64().unwrap() - updates[2]["t"].as_f64().unwrap();
    assert!(gap >= 3900.0, "reconnected after {gap} ms, before retry");
    let states: Vec<&str> = browser["states"]["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|state| field(state, "state"))
        .collect();
    assert_eq!(
        states,
        ["connecting", "open", "reconnecting", "open", "closed"]
    );
    let greeting = log
        .iter()
        .find(|entry| field(entry, "type") == "greeting")
        .unwrap();
    assert_eq!(field(greeting, "data"), r#"{"message":"World!"}"#);

    // The chat page: both windows show both messages, live, with the hub's
    // ids, and the markup in a message stays text; a newcomer sees them as
    // recent messages; the page's typed client raised nothing.
    let chat = &result["chat"];
    assert_eq!(chat["errors"], serde_json::json!([]), "page errors");
    let lines = |window: &str| -> Vec<(String, String, String)> {
        chat[window]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| {
                (
                    field(line, "id").to_owned(),
                    field(line, "user").to_owned(),
                    field(line, "text").to_owned(),
                )
            })
            .collect()
    };
    let first = lines("a");
    let texts: Vec<(&str, &str)> = first
        .iter()
        .map(|(_, user, text)| (user.as_str(), text.as_str()))
        .collect();
    assert_eq!(texts, [("alice", "hello from A"), ("bob", "hi <b>A</b>")]);
    let ids: Vec<sse_runtime::hub::EventId> =
        first.iter().map(|(id, _, _)| id.parse().unwrap()).collect();
    assert!(ids[0] < ids[1], "the hub's ids, in order: {ids:?}");
    assert_eq!(lines("b"), first, "window b");
    assert_eq!(
        lines("newcomer"),
        first,
        "a newcomer sees the recent messages"
    );
    let notices = chat["noticesA"].as_array().unwrap();
    assert!(
        notices
            .iter()
            .any(|notice| notice.as_str().unwrap().ends_with(" joined")),
        "window a saw window b join: {notices:?}"
    );

    // The private room: its member's page reads and posts there; a page
    // without a token is refused (its EventSource closed, nothing shown);
    // the public room shows nothing of it.
    let private = &result["privateRoom"];
    assert_eq!(private["errors"], serde_json::json!([]), "page errors");
    assert_eq!(private["member"], serde_json::json!(["only for the room"]));
    assert_eq!(private["outsider"], serde_json::json!([]));
    let public: Vec<String> = strings(&private["public"]);
    assert!(
        !public.iter().any(|text| text == "only for the room"),
        "{public:?}"
    );

    // The llm page, reloaded mid-answer, resumed from its last token: the
    // whole answer, nothing repeated, nothing lost.
    let answer = &result["llm"];
    assert!(
        answer["before_reload"].as_str().unwrap().len() < answer["text"].as_str().unwrap().len(),
        "the reload came mid-answer: {answer}"
    );
    assert_eq!(answer["errors"], serde_json::json!([]), "page errors");
    assert_eq!(
        answer["text"].as_str().unwrap(),
        llm::expected_answer("what keeps this answer alive?")
    );
    // The page POSTed the question asking for the run's own stream and read
    // the answer from it; after the reload it attached to the run with a
    // GET and the id of the last event it had, in `Last-Event-ID`.
    let requests: Vec<Seen> = llm_log
        .lock()
        .unwrap()
        .iter()
        .filter(|seen| seen.path.starts_with("/v1/"))
        .cloned()
        .collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(requests[0].prefer.as_deref(), Some("resumable"));
    assert_eq!(requests[0].last_event_id, None);
    assert_eq!(requests[1].method, "GET");
    let run = requests[1]
        .path
        .strip_prefix("/v1/runs/")
        .and_then(|rest| rest.strip_suffix("/events"))
        .expect("a GET of the run");
    assert_eq!(answer["runId"], run, "{answer}");
    assert_eq!(
        requests[1].last_event_id.as_deref(),
        answer["lastEventIdBeforeReload"].as_str(),
        "the reattach sends the last id the page had: {answer}"
    );
    assert!(requests[1].last_event_id.is_some(), "{requests:?}");

    // The server closed the POST's stream mid-answer: the page's
    // `EventStream` resumed with a GET of the run and its last id (no
    // second POST, which would ask again), and the text is exact.
    let cut = &result["llmCut"];
    assert_eq!(cut["errors"], serde_json::json!([]), "page errors");
    assert_eq!(cut["state"], "done", "{cut}");
    assert_eq!(
        cut["text"].as_str().unwrap(),
        llm::expected_answer("what keeps this answer alive?")
    );
    let requests: Vec<Seen> = cut_log
        .lock()
        .unwrap()
        .iter()
        .filter(|seen| seen.path.starts_with("/v1/"))
        .cloned()
        .collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].method, "POST", "{requests:?}");
    assert_eq!(requests[1].method, "GET", "{requests:?}");
    assert!(
        requests[1].path.starts_with("/v1/runs/") && requests[1].path.ends_with("/events"),
        "{requests:?}"
    );
    let resumed_from = requests[1].last_event_id.as_deref().unwrap_or_default();
    assert!(!resumed_from.is_empty(), "{requests:?}");

    check_private_streams(&result["private"], &private_log, &gone);

    // The same checks through undici's EventSource.
    let undici = &result["undici"];
    let pairs = |value: &Value| -> Vec<(String, String, String)> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    field(e, "type").to_owned(),
                    field(e, "data").to_owned(),
                    field(e, "lastEventId").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        pairs(&undici["events"]),
        [
            ("message".into(), "Hello, SSE!".into(), String::new()),
            (
                "greeting".into(),
                r#"{"message":"World!"}"#.into(),
                String::new()
            ),
        ]
    );
    let undici_updates = pairs(&undici["updates"]);
    let expected: Vec<(String, String, String)> = (1..=10)
        .map(|n| ("update".into(), format!("{{\"count\":{n}}}"), n.to_string()))
        .collect();
    assert_eq!(undici_updates, expected);
    assert_eq!(
        pairs(&undici["echo"]),
        [("e".into(), "a\nb".into(), "7".into())]
    );
    assert_eq!(
        pairs(&undici["refused"]),
        [(
            "error".into(),
            "event refused: event name contains a line break (CR or LF)".into(),
            String::new()
        )]
    );
}

/// The fetch transport in Chromium against streams that need an
/// `Authorization` header (see [`private_app`]).
fn check_private_streams(private: &Value, log: &Log, gone: &AtomicBool) {
    assert_eq!(private["errors"], serde_json::json!([]), "page errors");
    // Without the header: a 401, which stops it; `onStop` reads the body.
    assert_eq!(
        private["unauthorized"],
        serde_json::json!({ "reason": "status", "status": 401, "body": "a bearer token is needed" }),
        "{private}"
    );
    // With it: every event once, in order, across two server-side closes,
    // then the 204 that stops it.
    let authorized = &private["authorized"];
    let events: Vec<(String, String)> = authorized["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                field(event, "data").to_owned(),
                field(event, "id").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = (1..=6)
        .map(|n| (format!("event {n}"), n.to_string()))
        .collect();
    assert_eq!(events, expected, "{authorized}");
    assert_eq!(authorized["reason"], "no-content", "{authorized}");
    // Each reconnection waited the stream's `retry` (300 ms) plus at most
    // the window (`retryJitter: 500`), measured from the end of the stream
    // to the next open (and the request itself, up to half a second on a
    // busy machine).
    let waits: Vec<f64> = authorized["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|wait| wait.as_f64().unwrap())
        .collect();
    eprintln!("the fetch transport reconnected after {waits:?} ms");
    assert_eq!(waits.len(), 2, "{authorized}");
    for wait in &waits {
        assert!(
            (300.0..800.0 + 500.0).contains(wait),
            "reconnected after {wait} ms, outside [retry, retry + window]: {waits:?}"
        );
    }
    // Aborted by its signal after its first event: `onStop` says so, and
    // the server's stream is dropped.
    assert_eq!(
        private["aborted"],
        serde_json::json!({ "reason": "aborted", "cause": "enough", "events": 1 }),
        "{private}"
    );
    assert!(
        gone.load(Ordering::SeqCst),
        "the aborted stream's body was dropped"
    );
    // A 204 at once: one request, no reconnection.
    assert_eq!(
        private["noContent"],
        serde_json::json!({ "reason": "no-content", "readyState": 2 }),
        "{private}"
    );

    // What the server saw: the 401 without a header; then the header on
    // every request, and the last id on every reconnection.
    let seen: Vec<(String, Option<String>, Option<String>)> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|seen| ["/private", "/forever", "/done"].contains(&seen.path.as_str()))
        .map(|seen| {
            (
                seen.path.clone(),
                seen.authorization.clone(),
                seen.last_event_id.clone(),
            )
        })
        .collect();
    let token = Some(TOKEN.to_owned());
    let private = |last: Option<&str>| {
        (
            "/private".to_owned(),
            token.clone(),
            last.map(str::to_owned),
        )
    };
    assert_eq!(
        seen,
        [
            ("/private".to_owned(), None, None),
            private(None),
            private(Some("2")),
            private(Some("4")),
            private(Some("6")),
            ("/forever".to_owned(), token.clone(), None),
            ("/done".to_owned(), token.clone(), None),
        ]
    );
}
