//! Turns a checked, rewritten handler into the axum handler it stands for:
//!
//! ```text
//! #[attrs] vis async fn name(args) -> SseResponse<impl Future<Output = R> + Send + 'static> {
//!     respond::<R, _, _>(config, move |__sse_emitter| async move { body })
//! }
//! ```
//!
//! The extractor arguments stay on the function, so axum extracts them as
//! for any handler; the body moves them into the stream's future, which runs
//! only once the client reads the response.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
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
    let extractor_check = extractor_check(&sig, handler.args.state.as_ref(), &runtime);
    let error_event = handler
        .args
        .error_event
        .as_ref()
        .map(|flag| quote!(.error_event(#flag)));
    let on_close = handler
        .args
        .on_close
        .as_ref()
        .map(|callback| quote_spanned!(callback.span()=> .on_close(#callback)));
    let emitter = emitter_ident();
    // The stream's link to its request (route, shutdown) is one more
    // extractor, first so that the user's last argument may still consume
    // the body.
    let context = syn::Ident::new("__sse_context", proc_macro2::Span::mixed_site());
    sig.inputs.insert(
        0,
        syn::parse_quote!(#context: #runtime::__private::StreamContext),
    );
    let statements = &block.stmts;

    // `respond::<#output, ..>` carries the return type's span, so a return
    // type that is not `()` or `Result<(), E: Display>` is reported there.
    let respond = quote_spanned!(output.span()=> #runtime::__private::respond::<#output, _, _>);
    quote! {
        #(#attrs)*
        #vis #sig {
            #extractor_check
            #respond(
                #runtime::__private::SseConfig::new() #keep_alive #error_event #on_close,
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

/// Checks, where the router's state type is known, that each argument is an
/// extractor for it, reporting a wrong one on its type as axum's
/// `#[debug_handler]` does. Without this, axum reports only that the whole
/// function is not a `Handler`, at the route.
///
/// The state type comes from `state = T`, or else from a `State<T>`
/// argument. Without either, nothing is checked: an extractor may be
/// implemented for one state type only, and guessing would reject valid
/// handlers.
fn extractor_check(
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
    let (last, parts) = types.split_last()?;
    let parts_checks = parts
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> __sse_parts::<#ty, #state>();));
    let last_check = quote_spanned!(last.span()=> __sse_last::<#last, #state, _>(););
    Some(quote! {
        #[allow(dead_code)]
        {
            fn __sse_parts<T: #runtime::__private::FromRequestParts<S>, S>() {}
            fn __sse_last<T: #runtime::__private::FromRequest<S, M>, S, M>() {}
            #(#parts_checks)*
            #last_check
        }
    })
}

/// `T` from an argument of type `State<T>` (any path ending in `State`).
fn state_argument(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != "State" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    match arguments.args.first()? {
        syn::GenericArgument::Type(state) if arguments.args.len() == 1 => Some(state),
        _ => None,
    }
}
