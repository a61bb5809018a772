//! Reading other macros' attributes (`#[serde(..)]`, `#[ts(..)]`) without
//! interpreting them: `#[derive(SseEvent)]` copies them onto hidden types
//! for serde and ts-rs to read, and needs to know only which keys are
//! there (`skip`, `with`, ...), not what their values mean.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, Token};

/// One item of an attribute's list: its key, and its tokens, the key
/// included (`rename = "x"`, `bound(deserialize = "..")`, `skip`).
#[derive(Clone)]
pub(crate) struct Item {
    pub(crate) key: Ident,
    /// The tokens after the key (`= "x"`, `(..)`, or none).
    pub(crate) value: TokenStream,
}

impl Item {
    pub(crate) fn tokens(&self) -> TokenStream {
        let key = &self.key;
        let value = &self.value;
        quote!(#key #value)
    }

    /// This item with another key, spanned where the original key is.
    pub(crate) fn renamed(&self, key: &str) -> Item {
        Item {
            key: Ident::new(key, self.key.span()),
            value: self.value.clone(),
        }
    }
}

/// The items of every `#[name(..)]` attribute in `attrs`, in order. An
/// attribute that is not a list of `key`, `key = value` or `key(..)`
/// items is left out: the macro it belongs to reports it.
pub(crate) fn items(attrs: &[Attribute], name: &str) -> Vec<Item> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident(name))
        .filter_map(|attr| attr.parse_args_with(parse_items).ok())
        .flatten()
        .collect()
}

/// The attributes in `attrs` named `name`, as they are.
pub(crate) fn named<'a>(
    attrs: &'a [Attribute],
    name: &'a str,
) -> impl Iterator<Item = &'a Attribute> {
    attrs.iter().filter(move |attr| attr.path().is_ident(name))
}

/// Each `#[name(..)]` attribute in `attrs` as it is written, less its items
/// with key `key` (an attribute that is not a list of items is kept as it
/// is, for its macro to report).
pub(crate) fn named_without(attrs: &[Attribute], name: &str, key: &str) -> Vec<TokenStream> {
    named(attrs, name)
        .filter_map(|attr| match attr.parse_args_with(parse_items) {
            Ok(items) if items.iter().any(|item| item.key == key) => {
                let kept: Vec<TokenStream> = items
                    .iter()
                    .filter(|item| item.key != key)
                    .map(Item::tokens)
                    .collect();
                let path = attr.path();
                (!kept.is_empty()).then(|| quote!(#[#path(#(#kept),*)]))
            }
            _ => Some(quote!(#attr)),
        })
        .collect()
}

/// For ts-rs, which reads `key = ".."` but not serde's
/// `key(serialize = "..", deserialize = "..")`: `item` with the value
/// serde writes with, if it has one.
pub(crate) fn serialize_value(item: &Item) -> Option<Item> {
    let mut tokens = item.value.clone().into_iter();
    match (tokens.next(), tokens.next()) {
        (Some(TokenTree::Punct(eq)), Some(_)) if eq.as_char() == '=' => Some(item.clone()),
        (Some(TokenTree::Group(group)), None) => parse_items
            .parse2(group.stream())
            .ok()?
            .into_iter()
            .find(|inner| inner.key == "serialize")
            .map(|inner| Item {
                key: item.key.clone(),
                value: inner.value,
            }),
        _ => None,
    }
}

/// Whether `items` has an item with key `key`.
pub(crate) fn has(items: &[Item], key: &str) -> bool {
    items.iter().any(|item| item.key == key)
}

fn parse_items(input: ParseStream) -> syn::Result<Vec<Item>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        // Keys may be keywords: `#[ts(type = "..")]`, `#[serde(crate = "..")]`.
        let key = Ident::parse_any(input)?;
        let mut value = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) {
            value.extend([input.parse::<TokenTree>()?]);
        }
        items.push(Item { key, value });
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(items)
}

/// `#[name(items)]`, or nothing when there are no items.
pub(crate) fn attribute(name: &str, items: &[Item]) -> TokenStream {
    if items.is_empty() {
        return TokenStream::new();
    }
    let name = Ident::new(name, Span::call_site());
    let items = items.iter().map(Item::tokens);
    quote!(#[#name(#(#items),*)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_their_keys_and_values() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[serde(skip, rename = "x", bound(deserialize = "T: A"))]),
            syn::parse_quote!(#[ts(type = "string")]),
            syn::parse_quote!(#[doc = "not ours"]),
        ];
        let serde = items(&attrs, "serde");
        let keys: Vec<String> = serde.iter().map(|item| item.key.to_string()).collect();
        assert_eq!(keys, ["skip", "rename", "bound"]);
        let ts = items(&attrs, "ts");
        assert_eq!(ts[0].key.to_string(), "type");
        assert_eq!(ts[0].value.to_string(), "= \"string\"");
        let split: Vec<Attribute> =
            vec![syn::parse_quote!(#[serde(rename(deserialize = "a", serialize = "b"))])];
        let rename = serialize_value(&items(&split, "serde")[0]).unwrap();
        assert_eq!(rename.tokens().to_string(), "rename = \"b\"");
        assert_eq!(
            attribute("serde", &[serde[1].renamed("alias")]).to_string(),
            "# [serde (alias = \"x\")]"
        );
    }
}
