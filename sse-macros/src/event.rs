//! `event!`: parse the keys, check what can be checked at compile time, and
//! expand to an `EventBuilder` chain. Also `comment!` with an expression.
//!
//! Input, after the `$crate;` the runtime's wrapper puts in front:
//! `[data_expr] [, key: value]*`, keys being data, json, event, id, retry.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, Token};

use crate::errors::{closest, Errors};
use crate::model::take_runtime_path;

const KEYS: &[&str] = &["data", "json", "event", "id", "retry"];

pub(crate) struct EventInput {
    runtime: TokenStream,
    /// Fields in the order written, so values are evaluated in that order.
    fields: Vec<Field>,
    errors: Errors,
    /// Whether a key was unknown: it may have been the data, misspelt.
    unknown_key: bool,
}

struct Field {
    key: Key,
    /// The key's token, or the data expression for `event!("text")`.
    key_span: Span,
    value: Expr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Data,
    Json,
    Event,
    Id,
    Retry,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Data => "data",
            Key::Json => "json",
            Key::Event => "event",
            Key::Id => "id",
            Key::Retry => "retry",
        }
    }
}

/// The keys, parsed as keywords.
mod kw {
    syn::custom_keyword!(data);
    syn::custom_keyword!(json);
    syn::custom_keyword!(event);
    syn::custom_keyword!(id);
    syn::custom_keyword!(retry);
}

impl Parse for EventInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let runtime = take_runtime_path(input)?;
        let mut fields = Vec::new();
        let mut errors = Errors::default();
        let mut unknown_key = false;
        let mut first = true;
        while !input.is_empty() {
            let is_key = input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]);
            if first && !is_key {
                let value: Expr = input.parse()?;
                fields.push(Field {
                    key: Key::Data,
                    key_span: value.span(),
                    value,
                });
            } else {
                let key = parse_key(input, &mut errors)?;
                input.parse::<Token![:]>()?;
                let value: Expr = input.parse()?;
                match key {
                    Some((key, key_span)) => fields.push(Field {
                        key,
                        key_span,
                        value,
                    }),
                    None => unknown_key = true,
                }
            }
            first = false;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(EventInput {
            runtime,
            fields,
            errors,
            unknown_key,
        })
    }
}

/// The key before a `:`, with its span; `None`, with an error recorded, for
/// an unknown one, so that the rest is still checked.
fn parse_key(input: ParseStream, errors: &mut Errors) -> syn::Result<Option<(Key, Span)>> {
    let lookahead = input.lookahead1();
    let key = if lookahead.peek(kw::data) {
        (Key::Data, input.parse::<kw::data>()?.span)
    } else if lookahead.peek(kw::json) {
        (Key::Json, input.parse::<kw::json>()?.span)
    } else if lookahead.peek(kw::event) {
        (Key::Event, input.parse::<kw::event>()?.span)
    } else if lookahead.peek(kw::id) {
        (Key::Id, input.parse::<kw::id>()?.span)
    } else if lookahead.peek(kw::retry) {
        (Key::Retry, input.parse::<kw::retry>()?.span)
    } else if input.peek(Ident) {
        let ident: Ident = input.parse()?;
        let unknown = ident.to_string();
        let hint = closest(&unknown, KEYS)
            .map(|near| format!("did you mean `{near}`? "))
            .unwrap_or_default();
        errors.spanned(
            &ident,
            format!(
                "unknown key `{unknown}` in `event!`; {hint}valid keys are: {}",
                KEYS.join(", ")
            ),
        );
        return Ok(None);
    } else {
        return Err(syn::Error::new(
            lookahead.error().span(),
            format!("expected a key; valid keys are: {}", KEYS.join(", ")),
        ));
    };
    Ok(Some(key))
}

impl EventInput {
    pub(crate) fn expand(mut self) -> TokenStream {
        self.validate();
        if !self.errors.is_empty() {
            // The errors stand in for the value; the type keeps the caller's
            // code free of follow-on errors.
            let errors = self.errors.to_compile_errors();
            let runtime = &self.runtime;
            return quote! {{
                #errors
                ::core::result::Result::<#runtime::__private::Event, #runtime::__private::EventError>::Ok(
                    #runtime::__private::Event::keep_alive()
                )
            }};
        }
        let runtime = &self.runtime;
        // Bind every value in the order written, then build in wire order.
        let bindings = self.fields.iter().map(|field| {
            let name = binding(field.key, field.value.span());
            let value = &field.value;
            match field.key {
                Key::Retry => quote_spanned!(value.span()=> let #name = #value;),
                _ => quote_spanned!(value.span()=> let #name = &(#value);),
            }
        });
        // Each call is a statement of its own, spanned at the user's value,
        // so that a value of the wrong type is reported on that value.
        // The locals take the span of the user's value, hygiene included:
        // rustc reports a failed bound on a call at the call's own span, and
        // maps a span with the macro's hygiene back to the whole invocation.
        // The user's values are all evaluated before these locals exist, so
        // they cannot see them.
        let builder_at = |span: Span| Ident::new("__sse_builder", span);
        // All values of one invocation share the user's hygiene context;
        // the data value's span serves for the first declaration.
        let Some(data) = self.field(Key::Data).or_else(|| self.field(Key::Json)) else {
            unreachable!("validate() reports an event without data");
        };
        let builder = builder_at(data.value.span());
        let mut steps = Vec::new();
        for key in [Key::Event, Key::Id, Key::Retry] {
            if let Some(field) = self.field(key) {
                let name = binding(key, field.value.span());
                let builder = builder_at(field.value.span());
                let method = format_ident!("{}", key.name(), span = field.value.span());
                let argument = match key {
                    Key::Event => text_check(runtime, "EventName", &name),
                    _ => quote!(#name),
                };
                steps.push(quote_spanned! {field.value.span()=>
                    let #builder = #builder.#method(#argument);
                });
            }
        }
        let name = binding(data.key, data.value.span());
        let method = format_ident!("{}", data.key.name(), span = data.value.span());
        let mut payload = quote!(#name);
        if data.key == Key::Data {
            payload = text_check(runtime, "EventData", &name);
            if steps.is_empty() {
                // Text alone cannot be refused: no builder.
                return quote! {{
                    #(#bindings)*
                    ::core::result::Result::<#runtime::__private::Event, #runtime::__private::EventError>::Ok(
                        #runtime::__private::Event::data(#payload)
                    )
                }};
            }
        }
        let finish = quote_spanned!(data.value.span()=> #builder.#method(#payload));
        quote! {{
            #(#bindings)*
            let #builder = #runtime::__private::EventBuilder::default();
            #(#steps)*
            #finish
        }}
    }

    fn field(&self, key: Key) -> Option<&Field> {
        self.fields.iter().find(|field| field.key == key)
    }

    fn validate(&mut self) {
        let mut seen: Vec<Key> = Vec::new();
        for field in &self.fields {
            if seen.contains(&field.key) {
                self.errors.at(
                    field.key_span,
                    format!(
                        "`{}` is specified more than once in `event!`",
                        field.key.name()
                    ),
                );
            } else if matches!(field.key, Key::Data | Key::Json)
                && seen.iter().any(|key| matches!(key, Key::Data | Key::Json))
            {
                self.errors.at(
                    field.key_span,
                    "`event!` takes either `data` or `json`, not both: an event has one data payload",
                );
            }
            seen.push(field.key);
            check_literal(field, &mut self.errors);
        }
        if !self.unknown_key && !seen.iter().any(|key| matches!(key, Key::Data | Key::Json)) {
            const NO_DATA: &str = "`event!` needs data: add `data: \"..\"` (text) or `json: value`; use `data: \"\"` for an event with empty data, or `comment!(..)` for a comment";
            // On the keys written, from the first to the last value: the
            // invocation's own span would name the runtime's hidden macro.
            match (self.fields.first(), self.fields.last()) {
                (Some(first), Some(last)) => {
                    let first = Ident::new("key", first.key_span);
                    let last = &last.value;
                    self.errors.spanned(quote!(#first #last), NO_DATA);
                }
                _ => self.errors.at(Span::call_site(), NO_DATA),
            }
        }
    }
}

/// `binding` (a reference to the user's value, spanned there) as `&str`,
/// through the runtime's text trait `check`: a value that is not text is
/// reported on the user's token with that trait's message, which says what
/// to write instead.
fn text_check(runtime: &TokenStream, check: &str, binding: &Ident) -> TokenStream {
    let check = Ident::new(check, binding.span());
    quote_spanned!(binding.span()=> <_ as #runtime::__private::#check>::as_text(#binding))
}

/// The local holding a key's value, spanned at the value (see `expand`).
fn binding(key: Key, at: Span) -> Ident {
    Ident::new(&format!("__sse_{}", key.name()), at)
}

/// Values written as literals are checked now, since they can never change.
fn check_literal(field: &Field, errors: &mut Errors) {
    match (field.key, &field.value) {
        (Key::Event | Key::Id, Expr::Lit(lit)) => {
            if let Lit::Str(text) = &lit.lit {
                let value = text.value();
                let what = if field.key == Key::Event {
                    "an event name"
                } else {
                    "an event id"
                };
                if value.contains(['\r', '\n']) {
                    errors.spanned(text, format!("{what} cannot contain a line break: it would end the field early and let the rest forge another field"));
                } else if field.key == Key::Id && value.contains('\0') {
                    errors.spanned(
                        text,
                        "an event id cannot contain NUL: browsers ignore such an id",
                    );
                }
            }
        }
        (Key::Retry, Expr::Unary(unary)) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            errors.spanned(
                &field.value,
                "`retry` is a reconnection time in milliseconds and cannot be negative",
            );
        }
        (Key::Retry, Expr::Lit(lit)) if !matches!(lit.lit, Lit::Int(_)) => {
            errors.spanned(
                lit,
                "`retry` takes whole milliseconds (like `retry: 5000`) or a `Duration`",
            );
        }
        _ => {}
    }
}

/// `comment!(text)`, after the `$crate;` the runtime's wrapper puts in front.
pub(crate) struct CommentInput {
    runtime: TokenStream,
    text: Expr,
}

impl Parse for CommentInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let runtime = take_runtime_path(input)?;
        let mut text = input.parse()?;
        // The wrapper passes an `$text:expr`, which arrives in an invisible
        // group spanning the whole `comment!(..)`; the span wanted is the
        // expression's own.
        while let Expr::Group(group) = text {
            text = *group.expr;
        }
        Ok(CommentInput { runtime, text })
    }
}

impl CommentInput {
    /// Text goes through `CommentText`, whose error says what to write
    /// instead of a number, checked on the user's expression.
    pub(crate) fn expand(self) -> TokenStream {
        let CommentInput { runtime, text } = self;
        let text = quote_spanned! {text.span()=>
            <_ as #runtime::__private::CommentText>::as_text(&(#text))
        };
        quote!(#runtime::__private::Comment::new(#text))
    }
}
