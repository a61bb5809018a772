//! `SseEvent` and `DecodeEvent` for a parsed event type.
//!
//! For an enum, the JSON is serde's: a hidden copy of the enum carries the
//! user's `#[serde(..)]` attributes and derives `Serialize` and
//! `Deserialize` as a remote definition of it (`#[serde(remote = "..")]`,
//! as serde's docs do for a type of another crate), each variant renamed
//! to its event name. The runtime's `VariantContent` and `VariantData`
//! (`sse-runtime/src/variant.rs`) turn serde's externally tagged variant
//! into an event's data and back. The copy names the user's field types as
//! they are, so a field that is not `Serialize` is reported by serde's
//! derive on that field.
//!
//! Decoding is implemented only where the payload types allow it: its
//! bounds are written `for<'__sse> Type: Trait`, which rustc checks where
//! `decode` is used rather than here, so an enum only a server sends need
//! not be deserializable. A payload that holds a reference (`&str`) cannot
//! be decoded into a value that outlives the received text, so no impl is
//! written at all, and using one reports `DecodeEvent`'s own message.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Fields, Type};

use crate::attrs::{self, Item};
use crate::derive::{respan, trait_path, EventType, Kind, Variant};

/// Keys of the enum's own `#[serde(..)]` that apply to its variants'
/// content. The others name its variants (`rename_all`), which an event's
/// name does not follow, or describe the enum as one value (`tag`,
/// `untagged`, `into`, ..: refused by `derive.rs`), which an event is not:
/// its name is its `event:` field.
const ENUM_KEYS: &[&str] = &["rename_all_fields", "deny_unknown_fields", "expecting"];

/// Keys of a variant's `#[serde(..)]` left out of the copy: the copy names
/// each variant after its event, and reads it only by that name.
/// (`borrow`: see `mirror_variant`.)
const VARIANT_KEYS_LEFT_OUT: &[&str] = &["rename", "alias", "untagged", "other", "bound", "borrow"];

pub(crate) fn expand(model: &EventType) -> TokenStream {
    match &model.kind {
        Kind::Struct { name } => expand_struct(model, &name.value),
        Kind::Enum(variants) => expand_enum(model, variants),
    }
}

fn expand_struct(model: &EventType, name: &str) -> TokenStream {
    let ident = &model.input.ident;
    let runtime = &model.runtime;
    let private = quote!(#runtime::__private);
    let sse_event = trait_path(runtime, "SseEvent", ident);
    let decode_event = trait_path(runtime, "DecodeEvent", ident);
    quote! {
        impl #sse_event for #ident {
            type Events = Self;
            const EVENT_NAMES: &'static [&'static str] = &[#name];
            fn event_name(&self) -> &'static str { #name }
            fn encode(&self, builder: #private::EventBuilder<'_>)
                -> ::core::result::Result<#private::Event, #private::EventError> {
                builder.event(#name).json(self)
            }
        }
        impl #decode_event for #ident
        where
            for<'__sse> #ident: #private::serde::de::DeserializeOwned,
        {
            fn decode(name: &str, data: &str)
                -> ::core::result::Result<Self, #private::DecodeError> {
                #private::decode_struct(name, data)
            }
        }
    }
}

/// The path serde's `crate = ".."` takes, as a string.
fn serde_path(runtime: &TokenStream) -> String {
    format!("{}::__private::serde", runtime).replace(' ', "")
}

fn expand_enum(model: &EventType, variants: &[Variant]) -> TokenStream {
    let ident = &model.input.ident;
    let runtime = &model.runtime;
    let private = quote!(#runtime::__private);
    // Hidden names, each of a prefix no other one has, so that no type or
    // variant name makes two of them one (`__SseSerde` + the type, the
    // `__SseTs` + variant of `derive_ts.rs`, `__SseContent`).
    let mirror = format_ident!("__SseSerde{}", ident.unraw());
    let names: Vec<&str> = variants.iter().map(|v| v.name.value.as_str()).collect();

    let mut name_arms = Vec::new();
    let mut encode_arms = Vec::new();
    let mut unit_arms = Vec::new();
    for variant in variants {
        let v = &variant.variant.ident;
        let name = &variant.name.value;
        let pattern = match &variant.variant.fields {
            Fields::Unit => quote!(Self::#v),
            Fields::Unnamed(_) => quote!(Self::#v(..)),
            Fields::Named(_) => quote!(Self::#v { .. }),
        };
        name_arms.push(quote!(#pattern => #name));
        if variant.is_unit() {
            encode_arms.push(quote!(#pattern => builder.event(#name).data("")));
            unit_arms.push(quote! {
                #name => #private::decode_unit::<Self>(name, data).map(|()| Self::#v),
            });
        } else {
            encode_arms.push(quote! {
                #pattern => (&#private::Content(&__SseContent(self))).encode_json(builder.event(#name))
            });
        }
    }

    let serde = serde_path(runtime);
    let remote = ident.to_string();
    let encoding = Encoding::of(variants, &private);
    let decoding = Decoding::of(variants, &private);
    let deserialize_derive = decoding
        .decodable
        .then(|| quote!(#private::serde::Deserialize,));
    // Every bound of serde's impls is ours, and none is checked here (see
    // `Encoding` and `Decoding`).
    let bound = {
        let serialize = encoding.bounds.serde.join(", ");
        let deserialize = decoding.bounds.serde.join(", ");
        quote!(#[serde(bound(serialize = #serialize, deserialize = #deserialize))])
    };
    let checks = &encoding.checks;
    let serialize_bounds = &encoding.bounds.rust;
    let enum_items: Vec<Item> = attrs::items(&model.input.attrs, "serde")
        .into_iter()
        .filter(|item| ENUM_KEYS.iter().any(|key| item.key == key))
        .collect();
    let enum_serde = attrs::attribute("serde", &enum_items);
    let mirror_variants = variants.iter().map(mirror_variant);

    let sse_event = trait_path(runtime, "SseEvent", ident);
    let decode_event = trait_path(runtime, "DecodeEvent", ident);
    let decode = decoding.decodable.then(|| {
        let bounds = &decoding.bounds.rust;
        quote! {
            impl #decode_event for #ident
            where
                #(#bounds,)*
            {
                fn decode(name: &str, data: &str)
                    -> ::core::result::Result<Self, #private::DecodeError> {
                    match name {
                        #(#unit_arms)*
                        _ => #private::decode_variant::<Self>(name, data, |variant| #mirror::deserialize(variant)),
                    }
                }
            }
        }
    });

    // serde's derive writes `serialize` and `deserialize` on the copy as
    // inherent functions. Where it reports an error in the user's
    // attributes it writes neither, and these stand-ins (a path picks an
    // inherent function over a trait's, so they are used only then) keep
    // its error the only one.
    let fallback_deserialize = decoding.decodable.then(|| {
        quote! {
            fn deserialize<'de, __D: #private::serde::Deserializer<'de>>(_: __D)
                -> ::core::result::Result<#ident, __D::Error> {
                ::core::unreachable!()
            }
        }
    });

    quote! {
        // Each payload field serde writes is `Serialize`: checked here, on
        // the field, once.
        const _: () = {
            #(#checks)*
        };

        /// The enum as serde writes and reads its events: see `variant.rs`.
        // The derives by path: a `use` of serde here would stand for the
        // user's own `serde` (a module) in the payload types' paths.
        #[derive(#private::serde::Serialize, #deserialize_derive)]
        #[serde(crate = #serde, remote = #remote)]
        #bound
        #enum_serde
        #[allow(dead_code, non_camel_case_types, clippy::all)]
        enum #mirror {
            #(#mirror_variants,)*
        }

        #[allow(dead_code)]
        trait __SseFallback {
            fn serialize<__S: #private::serde::Serializer>(_: &#ident, _: __S)
                -> ::core::result::Result<__S::Ok, __S::Error> {
                ::core::unreachable!()
            }
            #fallback_deserialize
        }
        impl __SseFallback for #mirror {}

        impl #sse_event for #ident {
            type Events = Self;
            const EVENT_NAMES: &'static [&'static str] = &[#(#names),*];
            fn event_name(&self) -> &'static str {
                match self { #(#name_arms,)* }
            }
            fn encode(&self, builder: #private::EventBuilder<'_>)
                -> ::core::result::Result<#private::Event, #private::EventError> {
                use #private::{SerializeContent as _, UncheckedContent as _};
                struct __SseContent<'__sse>(&'__sse #ident);
                impl #private::serde::Serialize for __SseContent<'_>
                where
                    #(#serialize_bounds,)*
                {
                    fn serialize<__S: #private::serde::Serializer>(&self, serializer: __S)
                        -> ::core::result::Result<__S::Ok, __S::Error> {
                        #mirror::serialize(self.0, #private::VariantContent::new(serializer))
                    }
                }
                match self { #(#encode_arms,)* }
            }
        }

        #decode
    }
}

/// One variant of the hidden copy: named after its event, with the user's
/// `#[serde(..)]` on it (less what the copy decides) and on its fields.
fn mirror_variant(variant: &Variant) -> TokenStream {
    let syn::Variant { ident, fields, .. } = variant.variant;
    let name = &variant.name.value;
    let items: Vec<Item> = attrs::items(&variant.variant.attrs, "serde")
        .into_iter()
        .filter(|item| !VARIANT_KEYS_LEFT_OUT.iter().any(|key| item.key == key))
        .collect();
    let serde = attrs::attribute("serde", &items);
    let fields = fields.iter().zip(&variant.types).map(|(field, ty)| {
        // Less `borrow`: a decoded event owns its data (it outlives the
        // text it was read from), and serde's borrowing of a `'static`
        // field from input of any lifetime does not compile.
        let serde = attrs::named_without(&field.attrs, "serde", "borrow");
        match &field.ident {
            Some(name) => quote!(#(#serde)* #name: #ty),
            None => quote!(#(#serde)* #ty),
        }
    });
    let fields = match &variant.variant.fields {
        Fields::Unit => quote!(),
        Fields::Unnamed(_) => quote!((#(#fields),*)),
        Fields::Named(_) => quote!({ #(#fields),* }),
    };
    quote! {
        #[serde(rename = #name)]
        #serde
        #ident #fields
    }
}

/// Bounds on payload types, written twice: as where predicates, and as
/// the strings of serde's `bound(..)` on the hidden copy. Each is
/// `for<'__sse> Type: Trait`: rustc checks a bound that names a lifetime
/// where the impl is used, not where it is written.
#[derive(Default)]
struct Bounds {
    rust: Vec<TokenStream>,
    serde: Vec<String>,
}

impl Bounds {
    /// `ty: bound`, and `ty: serde_bound` for serde (whose impls name their
    /// lifetime `'de`).
    fn push(&mut self, ty: &Type, bound: TokenStream, serde_bound: Option<TokenStream>) {
        // Spanned at the field's type, the bound's path too: an unmet
        // bound names it there.
        let span = syn::spanned::Spanned::span(ty);
        let rust_bound = respan(bound.clone(), span);
        self.rust
            .push(quote_spanned!(span=> for<'__sse> #ty: #rust_bound));
        let serde_bound = serde_bound.unwrap_or(bound);
        self.serde
            .push(quote!(for<'__sse> #ty: #serde_bound).to_string());
    }
}

/// The fields serde writes, and what writing them needs: each is
/// `Serialize`, unless a function of the user's writes it
/// (`serialize_with`, `with`) or it is skipped.
struct Encoding {
    bounds: Bounds,
    /// `<Type as Serialize>::serialize::<..>` for each, spanned at its type:
    /// a type that is not `Serialize` is one error, there.
    checks: Vec<TokenStream>,
}

impl Encoding {
    fn of(variants: &[Variant], private: &TokenStream) -> Encoding {
        let mut encoding = Encoding {
            bounds: Bounds::default(),
            checks: Vec::new(),
        };
        for variant in variants {
            let variant_items = attrs::items(&variant.variant.attrs, "serde");
            if ["serialize_with", "with", "skip", "skip_serializing"]
                .iter()
                .any(|key| attrs::has(&variant_items, key))
            {
                continue;
            }
            for (field, ty) in variant.variant.fields.iter().zip(&variant.types) {
                let items = attrs::items(&field.attrs, "serde");
                if ["skip", "skip_serializing", "serialize_with", "with"]
                    .iter()
                    .any(|key| attrs::has(&items, key))
                {
                    continue;
                }
                encoding
                    .bounds
                    .push(ty, quote!(#private::serde::Serialize), None);
                let span = syn::spanned::Spanned::span(ty);
                encoding.checks.push(quote_spanned! {span=>
                    let _ = <#ty as #private::serde::Serialize>::serialize::<#private::ValueSerializer>;
                });
            }
        }
        encoding
    }
}

/// What decoding needs of the payload types.
struct Decoding {
    /// Whether it can be written at all: no payload holds a reference.
    decodable: bool,
    bounds: Bounds,
}

impl Decoding {
    /// For every field serde reads: `Deserialize`, unless a function of the
    /// user's reads it (`deserialize_with`, `with`); `Default` where serde
    /// fills it in (a skipped field, or `default` without a path).
    fn of(variants: &[Variant], private: &TokenStream) -> Decoding {
        let mut decoding = Decoding {
            decodable: true,
            bounds: Bounds::default(),
        };
        for variant in variants {
            let variant_items = attrs::items(&variant.variant.attrs, "serde");
            if ["deserialize_with", "with", "skip", "skip_deserializing"]
                .iter()
                .any(|key| attrs::has(&variant_items, key))
            {
                continue;
            }
            for (field, ty) in variant.variant.fields.iter().zip(&variant.types) {
                let items = attrs::items(&field.attrs, "serde");
                let skipped =
                    attrs::has(&items, "skip") || attrs::has(&items, "skip_deserializing");
                let default_fn = items
                    .iter()
                    .any(|item| item.key == "default" && !item.value.is_empty());
                let default = skipped || attrs::has(&items, "default");
                if default && !default_fn {
                    decoding
                        .bounds
                        .push(ty, quote!(::core::default::Default), None);
                }
                if skipped || attrs::has(&items, "deserialize_with") || attrs::has(&items, "with") {
                    continue;
                }
                if holds_reference(ty) {
                    decoding.decodable = false;
                }
                decoding.bounds.push(
                    ty,
                    quote!(#private::serde::de::DeserializeOwned),
                    Some(quote!(#private::serde::Deserialize<'de>)),
                );
            }
        }
        decoding
    }
}

/// Whether `ty` holds a reference type anywhere (`&str`, `Vec<&[u8]>`).
fn holds_reference(ty: &Type) -> bool {
    struct Finder(bool);
    impl syn::visit_mut::VisitMut for Finder {
        fn visit_type_reference_mut(&mut self, _: &mut syn::TypeReference) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit_mut::VisitMut::visit_type_mut(&mut finder, &mut ty.clone());
    finder.0
}

/// The stand-in written when the type has errors: `SseEvent` with nothing
/// in it, so that the places using the type report nothing more. It never
/// runs: the crate does not compile.
pub(crate) fn fallback(model: &EventType) -> TokenStream {
    let ident = &model.input.ident;
    let runtime = &model.runtime;
    let private = quote!(#runtime::__private);
    quote! {
        impl #private::SseEvent for #ident {
            type Events = Self;
            const EVENT_NAMES: &'static [&'static str] = &[];
            fn event_name(&self) -> &'static str { "" }
            fn encode(&self, builder: #private::EventBuilder<'_>)
                -> ::core::result::Result<#private::Event, #private::EventError> {
                builder.data("")
            }
        }
    }
}
