//! The parsed handler: the user's function, its options, and which form it
//! was written in. The syn nodes are kept whole so that every error can point
//! at the user's own tokens.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{ItemFn, Token};

use crate::args::HandlerArgs;
use crate::errors::Errors;

/// How the handler was written, which decides how `yield` is spelled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `#[sse_handler] async fn ..`, yielding with `yield_!(..)`.
    Attribute,
    /// `sse_handlers! { async fn .. }`, yielding with a literal `yield`.
    Block,
}

pub(crate) struct Handler {
    pub(crate) item: ItemFn,
    pub(crate) args: HandlerArgs,
    pub(crate) form: Form,
}

/// The input of `sse_handlers!`, after the runtime path its `macro_rules!`
/// wrapper puts in front: `$crate; <fn>*`.
pub(crate) struct HandlerBlock {
    pub(crate) runtime: TokenStream,
    pub(crate) items: Vec<ItemFn>,
}

impl Parse for HandlerBlock {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let runtime = take_runtime_path(input)?;
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse::<ItemFn>().map_err(|error| {
                syn::Error::new(
                    error.span(),
                    format!("`sse_handlers!` expects `async fn` items: {error}"),
                )
            })?);
        }
        Ok(HandlerBlock { runtime, items })
    }
}

/// Reads the tokens up to the first `;`: the runtime path (`$crate`) that the
/// runtime's `macro_rules!` wrappers pass in.
pub(crate) fn take_runtime_path(input: ParseStream) -> syn::Result<TokenStream> {
    let mut path = TokenStream::new();
    while !input.peek(Token![;]) {
        let tree: proc_macro2::TokenTree = input.parse()?;
        path.extend([tree]);
    }
    input.parse::<Token![;]>()?;
    Ok(path)
}

impl Handler {
    /// A function from the block form: its options, if any, are in an
    /// `#[sse_handler(..)]` attribute, which is taken off.
    pub(crate) fn from_block_item(
        mut item: ItemFn,
        runtime: &TokenStream,
        errors: &mut Errors,
    ) -> Handler {
        let mut args = None;
        let mut kept = Vec::with_capacity(item.attrs.len());
        for attr in std::mem::take(&mut item.attrs) {
            if !attr.path().is_ident("sse_handler") {
                kept.push(attr);
                continue;
            }
            if args.is_some() {
                errors.spanned(&attr, "`#[sse_handler(..)]` is specified more than once");
                continue;
            }
            let tokens = match &attr.meta {
                syn::Meta::Path(_) => TokenStream::new(),
                syn::Meta::List(list) => list.tokens.clone(),
                syn::Meta::NameValue(_) => {
                    errors.spanned(
                        &attr,
                        "write options as `#[sse_handler(keep_alive = \"15s\")]`",
                    );
                    TokenStream::new()
                }
            };
            args = Some(HandlerArgs::parse(tokens, errors));
        }
        item.attrs = kept;
        let mut args = args.unwrap_or_default();
        if args.krate.is_none() {
            args.krate = Some(runtime.clone());
        }
        Handler {
            item,
            args,
            form: Form::Block,
        }
    }
}
