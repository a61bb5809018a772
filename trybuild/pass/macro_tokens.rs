//! What the rewrite finds in other macros' tokens: values kept whole up to
//! their own end, operators that look like closure heads, paths to
//! `yield_!`, and closures and `async` blocks that do not yield.

use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::Router;
use sse_runtime::prelude::*;

fn make<A: Default + Into<u32>, B: Default + Into<u32>>() -> Event {
    Event::data(&(A::default().into() + B::default().into()).to_string())
}

#[sse_handler]
async fn attribute() {
    let flags = 0b01u8;
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(1)) => {
            yield_!(make::<u8, u16>());
            sse_runtime::yield_!(event!(data: (flags | 0b10).to_string()));
            let doubled: Vec<u8> = [1u8, 2].iter().map(|n| n * 2).collect();
            tokio::spawn(async move { drop(doubled) });
        }
    }
}

sse_handlers! {
    async fn block() {
        let on = true;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1)) => yield make::<u8, u16>(),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1)) => {
                yield make::<u16, u8>();
                yield event!(data: (on || !on).to_string());
                let later = move || on;
                assert!(later() | !on);
            }
        }
    }
}

#[derive(Clone)]
struct AppState {
    name: String,
}

#[derive(Clone)]
struct Name(String);

impl FromRef<AppState> for Name {
    fn from_ref(state: &AppState) -> Name {
        Name(state.name.clone())
    }
}

/// Two `State` types: with the router's state named, each is checked
/// against it.
#[sse_handler(state = AppState)]
async fn substate(State(app): State<AppState>, State(name): State<Name>) {
    yield_!(event!(data: format!("{} {}", app.name, name.0)));
}

fn main() {
    let _: Router = Router::new()
        .route("/a", get(attribute))
        .route("/b", get(block))
        .route("/c", get(substate))
        .with_state(AppState { name: "x".into() });
}
