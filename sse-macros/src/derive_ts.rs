//! The TypeScript description of a parsed event type: the runtime's
//! `TypeScriptEvents`, kept only with sse-runtime's `typescript` feature
//! (the whole output goes through its `__private::typescript!`, which is
//! empty without it).
//!
//! Each variant with fields gets a hidden struct that ts-rs describes: the
//! variant's fields with their `#[serde(..)]`, `#[ts(..)]` and doc
//! attributes, so that ts-rs renames and skips them as serde does on the
//! wire. Two changes make the types tell what the server sends rather than
//! what it may receive: a field serde may leave out (`skip_serializing_if`)
//! is optional, and one it never writes (`skip_serializing`) is absent.
//!
//! The struct is generic over its field types and is instantiated with
//! them in the impl, whose bounds (`for<'__sse> Type: ts_rs::TS`) rustc
//! checks where the description is used: a payload type need not be
//! `ts_rs::TS` unless TypeScript is written for it. A field ts-rs does not
//! look at (skipped, or given its type with `#[ts(type = "..")]` or
//! `#[ts(as = "..")]`) is `()`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Fields, Type};

use crate::attrs::{self, Item};
use crate::derive::{respan, trait_path, EventType, Kind, Variant};

pub(crate) fn expand(model: &EventType) -> TokenStream {
    let ident = &model.input.ident;
    let runtime = &model.runtime;
    let private = quote!(#runtime::__private);
    let ts_path = format!("{runtime}::__private::ts_rs").replace(' ', "");
    let type_name = ident.unraw().to_string();
    let (name, mirrors, bounds, describe) = match &model.kind {
        Kind::Struct { name } => {
            let event = &name.value;
            (
                format!("{type_name}Event"),
                Vec::new(),
                vec![quote!(for<'__sse> #ident: #private::ts_rs::TS)],
                vec![quote! {
                    let data = out.payload::<#ident>();
                    out.event(#event, &[], data);
                }],
            )
        }
        Kind::Enum(variants) => {
            let rename_all_fields = attrs::items(&model.input.attrs, "serde")
                .into_iter()
                .find(|item| item.key == "rename_all_fields");
            let mut mirrors = Vec::new();
            let mut bounds = Vec::new();
            let mut describe = Vec::new();
            for variant in variants {
                let event = &variant.name.value;
                let docs = &variant.docs;
                if variant.is_unit() {
                    describe.push(quote! {
                        let data = out.no_data();
                        out.event(#event, &[#(#docs),*], data);
                    });
                    continue;
                }
                let variant_serde = attrs::items(&variant.variant.attrs, "serde");
                if attrs::has(&variant_serde, "with")
                    || attrs::has(&variant_serde, "serialize_with")
                {
                    // A function of the user's writes the whole content.
                    describe.push(quote! {
                        let data = out.unknown();
                        out.event(#event, &[#(#docs),*], data);
                    });
                    continue;
                }
                let mirror = Mirror::of(variant, rename_all_fields.as_ref(), &private, &ts_path);
                bounds.extend(mirror.bounds);
                mirrors.push(mirror.item);
                let instance = mirror.instance;
                describe.push(quote! {
                    let data = (&#private::TsContent::<#instance>::new()).describe(out);
                    out.event(#event, &[#(#docs),*], data);
                });
            }
            (type_name, mirrors, bounds, describe)
        }
    };
    let typescript_events = trait_path(runtime, "TypeScriptEvents", ident);
    quote! {
        #private::typescript! {
            #(#mirrors)*

            impl #typescript_events for #ident
            where
                #(#bounds,)*
            {
                const NAME: &'static str = #name;
                fn describe(out: &mut #private::TsEvents) {
                    #[allow(unused_imports)]
                    use #private::{DescribedContent as _, UndescribedContent as _};
                    #(#describe)*
                }
            }
        }
    }
}

/// `T` of a field typed `Option<T>` (by any path ending in `Option`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != "Option" {
        return None;
    }
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(arguments) if arguments.args.len() == 1 => {
            match &arguments.args[0] {
                syn::GenericArgument::Type(inner) => Some(inner),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The keys of a field's `#[serde(..)]` that ts-rs reads, in the form it
/// reads them: it skips a whole attribute (and prints a warning in the
/// user's build) for one key it does not know.
fn for_ts_rs(serde: &[Item]) -> Vec<Item> {
    const READ: &[&str] = &[
        "skip",
        "skip_serializing",
        "skip_serializing_if",
        "flatten",
        "default",
        "with",
    ];
    serde
        .iter()
        .filter_map(|item| {
            if item.key == "rename" {
                attrs::serialize_value(item)
            } else {
                READ.iter().any(|key| item.key == key).then(|| item.clone())
            }
        })
        .collect()
}

/// The hidden struct of one variant, its instance, and the bounds that
/// instance needs.
struct Mirror {
    item: TokenStream,
    instance: TokenStream,
    bounds: Vec<TokenStream>,
}

impl Mirror {
    fn of(
        variant: &Variant,
        rename_all_fields: Option<&Item>,
        private: &TokenStream,
        ts_path: &str,
    ) -> Mirror {
        let ident = format_ident!("__SseTs{}", variant.variant.ident.unraw());
        let mut generics = Vec::new();
        let mut arguments = Vec::new();
        let mut bounds = Vec::new();
        let mut fields = Vec::new();
        for (i, (field, field_ty)) in variant
            .variant
            .fields
            .iter()
            .zip(&variant.types)
            .enumerate()
        {
            let serde = attrs::items(&field.attrs, "serde");
            let ts = attrs::items(&field.attrs, "ts");
            let never_written =
                attrs::has(&serde, "skip") || attrs::has(&serde, "skip_serializing");
            let mut extra = Vec::new();
            if attrs::has(&serde, "skip_serializing") && !attrs::has(&serde, "skip") {
                extra.push(quote!(#[ts(skip)]));
            }
            // What a function of the user's writes, ts-rs cannot know (and
            // refuses to guess): `unknown`, unless `#[ts(..)]` says.
            let custom = !never_written
                && (attrs::has(&serde, "with") || attrs::has(&serde, "serialize_with"))
                && !attrs::has(&ts, "type")
                && !attrs::has(&ts, "as");
            if custom {
                extra.push(quote!(#[ts(type = "unknown")]));
            }
            if attrs::has(&serde, "skip_serializing_if")
                && !attrs::has(&ts, "optional")
                && !attrs::has(&serde, "flatten")
                && !attrs::has(&ts, "flatten")
            {
                extra.push(quote!(#[ts(optional = nullable)]));
            }
            let described = !(never_written
                || custom
                || attrs::has(&ts, "skip")
                || attrs::has(&ts, "type")
                || attrs::has(&ts, "as"));
            let ty: TokenStream = if described {
                let generic = format_ident!("__SseT{}", i);
                // `#[ts(optional)]` needs ts-rs to see the `Option` (it
                // takes the type inside): the generic stands for that.
                let optional = ts
                    .iter()
                    .any(|item| item.key == "optional" && item.value.is_empty());
                let (field_ty, ty) = match option_inner(field_ty) {
                    Some(inner) if optional => (inner, quote!(::core::option::Option<#generic>)),
                    _ => (field_ty, quote!(#generic)),
                };
                let span = syn::spanned::Spanned::span(field_ty);
                let ts = respan(quote!(#private::ts_rs::TS), span);
                bounds.push(quote_spanned!(span=> for<'__sse> #field_ty: #ts));
                arguments.push(quote!(#field_ty));
                generics.push(generic);
                ty
            } else {
                quote!(())
            };
            let docs = attrs::named(&field.attrs, "doc");
            let user_ts = attrs::named(&field.attrs, "ts");
            let mut read = for_ts_rs(&serde);
            if field.ident.is_none() {
                // serde refuses `flatten` on a tuple field, with an error
                // of its own on the user's attribute: ts-rs would add one.
                read.retain(|item| item.key != "flatten");
            }
            let for_ts_rs = attrs::attribute("serde", &read);
            let attributes = quote!(#(#docs)* #for_ts_rs #(#user_ts)* #(#extra)*);
            fields.push(match &field.ident {
                Some(name) => quote!(#attributes #name: #ty),
                None => quote!(#attributes #ty),
            });
        }
        // The fields' names as serde writes them: the variant's own
        // `rename_all`, else the enum's `rename_all_fields`, as serde
        // decides (only named fields have names).
        let rename_all = matches!(variant.variant.fields, Fields::Named(_))
            .then(|| {
                attrs::items(&variant.variant.attrs, "serde")
                    .into_iter()
                    .find(|item| item.key == "rename_all")
                    .or_else(|| rename_all_fields.map(|item| item.renamed("rename_all")))
            })
            .flatten()
            .and_then(|item| attrs::serialize_value(&item));
        let rename_all: Vec<Item> = rename_all.into_iter().collect();
        let container = attrs::attribute("serde", &rename_all);
        let body = match &variant.variant.fields {
            Fields::Named(_) => quote!({ #(#fields),* }),
            _ => quote!((#(#fields),*);),
        };
        let item = quote! {
            #[derive(#private::ts_rs::TS, #private::SerdeAttributes)]
            #[ts(crate = #ts_path)]
            #container
            #[allow(dead_code, non_camel_case_types, clippy::all)]
            struct #ident<#(#generics),*> #body
        };
        Mirror {
            item,
            instance: quote!(#ident<#(#arguments),*>),
            bounds,
        }
    }
}
