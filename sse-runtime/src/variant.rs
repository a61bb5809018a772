//! One enum variant's content, as serde writes and reads it: the glue
//! between `#[derive(SseEvent)]` and serde's own derive.
//!
//! The derive does not serialize payloads itself. It writes a hidden copy
//! of the user's enum carrying the user's `#[serde(..)]` attributes, and
//! derives serde's `Serialize` and `Deserialize` for it as a remote
//! definition of the user's enum (serde's `#[serde(remote = "..")]`), so
//! that every attribute means what serde says it means. serde writes an
//! externally tagged variant as `{"name": content}`; an event's name is its
//! `event:` field, and its data is the content alone. So:
//!
//! * [`VariantContent`] is a serializer that takes the variant call serde
//!   makes (`serialize_struct_variant`, ...) and writes only its content,
//!   through the inner serializer (a struct variant's fields as a JSON
//!   object, a tuple variant's as an array, a newtype variant's value);
//! * [`VariantData`] is a deserializer that hands serde's derived visitor
//!   the event name as the variant (the hidden copy renames each variant
//!   to its event name) and the data as its content, read by serde_json.

use serde::de::{self, DeserializeSeed, Visitor};
use serde::ser::{self, Impossible, Serialize, Serializer};

use crate::error::EventError;
use crate::event::{Event, EventBuilder};

/// A serializer for one externally tagged enum variant that writes only its
/// content to the serializer it wraps; see the module docs. Any other call
/// is an error: serde's derive makes only variant calls for an enum.
#[doc(hidden)]
pub struct VariantContent<S>(S);

impl<S> VariantContent<S> {
    /// Wraps `serializer`.
    pub fn new(serializer: S) -> Self {
        VariantContent(serializer)
    }
}

fn not_a_variant<E: ser::Error>() -> E {
    E::custom("an event's data must be an enum variant's content")
}

/// A struct variant's fields, written as a struct.
#[doc(hidden)]
pub struct StructContent<S>(S);

/// A tuple variant's fields, written as a tuple.
#[doc(hidden)]
pub struct TupleContent<S>(S);

impl<S: ser::SerializeStruct> ser::SerializeStructVariant for StructContent<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.0.skip_field(key)
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTuple> ser::SerializeTupleVariant for TupleContent<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_element(value)
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: Serializer> Serializer for VariantContent<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Impossible<S::Ok, S::Error>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = TupleContent<S::SerializeTuple>;
    type SerializeMap = Impossible<S::Ok, S::Error>;
    type SerializeStruct = Impossible<S::Ok, S::Error>;
    type SerializeStructVariant = StructContent<S::SerializeStruct>;

    // The variant calls: the content alone.

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<S::Ok, S::Error> {
        // A variant with fields that serde writes as a unit (every field
        // skipped): no content, which JSON says as `null`.
        self.0.serialize_unit()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(self.0)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple(len).map(TupleContent)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0.serialize_struct(variant, len).map(StructContent)
    }

    // Anything else is not serde's derive for an enum.

    fn serialize_bool(self, _: bool) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_i8(self, _: i8) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_i16(self, _: i16) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_i32(self, _: i32) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_i64(self, _: i64) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_u8(self, _: u8) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_u16(self, _: u16) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_u32(self, _: u32) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_u64(self, _: u64) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_f32(self, _: f32) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_f64(self, _: f64) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_char(self, _: char) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_str(self, _: &str) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Err(not_a_variant())
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Err(not_a_variant())
    }
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A received event as serde's derived enum visitor reads it: the variant
/// named `name`, whose content is the JSON `data`; see the module docs.
#[doc(hidden)]
pub struct VariantData<'de> {
    name: &'de str,
    data: &'de str,
}

impl<'de> VariantData<'de> {
    /// The event `name` with data `data`.
    pub fn new(name: &'de str, data: &'de str) -> Self {
        VariantData { name, data }
    }
}

/// serde_json reading `data` to its end: trailing characters are an error,
/// as with `serde_json::from_str`.
fn read_json<'de, T>(
    data: &'de str,
    read: impl FnOnce(
        &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    ) -> serde_json::Result<T>,
) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(data);
    let value = read(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

impl<'de> de::Deserializer<'de> for VariantData<'de> {
    type Error = serde_json::Error;

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        visitor.visit_enum(self)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> serde_json::Result<V::Value> {
        Err(de::Error::custom(
            "an event decodes only as an enum variant",
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de> de::EnumAccess<'de> for VariantData<'de> {
    type Error = serde_json::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> serde_json::Result<(V::Value, Self)> {
        let name = de::value::BorrowedStrDeserializer::<serde_json::Error>::new(self.name);
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for VariantData<'de> {
    type Error = serde_json::Error;

    fn unit_variant(self) -> serde_json::Result<()> {
        // The counterpart of `serialize_unit_variant` above.
        read_json(self.data, |json| de::Deserialize::deserialize(json))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> serde_json::Result<T::Value> {
        read_json(self.data, |json| seed.deserialize(json))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        read_json(self.data, |json| {
            de::Deserializer::deserialize_tuple(json, len, visitor)
        })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        read_json(self.data, |json| {
            de::Deserializer::deserialize_struct(json, "", fields, visitor)
        })
    }
}

/// A derived enum's content as an event's data, picked by method
/// resolution (the "autoref" idiom): [`SerializeContent`] when the content
/// is `Serialize`, [`UncheckedContent`] otherwise.
///
/// The derive checks each payload field on its own, where it is written,
/// so that a field that is not `Serialize` is one error, on that field;
/// the content's `Serialize` impl is written with the same bounds, which
/// rustc checks only where they are used, and this pick keeps them from
/// being a second error in `encode`. In a crate that compiles, every
/// field is `Serialize` and the pick is always `SerializeContent`:
/// `UncheckedContent` never runs.
#[doc(hidden)]
pub struct Content<'a, T>(pub &'a T);

/// See [`Content`].
#[doc(hidden)]
pub trait SerializeContent {
    /// The event with this content as its JSON data.
    fn encode_json(&self, builder: EventBuilder<'_>) -> Result<Event, EventError>;
}

impl<T: Serialize> SerializeContent for Content<'_, T> {
    #[inline]
    fn encode_json(&self, builder: EventBuilder<'_>) -> Result<Event, EventError> {
        builder.json(self.0)
    }
}

/// See [`Content`].
#[doc(hidden)]
pub trait UncheckedContent {
    /// Never called in a crate that compiles; see [`Content`].
    fn encode_json(&self, builder: EventBuilder<'_>) -> Result<Event, EventError> {
        builder.data("")
    }
}

impl<T> UncheckedContent for &Content<'_, T> {}
