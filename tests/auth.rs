//! Per-topic authorization, over TCP on 127.0.0.1, against the chat
//! example's private rooms, with real tokens signed here with
//! `jsonwebtoken`: a visitor allowed room A never receives room B's
//! events, live, as recent events, or resuming from a `Last-Event-ID`
//! (from the log, and from Redis's history on an instance that never held
//! them); tokens that do not hold are refused with `401`, tokens for
//! another room with `403`, and neither gets a stream; publishing needs
//! its own grant; a stream ends when its token does. And without JWTs: a
//! hook of the application's own, and a plain handler that returns the
//! refusal; a router without a hook allows nothing.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sse_runtime::auth::jsonwebtoken::DecodingKey;
use sse_runtime::auth::{Authorizer, Grants, Guarded, JwtAuthorizer, Refusal, TopicAccess};
use sse_runtime::hub::{Hub, HubConfig};
use sse_runtime::Shutdown;
use sse_suite::chat;
use support::hub_suite::Backend;
use support::redis::RedisServer;
use support::{serve, within};

const SECRET: &[u8] = b"the secret the auth tests sign with, 32+ bytes";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `claims` signed with `secret` and `algorithm`.
fn sign_with(algorithm: Algorithm, secret: &[u8], claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

fn sign(claims: &serde_json::Value) -> String {
    sign_with(Algorithm::HS256, SECRET, claims)
}

/// A token valid for ten minutes that lets its holder read the rooms
/// `read` and post in the rooms `post`.
fn token(read: &[&str], post: &[&str]) -> String {
    let topics =
        |rooms: &[&str]| -> Vec<String> { rooms.iter().map(|r| chat::room_topic(r)).collect() };
    sign(&json!({
        "exp": now() + 600,
        "mercure": { "subscribe": topics(read), "publish": topics(post) },
    }))
}

fn chat_app(hub: Hub) -> Router {
    chat::app_with(hub, Shutdown::new(), chat::authorizer(SECRET).unwrap())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET path` with an `Authorization: Bearer` header if there is a token,
/// and a `Last-Event-ID` if there is one.
async fn open(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    last: Option<&str>,
) -> support::Response {
    let authorization = token.map(bearer);
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    if let Some(value) = &authorization {
        headers.push(("authorization", value.as_bytes()));
    }
    if let Some(last) = last {
        headers.push(("last-event-id", last.as_bytes()));
    }
    support::get(addr, path, &headers).await
}

/// A stream that must have been allowed: its events.
async fn stream(
    addr: SocketAddr,
    room: &str,
    token: Option<&str>,
    last: Option<&str>,
) -> support::Events {
    let response = open(addr, &format!("/stream?room={room}"), token, last).await;
    assert_eq!(response.inner.status(), 200, "GET /stream?room={room}");
    assert_eq!(
        response.header("content-type"),
        Some("text/event-stream"),
        "an event stream"
    );
    response.events()
}

/// `POST /messages?room=ROOM` with `headers`: the status and body.
async fn post_with(
    addr: SocketAddr,
    room: &str,
    headers: &[(&str, String)],
    user: &str,
    text: &str,
) -> (u16, String) {
    let connection = within(tokio::net::TcpStream::connect(addr)).await.unwrap();
    let (mut sender, connection) = within(hyper::client::conn::http1::handshake(TokioIo::new(
        connection,
    )))
    .await
    .unwrap();
    let connection = tokio::spawn(connection);
    let mut request = hyper::Request::post(format!("/messages?room={room}"))
        .header("host", addr.to_string())
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let body = json!({ "user": user, "text": text }).to_string();
    let request = request
        .body(http_body_util::Full::new(Bytes::from(body)))
        .unwrap();
    let response = within(sender.send_request(request)).await.unwrap();
    let status = response.status().as_u16();
    let body = within(http_body_util::BodyExt::collect(response.into_body()))
        .await
        .unwrap()
        .to_bytes();
    connection.abort();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Posts `text` to `room` as a holder of `token` (or without one); the
/// status and body.
async fn post(addr: SocketAddr, room: &str, token: Option<&str>, text: &str) -> (u16, String) {
    let headers: Vec<(&str, String)> = token
        .map(|token| ("authorization", bearer(token)))
        .into_iter()
        .collect();
    post_with(addr, room, &headers, "tester", text).await
}

/// Posts `text` to `room`, which must be allowed; the event's id.
async fn posted(addr: SocketAddr, room: &str, token: Option<&str>, text: &str) -> String {
    let (status, body) = post(addr, room, token, text).await;
    assert_eq!(status, 201, "posting {text:?} to {room}: {body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The text of each of the next `n` events, which must be messages.
async fn texts(events: &mut support::Events, n: usize) -> Vec<String> {
    events
        .take(n)
        .await
        .iter()
        .map(|event| {
            assert_eq!(event.event, "message", "{event:?}");
            let value: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            value["text"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Posts a sentinel to `room` and checks it is the next event: nothing
/// came between what was read and it.
async fn nothing_else(events: &mut support::Events, addr: SocketAddr, room: &str, token: &str) {
    let sentinel = format!("sentinel {}", now_nanos());
    posted(addr, room, Some(token), &sentinel).await;
    assert_eq!(texts(events, 1).await, [sentinel], "the next event");
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Alice may read and post in room a, Bob in room b. Everything is
/// published on `publisher`; Alice reads on `reader`, and resumes on
/// `reader` and on `fresh`, an instance started after the events were
/// published (on Redis, its log never held them: they come from Redis's
/// history).
async fn a_visitor_of_room_a_never_receives_room_b(
    publisher: SocketAddr,
    reader: SocketAddr,
    fresh: impl std::future::Future<Output = SocketAddr>,
    subscribers: impl Fn() -> usize,
) {
    let alice = token(&["a"], &["a"]);
    let bob = token(&["b"], &["b"]);
    let b1 = posted(publisher, "b", Some(&bob), "b1").await;
    posted(publisher, "a", Some(&alice), "a1").await;
    posted(publisher, "b", Some(&bob), "b2").await;
    posted(publisher, "a", Some(&alice), "a2").await;
    posted(publisher, "b", Some(&bob), "b3").await;

    // Recent events: a newcomer to room a gets room a's only.
    let mut events = stream(reader, "a", Some(&alice), None).await;
    let recent = events.take(2).await;
    let a2_id = recent[1].id.clone();
    assert_eq!(
        recent
            .iter()
            .map(
                |event| serde_json::from_str::<serde_json::Value>(&event.data).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            )
            .collect::<Vec<_>>(),
        ["a1", "a2"]
    );

    // Live: room b's event, published first, never arrives.
    posted(publisher, "b", Some(&bob), "b4").await;
    posted(publisher, "a", Some(&alice), "a3").await;
    assert_eq!(texts(&mut events, 1).await, ["a3"]);
    nothing_else(&mut events, publisher, "a", &alice).await;
    drop(events);

    // Away: both rooms go on.
    posted(publisher, "b", Some(&bob), "b5").await;
    posted(publisher, "a", Some(&alice), "a4").await;
    posted(publisher, "b", Some(&bob), "b6").await;

    // Resuming from the log, after a2: room a's events only.
    let mut events = stream(reader, "a", Some(&alice), Some(&a2_id)).await;
    let resumed = texts(&mut events, 3).await;
    assert_eq!(resumed[0], "a3");
    assert!(resumed[1].starts_with("sentinel"), "{resumed:?}");
    assert_eq!(resumed[2], "a4");
    nothing_else(&mut events, publisher, "a", &alice).await;
    drop(events);

    // Resuming after an id of room b's (one Alice learned somehow): what
    // follows it in room a, nothing of room b.
    let mut events = stream(reader, "a", Some(&alice), Some(&b1)).await;
    let resumed = texts(&mut events, 6).await;
    assert_eq!(resumed[..2], ["a1".to_owned(), "a2".to_owned()]);
    assert_eq!(resumed[2], "a3");
    assert_eq!(resumed[4], "a4");
    assert!(resumed[3].starts_with("sentinel") && resumed[5].starts_with("sentinel"));
    nothing_else(&mut events, publisher, "a", &alice).await;
    drop(events);

    // Resuming on an instance that never held these events.
    let fresh = fresh.await;
    let mut events = stream(fresh, "a", Some(&alice), Some(&a2_id)).await;
    let resumed = texts(&mut events, 5).await;
    assert_eq!(resumed[0], "a3");
    assert_eq!(resumed[2], "a4");
    assert!([1, 3, 4]
        .iter()
        .all(|&n| resumed[n].starts_with("sentinel")));
    nothing_else(&mut events, publisher, "a", &alice).await;
    drop(events);
    // Something to write, so that the servers notice the streams closed.
    posted(publisher, "a", Some(&alice), "after everyone left").await;

    // Asking for room b, fresh or resuming, is refused before any stream.
    support::wait_while(|| subscribers() > 0).await;
    for last in [None, Some(b1.as_str())] {
        let response = open(reader, "/stream?room=b", Some(&alice), last).await;
        assert_refused(response, 403, "insufficient_scope").await;
        assert_eq!(subscribers(), 0, "no subscription was made");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_of_room_a_never_receives_room_b_in_process() {
    let hub = Hub::new();
    let addr = serve(chat_app(hub.clone())).await;
    let other = serve(chat_app(hub.clone())).await;
    let counted = hub.clone();
    a_visitor_of_room_a_never_receives_room_b(addr, addr, async move { other }, move || {
        counted.subscribers()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_of_room_a_never_receives_room_b_on_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let backend = Backend::Redis {
        url: redis.url(),
        prefix: "auth".into(),
    };
    let hubs = backend.hubs(HubConfig::default(), 2).await;
    let publisher = serve(chat_app(hubs[0].clone())).await;
    let reader = serve(chat_app(hubs[1].clone())).await;
    let fresh = async {
        let hub = backend.hubs(HubConfig::default(), 1).await.remove(0);
        assert_eq!(hub.stats().events, 0, "a log that never held the events");
        serve(chat_app(hub)).await
    };
    let counted = hubs[1].clone();
    a_visitor_of_room_a_never_receives_room_b(publisher, reader, fresh, move || {
        counted.subscribers()
    })
    .await;
}

/// A refused request: `status`, RFC 6750's challenge with `error` (or none
/// for a request without credentials), a line of text, no stream.
async fn assert_refused(response: support::Response, status: u16, error: &str) {
    assert_eq!(response.inner.status(), status);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "not an event stream"
    );
    let challenge = response
        .header("www-authenticate")
        .unwrap_or_default()
        .to_owned();
    if error.is_empty() {
        assert_eq!(challenge, "Bearer");
    } else {
        assert!(
            challenge.starts_with(&format!("Bearer error=\"{error}\"")),
            "{challenge}"
        );
    }
    let body = response.text().await;
    assert_eq!(body.lines().count(), 1, "one line of text: {body:?}");
    assert!(!body.contains("data:"), "{body:?}");
}

/// `header.claims.` with no signature, as `alg: none` has.
fn unsigned(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    use base64::Engine;
    let encode = |value: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    format!("{}.{}.", encode(header), encode(claims))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_do_not_hold_get_401_and_other_rooms_403_and_no_stream() {
    let hub = Hub::new();
    let addr = serve(chat_app(hub.clone())).await;
    let grants = json!({ "subscribe": ["room:a"], "publish": ["room:a"] });
    let valid = json!({ "exp": now() + 600, "mercure": grants });
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("no token", None, 401, ""),
        (
            "forged: signed with another secret",
            Some(sign_with(
                Algorithm::HS256,
                b"another secret, also 32 bytes or more",
                &valid,
            )),
            401,
            "invalid_token",
        ),
        (
            "a signature cut off",
            Some({
                let token = sign(&valid);
                token[..token.rfind('.').unwrap() + 1].to_owned()
            }),
            401,
            "invalid_token",
        ),
        (
            "claims changed after signing",
            Some({
                let token = sign(&valid);
                let parts: Vec<&str> = token.split('.').collect();
                let other = unsigned(
                    &json!({}),
                    &json!({ "exp": now() + 600, "mercure": { "subscribe": ["*"] } }),
                );
                let forged_claims = other.split('.').nth(1).unwrap();
                format!("{}.{}.{}", parts[0], forged_claims, parts[2])
            }),
            401,
            "invalid_token",
        ),
        (
            "expired",
            Some(sign(&json!({ "exp": now() - 3600, "mercure": grants }))),
            401,
            "invalid_token",
        ),
        (
            "not valid yet",
            Some(sign(
                &json!({ "exp": now() + 7200, "nbf": now() + 3600, "mercure": grants }),
            )),
            401,
            "invalid_token",
        ),
        (
            "alg: none",
            Some(unsigned(&json!({ "alg": "none", "typ": "JWT" }), &valid)),
            401,
            "invalid_token",
        ),
        (
            "another algorithm (HS512) with the same secret",
            Some(sign_with(Algorithm::HS512, SECRET, &valid)),
            401,
            "invalid_token",
        ),
        (
            "no exp",
            Some(sign(&json!({ "mercure": grants }))),
            401,
            "invalid_token",
        ),
        (
            "a claim of the wrong shape",
            Some(sign(
                &json!({ "exp": now() + 600, "mercure": { "subscribe": "room:a" } }),
            )),
            401,
            "invalid_token",
        ),
        (
            "not a token",
            Some("not-a-token".into()),
            401,
            "invalid_token",
        ),
        (
            "a valid token for room b",
            Some(token(&["b"], &["b"])),
            403,
            "insufficient_scope",
        ),
        (
            "a valid token with no mercure claim",
            Some(sign(&json!({ "exp": now() + 600 }))),
            403,
            "insufficient_scope",
        ),
    ];
    for (case, token, status, error) in &cases {
        // In the header, and in the query parameter.
        let response = open(addr, "/stream?room=a", token.as_deref(), None).await;
        assert_eq!(response.inner.status(), *status, "{case}, in the header");
        assert_refused(response, *status, error).await;
        if let Some(token) = token {
            let path = format!("/stream?room=a&access_token={token}");
            let response = open(addr, &path, None, None).await;
            assert_eq!(response.inner.status(), *status, "{case}, in the query");
            assert_refused(response, *status, error).await;
        }
        assert_eq!(hub.subscribers(), 0, "{case}: no subscription was made");
    }

    // The credentials a request carries are verified, never passed over:
    // not for the query's token, nor for the open public room.
    let good = token(&["a"], &["a"]);
    let path = format!("/stream?room=a&access_token={good}");
    let response = open(addr, &path, Some("forged.token.here"), None).await;
    assert_refused(response, 401, "invalid_token").await;
    let expired = sign(&json!({ "exp": now() - 3600, "mercure": grants }));
    let response = open(addr, "/stream?room=public", Some(&expired), None).await;
    assert_refused(response, 401, "invalid_token").await;
    let double = format!("/stream?room=a&access_token={good}&access_token={good}");
    assert_refused(open(addr, &double, None, None).await, 401, "invalid_token").await;
    for header in [
        format!("Basic {good}"),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ] {
        let response = support::get(
            addr,
            "/stream?room=a",
            &[("authorization", header.as_bytes())],
        )
        .await;
        assert_refused(response, 401, "invalid_token").await;
    }
    let response = support::get(
        addr,
        "/stream?room=a",
        &[
            ("authorization", bearer(&good).as_bytes()),
            ("authorization", bearer(&good).as_bytes()),
        ],
    )
    .await;
    assert_refused(response, 401, "invalid_token").await;
    assert_eq!(hub.subscribers(), 0);

    // The same token, well presented, is allowed, in either place; and a
    // token holder still reads the public room.
    let mut events = stream(addr, "a", Some(&good), None).await;
    posted(addr, "a", Some(&good), "hello a").await;
    assert_eq!(texts(&mut events, 1).await, ["hello a"]);
    let response = open(
        addr,
        &format!("/stream?room=a&access_token={good}"),
        None,
        None,
    )
    .await;
    assert_eq!(response.inner.status(), 200);
    drop(response);
    let _public = stream(addr, "public", Some(&good), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_needs_a_grant_for_the_room() {
    let hub = Hub::new();
    let addr = serve(chat_app(hub.clone())).await;
    let alice = token(&["a"], &["a"]);
    let bob = token(&["b"], &["b"]);
    let reader = token(&["a"], &[]);
    let mut room_a = stream(addr, "a", Some(&alice), None).await;

    let refused = [
        ("Bob, allowed room b", Some(bob.as_str()), 403),
        ("a reader of room a", Some(reader.as_str()), 403),
        ("no token", None, 401),
        ("a forged token", Some("a.b.c"), 401),
    ];
    for (who, token, status) in refused {
        let (got, body) = post(addr, "a", token, &format!("from {who}")).await;
        assert_eq!(got, status, "{who}: {body}");
    }
    // A post the query's room allows is not taken for another room.
    let (got, _) = post(addr, "b&room=a", Some(&bob), "two rooms").await;
    assert_eq!(got, 400, "a second room parameter");
    // None of those reached room a: the next event is Alice's.
    nothing_else(&mut room_a, addr, "a", &alice).await;

    // A reader who may not post there is not announced either.
    let response = open(addr, "/stream?room=a&user=lurker", Some(&reader), None).await;
    assert_eq!(response.inner.status(), 200);
    support::wait_while(|| hub.subscribers() < 2).await;
    nothing_else(&mut room_a, addr, "a", &alice).await;
    // One who may is.
    let _joined = open(addr, "/stream?room=a&user=bobby", Some(&alice), None).await;
    let join = room_a.next().await.unwrap();
    assert_eq!(
        (join.event.as_str(), join.data.as_str()),
        ("join", r#"{"user":"bobby"}"#)
    );

    // The public room stays open to everyone.
    let mut public = stream(addr, "public", None, None).await;
    posted(addr, "public", None, "anyone").await;
    assert_eq!(texts(&mut public, 1).await, ["anyone"]);

    // A bad room name is a bad request, before anything is published.
    let (got, _) = post(addr, "a%2Fb", Some(&alice), "x").await;
    assert_eq!(got, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_its_token_does() {
    let hub = Hub::new();
    let jwt = JwtAuthorizer::new(DecodingKey::from_secret(SECRET).unwrap(), Algorithm::HS256)
        .unwrap()
        .leeway(Duration::ZERO);
    let addr = serve(chat::app_with(
        hub.clone(),
        Shutdown::new(),
        Authorizer::new(jwt),
    ))
    .await;
    let exp = now() + 2;
    let short =
        sign(&json!({ "exp": exp, "mercure": { "subscribe": ["room:a"], "publish": ["room:a"] } }));
    let started = Instant::now();
    let mut events = stream(addr, "a", Some(&short), None).await;
    posted(addr, "a", Some(&short), "before the end").await;
    assert_eq!(texts(&mut events, 1).await, ["before the end"]);
    // The stream ends by itself, once the token is no longer accepted.
    assert!(events.next().await.is_none(), "the stream ended");
    let ended = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Accepted through the second `exp` names, and no longer.
    assert!(
        ended >= (exp + 1) as f64,
        "not before exp: {ended} < {exp} + 1"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(hub.subscribers(), 0);
    // And a reconnect with it is refused.
    let response = open(addr, "/stream?room=a", Some(&short), None).await;
    assert_refused(response, 401, "invalid_token").await;
}

async fn needs_access(access: TopicAccess) -> String {
    access.grants().is_authenticated().to_string()
}

#[tokio::test]
async fn a_router_without_an_authorizer_allows_nothing() {
    let app = Router::new().route("/", get(needs_access));
    let addr = serve(app).await;
    let response = support::get(addr, "/", &[]).await;
    assert_eq!(response.inner.status(), 500);
    assert!(response.text().await.contains("no authorizer"));

    // An authorizer runs once per request, whatever asks for it.
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let authorizer = Authorizer::from_fn(move |_: &axum::http::request::Parts| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Grants::authenticated())
    });
    async fn twice(first: TopicAccess, second: TopicAccess) -> String {
        format!(
            "{} {}",
            first.grants().is_authenticated(),
            second.grants().is_authenticated()
        )
    }
    let app = Router::new()
        .route("/", get(twice))
        .layer(Extension(authorizer));
    let addr = serve(app).await;
    assert_eq!(support::get(addr, "/", &[]).await.text().await, "true true");
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A hook that panics answers its request with `500` and a line of text,
/// over a server that goes on serving: the panic is caught, not unwound
/// into the connection's task (which dropped the connection without a
/// response).
#[tokio::test]
async fn a_hook_that_panics_is_answered_with_500_and_the_server_goes_on() {
    let authorizer = Authorizer::from_fn(|request: &axum::http::request::Parts| {
        if request.headers.contains_key("x-panic") {
            panic!("a bug in the application's hook");
        }
        Ok(Grants::authenticated())
    });
    let app = Router::new()
        .route("/", get(needs_access))
        .layer(Extension(authorizer));
    let addr = serve(app).await;
    let response = support::get(addr, "/", &[("x-panic", b"1".as_slice())]).await;
    assert_eq!(response.inner.status(), 500);
    assert_eq!(
        response.text().await,
        "the server failed to check the request's credentials\n"
    );
    assert_eq!(support::get(addr, "/", &[]).await.text().await, "true");
}

#[derive(serde::Deserialize)]
struct Follow {
    topics: String,
}

/// A plain axum handler that checks before it answers: the refusal, or
/// the stream of every topic asked for.
async fn follow(
    access: TopicAccess,
    axum::extract::State(hub): axum::extract::State<Guarded<Hub>>,
    axum::extract::Query(follow): axum::extract::Query<Follow>,
    last: sse_runtime::LastEventId,
) -> Result<sse_runtime::SseResponse<sse_runtime::StreamForwarder>, Refusal> {
    let topics: Vec<&str> = follow.topics.split(',').collect();
    let permit = access.subscribe(&topics)?;
    Ok(sse_runtime::SseResponse::from_stream(
        hub.subscribe(&permit, &last),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_of_ones_own_and_a_handler_that_returns_the_refusal() {
    // No JWT: the hook reads a header of the application's own.
    let authorizer = Authorizer::from_fn(|request: &axum::http::request::Parts| {
        match request.headers.get("x-team").map(|team| team.to_str()) {
            None => Ok(Grants::anonymous().allow_subscribe("news")),
            Some(Ok(team)) if team.bytes().all(|b| b.is_ascii_lowercase()) => {
                Ok(Grants::authenticated()
                    .allow_subscribe("news")
                    .allow_subscribe(format!("team:{team}:*")))
            }
            Some(_) => Err(Refusal::invalid_credentials("not a team")),
        }
    });
    let hub = Hub::new();
    let app = Router::new()
        .route("/follow", get(follow))
        .layer(Extension(authorizer))
        .with_state(Guarded::new(hub.clone()));
    let addr = serve(app).await;
    let team = |name: &'static str| [("x-team", name.as_bytes())];

    // All or nothing: one topic outside the grants refuses the request.
    let refused = support::get(addr, "/follow?topics=team:red:1,team:blue:1", &team("red")).await;
    assert_refused(refused, 403, "insufficient_scope").await;
    let refused = support::get(addr, "/follow?topics=news,team:red:1", &[]).await;
    assert_refused(refused, 401, "").await;
    let refused = support::get(addr, "/follow?topics=news", &team("Red!")).await;
    assert_refused(refused, 401, "invalid_token").await;
    assert_eq!(hub.subscribers(), 0);

    let response = support::get(
        addr,
        "/follow?topics=news,team:red:1,team:red:2",
        &team("red"),
    )
    .await;
    assert_eq!(response.inner.status(), 200);
    let mut events = response.events();
    support::wait_while(|| hub.subscribers() < 1).await;
    for (topic, data) in [
        ("team:blue:1", "blue's"),
        ("team:red:1", "one"),
        ("team:red", "not a topic of the grant"),
        ("news", "two"),
        ("team:red:2", "three"),
    ] {
        hub.publish(topic, sse_runtime::event!(data: data))
            .await
            .unwrap();
    }
    let got: Vec<String> = events.take(3).await.into_iter().map(|e| e.data).collect();
    assert_eq!(got, ["one", "two", "three"]);
}
