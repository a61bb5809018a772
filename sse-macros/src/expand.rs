//! Turns a checked, rewritten handler into the axum handler it stands for:
//!
//! ```text
//! #[attrs] vis async fn name(context, args) -> SseResponse<impl Future<Output = R> + Send + 'static> {
//!     checks;
//!     respond::<R, _, _>(config, context, move |__sse_emitter| async move { body })
//! }
//! ```
//!
//! The extractor arguments stay on the function, so axum extracts them as
//! for any handler; the body moves them into the stream's future, which runs
//! only once the client reads the response.
//!
//! The checks are qualified paths (`<T as Trait>::item`) spanned at the
//! user's types: a failed one is reported on that type, with the trait's own
//! message, and names no generated function.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use crate::args::KeepAlive;
use crate::model::Handler;
use crate::rewrite::emitter_ident;

pub(crate) fn expand(handler: Handler) -> TokenStream {
    let runtime = handler.args.runtime_path();
    let syn::ItemFn {
        attrs,
        vis,
        mut sig,
        block,
        ..
    } = handler.item;

    let output: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    sig.output = syn::parse_quote! {
        -> #runtime::__private::SseResponse<
            impl ::core::future::Future<Output = #output> + ::core::marker::Send + 'static
        >
    };

    let keep_alive = handler
        .args
        .keep_alive
        .as_ref()
        .map(|(keep_alive, _)| match keep_alive {
            KeepAlive::Off => quote!(.keep_alive(::core::option::Option::None)),
            KeepAlive::Every { milliseconds } => quote!(.keep_alive(::core::option::Option::Some(
                ::core::time::Duration::from_millis(#milliseconds)
            ))),
        });
    let extractor_checks = extractor_checks(&sig, handler.args.state.as_ref(), &runtime);
    let (outcome_check, outcome_span) = outcome_check(&output, &runtime);
    let error_event = handler
        .args
        .error_event
        .as_ref()
        .map(|flag| quote!(.error_event(#flag)));
    let retry = handler
        .args
        .retry
        .map(|milliseconds| quote!(.retry(::core::time::Duration::from_millis(#milliseconds))));
    let retry_jitter = handler.args.retry_jitter.map(
        |milliseconds| quote!(.retry_jitter(::core::time::Duration::from_millis(#milliseconds))),
    );
    // A call of its own, spanned at the flag, so that a build without the
    // `compression` feature says so there.
    let config =
        quote!(#runtime::__private::SseConfig::new() #keep_alive #error_event #retry #retry_jitter);
    let config = match &handler.args.compress {
        Some(flag) => {
            let compress = respan(quote!(#runtime::__private::compress), flag.span());
            quote!(#compress(#config, #flag))
        }
        None => config,
    };
    let on_close = handler
        .args
        .on_close
        .as_ref()
        .map(|callback| quote_spanned!(callback.span()=> .on_close(#callback)));
    let events_check = handler
        .args
        .events
        .as_ref()
        .map(|events| events_check(events, &runtime));
    let emitter = emitter_ident();
    // The stream's link to its request (route, shutdown) is one more
    // extractor, first so that the user's last argument may still consume
    // the body.
    let context = syn::Ident::new("__sse_context", Span::mixed_site());
    sig.inputs.insert(
        0,
        syn::parse_quote!(#context: #runtime::__private::StreamContext),
    );
    let statements = &block.stmts;

    // `respond` requires `R: BodyOutcome` too. Spanned, every token of its
    // path, where `outcome_check` is, its failure is the same error at the
    // same place, which rustc reports once.
    let respond = respan(
        quote!(#runtime::__private::respond::<#output, _, _>),
        outcome_span,
    );
    quote! {
        #(#attrs)*
        #vis #sig {
            #extractor_checks
            #outcome_check
            #events_check
            #respond(
                #config #on_close,
                #context,
                move |#emitter: #runtime::__private::Emitter| async move {
                    #[allow(unused_mut)]
                    let mut #emitter = #emitter;
                    #(#statements)*
                },
            )
        }
    }
}

/// For `events = T`: `T` is an event type. One that is not is one error, on
/// `T`, whether or not anything is yielded; each typed yield names `T` the
/// same way (see `rewrite.rs`), which rustc reports as the same error.
fn events_check(events: &Type, runtime: &TokenStream) -> TokenStream {
    let span = events.span();
    quote_spanned! {span=>
        let _ = <#events as #runtime::__private::SseEvent>::encode;
    }
}

/// `tokens`, inside groups too, located at `span`; each keeps its own name
/// resolution, which a `$crate` needs.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            let located = tree.span().located_at(span);
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(located);
                tree = inner.into();
            } else {
                tree.set_span(located);
            }
            tree
        })
        .collect()
}

/// Checks that the body's output `R` may be returned: `()` or
/// `Result<(), E>` with `E: Display`. For `Result<(), E>` only `E` can be
/// wrong, so it is checked, and reported, on `E`. Returns the check and the
/// span it is reported at.
fn outcome_check(output: &Type, runtime: &TokenStream) -> (TokenStream, Span) {
    if let Some(error) = result_error_type(output) {
        let span = error.span();
        let check =
            quote_spanned!(span=> let _ = <#error as #runtime::__private::HandlerError>::check;);
        return (check, span);
    }
    let span = output.span();
    let check =
        quote_spanned!(span=> let _ = <#output as #runtime::__private::BodyOutcome>::into_failure;);
    (check, span)
}

/// `E` from `Result<(), E>` (any path ending in `Result`).
fn result_error_type(ty: &Type) -> Option<&Type> {
    let [ok, error] = generic_types(ty, "Result")?[..] else {
        return None;
    };
    matches!(ok, Type::Tuple(unit) if unit.elems.is_empty()).then_some(error)
}

/// Checks, where the router's state type is known, that each argument is an
/// extractor for it, reporting a wrong one on its type as axum's
/// `#[debug_handler]` does. Without this, axum reports only that the whole
/// function is not a `Handler`, at the route.
///
/// The state type comes from `state = T`, or else from the first `State<T>`
/// argument. Without either, nothing is checked: an extractor may be
/// implemented for one state type only, and guessing would reject valid
/// handlers.
fn extractor_checks(
    sig: &syn::Signature,
    state: Option<&Type>,
    runtime: &TokenStream,
) -> Option<TokenStream> {
    let types: Vec<&Type> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => Some(&*typed.ty),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let state = state.or_else(|| types.iter().find_map(|ty| state_argument(ty)))?;
    let same_as_state =
        |ty: &Type| ty.to_token_stream().to_string() == state.to_token_stream().to_string();
    let last = types.len().checked_sub(1)?;
    let checks = types.iter().enumerate().map(|(index, ty)| {
        match state_argument(ty) {
            // Another state type than the handler's: it must be part of it.
            Some(part) if !same_as_state(part) => quote_spanned! {part.span()=>
                let _ = <#part as #runtime::__private::Substate<#state>>::check;
            },
            // The last argument may consume the request body.
            _ if index == last => quote_spanned! {ty.span()=>
                let _ = <#ty as #runtime::__private::FromRequest<#state, _>>::from_request;
            },
            _ => quote_spanned! {ty.span()=>
                let _ = <#ty as #runtime::__private::FromRequestParts<#state>>::from_request_parts;
            },
        }
    });
    Some(quote!(#(#checks)*))
}

/// `T` from an argument of type `State<T>` (any path ending in `State`).
fn state_argument(ty: &Type) -> Option<&Type> {
    match generic_types(ty, "State")?[..] {
        [state] => Some(state),
        _ => None,
    }
}

/// The type arguments of `ty` when it is a path whose last segment is `name`.
fn generic_types<'a>(ty: &'a Type, name: &str) -> Option<Vec<&'a Type>> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    arguments
        .args
        .iter()
        .map(|argument| match argument {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect()
}
