//! Checks the handler's signature: what `#[sse_handler]` cannot turn into an
//! axum handler is reported on the token that makes it so.

use syn::spanned::Spanned;
use syn::{FnArg, Signature};

use crate::errors::Errors;
use crate::model::{Form, Handler};

pub(crate) fn validate(handler: &Handler, errors: &mut Errors) {
    let name = match handler.form {
        Form::Attribute => "#[sse_handler]",
        Form::Block => "sse_handlers!",
    };
    let sig: &Signature = &handler.item.sig;
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            format!(
                "`{name}` requires an `async fn`: write `async fn {}`",
                sig.ident
            ),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.spanned(
            constness,
            format!("`{name}` cannot be used on a `const fn`"),
        );
    }
    if let syn::Safety::Unsafe(unsafety) = &sig.safety {
        errors.spanned(
            unsafety,
            format!("`{name}` cannot be used on an `unsafe fn`"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, format!("`{name}` cannot be used on an `extern fn`"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            sig.generics.span(),
            format!("`{name}` cannot be used on a generic function: axum needs one concrete handler type; use concrete types, or call a generic helper from the body"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(
            variadic,
            format!("`{name}` cannot be used on a variadic function"),
        );
    }
    for input in &sig.inputs {
        if let FnArg::Receiver(receiver) = input {
            errors.spanned(
                receiver,
                format!("`{name}` cannot be used on a method taking `self`: axum handlers are free functions; take the value as `State<..>` instead"),
            );
        }
    }
}
