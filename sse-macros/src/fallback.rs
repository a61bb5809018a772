//! What is emitted when the handler has errors: the errors, plus a function
//! with the same name and arguments, so that the route using it and
//! rust-analyzer's completion keep working and one mistake is reported once.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub(crate) fn fallback(item: &syn::ItemFn, runtime: &TokenStream, errors: &Errors) -> TokenStream {
    let errors = errors.to_compile_errors();
    let syn::ItemFn {
        attrs, vis, sig, ..
    } = item;
    let mut sig = sig.clone();
    // A signature that is itself wrong (not async, generic, ..) is emitted
    // as a plain async fn so that it causes no errors of its own.
    sig.asyncness = Some(Default::default());
    sig.constness = None;
    sig.safety = syn::Safety::Default;
    sig.abi = None;
    sig.variadic = None;
    sig.generics = Default::default();
    // `self` and reference arguments are errors of their own; without them
    // the stand-in is still a valid axum handler.
    sig.inputs = sig
        .inputs
        .into_iter()
        .filter(|input| {
            matches!(input, syn::FnArg::Typed(typed) if !matches!(*typed.ty, syn::Type::Reference(_)))
        })
        .collect();
    sig.output = syn::parse_quote!(-> #runtime::__private::Response);
    quote! {
        #errors
        #(#attrs)*
        #[allow(unused_variables)]
        #vis #sig {
            #runtime::__private::fallback_response()
        }
    }
}
