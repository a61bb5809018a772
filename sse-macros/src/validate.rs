//! Checks the handler's signature: what `#[sse_handler]` cannot turn into an
//! axum handler is reported on the token that makes it so.

use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, Signature, Type};

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
        match input {
            FnArg::Receiver(receiver) => errors.spanned(
                receiver,
                format!("`{name}` cannot be used on a method taking `self`: axum handlers are free functions; take the value as `State<..>` instead"),
            ),
            FnArg::Typed(typed) => {
                if let Type::Reference(reference) = peel(&typed.ty) {
                    errors.spanned(
                        reference,
                        format!(
                            "the arguments of `{name}` are extractors, which are owned values: the stream outlives the request, so it cannot borrow from it; take `{}` instead",
                            owned(&reference.elem)
                        ),
                    );
                }
            }
        }
    }
}

/// `ty` without parentheses or invisible groups around it.
fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => peel(&inner.elem),
        Type::Group(inner) => peel(&inner.elem),
        _ => ty,
    }
}

/// What to take instead of a reference to `ty`: `String` for `str`,
/// `Vec<T>` for `[T]`, else `ty` itself.
fn owned(ty: &Type) -> String {
    match peel(ty) {
        Type::Path(path) if path.qself.is_none() && path.path.is_ident("str") => {
            "String".to_owned()
        }
        Type::Slice(slice) => format!("Vec<{}>", type_text(&slice.elem)),
        other => type_text(other),
    }
}

/// `ty` as written, without the spaces token printing puts around
/// punctuation: `Query<Params>`, not `Query < Params >`.
fn type_text(ty: &Type) -> String {
    let printed = ty.to_token_stream().to_string();
    let chars: Vec<char> = printed.chars().collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let mut text = String::with_capacity(printed.len());
    for (i, c) in chars.iter().enumerate() {
        if *c != ' ' {
            text.push(*c);
            if *c == ',' {
                text.push(' ');
            }
        } else if word(text.chars().last().as_ref()) && word(chars.get(i + 1)) {
            text.push(' ');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::owned;

    #[test]
    fn suggests_the_owned_type_as_written() {
        let cases = [
            (syn::parse_quote!(str), "String"),
            (syn::parse_quote!([u8]), "Vec<u8>"),
            (
                syn::parse_quote!(HashMap<String, u32>),
                "HashMap<String, u32>",
            ),
            (syn::parse_quote!(dyn std::any::Any), "dyn std::any::Any"),
        ];
        for (ty, expected) in cases {
            assert_eq!(owned(&ty), expected);
        }
    }
}
