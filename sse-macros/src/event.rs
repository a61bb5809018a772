//! `event!`: parse the keys, check what can be checked at compile time, and
//! expand to an `EventBuilder` chain.
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

impl Parse for EventInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let runtime = take_runtime_path(input)?;
        let mut fields = Vec::new();
        let mut errors = Errors::default();
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
                let ident: Ident = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        format!("expected a key; valid keys are: {}", KEYS.join(", ")),
                    )
                })?;
                input.parse::<Token![:]>()?;
                let value: Expr = input.parse()?;
                let key = match ident.to_string().as_str() {
                    "data" => Some(Key::Data),
                    "json" => Some(Key::Json),
                    "event" => Some(Key::Event),
                    "id" => Some(Key::Id),
                    "retry" => Some(Key::Retry),
                    unknown => {
                        let hint = closest(unknown, KEYS)
                            .map(|near| format!("did you mean `{near}`? "))
                            .unwrap_or_default();
                        errors.spanned(
                            &ident,
                            format!(
                                "unknown key `{unknown}` in `event!`; {hint}valid keys are: {}",
                                KEYS.join(", ")
                            ),
                        );
                        None
                    }
                };
                if let Some(key) = key {
                    fields.push(Field {
                        key,
                        key_span: ident.span(),
                        value,
                    });
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
        })
    }
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
                steps.push(quote_spanned! {field.value.span()=>
                    let #builder = #builder.#method(#name);
                });
            }
        }
        let name = binding(data.key, data.value.span());
        let method = format_ident!("{}", data.key.name(), span = data.value.span());
        if steps.is_empty() && data.key == Key::Data {
            // Text alone cannot be refused: skip the builder, keeping the
            // same method-call shape so that errors land on the value.
            let receiver = builder_at(data.value.span());
            let call = quote_spanned!(data.value.span()=> #receiver.data(#name));
            return quote! {{
                #(#bindings)*
                let #builder = #runtime::__private::TextEvent;
                #call
            }};
        }
        let receiver = builder_at(data.value.span());
        let finish = quote_spanned!(data.value.span()=> #receiver.#method(#name));
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
        if !seen.iter().any(|key| matches!(key, Key::Data | Key::Json)) {
            self.errors.at(
                Span::call_site(),
                "`event!` needs data: add `data: \"..\"` (text) or `json: value`; use `data: \"\"` for an event with empty data, or `comment!(..)` for a comment",
            );
        }
    }
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
