//! The handler's options: `#[sse_handler(keep_alive = "15s", error_event = true, compress = true, retry = "3s", crate = "path")]`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitBool, LitStr, Token};

use crate::errors::{closest, Errors};

const KEYS: &[&str] = &[
    "keep_alive",
    "error_event",
    "compress",
    "retry",
    "retry_jitter",
    "on_close",
    "state",
    "events",
    "crate",
];

/// The option names, parsed as keywords; `crate` is Rust's own.
mod kw {
    syn::custom_keyword!(keep_alive);
    syn::custom_keyword!(error_event);
    syn::custom_keyword!(compress);
    syn::custom_keyword!(retry);
    syn::custom_keyword!(retry_jitter);
    syn::custom_keyword!(on_close);
    syn::custom_keyword!(state);
    syn::custom_keyword!(events);
}

/// The parsed options, each with the span of the token that set it.
#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub(crate) keep_alive: Option<(KeepAlive, Span)>,
    pub(crate) error_event: Option<LitBool>,
    /// `compress = true`: gzip or zstd, as the client accepts.
    pub(crate) compress: Option<LitBool>,
    /// The stream's first `retry:`, in milliseconds.
    pub(crate) retry: Option<u64>,
    /// The most milliseconds each stream adds to `retry`, at random.
    pub(crate) retry_jitter: Option<u64>,
    pub(crate) krate: Option<TokenStream>,
    /// The router's state type, for checking the arguments are extractors.
    pub(crate) state: Option<syn::Type>,
    /// A function or closure of `&StreamSummary` to call when the stream
    /// ends; evaluated in the handler, where its arguments are in scope.
    pub(crate) on_close: Option<syn::Expr>,
    /// The `#[derive(SseEvent)]` type every `yield` must send.
    pub(crate) events: Option<syn::Type>,
}

pub(crate) enum KeepAlive {
    Off,
    Every { milliseconds: u64 },
}

impl HandlerArgs {
    /// Parses the options, recording every error in `errors` and keeping the
    /// options that were valid.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> HandlerArgs {
        let mut args = HandlerArgs::default();
        let parser = |input: ParseStream| {
            while !input.is_empty() {
                args.parse_one(input, errors)?;
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        if let Err(error) = syn::parse::Parser::parse2(parser, tokens) {
            errors.push(error);
        }
        args
    }

    fn parse_one(&mut self, input: ParseStream, errors: &mut Errors) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::keep_alive) {
            let key: kw::keep_alive = input.parse()?;
            let value: syn::Lit = value_of(input, "keep_alive")?;
            if self.keep_alive.is_some() {
                errors.spanned(key, "`keep_alive` is specified more than once");
            }
            if let Some(parsed) = parse_keep_alive(&value, errors) {
                self.keep_alive = Some((parsed, key.span));
            }
        } else if lookahead.peek(kw::error_event) {
            let key: kw::error_event = input.parse()?;
            let value: syn::Lit = value_of(input, "error_event")?;
            if self.error_event.is_some() {
                errors.spanned(key, "`error_event` is specified more than once");
            }
            match value {
                syn::Lit::Bool(flag) => self.error_event = Some(flag),
                other => errors.spanned(other, "`error_event` takes `true` or `false`"),
            }
        } else if lookahead.peek(kw::compress) {
            let key: kw::compress = input.parse()?;
            let value: syn::Lit = value_of(input, "compress")?;
            if self.compress.is_some() {
                errors.spanned(key, "`compress` is specified more than once");
            }
            match value {
                syn::Lit::Bool(flag) => self.compress = Some(flag),
                other => errors.spanned(other, "`compress` takes `true` or `false`"),
            }
        } else if lookahead.peek(kw::retry_jitter) {
            let key: kw::retry_jitter = input.parse()?;
            let value: syn::Lit = value_of(input, "retry_jitter")?;
            if self.retry_jitter.is_some() {
                errors.spanned(key, "`retry_jitter` is specified more than once");
            }
            if let Some(milliseconds) = parse_retry(&value, "retry_jitter", errors) {
                self.retry_jitter.get_or_insert(milliseconds);
            }
        } else if lookahead.peek(kw::retry) {
            let key: kw::retry = input.parse()?;
            let value: syn::Lit = value_of(input, "retry")?;
            if self.retry.is_some() {
                errors.spanned(key, "`retry` is specified more than once");
            }
            if let Some(milliseconds) = parse_retry(&value, "retry", errors) {
                self.retry.get_or_insert(milliseconds);
            }
        } else if lookahead.peek(kw::on_close) {
            let key: kw::on_close = input.parse()?;
            equals_after(input, "on_close")?;
            let callback: syn::Expr = input.parse().map_err(|error| {
                syn::Error::new(error.span(), "`on_close` takes a function or closure of `&StreamSummary`, like `on_close = record_close` or `on_close = move |summary| ..`")
            })?;
            if self.on_close.replace(callback).is_some() {
                errors.spanned(key, "`on_close` is specified more than once");
            }
        } else if lookahead.peek(kw::state) {
            let key: kw::state = input.parse()?;
            let state: syn::Type = value_of(input, "state")?;
            if self.state.replace(state).is_some() {
                errors.spanned(key, "`state` is specified more than once");
            }
        } else if lookahead.peek(kw::events) {
            const USAGE: &str = "`events` takes a type, like `events = Chat`";
            let key: kw::events = input.parse()?;
            equals_after(input, "events")?;
            if input.peek(syn::Lit) {
                // `events = "Chat"`: said as what to write, not as syn's
                // list of what may begin a type.
                let literal: syn::Lit = input.parse()?;
                errors.spanned(literal, USAGE);
                return Ok(());
            }
            let events: syn::Type = input
                .parse()
                .map_err(|error| syn::Error::new(error.span(), USAGE))?;
            if self.events.is_some() {
                errors.spanned(key, "`events` is specified more than once");
            } else {
                self.events = Some(events);
            }
        } else if lookahead.peek(Token![crate]) {
            let key: Token![crate] = input.parse()?;
            let value: syn::Lit = value_of(input, "crate")?;
            if self.krate.is_some() {
                errors.spanned(key, "`crate` is specified more than once");
            }
            match value {
                syn::Lit::Str(path) => match path.parse::<syn::Path>() {
                    Ok(path) => self.krate = Some(path.to_token_stream()),
                    Err(_) => errors.spanned(
                        path,
                        "`crate` takes a path, like `crate = \"my_crate::sse\"`",
                    ),
                },
                other => errors.spanned(
                    other,
                    "`crate` takes a path in a string, like `crate = \"my_crate::sse\"`",
                ),
            }
        } else if input.peek(Ident::peek_any) {
            let key = Ident::parse_any(input)?;
            let unknown = key.to_string();
            let hint = closest(&unknown, KEYS)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            errors.spanned(
                &key,
                format!(
                    "unknown option `{unknown}`; {hint}valid options are: {}",
                    KEYS.join(", ")
                ),
            );
            // Read past the value, so that later options are checked too.
            let _: syn::Expr = value_of(input, &unknown)?;
        } else {
            return Err(syn::Error::new(
                lookahead.error().span(),
                format!("expected an option; valid options are: {}", KEYS.join(", ")),
            ));
        }
        Ok(())
    }

    /// The runtime path, `::sse_runtime` unless `crate = ".."` says otherwise.
    pub(crate) fn runtime_path(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.clone(),
            None => quote!(::sse_runtime),
        }
    }
}

/// The `=` after the option `key`.
fn equals_after(input: ParseStream, key: &str) -> syn::Result<()> {
    input
        .parse::<Token![=]>()
        .map(drop)
        .map_err(|error| syn::Error::new(error.span(), format!("expected `=` after `{key}`")))
}

/// `= value` after the option `key`.
fn value_of<T: syn::parse::Parse>(input: ParseStream, key: &str) -> syn::Result<T> {
    equals_after(input, key)?;
    input.parse()
}

fn parse_keep_alive(value: &syn::Lit, errors: &mut Errors) -> Option<KeepAlive> {
    const USAGE: &str = "`keep_alive` takes an interval like \"15s\", \"500ms\", \"2m\" or \"1h\", or `false` to turn keep-alive off";
    match value {
        syn::Lit::Bool(LitBool { value: false, .. }) => Some(KeepAlive::Off),
        syn::Lit::Str(text) => match parse_duration(text) {
            Ok(0) => {
                errors.spanned(text, "a keep-alive interval of zero would flood the client; use `keep_alive = false` to turn keep-alive off");
                None
            }
            Ok(milliseconds) => Some(KeepAlive::Every { milliseconds }),
            Err(()) => {
                errors.spanned(text, USAGE);
                None
            }
        },
        other => {
            errors.spanned(other, USAGE);
            None
        }
    }
}

/// The longest `retry` or `retry_jitter`, in milliseconds: what a
/// JavaScript timer can wait, as the runtime caps what it sends.
const LONGEST_RETRY: u64 = 2_147_483_647;

/// A `retry` or `retry_jitter` value: a duration, zero allowed, at most
/// [`LONGEST_RETRY`].
fn parse_retry(value: &syn::Lit, key: &str, errors: &mut Errors) -> Option<u64> {
    let usage = format!("`{key}` takes a duration like \"3s\", \"500ms\" or \"1m\"");
    match value {
        syn::Lit::Str(text) => match parse_duration(text) {
            Ok(milliseconds) if milliseconds > LONGEST_RETRY => {
                errors.spanned(
                    text,
                    format!(
                        "`{key}` is at most 2147483647ms (about 596h, the longest a JavaScript timer waits; clients on one reconnect at once when told longer)"
                    ),
                );
                None
            }
            Ok(milliseconds) => Some(milliseconds),
            Err(()) => {
                errors.spanned(text, usage);
                None
            }
        },
        other => {
            errors.spanned(other, usage);
            None
        }
    }
}

/// `"15s"` → 15000. Whole numbers with a unit of `ms`, `s`, `m` or `h`.
fn parse_duration(text: &LitStr) -> Result<u64, ()> {
    let text = text.value();
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or(())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| ())?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(()),
    };
    number.checked_mul(scale).ok_or(())
}
