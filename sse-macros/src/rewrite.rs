//! Rewrites each `yield` in the handler body into a send on the hidden
//! emitter: `yield e` / `yield_!(e)` becomes `__sse_emitter.send(e).await`.
//!
//! Like async-stream's visitor, it does not enter closures, `async` blocks or
//! nested items: code there runs apart from the handler body (it may be
//! spawned, or called later), so a `yield` there is an error, not a send.
//!
//! Other macros' input is unparsed tokens (`tokio::select!` branches are not
//! Rust syntax), so it is scanned, as async-stream does: at each `yield`,
//! `yield_!`, closure head or `async` the scan hands the tokens to syn, which
//! finds where that expression ends, so a value such as `make::<u8, u16>()`
//! is kept whole and a closure or `async` block is a boundary there too.

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprYield, Macro, Stmt};

use crate::errors::Errors;
use crate::model::Form;

const ATTRIBUTE_YIELD: &str = "a literal `yield` is not accepted by stable Rust inside an attribute macro; write `yield_!(..)` here, or put the function in `sse_handlers! { .. }`, whose body may use `yield`";
const NESTED_YIELD: &str = "cannot yield from inside a closure or `async` block: it runs apart from the handler body, so its events could not reach the stream; yield in the handler body itself (collect the values or use a channel)";
const EMPTY_YIELD_MACRO: &str = "`yield_!` needs an event: `yield_!(event!(..))`";
const EMPTY_YIELD: &str = "`yield` needs an event: `yield event!(..)`";

/// The hidden emitter variable. Mixed-site hygiene keeps user code from
/// seeing it, or shadowing it.
pub(crate) fn emitter_ident() -> Ident {
    Ident::new("__sse_emitter", Span::mixed_site())
}

/// `tokens`, inside groups too, with `span`: its place and its hygiene.
fn with_span(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), with_span(group.stream(), span));
                inner.set_span(span);
                tree = inner.into();
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// Rewrites the yields in `body`, reporting those it cannot rewrite.
/// With `events`, each yielded value is also checked to be of that type
/// (`events = T` in the options).
pub(crate) fn rewrite_yields(
    body: &mut Block,
    form: Form,
    events: Option<(&syn::Type, &TokenStream)>,
    errors: &mut Errors,
) {
    let mut rewriter = YieldRewriter {
        form,
        errors,
        emitter: emitter_ident(),
        events: events.map(|(ty, runtime)| (ty.clone(), runtime.clone())),
    };
    rewriter.visit_block_mut(body);
}

struct YieldRewriter<'a> {
    form: Form,
    errors: &'a mut Errors,
    emitter: Ident,
    /// The handler's event type and the runtime path, for `events = T`.
    events: Option<(syn::Type, TokenStream)>,
}

fn is_yield_macro(mac: &Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "yield_")
}

impl YieldRewriter<'_> {
    fn send(&mut self, span: Span, value: TokenStream) -> TokenStream {
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
        // A typed handler sends the value through `YieldOf` alone, in a
        // call spanned at it: a value of another type is one error, there,
        // naming the type (and not a second one from `send`).
        let bound = match &self.events {
            Some((events, runtime)) => {
                // `T` as `<T as SseEvent>::Events`, and `T`'s encoder taken
                // here: where `T` is not an event type, each of these is
                // the same error on `T` as the handler's own check, which
                // rustc reports once, and the value is not checked against
                // a type that is not one.
                let private = quote!(#runtime::__private);
                // `T`'s encoder, its tokens but `T`'s own at `T` (its
                // first token): yielding a value of a `T` that is not an
                // event type is the same error there, reported once. (The
                // runtime's path keeps its hygiene, which a `$crate`
                // needs; the path's first and last tokens give its span.)
                let at = syn::spanned::Spanned::span(events);
                let runtime_at = crate::expand::respan(private.clone(), at);
                let (open, as_, close, last) = (
                    with_span(quote!(<<), at),
                    with_span(quote!(as), at),
                    with_span(quote!(::SseEvent>::Events as), at),
                    with_span(quote!(::SseEvent > ::encode), at),
                );
                let encode = quote!(#open #events #as_ #runtime_at #close #runtime_at #last);
                let events = quote!(<#events as #private::SseEvent>::Events);
                quote_spanned! {value_span=>
                    {
                        let #item = #value;
                        <_ as #private::YieldOf<#events>>::into_event_of(
                            #item,
                            #private::TypedEvents::new(#encode),
                        )
                    }
                }
            }
            None => quote_spanned! {value_span=>
                {
                    let #item = #value;
                    #item
                }
            },
        };
        quote_spanned!(span=> #emitter.send(#bound).await)
    }

    /// `yield value`, from plain code or from another macro's tokens.
    fn rewrite_yield(&mut self, yield_expr: &mut ExprYield) -> TokenStream {
        let span = yield_expr.yield_token.span;
        if self.form == Form::Attribute {
            self.errors.at(span, ATTRIBUTE_YIELD);
        }
        match yield_expr.expr.take() {
            Some(mut value) => {
                self.visit_expr_mut(&mut value);
                self.send(span, value.into_token_stream())
            }
            None => {
                self.errors.at(span, EMPTY_YIELD);
                quote!(())
            }
        }
    }

    /// `yield_!(value)`: the macro's tokens are the value.
    fn rewrite_yield_macro(&mut self, span: Span, tokens: TokenStream) -> TokenStream {
        if tokens.is_empty() {
            self.errors.at(span, EMPTY_YIELD_MACRO);
            return quote!(());
        }
        match syn::parse2::<Expr>(tokens) {
            Ok(mut value) => {
                self.visit_expr_mut(&mut value);
                self.send(span, value.into_token_stream())
            }
            Err(error) => {
                self.errors.push(error);
                quote!(())
            }
        }
    }

    fn rewrite_other_macro(&mut self, mac: &mut Macro) {
        if mentions_yield(mac.tokens.clone()) {
            mac.tokens = self.rewrite_tokens(std::mem::take(&mut mac.tokens));
        }
    }

    /// Rewrites the yields in another macro's tokens.
    fn rewrite_tokens(&mut self, tokens: TokenStream) -> TokenStream {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut out: Vec<TokenTree> = Vec::with_capacity(trees.len());
        // Whether the previous token ends an operand, which makes a `|`
        // after it an operator (`a | b`) rather than a closure head.
        let mut after_operand = false;
        let mut i = 0;
        while i < trees.len() {
            let tail = || trees[i..].iter().cloned().collect::<TokenStream>();
            let remaining = trees.len() - i;
            match &trees[i] {
                TokenTree::Ident(ident) if ident == "yield_" => {
                    if let (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(group))) =
                        (trees.get(i + 1), trees.get(i + 2))
                    {
                        if bang.as_char() == '!' {
                            drop_path_prefix(&mut out);
                            out.extend(self.rewrite_yield_macro(ident.span(), group.stream()));
                            i += 3;
                            after_operand = true;
                            continue;
                        }
                    }
                }
                TokenTree::Ident(ident) if ident == "yield" => {
                    match syn::parse2::<Partial<ExprYield>>(tail()) {
                        Ok(Partial(mut yield_expr, rest)) => {
                            out.extend(self.rewrite_yield(&mut yield_expr));
                            i = trees.len() - rest.into_iter().count();
                        }
                        Err(error) => {
                            self.errors.push(error);
                            i = trees.len();
                        }
                    }
                    after_operand = true;
                    continue;
                }
                tree if starts_closure_or_async(tree, trees.get(i + 1), after_operand) => {
                    if let Some((mut boundary, rest)) = parse_boundary(tail()) {
                        report_nested_yields(&mut boundary, self.errors);
                        let consumed = remaining - rest;
                        out.extend(trees[i..i + consumed].iter().cloned());
                        i += consumed;
                        after_operand = true;
                        continue;
                    }
                }
                TokenTree::Ident(ident)
                    if ident == "fn" && matches!(trees.get(i + 1), Some(TokenTree::Ident(_))) =>
                {
                    // A nested function is its own item: left as written, up
                    // to and including its body, like nested items in plain
                    // code.
                    let body = trees[i..].iter().position(|tree| {
                        matches!(tree, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace)
                    });
                    let end = body.map_or(trees.len(), |offset| i + offset + 1);
                    out.extend(trees[i..end].iter().cloned());
                    i = end;
                    after_operand = false;
                    continue;
                }
                TokenTree::Group(group) => {
                    let mut rewritten = proc_macro2::Group::new(
                        group.delimiter(),
                        self.rewrite_tokens(group.stream()),
                    );
                    rewritten.set_span(group.span());
                    out.push(TokenTree::Group(rewritten));
                    i += 1;
                    after_operand = true;
                    continue;
                }
                _ => {}
            }
            after_operand = ends_operand(&trees[i]);
            out.push(trees[i].clone());
            i += 1;
        }
        out.into_iter().collect()
    }
}

impl VisitMut for YieldRewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Yield(yield_expr) => {
                *expr = Expr::Verbatim(self.rewrite_yield(yield_expr));
            }
            Expr::Macro(expr_macro) if is_yield_macro(&expr_macro.mac) => {
                let mac = &expr_macro.mac;
                *expr =
                    Expr::Verbatim(self.rewrite_yield_macro(mac.path.span(), mac.tokens.clone()));
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
                let mac = &stmt_macro.mac;
                let send = self.rewrite_yield_macro(mac.path.span(), mac.tokens.clone());
                let semi = stmt_macro.semi_token;
                *stmt = Stmt::Expr(Expr::Verbatim(send), semi.or(Some(Default::default())));
            }
            Stmt::Macro(stmt_macro) => self.rewrite_other_macro(&mut stmt_macro.mac),
            _ => visit_mut::visit_stmt_mut(self, stmt),
        }
    }

    fn visit_item_mut(&mut self, _item: &mut syn::Item) {
        // A nested item is its own function: a `yield_!` there expands to the
        // runtime's "only in a handler body" error, and rustc rejects `yield`.
    }
}

/// A parsed `T` and the tokens after it.
struct Partial<T>(T, TokenStream);

impl<T: Parse> Parse for Partial<T> {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(Partial(input.parse()?, input.parse()?))
    }
}

/// Whether `tree` may begin a closure (`|..|`, `||`, `move |..|`,
/// `async |..|`) or an `async` block.
fn starts_closure_or_async(
    tree: &TokenTree,
    next: Option<&TokenTree>,
    after_operand: bool,
) -> bool {
    match tree {
        TokenTree::Punct(punct) => punct.as_char() == '|' && !after_operand,
        TokenTree::Ident(ident) => {
            ident == "async"
                || (ident == "move"
                    && matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == '|'))
        }
        _ => false,
    }
}

/// Parses the closure or `async` block at the start of `tokens`; returns it
/// and how many token trees follow it. `None` when the tokens are not one
/// (a `|` that is an operator, `async fn`).
fn parse_boundary(tokens: TokenStream) -> Option<(Expr, usize)> {
    let (expr, rest) = if let Ok(Partial(closure, rest)) =
        syn::parse2::<Partial<syn::ExprClosure>>(tokens.clone())
    {
        (Expr::Closure(closure), rest)
    } else {
        let Partial(block, rest) = syn::parse2::<Partial<syn::ExprAsync>>(tokens).ok()?;
        (Expr::Async(block), rest)
    };
    Some((expr, rest.into_iter().count()))
}

/// Whether `tree`, just scanned, ends an operand (`a`, `1`, `(..)`, `x?`).
/// Keywords after which an expression begins do not.
fn ends_operand(tree: &TokenTree) -> bool {
    const BEFORE_EXPRESSION: &[&str] = &[
        "return", "break", "in", "if", "while", "match", "else", "let", "mut", "ref", "move",
        "async", "yield", "unsafe", "loop", "for",
    ];
    match tree {
        TokenTree::Ident(ident) => !BEFORE_EXPRESSION.iter().any(|keyword| ident == keyword),
        TokenTree::Literal(_) | TokenTree::Group(_) => true,
        TokenTree::Punct(punct) => punct.as_char() == '?',
    }
}

/// Drops the `path::` before a `yield_` already copied to `out`
/// (`sse_runtime::yield_!(..)`), which the send replaces along with it.
fn drop_path_prefix(out: &mut Vec<TokenTree>) {
    let is_colon =
        |tree: Option<&TokenTree>| matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == ':');
    while out.len() >= 2 && is_colon(out.last()) && is_colon(out.get(out.len() - 2)) {
        out.truncate(out.len() - 2);
        if matches!(out.last(), Some(TokenTree::Ident(_))) {
            out.pop();
        }
    }
}

fn mentions_yield(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "yield" || ident == "yield_",
        TokenTree::Group(group) => mentions_yield(group.stream()),
        _ => false,
    })
}

/// Reports each `yield` and `yield_!` inside a closure or `async` block,
/// including inside macros there. The handler is then replaced by the
/// fallback, so nothing here is rewritten.
fn report_nested_yields(expr: &mut Expr, errors: &mut Errors) {
    struct Finder<'a> {
        errors: &'a mut Errors,
    }
    impl VisitMut for Finder<'_> {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            if let Expr::Yield(yield_expr) = expr {
                self.errors.spanned(yield_expr.yield_token, NESTED_YIELD);
            }
            visit_mut::visit_expr_mut(self, expr);
        }
        fn visit_macro_mut(&mut self, mac: &mut Macro) {
            if is_yield_macro(mac) {
                self.errors.at(mac.path.span(), NESTED_YIELD);
            } else {
                report_tokens(mac.tokens.clone(), self.errors);
            }
        }
        fn visit_item_mut(&mut self, _item: &mut syn::Item) {}
    }
    fn report_tokens(tokens: TokenStream, errors: &mut Errors) {
        let mut trees = tokens.into_iter().peekable();
        while let Some(tree) = trees.next() {
            match tree {
                TokenTree::Ident(ident) if ident == "yield" => {
                    errors.at(ident.span(), NESTED_YIELD)
                }
                TokenTree::Ident(ident)
                    if ident == "yield_"
                        && matches!(trees.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '!') =>
                {
                    errors.at(ident.span(), NESTED_YIELD);
                }
                TokenTree::Group(group) => report_tokens(group.stream(), errors),
                _ => {}
            }
        }
    }
    Finder { errors }.visit_expr_mut(expr);
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    /// The tokens of another macro, rewritten; and whether any error was
    /// reported.
    fn rewrite(tokens: TokenStream, form: Form) -> (String, bool) {
        let mut errors = Errors::default();
        let mut rewriter = YieldRewriter {
            form,
            errors: &mut errors,
            emitter: emitter_ident(),
            events: None,
        };
        let out = rewriter.rewrite_tokens(tokens).to_string();
        (out, !errors.is_empty())
    }

    const SENT: &str = "__sse_emitter . send";

    #[test]
    fn a_value_runs_to_its_own_end_not_to_the_first_comma() {
        let (out, failed) = rewrite(
            quote!(_ = t => yield make::<u8, u16>(), _ = u => {}),
            Form::Block,
        );
        assert!(!failed, "{out}");
        assert!(
            out.contains("let __sse_item = make :: < u8 , u16 > ()"),
            "{out}"
        );
        assert!(out.ends_with(", _ = u => { }"), "{out}");
        let (out, failed) = rewrite(quote!(yield_!(make::<u8, u16>());), Form::Attribute);
        assert!(!failed && out.contains("make :: < u8 , u16 > ()"), "{out}");
    }

    #[test]
    fn closures_and_async_blocks_are_boundaries() {
        for tokens in [
            quote!(_ = t => { tokio::spawn(async move { yield_!(e); }); }),
            quote!(_ = t => { tokio::spawn(async { yield_!(e) }); }),
            quote!(_ = t => names.iter().for_each(|name| yield_!(e(name)))),
            quote!(_ = t => { let f = move || { yield_!(e); }; f(); }),
            quote!(_ = t => { let f = || inner!(yield_!(e)); f(); }),
        ] {
            let (out, failed) = rewrite(tokens, Form::Attribute);
            assert!(failed && !out.contains(SENT), "{out}");
        }
        let (out, failed) = rewrite(quote!(_ = t => spawn(async { yield e })), Form::Block);
        assert!(failed && !out.contains(SENT), "{out}");
    }

    #[test]
    fn operators_are_not_closure_heads() {
        for tokens in [
            quote!(let flags = a | b; yield_!(e);),
            quote!(if ready || done {
                yield_!(e)
            }),
            quote!(let n = f()? | 1; yield_!(e);),
        ] {
            let (out, failed) = rewrite(tokens, Form::Attribute);
            assert!(!failed && out.contains(SENT), "{out}");
        }
    }

    #[test]
    fn a_path_to_yield_is_replaced_with_it() {
        let (out, failed) = rewrite(quote!(x => ::sse_runtime::yield_!(e),), Form::Attribute);
        assert!(!failed, "{out}");
        assert!(out.starts_with("x => __sse_emitter"), "{out}");
    }

    #[test]
    fn nested_functions_are_left_alone() {
        let (out, failed) = rewrite(
            quote!(fn helper() { yield_!(e) } yield_!(e);),
            Form::Attribute,
        );
        assert!(!failed, "{out}");
        assert!(out.starts_with("fn helper () { yield_ ! (e) }"), "{out}");
        assert!(out.contains(SENT), "{out}");
    }
}
