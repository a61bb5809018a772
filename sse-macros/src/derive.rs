//! `#[derive(SseEvent)]`: an enum whose variants are an endpoint's events
//! (or a struct that is one event). Parsed into [`EventType`], a view of
//! the input that keeps its syn nodes (and so their spans), validated, then
//! expanded: `derive_expand.rs` writes `SseEvent` and `DecodeEvent` over a
//! hidden copy of the enum that serde's derive serializes and reads,
//! `derive_ts.rs` the TypeScript description.
//!
//! An event's name is its variant's name in snake_case, as serde's
//! `rename_all = "snake_case"` writes it, or `#[sse(rename = "..")]`. Its
//! data is whatever serde writes for the variant's content, with the
//! user's `#[serde(..)]` attributes; nothing here decides JSON.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Ident, LitStr};

use crate::errors::{closest, Errors};

const TYPE_KEYS: &[&str] = &["crate", "rename"];
const VARIANT_KEYS: &[&str] = &["rename"];

/// Keys of an enum's `#[serde(..)]` that shape the whole enum as one JSON
/// value (a tag inside it or beside it, none, another type's JSON): an
/// event's data could not be what serde writes for it, so they are
/// refused rather than left out in silence.
const ONE_VALUE_KEYS: &[&str] = &["tag", "content", "untagged", "into", "from", "try_from"];

/// The parsed input: the type, its events, and where the runtime is.
pub(crate) struct EventType<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) runtime: TokenStream,
    pub(crate) kind: Kind<'a>,
}

pub(crate) enum Kind<'a> {
    /// One event per variant.
    Enum(Vec<Variant<'a>>),
    /// The whole struct is one event, its data the struct as serde writes
    /// it.
    Struct { name: Name },
}

pub(crate) struct Variant<'a> {
    pub(crate) variant: &'a syn::Variant,
    pub(crate) name: Name,
    pub(crate) docs: Vec<String>,
    /// The type of each field, as the hidden types name it: `Self` in it is
    /// the enum (in a hidden type, `Self` would be that type).
    pub(crate) types: Vec<syn::Type>,
}

impl Variant<'_> {
    pub(crate) fn is_unit(&self) -> bool {
        matches!(self.variant.fields, syn::Fields::Unit)
    }
}

/// An event name and the token it came from (the variant, or its
/// `rename`), for errors.
pub(crate) struct Name {
    pub(crate) value: String,
    pub(crate) span: Span,
}

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let Some(model) = parse(&input, &mut errors) else {
        return errors.to_compile_errors();
    };
    validate(&model, &mut errors);
    if !errors.is_empty() {
        // The errors, and a stand-in impl, so that the places using the
        // type report nothing more.
        let errors = errors.to_compile_errors();
        // Not for a generic type: it would need the generics it has not.
        let fallback = input
            .generics
            .params
            .is_empty()
            .then(|| crate::derive_expand::fallback(&model));
        return quote!(#errors const _: () = { #fallback };);
    }
    let events = crate::derive_expand::expand(&model);
    let typescript = crate::derive_ts::expand(&model);
    // In a block of its own: the hidden types it declares are seen by
    // nothing else.
    quote! {
        const _: () = {
            #events
            #typescript
        };
    }
}

fn parse<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<EventType<'a>> {
    if !input.generics.params.is_empty() {
        errors.spanned(
            &input.generics.params,
            "`#[derive(SseEvent)]` does not take generic parameters: an endpoint's events are concrete types",
        );
    } else if let Some(clause) = &input.generics.where_clause {
        errors.spanned(
            clause.where_token,
            "`#[derive(SseEvent)]` does not take a `where` clause: an endpoint's events are concrete types",
        );
    }
    let options = sse_options(&input.attrs, TYPE_KEYS, errors);
    let runtime = match options.krate {
        Some(path) => match path.parse::<syn::Path>() {
            Ok(path) => quote!(#path),
            Err(_) => {
                errors.spanned(
                    &path,
                    "`crate` takes a path, like `crate = \"my_crate::sse\"`",
                );
                quote!(::sse_runtime)
            }
        },
        None => quote!(::sse_runtime),
    };
    let kind = match &input.data {
        Data::Enum(data) => {
            if let Some(rename) = &options.rename {
                errors.spanned(
                    rename,
                    "`rename` goes on each variant of an enum: `#[sse(rename = \"..\")]`",
                );
            }
            // One error, on the first (`tag` and `content` are one
            // choice).
            if let Some(item) = crate::attrs::items(&input.attrs, "serde")
                .into_iter()
                .find(|item| ONE_VALUE_KEYS.iter().any(|key| item.key == key))
            {
                errors.spanned(
                    &item.key,
                    format!(
                        "`#[serde({})]` describes the enum as one JSON value, which an event is not: \
                         its name is the `event:` field and its data the variant's content; \
                         derive `SseEvent` on an enum without it",
                        item.key
                    ),
                );
            }
            if data.variants.is_empty() {
                errors.spanned(
                    &input.ident,
                    "an SSE event enum needs at least one variant: one per event",
                );
            }
            let variants = data
                .variants
                .iter()
                .map(|variant| {
                    let options = sse_options(&variant.attrs, VARIANT_KEYS, errors);
                    fields_have_no_sse_options(&variant.fields, errors);
                    if matches!(variant.fields, syn::Fields::Unit) {
                        unit_has_no_serde_data_keys(variant, errors);
                    }
                    Variant {
                        name: name_of(&variant.ident, options.rename),
                        variant,
                        docs: docs_of(&variant.attrs),
                        types: variant
                            .fields
                            .iter()
                            .map(|field| without_self(&field.ty, &input.ident))
                            .collect(),
                    }
                })
                .collect();
            Kind::Enum(variants)
        }
        Data::Struct(data) => {
            fields_have_no_sse_options(&data.fields, errors);
            Kind::Struct {
                name: name_of(&input.ident, options.rename),
            }
        }
        Data::Union(_) => {
            errors.spanned(
                &input.ident,
                "`#[derive(SseEvent)]` works on an enum (one variant per event) or a struct (one event), not a union",
            );
            return None;
        }
    };
    Some(EventType {
        input,
        runtime,
        kind,
    })
}

#[derive(Default)]
struct Options {
    krate: Option<LitStr>,
    rename: Option<LitStr>,
}

/// Reads `#[sse(key = "value", ..)]` attributes; `valid` lists the keys
/// allowed where they are.
fn sse_options(attrs: &[syn::Attribute], valid: &[&str], errors: &mut Errors) -> Options {
    let mut options = Options::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("sse")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(Ident::to_string)
                .unwrap_or_default();
            let slot = match key.as_str() {
                "crate" if valid.contains(&"crate") => &mut options.krate,
                "rename" if valid.contains(&"rename") => &mut options.rename,
                _ => {
                    let hint = closest(&key, valid)
                        .map(|near| format!("did you mean `{near}`? "))
                        .unwrap_or_default();
                    return Err(meta.error(format!(
                        "unknown key `{key}` in `#[sse(..)]`; {hint}valid keys here: {}",
                        valid.join(", ")
                    )));
                }
            };
            let takes_a_string = |span| {
                syn::Error::new(
                    span,
                    format!("`{key}` takes a string, like `{key} = \"..\"`"),
                )
            };
            // `#[sse(rename)]` alone: said as a missing value, not syn's
            // "expected `=`".
            let value: LitStr = meta
                .value()
                .map_err(|_| takes_a_string(meta.path.span()))?
                .parse()
                .map_err(|error: syn::Error| takes_a_string(error.span()))?;
            // The first value stays: the error is on the second, and the
            // rest of the type is checked as if it were not there.
            if slot.is_some() {
                return Err(meta.error(format!("`{key}` is specified more than once")));
            }
            *slot = Some(value);
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    options
}

/// Keys of a variant's `#[serde(..)]` that decide its data. A unit
/// variant's event has none (empty data, not serde's), so there they are
/// errors, not left out in silence.
const UNIT_DATA_KEYS: &[&str] = &[
    "skip",
    "skip_serializing",
    "skip_deserializing",
    "serialize_with",
    "deserialize_with",
    "with",
];

fn unit_has_no_serde_data_keys(variant: &syn::Variant, errors: &mut Errors) {
    for item in crate::attrs::items(&variant.attrs, "serde") {
        if item.key == "other" {
            errors.spanned(
                &item.key,
                "`other` does nothing on an event: an unknown event name decodes to a \
                 `DecodeError` (its `is_unknown_name()` says so), not to a variant; drop `other`",
            );
        } else if UNIT_DATA_KEYS.iter().any(|key| item.key == key) {
            errors.spanned(
                &item.key,
                format!(
                    "`{}` does nothing on a unit variant: its event is sent with empty data and read \
                     back by its name; give the variant a field for serde to write, or drop `{}`",
                    item.key, item.key
                ),
            );
        }
    }
}

/// `#[sse(..)]` on a field does nothing: each key there is an error.
fn fields_have_no_sse_options(fields: &syn::Fields, errors: &mut Errors) {
    for attr in fields
        .iter()
        .flat_map(|field| &field.attrs)
        .filter(|attr| attr.path().is_ident("sse"))
    {
        let mut keys = 0;
        let _ = attr.parse_nested_meta(|meta| {
            keys += 1;
            let key = meta
                .path
                .get_ident()
                .map(Ident::to_string)
                .unwrap_or_default();
            errors.spanned(
                &meta.path,
                format!(
                    "`{key}` does nothing on a field: `#[sse(..)]` goes on the type or a variant; \
                     a field's JSON is serde's, so rename or skip it with `#[serde(..)]`"
                ),
            );
            // Read past the value, so that every key is reported.
            if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                let _: proc_macro2::Group = meta.input.parse()?;
            }
            Ok(())
        });
        if keys == 0 {
            errors.spanned(
                attr,
                "`#[sse(..)]` does nothing on a field: it goes on the type or a variant",
            );
        }
    }
}

fn name_of(ident: &Ident, rename: Option<LitStr>) -> Name {
    match rename {
        Some(rename) => Name {
            value: rename.value(),
            span: rename.span(),
        },
        // Without the `r#` of a raw identifier, as serde names it.
        None => Name {
            value: snake_case(&ident.unraw().to_string()),
            span: ident.span(),
        },
    }
}

/// `MessageSent` → `message_sent`: serde's `rename_all = "snake_case"`
/// rule, character for character (serde_derive's `RenameRule::SnakeCase`):
/// an underscore before every uppercase letter but the first, in any
/// script, and ASCII letters made lowercase; other letters keep their case
/// (`ÉtatChangé` → `État_changé`).
fn snake_case(ident: &str) -> String {
    let mut snake = String::with_capacity(ident.len() + 4);
    for (i, ch) in ident.char_indices() {
        if i > 0 && ch.is_uppercase() {
            snake.push('_');
        }
        snake.push(ch.to_ascii_lowercase());
    }
    snake
}

/// The path of one of the runtime's traits, for an `impl .. for Type`: its
/// tokens carry the type's own span, so that rustc does not take the impl
/// for one a derive wrote for a type parameter (it would say a "type
/// parameter would need to implement" the trait, and suggest "manually
/// implementing" it: the derive's bounds are on payload types, and the
/// traits are not for users to implement).
pub(crate) fn trait_path(runtime: &TokenStream, name: &str, ident: &Ident) -> TokenStream {
    let name = Ident::new(name, ident.span());
    respan(quote!(#runtime::__private::#name), ident.span())
}

/// `tokens`, inside groups too, with `span` (its place and its hygiene).
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = inner.into();
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// `ty` with each `Self` in it (`Vec<Self>`, `Option<Box<Self>>`) written
/// as the type's own name, spanned where `Self` was.
fn without_self(ty: &syn::Type, ident: &Ident) -> syn::Type {
    struct Replace<'a>(&'a Ident);
    impl syn::visit_mut::VisitMut for Replace<'_> {
        fn visit_path_mut(&mut self, path: &mut syn::Path) {
            if let Some(first) = path.segments.first_mut() {
                if first.ident == "Self" {
                    let mut ident = self.0.clone();
                    ident.set_span(first.ident.span());
                    first.ident = ident;
                }
            }
            syn::visit_mut::visit_path_mut(self, path);
        }
        // A type inside an item of its own (`[u8; { struct S; 1 }]`) has
        // a `Self` of its own.
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Replace(ident), &mut ty);
    ty
}

fn docs_of(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(meta) => match &meta.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) => Some(text.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn validate(model: &EventType, errors: &mut Errors) {
    let names: Vec<(&Name, Option<&Ident>)> = match &model.kind {
        Kind::Enum(variants) => variants
            .iter()
            .map(|variant| (&variant.name, Some(&variant.variant.ident)))
            .collect(),
        Kind::Struct { name } => vec![(name, None)],
    };
    for (i, (name, variant)) in names.iter().enumerate() {
        if name.value.is_empty() {
            errors.at(
                name.span,
                "an event name must not be empty: the browser would dispatch the event as `message`",
            );
        }
        if name.value.contains(['\n', '\r']) {
            errors.at(
                name.span,
                "an event name cannot hold a line break (CR or LF): it would end the `event:` line",
            );
        }
        if let Some((_, Some(first))) = names[..i]
            .iter()
            .find(|(earlier, _)| earlier.value == name.value)
        {
            let this = variant.map(Ident::to_string).unwrap_or_default();
            errors.at(
                name.span,
                format!(
                    "event name `{}` is already used by variant `{first}`; give `{this}` another with `#[sse(rename = \"..\")]`",
                    name.value
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn names_are_snake_case_as_serde_writes_them() {
        assert_eq!(snake_case("Message"), "message");
        assert_eq!(snake_case("MessageSent"), "message_sent");
        assert_eq!(snake_case("A"), "a");
        assert_eq!(snake_case("HTTPError"), "h_t_t_p_error");
        assert_eq!(snake_case("ÉtatChangé"), "État_changé");
        assert_eq!(snake_case("Ωmega"), "Ωmega");
    }
}
