//! `#[derive(SseEvent)]`: an enum whose variants are an endpoint's events
//! (or a struct that is one event). Parsed into [`EventType`], validated,
//! then expanded into `SseEvent`, and, with bounds on the payload types
//! that rustc checks only where they are used, `DecodeEvent` and the
//! TypeScript description.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::errors::{closest, Errors};

const TYPE_KEYS: &[&str] = &["crate", "rename"];
const VARIANT_KEYS: &[&str] = &["rename"];

/// The parsed input: the type, its events, and where the runtime is.
struct EventType {
    ident: Ident,
    runtime: TokenStream,
    kind: Kind,
}

enum Kind {
    /// One event per variant.
    Enum(Vec<Variant>),
    /// The whole struct is one event, its data the struct as JSON.
    Struct { name: Name },
}

struct Variant {
    ident: Ident,
    name: Name,
    shape: Shape,
    docs: Vec<String>,
}

/// An event name and the token it came from (the variant, or its
/// `rename`), for errors.
struct Name {
    value: String,
    span: Span,
}

enum Shape {
    Unit,
    Newtype(Box<Type>),
    Tuple(Vec<Type>),
    Struct(Vec<(Ident, Type)>),
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
        return errors.to_compile_errors();
    }
    expand(&model)
}

fn parse(input: &DeriveInput, errors: &mut Errors) -> Option<EventType> {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        errors.at(
            input.generics.span(),
            "`#[derive(SseEvent)]` does not take generic parameters: an endpoint's events are concrete types",
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
            if options.rename.is_some() {
                errors.at(
                    input.ident.span(),
                    "`rename` goes on each variant of an enum: `#[sse(rename = \"..\")]`",
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
                    Variant {
                        name: name_of(&variant.ident, options.rename),
                        ident: variant.ident.clone(),
                        shape: shape_of(&variant.fields),
                        docs: docs_of(&variant.attrs),
                    }
                })
                .collect();
            Kind::Enum(variants)
        }
        Data::Struct(_) => Kind::Struct {
            name: name_of(&input.ident, options.rename),
        },
        Data::Union(_) => {
            errors.spanned(
                &input.ident,
                "`#[derive(SseEvent)]` works on an enum (one variant per event) or a struct (one event), not a union",
            );
            return None;
        }
    };
    Some(EventType {
        ident: input.ident.clone(),
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
            if slot.replace(value).is_some() {
                return Err(meta.error(format!("`{key}` is specified more than once")));
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    options
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

/// `MessageSent` → `message_sent`, as serde's `rename_all = "snake_case"`.
fn snake_case(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, c) in ident.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn shape_of(fields: &Fields) -> Shape {
    match fields {
        Fields::Unit => Shape::Unit,
        Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
            Shape::Newtype(Box::new(fields.unnamed[0].ty.clone()))
        }
        Fields::Unnamed(fields) => Shape::Tuple(
            fields
                .unnamed
                .iter()
                .map(|field| field.ty.clone())
                .collect(),
        ),
        Fields::Named(fields) => Shape::Struct(
            fields
                .named
                .iter()
                .map(|field| (field.ident.clone().expect("named"), field.ty.clone()))
                .collect(),
        ),
    }
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
            .map(|variant| (&variant.name, Some(&variant.ident)))
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

fn expand(model: &EventType) -> TokenStream {
    let ident = &model.ident;
    let runtime = &model.runtime;
    let private = quote!(#runtime::__private);
    match &model.kind {
        Kind::Struct { name } => {
            let name = &name.value;
            let type_name = ident.unraw().to_string();
            quote! {
                impl #private::SseEvent for #ident {
                    const EVENT_NAMES: &'static [&'static str] = &[#name];
                    fn event_name(&self) -> &'static str { #name }
                    fn encode(&self, builder: #private::EventBuilder<'_>)
                        -> ::core::result::Result<#private::Event, #private::EventError> {
                        builder.event(#name).json(self)
                    }
                }
                impl<'__sse_de> #private::DecodeEvent<'__sse_de> for #ident
                where
                    #ident: #private::serde::Deserialize<'__sse_de>,
                {
                    fn decode(name: &str, data: &'__sse_de str)
                        -> ::core::result::Result<Self, #private::DecodeError> {
                        if name != #name {
                            return ::core::result::Result::Err(
                                #private::DecodeError::unknown_name(name, &[#name]),
                            );
                        }
                        #private::decode_json(name, data)
                    }
                }
                impl<'__sse_ts> #private::TypeScriptEvents<'__sse_ts> for #ident
                where
                    #ident: #private::TsPayload<'__sse_ts>,
                {
                    const NAME: &'static str = #type_name;
                    fn describe(out: &mut #private::TsEvents) {
                        let data = <#ident as #private::TsPayload<'__sse_ts>>::describe(out);
                        out.event(#name, &[], data);
                    }
                }
            }
        }
        Kind::Enum(variants) => expand_enum(ident, &private, variants),
    }
}

fn expand_enum(ident: &Ident, private: &TokenStream, variants: &[Variant]) -> TokenStream {
    let type_name = ident.unraw().to_string();
    let names: Vec<&str> = variants.iter().map(|v| v.name.value.as_str()).collect();
    let mut name_arms = Vec::new();
    let mut encode_arms = Vec::new();
    let mut decode_arms = Vec::new();
    let mut describe = Vec::new();
    let mut payload_types: Vec<&Type> = Vec::new();
    for variant in variants {
        let v = &variant.ident;
        let name = &variant.name.value;
        let docs = &variant.docs;
        match &variant.shape {
            Shape::Unit => {
                name_arms.push(quote!(Self::#v => #name));
                encode_arms.push(quote!(Self::#v => builder.event(#name).data("")));
                decode_arms.push(quote! {
                    #name => {
                        #private::decode_unit(name, data)?;
                        ::core::result::Result::Ok(Self::#v)
                    }
                });
                describe.push(quote!(out.event(#name, &[#(#docs),*], #private::TsType::empty());));
            }
            Shape::Newtype(ty) => {
                let ty: &Type = ty;
                payload_types.push(ty);
                name_arms.push(quote!(Self::#v(..) => #name));
                encode_arms.push(
                    quote_spanned!(ty.span()=> Self::#v(value) => builder.event(#name).json(value)),
                );
                decode_arms.push(quote! {
                    #name => {
                        ::core::result::Result::Ok(Self::#v(#private::decode_json::<#ty>(name, data)?))
                    }
                });
                describe.push(quote! {
                    let data = <#ty as #private::TsPayload<'__sse_ts>>::describe(out);
                    out.event(#name, &[#(#docs),*], data);
                });
            }
            Shape::Tuple(types) => {
                payload_types.extend(types.iter());
                let bindings: Vec<Ident> = (0..types.len())
                    .map(|i| format_ident!("__sse_{}", i))
                    .collect();
                name_arms.push(quote!(Self::#v(..) => #name));
                encode_arms.push(quote! {
                    Self::#v(#(#bindings),*) => builder.event(#name).json(&(#(#bindings,)*))
                });
                decode_arms.push(quote! {
                    #name => {
                        let (#(#bindings,)*) = #private::decode_json::<(#(#types,)*)>(name, data)?;
                        ::core::result::Result::Ok(Self::#v(#(#bindings),*))
                    }
                });
                describe.push(quote! {
                    let items = ::std::vec![#(<#types as #private::TsPayload<'__sse_ts>>::describe(out)),*];
                    let data = #private::TsType::tuple(items);
                    out.event(#name, &[#(#docs),*], data);
                });
            }
            Shape::Struct(fields) => {
                payload_types.extend(fields.iter().map(|(_, ty)| ty));
                let field_idents: Vec<&Ident> = fields.iter().map(|(field, _)| field).collect();
                // JSON keys as serde's derive writes them (and the decoder
                // below, a serde derive, reads them): `r#type` is "type".
                let field_names: Vec<String> = field_idents
                    .iter()
                    .map(|field| field.unraw().to_string())
                    .collect();
                let field_types: Vec<&Type> = fields.iter().map(|(_, ty)| ty).collect();
                let generics: Vec<Ident> = (0..fields.len())
                    .map(|i| format_ident!("__SseT{}", i))
                    .collect();
                let indexes = (0..fields.len()).map(syn::Index::from);
                let count = fields.len();
                name_arms.push(quote!(Self::#v { .. } => #name));
                // The fields as one JSON object, serialized by reference: a
                // local type, generic so that it names none of the field
                // types (which may hold lifetimes elided here).
                encode_arms.push(quote! {
                    Self::#v { #(#field_idents),* } => {
                        struct __SseFields<'a, #(#generics: ?::core::marker::Sized),*>(#(&'a #generics),*);
                        impl<#(#generics: #private::serde::Serialize + ?::core::marker::Sized),*>
                            #private::serde::Serialize for __SseFields<'_, #(#generics),*>
                        {
                            fn serialize<S: #private::serde::Serializer>(&self, serializer: S)
                                -> ::core::result::Result<S::Ok, S::Error>
                            {
                                use #private::serde::ser::SerializeMap as _;
                                let mut map = serializer.serialize_map(::core::option::Option::Some(#count))?;
                                #(map.serialize_entry(#field_names, self.#indexes)?;)*
                                map.end()
                            }
                        }
                        builder.event(#name).json(&__SseFields(#(#field_idents),*))
                    }
                });
                let serde_path = format!("{}::serde", private.to_string().replace(' ', ""));
                // Generic over the field types, as on the encoding side: a
                // local struct with the field types written in would have
                // its own `Deserialize` impl checked where the enum is
                // defined, so an enum only a server sends could not have a
                // field that does not deserialize. Instantiated here, its
                // bounds are the impl's `where` clause.
                decode_arms.push(quote! {
                    #name => {
                        #[derive(#private::serde::Deserialize)]
                        #[serde(crate = #serde_path, deny_unknown_fields)]
                        struct __SseFields<#(#generics),*> { #(#field_idents: #generics),* }
                        let fields = #private::decode_json::<__SseFields<#(#field_types),*>>(name, data)?;
                        ::core::result::Result::Ok(Self::#v { #(#field_idents: fields.#field_idents),* })
                    }
                });
                describe.push(quote! {
                    let fields = ::std::vec![#((#field_names, <#field_types as #private::TsPayload<'__sse_ts>>::describe(out))),*];
                    let data = #private::TsType::object(fields);
                    out.event(#name, &[#(#docs),*], data);
                });
            }
        }
    }
    quote! {
        impl #private::SseEvent for #ident {
            const EVENT_NAMES: &'static [&'static str] = &[#(#names),*];
            fn event_name(&self) -> &'static str {
                match self { #(#name_arms,)* }
            }
            fn encode(&self, builder: #private::EventBuilder<'_>)
                -> ::core::result::Result<#private::Event, #private::EventError> {
                match self { #(#encode_arms,)* }
            }
        }
        impl<'__sse_de> #private::DecodeEvent<'__sse_de> for #ident
        where
            #(#payload_types: #private::serde::Deserialize<'__sse_de>,)*
        {
            fn decode(name: &str, data: &'__sse_de str)
                -> ::core::result::Result<Self, #private::DecodeError> {
                match name {
                    #(#decode_arms)*
                    _ => ::core::result::Result::Err(#private::DecodeError::unknown_name(
                        name,
                        <Self as #private::SseEvent>::EVENT_NAMES,
                    )),
                }
            }
        }
        impl<'__sse_ts> #private::TypeScriptEvents<'__sse_ts> for #ident
        where
            #(#payload_types: #private::TsPayload<'__sse_ts>,)*
        {
            const NAME: &'static str = #type_name;
            fn describe(out: &mut #private::TsEvents) {
                #(#describe)*
            }
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
    }
}
