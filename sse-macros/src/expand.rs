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
    let error_event = handler
        .args
        .error_event
        .as_ref()
        .map(|flag| quote!(.error_event(#flag)));
    let emitter = emitter_ident();
    let statements = &block.stmts;

    // `respond::<#output, ..>` carries the return type's span, so a return
    // type that is not `()` or `Result<(), E: Display>` is reported there.
    let respond = quote_spanned!(output.span()=> #runtime::__private::respond::<#output, _, _>);
    quote! {
        #(#attrs)*
        #vis #sig {
            #respond(
                #runtime::__private::SseConfig::new() #keep_alive #error_event,
                move |#emitter: #runtime::__private::Emitter| async move {
                    #[allow(unused_mut)]
                    let mut #emitter = #emitter;
                    #(#statements)*
                },
            )
        }
    }
}
