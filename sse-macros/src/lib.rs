//! Procedural macros for `sse-runtime`. Depend on `sse-runtime`, which
//! re-exports them; this crate's items are documented there.
//!
//! The work is split by job, one module each: `args` parses the options,
//! `model` holds the parsed function, `validate` checks its signature,
//! `rewrite` turns `yield` into sends, `expand` writes the handler,
//! `fallback` stands in for it when there are errors, `event` is the
//! `event!` macro, and `errors` collects what they report. The derive:
//! `derive` parses and checks the type, `derive_expand` writes its
//! `SseEvent` and `DecodeEvent` over serde's derive, `derive_ts` its
//! TypeScript, and `attrs` reads the serde and ts-rs attributes they copy.

mod args;
mod attrs;
mod derive;
mod derive_expand;
mod derive_ts;
mod errors;
mod event;
mod expand;
mod fallback;
mod model;
mod rewrite;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;

use crate::args::HandlerArgs;
use crate::errors::Errors;
use crate::model::{Form, Handler, HandlerBlock};

/// Turns an `async fn` whose body yields events into an axum SSE handler.
/// Documented in `sse_runtime::sse_handler`.
#[proc_macro_attribute]
pub fn sse_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = HandlerArgs::parse(args.into(), &mut errors);
    let item_tokens = TokenStream2::from(item);
    let item = match syn::parse2::<syn::ItemFn>(item_tokens.clone()) {
        Ok(item) => item,
        Err(_) => {
            // Not a function: keep the item as written, so nothing else
            // breaks, and say what the attribute needs.
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                "`#[sse_handler]` can only be used on an `async fn`",
            )
            .to_compile_error();
            return quote!(#error #item_tokens).into();
        }
    };
    handler(
        Handler {
            item,
            args,
            form: Form::Attribute,
        },
        errors,
    )
    .into()
}

/// `#[derive(SseEvent)]`: an endpoint's events as one type. Documented in
/// `sse_runtime::SseEvent`.
///
/// It reads `#[serde(..)]` and `#[ts(..)]` attributes too (the event data
/// is serde's, its TypeScript ts-rs's), so an enum that derives neither
/// may still carry them.
#[proc_macro_derive(SseEvent, attributes(sse, serde, ts))]
pub fn derive_sse_event(input: TokenStream) -> TokenStream {
    derive::derive(input.into()).into()
}

/// Nothing but the `#[serde(..)]` attributes on the hidden types
/// `#[derive(SseEvent)]` writes for ts-rs (which reads them but does not
/// declare them); reached through `sse_runtime::__private`.
#[doc(hidden)]
#[proc_macro_derive(SerdeAttributes, attributes(serde))]
pub fn serde_attributes(_: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// The block form; reached through `sse_runtime::sse_handlers!`, which puts
/// the runtime path in front: `$crate; async fn ..`.
#[doc(hidden)]
#[proc_macro]
pub fn sse_handlers_impl(input: TokenStream) -> TokenStream {
    let block = match syn::parse::<HandlerBlock>(input) {
        Ok(block) => block,
        Err(error) => return error.to_compile_error().into(),
    };
    let mut output = TokenStream2::new();
    for item in block.items {
        let mut errors = Errors::default();
        let handler_model = Handler::from_block_item(item, &block.runtime, &mut errors);
        output.extend(handler(handler_model, errors));
    }
    output.into()
}

/// `event!`; reached through `sse_runtime::event!`, which puts the runtime
/// path in front.
#[doc(hidden)]
#[proc_macro]
pub fn event_impl(input: TokenStream) -> TokenStream {
    match syn::parse::<event::EventInput>(input) {
        Ok(event) => event.expand().into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// `comment!(text)` with an expression (a format string stays in the
/// `macro_rules!` wrapper); reached through `sse_runtime::comment!`, which
/// puts the runtime path in front.
#[doc(hidden)]
#[proc_macro]
pub fn comment_impl(input: TokenStream) -> TokenStream {
    match syn::parse::<event::CommentInput>(input) {
        Ok(comment) => comment.expand().into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// The shared path of both forms: validate, rewrite, expand; or fall back.
fn handler(mut handler: Handler, mut errors: Errors) -> TokenStream2 {
    validate::validate(&handler, &mut errors);
    let runtime = handler.args.runtime_path();
    let events = handler
        .args
        .events
        .as_ref()
        .map(|events| (events, &runtime));
    rewrite::rewrite_yields(&mut handler.item.block, handler.form, events, &mut errors);
    if errors.is_empty() {
        expand::expand(handler)
    } else {
        fallback::fallback(&handler.item, &handler.args.runtime_path(), &errors)
    }
}
