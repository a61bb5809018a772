//! Rewrites each `yield` in the handler body into a send on the hidden
//! emitter: `yield e` / `yield_!(e)` becomes `__sse_emitter.send(e).await`.
//!
//! Like async-stream's visitor, it does not enter closures, `async` blocks or
//! nested items: code there runs apart from the handler body (it may be
//! spawned, or called later), so a `yield` there is an error, not a send.
//! Other macros' input is unparsed tokens; it is scanned for `yield_!(..)`
//! and `yield <expr>` so that `tokio::select!` branches can yield.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Macro, Stmt};

use crate::errors::Errors;
use crate::model::Form;

const ATTRIBUTE_YIELD: &str = "a literal `yield` is not accepted by stable Rust inside an attribute macro; write `yield_!(..)` here, or put the function in `sse_handlers! { .. }`, whose body may use `yield`";
const NESTED_YIELD: &str = "cannot yield from inside a closure or `async` block: it runs apart from the handler body, so its events could not reach the stream; yield in the handler body itself (collect the values or use a channel)";

/// The hidden emitter variable. Mixed-site hygiene keeps user code from
/// seeing it, or shadowing it.
pub(crate) fn emitter_ident() -> Ident {
    Ident::new("__sse_emitter", Span::mixed_site())
}

/// Rewrites the yields in `body`; returns how many it rewrote.
pub(crate) fn rewrite_yields(body: &mut Block, form: Form, errors: &mut Errors) -> usize {
    let mut rewriter = YieldRewriter {
        form,
        errors,
        emitter: emitter_ident(),
        yields: 0,
    };
    rewriter.visit_block_mut(body);
    rewriter.yields
}

struct YieldRewriter<'a> {
    form: Form,
    errors: &'a mut Errors,
    emitter: Ident,
    yields: usize,
}

fn is_yield_macro(mac: &Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "yield_")
}

impl YieldRewriter<'_> {
    fn send(&mut self, span: Span, value: TokenStream) -> TokenStream {
        self.yields += 1;
        let emitter = &self.emitter;
        // The value is bound first so that its temporaries (a
        // `format_args!`, a lock guard) are dropped before the await and
        // cannot make the handler's future `!Send`. The binding carries the
        // value's span, so a value that is not an event is reported there.
        let value_span = value
            .clone()
            .into_iter()
            .next()
            .map_or(span, |first| first.span());
        let item = Ident::new("__sse_item", Span::mixed_site().located_at(value_span));
        let bound = quote_spanned! {value_span=>
            {
                let #item = #value;
                #item
            }
        };
        quote_spanned!(span=> #emitter.send(#bound).await)
    }

    /// `yield_!(value)`: the macro's tokens are the value.
    fn rewrite_yield_macro(&mut self, mac: &Macro) -> TokenStream {
        let span = mac.path.span();
        match mac.parse_body::<Expr>() {
            Ok(mut value) => {
                self.visit_expr_mut(&mut value);
                self.send(span, value.into_token_stream())
            }
            Err(_) if mac.tokens.is_empty() => {
                self.errors
                    .at(span, "`yield_!` needs an event: `yield_!(event!(..))`");
                quote!(())
            }
            Err(error) => {
                self.errors.push(error);
                quote!(())
            }
        }
    }

    /// Rewrites yields inside another macro's tokens.
    fn rewrite_tokens(&mut self, tokens: TokenStream) -> TokenStream {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut out = TokenStream::new();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Ident(ident) if ident == "yield_" => {
                    if let (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(group))) =
                        (trees.get(i + 1), trees.get(i + 2))
                    {
                        if bang.as_char() == '!' {
                            let value = self.rewrite_tokens(group.stream());
                            let send = if value.is_empty() {
                                self.errors.at(
                                    ident.span(),
                                    "`yield_!` needs an event: `yield_!(event!(..))`",
                                );
                                quote!(())
                            } else {
                                self.send(ident.span(), value)
                            };
                            out.extend(send);
                            i += 3;
                            continue;
                        }
                    }
                    out.extend([trees[i].clone()]);
                    i += 1;
                }
                TokenTree::Ident(ident) if ident == "yield" => {
                    // The value runs to the end of the statement or branch.
                    let end = trees[i + 1..]
                        .iter()
                        .position(|tree| matches!(tree, TokenTree::Punct(p) if p.as_char() == ';' || p.as_char() == ','))
                        .map_or(trees.len(), |offset| i + 1 + offset);
                    let value: TokenStream =
                        self.rewrite_tokens(trees[i + 1..end].iter().cloned().collect());
                    if self.form == Form::Attribute {
                        self.errors.at(ident.span(), ATTRIBUTE_YIELD);
                    }
                    let send = if value.is_empty() {
                        self.errors
                            .at(ident.span(), "`yield` needs an event: `yield event!(..)`");
                        quote!(())
                    } else {
                        self.send(ident.span(), value)
                    };
                    out.extend(send);
                    i = end;
                }
                TokenTree::Group(group) => {
                    let mut rewritten =
                        Group::new(group.delimiter(), self.rewrite_tokens(group.stream()));
                    rewritten.set_span(group.span());
                    out.extend([TokenTree::Group(rewritten)]);
                    i += 1;
                }
                other => {
                    out.extend([other.clone()]);
                    i += 1;
                }
            }
        }
        out
    }

    fn rewrite_other_macro(&mut self, mac: &mut Macro) {
        if mentions_yield(mac.tokens.clone()) {
            mac.tokens = self.rewrite_tokens(std::mem::take(&mut mac.tokens));
        }
    }
}

impl VisitMut for YieldRewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Yield(yield_expr) => {
                if self.form == Form::Attribute {
                    self.errors.spanned(yield_expr.yield_token, ATTRIBUTE_YIELD);
                }
                let span = yield_expr.yield_token.span;
                let replacement = match yield_expr.expr.take() {
                    Some(mut value) => {
                        self.visit_expr_mut(&mut value);
                        self.send(span, value.into_token_stream())
                    }
                    None => {
                        self.errors
                            .at(span, "`yield` needs an event: `yield event!(..)`");
                        quote!(())
                    }
                };
                *expr = Expr::Verbatim(replacement);
            }
            Expr::Macro(expr_macro) if is_yield_macro(&expr_macro.mac) => {
                *expr = Expr::Verbatim(self.rewrite_yield_macro(&expr_macro.mac));
            }
            Expr::Macro(expr_macro) => self.rewrite_other_macro(&mut expr_macro.mac),
            Expr::Closure(_) | Expr::Async(_) => report_nested_yields(expr, self.errors),
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        match stmt {
            // `yield_!(..);` on its own is a statement macro, not an expression.
            Stmt::Macro(stmt_macro) if is_yield_macro(&stmt_macro.mac) => {
                let send = self.rewrite_yield_macro(&stmt_macro.mac);
                let semi = stmt_macro.semi_token;
                *stmt = Stmt::Expr(Expr::Verbatim(send), semi.or(Some(Default::default())));
            }
            Stmt::Macro(stmt_macro) => self.rewrite_other_macro(&mut stmt_macro.mac),
            _ => visit_mut::visit_stmt_mut(self, stmt),
        }
    }

    fn visit_item_mut(&mut self, _item: &mut syn::Item) {
        // A nested item is its own function; rustc reports any `yield` there.
    }
}

fn mentions_yield(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "yield" || ident == "yield_",
        TokenTree::Group(group) => mentions_yield(group.stream()),
        _ => false,
    })
}

/// Reports each literal `yield` inside a closure or `async` block, and
/// replaces it with `()` so that rustc adds no errors of its own.
fn report_nested_yields(expr: &mut Expr, errors: &mut Errors) {
    struct Finder<'a> {
        errors: &'a mut Errors,
    }
    impl VisitMut for Finder<'_> {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            if let Expr::Yield(yield_expr) = expr {
                self.errors.spanned(yield_expr.yield_token, NESTED_YIELD);
                *expr = Expr::Verbatim(quote!(()));
                return;
            }
            visit_mut::visit_expr_mut(self, expr);
        }
        fn visit_macro_mut(&mut self, mac: &mut Macro) {
            for tree in mac.tokens.clone() {
                if let TokenTree::Ident(ident) = tree {
                    if ident == "yield" {
                        self.errors.at(ident.span(), NESTED_YIELD);
                    }
                }
            }
        }
    }
    Finder { errors }.visit_expr_mut(expr);
}
