//! Typed events: an endpoint's events as one Rust type, from which come the
//! event names, the check on what a handler yields, the test decoder, and
//! (feature `typescript`) the browser's TypeScript types.
//!
//! `#[derive(SseEvent)]` (in `sse-macros/src/derive.rs`) implements
//! [`SseEvent`] for an enum whose variants are the events, and, where the
//! payload types allow it, [`DecodeEvent`] and the TypeScript description.
//! Those two are implemented with bounds on the payload types written as
//! `for<'__sse> Payload: Trait`: a bound that names a lifetime is not
//! checked where the impl is written, so rustc checks them where they are
//! used (`next_as`, `typescript::declarations`), not where the enum is
//! defined, and a server-only enum need not be deserializable. The JSON is
//! serde's, through a hidden copy of the enum (see `variant.rs`).

use std::fmt;
use std::marker::PhantomData;

use crate::error::EventError;
use crate::event::{Comment, Event, EventBuilder, EventIdValue, IdRepr, IntoEvent, RetryValue};

/// An endpoint's events as one Rust type. Derive it:
///
/// ```
/// use sse_runtime::SseEvent;
///
/// #[derive(serde::Serialize)]
/// struct Message { user: String, text: String }
///
/// #[derive(SseEvent)]
/// enum ChatEvent {
///     /// `event: message`, data: the message as JSON.
///     Message(Message),
///     /// `event: join`, data: `{"user":".."}`.
///     Join { user: String },
///     /// `event: cleared`, empty data.
///     #[sse(rename = "cleared")]
///     RoomCleared,
/// }
///
/// assert_eq!(ChatEvent::EVENT_NAMES, ["message", "join", "cleared"]);
/// let event = sse_runtime::IntoEvent::into_event(ChatEvent::Join { user: "ann".into() })?;
/// assert_eq!(event.as_bytes(), b"event: join\ndata: {\"user\":\"ann\"}\n\n");
/// # Ok::<(), sse_runtime::EventError>(())
/// ```
///
/// Each variant is one event. Its name is the variant's name in snake_case
/// (serde's `rename_all = "snake_case"` rule, for every script), unless
/// `#[sse(rename = "..")]` gives another. Its data is the variant's content
/// as serde writes it, with every `#[serde(..)]` attribute on the fields
/// and variants (`skip`, `rename`, `skip_serializing_if`, `with`, ...) and
/// `rename_all_fields` on the enum: a newtype variant's value, a struct
/// variant's fields as an object, a tuple variant's fields as an array. A
/// unit variant sends empty data. A NaN or infinite float is refused
/// ([`EventError::Json`]), not sent as `null`. Two variants with one name, a
/// name with a line break, `#[sse(..)]` keys that do nothing where they
/// are written, and serde's keys that make the enum one JSON value (`tag`,
/// `content`, `untagged`, `from`, `try_from`, `into`) are compile errors.
///
/// ```
/// # use sse_runtime::SseEvent;
/// #[derive(SseEvent)]
/// #[serde(rename_all_fields = "camelCase")]
/// enum Account {
///     SignedIn { user_name: String, #[serde(skip)] token: String },
/// }
/// let event = sse_runtime::IntoEvent::into_event(Account::SignedIn {
///     user_name: "ann".into(),
///     token: "s3cr3t".into(),
/// })?;
/// assert_eq!(event.as_bytes(), b"event: signed_in\ndata: {\"userName\":\"ann\"}\n\n");
/// # Ok::<(), sse_runtime::EventError>(())
/// ```
///
/// A typed event implements [`IntoEvent`], so any handler can yield it; a
/// handler declared with `#[sse_handler(events = ChatEvent)]` accepts only
/// `ChatEvent` values (and comments). [`with_id`](Self::with_id) and
/// [`with_retry`](Self::with_retry) set an event's `id:` and `retry:`
/// without leaving the type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event type: it does not derive `SseEvent`",
    label = "not a `#[derive(SseEvent)]` type",
    note = "derive it: `#[derive(sse_runtime::SseEvent)]` on an enum (one variant per event) or a struct (one event)"
)]
pub trait SseEvent: Sized {
    /// `Self`, for `#[sse_handler(events = T)]`: the handler checks what it
    /// yields against `<T as SseEvent>::Events`, so that a `T` that is not
    /// an event type is one error, on `T` (the check of each `yield` is
    /// then left out, instead of being one more error per `yield`, saying
    /// to yield a `T`). The derive writes it. Not public API.
    #[doc(hidden)]
    type Events;

    /// Every event name this type sends, in the order the variants are
    /// declared.
    ///
    /// ```
    /// #[derive(sse_runtime::SseEvent)]
    /// enum Room { Said(String), Left }
    /// assert_eq!(<Room as sse_runtime::SseEvent>::EVENT_NAMES, ["said", "left"]);
    /// ```
    const EVENT_NAMES: &'static [&'static str];

    /// This value's event name.
    ///
    /// ```
    /// # use sse_runtime::SseEvent;
    /// #[derive(SseEvent)]
    /// enum Ping { Ping }
    /// assert_eq!(Ping::Ping.event_name(), "ping");
    /// ```
    fn event_name(&self) -> &'static str;

    /// Encodes this value with the fields `builder` already holds (an id, a
    /// retry). What [`IntoEvent`] and [`Tagged`] call.
    ///
    /// ```
    /// # use sse_runtime::SseEvent;
    /// #[derive(SseEvent)]
    /// enum Ping { Ping }
    /// let event = Ping::Ping.encode(sse_runtime::Event::builder().id("7"))?;
    /// assert_eq!(event.as_bytes(), b"event: ping\nid: 7\ndata: \n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    fn encode(&self, builder: EventBuilder<'_>) -> Result<Event, EventError>;

    /// This event with an `id:` (text or an integer), still of this type.
    ///
    /// ```
    /// # use sse_runtime::SseEvent;
    /// #[derive(SseEvent)]
    /// enum Tick { Tick(u32) }
    /// let event = sse_runtime::IntoEvent::into_event(Tick::Tick(3).with_id(&3))?;
    /// assert_eq!(event.as_bytes(), b"event: tick\nid: 3\ndata: 3\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    fn with_id<I: EventIdValue + ?Sized>(self, id: &I) -> Tagged<Self> {
        Tagged::new(self).with_id(id)
    }

    /// This event with a `retry:` (milliseconds or a `Duration`), still of
    /// this type.
    ///
    /// ```
    /// # use sse_runtime::SseEvent;
    /// #[derive(SseEvent)]
    /// enum Tick { Tick(u32) }
    /// let event = sse_runtime::IntoEvent::into_event(Tick::Tick(3).with_retry(5000))?;
    /// assert_eq!(event.as_bytes(), b"event: tick\nretry: 5000\ndata: 3\n\n");
    /// # Ok::<(), sse_runtime::EventError>(())
    /// ```
    fn with_retry<R: RetryValue>(self, retry: R) -> Tagged<Self> {
        Tagged::new(self).with_retry(retry)
    }
}

impl<E: SseEvent> IntoEvent for E {
    fn into_event(self) -> Result<Event, EventError> {
        self.encode(Event::builder())
    }
}

/// A typed event with an `id:` or `retry:` set; see [`SseEvent::with_id`].
///
/// ```
/// # use sse_runtime::SseEvent;
/// #[derive(SseEvent)]
/// enum Tick { Tick(u32) }
/// let tagged = Tick::Tick(1).with_id("a").with_retry(100);
/// assert!(matches!(tagged.event(), Tick::Tick(1)));
/// ```
#[derive(Debug, Clone)]
pub struct Tagged<E> {
    event: E,
    id: Option<String>,
    retry: Option<Result<u64, (i128, bool)>>,
}

impl<E: SseEvent> Tagged<E> {
    fn new(event: E) -> Tagged<E> {
        Tagged {
            event,
            id: None,
            retry: None,
        }
    }

    /// Sets the `id:`; see [`SseEvent::with_id`].
    ///
    /// ```
    /// # use sse_runtime::SseEvent;
    /// #[derive(SseEvent)]
    /// enum Tick { Tick(u32) }
    /// let tagged = Tick::Tick(1).with_retry(100).with_id(&9);
    /// # let _ = tagged;
    /// ```
    pub fn with_id<I: EventIdValue + ?Sized>(mut self, id: &I) -> Self {
        self.id = Some(match id.to_id_repr() {
            IdRepr::Text(text) => text.to_owned(),
            IdRepr::Unsigned(n) => n.to_string(),
            IdRepr::Signed(n) => n.to_string(),
        });
        self
    }

    /// Sets the `retry:`; see [`SseEvent::with_retry`].
    ///
    /// ```
    /// # use sse_runtime::SseEvent;
    /// #[derive(SseEvent)]
    /// enum Tick { Tick(u32) }
    /// let tagged = Tick::Tick(1).with_id("x").with_retry(std::time::Duration::from_secs(1));
    /// # let _ = tagged;
    /// ```
    pub fn with_retry<R: RetryValue>(mut self, retry: R) -> Self {
        self.retry = Some(retry.to_milliseconds().map_err(|error| match error {
            EventError::NegativeRetry(value) => (value, true),
            _ => (0, false),
        }));
        self
    }

    /// The event.
    ///
    /// ```
    /// # use sse_runtime::SseEvent;
    /// #[derive(SseEvent)]
    /// enum Tick { Tick(u32) }
    /// assert!(matches!(Tick::Tick(2).with_id("i").event(), Tick::Tick(2)));
    /// ```
    pub fn event(&self) -> &E {
        &self.event
    }
}

impl<E> Tagged<E> {
    /// A builder holding this event's id and retry.
    fn builder(&self) -> Result<EventBuilder<'_>, EventError> {
        let mut builder = Event::builder();
        if let Some(id) = &self.id {
            builder = builder.id(id);
        }
        match self.retry {
            Some(Ok(milliseconds)) => builder = builder.retry(milliseconds),
            Some(Err((value, true))) => return Err(EventError::NegativeRetry(value)),
            Some(Err(_)) => return Err(EventError::RetryTooLong),
            None => {}
        }
        Ok(builder)
    }
}

impl<E: SseEvent> IntoEvent for Tagged<E> {
    fn into_event(self) -> Result<Event, EventError> {
        self.event.encode(self.builder()?)
    }
}

/// What a handler declared with `#[sse_handler(events = E)]` may yield: `E`
/// itself, `E` with an id or retry ([`Tagged`]), `E` from a
/// [`TypedHub`](crate::hub::TypedHub) ([`Shared`]), and comments and
/// keep-alives.
///
/// ```
/// # use sse_runtime::SseEvent;
/// #[derive(SseEvent)]
/// enum Tick { Tick(u32) }
/// fn accepts<T: sse_runtime::YieldOf<Tick>>(_: T) {}
/// accepts(Tick::Tick(1));
/// accepts(Tick::Tick(1).with_id(&1));
/// accepts(sse_runtime::comment!("note"));
/// accepts(sse_runtime::keep_alive!());
/// ```
///
/// A typed handler sends what it yields through this trait alone (not
/// through [`IntoEvent`] as well), so that a wrong value is one error, on
/// the value. The impls for `E` itself, `Tagged<E>` and `Shared<E>` do not
/// require `E: SseEvent`: the handler checks that once, on the type named in
/// `events = ..`, and a wrong type there is not also an error at every
/// `yield` of it. (The impl for `Comment` requires it, or it would overlap
/// the impl for `E` at `E = Comment`.)
#[diagnostic::on_unimplemented(
    message = "this handler sends `{E}` events: `{Self}` cannot be yielded here",
    label = "expected a `{E}` value",
    note = "yield a `{E}` (`.with_id(..)` and `.with_retry(..)` keep its type), `comment!(..)` or `keep_alive!()`; or drop `events = ..` from `#[sse_handler]` to yield any event"
)]
pub trait YieldOf<E> {
    /// The event to send, encoding an `E` with the handler's `events`.
    #[doc(hidden)]
    fn into_event_of(self, events: TypedEvents<E>) -> Result<Event, EventError>;
}

/// How a typed handler encodes its `E` values: `E`'s own
/// [`SseEvent::encode`], taken where the handler names `E`. Not public API.
#[doc(hidden)]
pub struct TypedEvents<E> {
    encode: fn(&E, EventBuilder<'_>) -> Result<Event, EventError>,
}

impl<E> TypedEvents<E> {
    /// The encoder of a handler declared with `events = E`.
    pub fn new(encode: fn(&E, EventBuilder<'_>) -> Result<Event, EventError>) -> Self {
        TypedEvents { encode }
    }
}

impl<E> Clone for TypedEvents<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for TypedEvents<E> {}

impl<E> YieldOf<E> for E {
    fn into_event_of(self, events: TypedEvents<E>) -> Result<Event, EventError> {
        (events.encode)(&self, Event::builder())
    }
}

impl<E> YieldOf<E> for Tagged<E> {
    fn into_event_of(self, events: TypedEvents<E>) -> Result<Event, EventError> {
        (events.encode)(&self.event, self.builder()?)
    }
}

impl<E> YieldOf<E> for Shared<E> {
    fn into_event_of(self, _: TypedEvents<E>) -> Result<Event, EventError> {
        Ok(self.event)
    }
}

impl<E: SseEvent> YieldOf<E> for Comment {
    fn into_event_of(self, _: TypedEvents<E>) -> Result<Event, EventError> {
        self.into_event()
    }
}

/// An event of type `E` already encoded, shared by every subscriber of a
/// [`TypedHub`](crate::hub::TypedHub): what its subscriptions yield.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::hub::{Hub, TypedDelivery, TypedHub};
/// use sse_runtime::SseEvent;
///
/// #[derive(SseEvent)]
/// enum Room { Said(String) }
///
/// let hub = TypedHub::<Room>::new(Hub::new());
/// let mut subscription = hub.subscribe(&["room"], None);
/// hub.publish("room", Room::Said("hi".into())).await.unwrap();
/// let Some(TypedDelivery::Event(shared)) = subscription.next().await else { panic!() };
/// let shared: sse_runtime::Shared<Room> = shared;
/// assert!(shared.as_bytes().starts_with(b"event: said\ndata: \"hi\"\nid: "));
/// # });
/// ```
pub struct Shared<E> {
    event: Event,
    _type: PhantomData<fn() -> E>,
}

impl<E> Shared<E> {
    /// Invariant: `event` was encoded from an `E` (a typed hub's
    /// notices are never `Shared`; see `TypedDelivery`).
    pub(crate) fn new(event: Event) -> Shared<E> {
        Shared {
            event,
            _type: PhantomData,
        }
    }

    /// The encoded bytes.
    ///
    /// ```
    /// # let _ = |shared: sse_runtime::Shared<()>| shared.as_bytes().len();
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.event.as_bytes()
    }
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Shared::new(self.event.clone())
    }
}

impl<E> fmt::Debug for Shared<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shared").field(&self.event).finish()
    }
}

impl<E> IntoEvent for Shared<E> {
    fn into_event(self) -> Result<Event, EventError> {
        Ok(self.event)
    }
}

/// Decoding a received event back into its type: what the test client's
/// [`next_as`](crate::testing::TestStream::next_as) uses. `#[derive(SseEvent)]`
/// implements it when every payload type implements
/// `serde::de::DeserializeOwned` (owned types: a decoded event outlives the
/// text it was read from, so a `&str` payload cannot be decoded; use
/// `String`). The data is read by serde, with the same attributes it was
/// written with.
///
/// ```
/// use sse_runtime::{DecodeEvent, SseEvent};
///
/// #[derive(SseEvent, Debug, PartialEq)]
/// enum Room { Join { user: String }, Left }
///
/// assert_eq!(Room::decode("join", r#"{"user":"ann"}"#)?, Room::Join { user: "ann".into() });
/// assert_eq!(Room::decode("left", "")?, Room::Left);
/// assert!(Room::decode("jion", "{}").is_err());
/// # Ok::<(), sse_runtime::DecodeError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from received events",
    label = "decoding needs owned payload types that implement `serde::Deserialize`",
    note = "derive `serde::Deserialize` on the payload types of `{Self}`'s variants, and use owned types in them (`String`, not `&str`): a decoded event outlives the text it was read from"
)]
pub trait DecodeEvent: Sized {
    /// The value for an event named `name` with data `data`.
    ///
    /// ```
    /// use sse_runtime::{DecodeEvent, SseEvent};
    /// #[derive(SseEvent, Debug, PartialEq)]
    /// enum Room { Said(String) }
    /// assert_eq!(Room::decode("said", "\"hi\"")?, Room::Said("hi".into()));
    /// # Ok::<(), sse_runtime::DecodeError>(())
    /// ```
    fn decode(name: &str, data: &str) -> Result<Self, DecodeError>;
}

/// Why a received event is not a value of the expected type. It shows what
/// was received: the event name, and the data (its first 200 characters).
///
/// ```
/// use sse_runtime::{DecodeEvent, SseEvent};
/// #[derive(SseEvent, Debug)]
/// enum Room { Left }
/// let error = Room::decode("gone", "{}").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "unknown event name \"gone\" (expected one of: left); received data: \"{}\""
/// );
/// ```
#[derive(Debug)]
pub struct DecodeError {
    name: String,
    data: String,
    kind: DecodeErrorKind,
}

#[derive(Debug)]
enum DecodeErrorKind {
    UnknownName(&'static [&'static str]),
    Data(serde_json::Error),
    UnitData,
}

/// How much of the data a [`DecodeError`] shows.
const SHOWN_DATA_CHARS: usize = 200;

impl DecodeError {
    fn new(name: &str, data: &str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            name: name.to_owned(),
            data: data.to_owned(),
            kind,
        }
    }

    /// An event whose name the type does not have.
    #[doc(hidden)]
    pub fn unknown_name(name: &str, data: &str, expected: &'static [&'static str]) -> DecodeError {
        DecodeError::new(name, data, DecodeErrorKind::UnknownName(expected))
    }

    /// The event name received.
    ///
    /// ```
    /// # use sse_runtime::{DecodeEvent, SseEvent};
    /// # #[derive(SseEvent, Debug)] enum Room { Left }
    /// assert_eq!(Room::decode("x", "").unwrap_err().name(), "x");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The data received.
    ///
    /// ```
    /// # use sse_runtime::{DecodeEvent, SseEvent};
    /// # #[derive(SseEvent, Debug)] enum Room { Left }
    /// assert_eq!(Room::decode("left", "1").unwrap_err().data(), "1");
    /// ```
    pub fn data(&self) -> &str {
        &self.data
    }

    /// Whether the name is one the type does not have: an event of a newer
    /// version of the type, or one the type was never meant to receive.
    ///
    /// ```
    /// # use sse_runtime::{DecodeEvent, SseEvent};
    /// # #[derive(SseEvent, Debug)] enum Room { Left }
    /// assert!(Room::decode("renamed", "").unwrap_err().is_unknown_name());
    /// assert!(!Room::decode("left", "1").unwrap_err().is_unknown_name());
    /// ```
    pub fn is_unknown_name(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::UnknownName(_))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::UnknownName(expected) => write!(
                f,
                "unknown event name {:?} (expected one of: {})",
                self.name,
                expected.join(", ")
            )?,
            DecodeErrorKind::Data(error) => write!(
                f,
                "the data of event {:?} does not match its type: {error}",
                self.name
            )?,
            DecodeErrorKind::UnitData => write!(
                f,
                "event {:?} carries no data, but data was received",
                self.name
            )?,
        }
        match self.data.char_indices().nth(SHOWN_DATA_CHARS) {
            Some((end, _)) => write!(f, "; received data: {:?}...", &self.data[..end]),
            None => write!(f, "; received data: {:?}", self.data),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DecodeErrorKind::Data(error) => Some(error),
            _ => None,
        }
    }
}

/// Decodes a derived enum's unit variant `name`: its data must be empty.
/// Not public API.
#[doc(hidden)]
pub fn decode_unit<E: SseEvent>(name: &str, data: &str) -> Result<(), DecodeError> {
    if data.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::new(name, data, DecodeErrorKind::UnitData))
    }
}

/// Decodes a derived enum's event `name` with data `data`, a variant with
/// fields: `read` is serde's derive for the hidden copy of the enum (see
/// `variant.rs`). Not public API.
#[doc(hidden)]
pub fn decode_variant<E: SseEvent>(
    name: &str,
    data: &str,
    read: impl for<'a> FnOnce(crate::variant::VariantData<'a>) -> Result<E, serde_json::Error>,
) -> Result<E, DecodeError> {
    if !E::EVENT_NAMES.contains(&name) {
        return Err(DecodeError::unknown_name(name, data, E::EVENT_NAMES));
    }
    read(crate::variant::VariantData::new(name, data))
        .map_err(|error| DecodeError::new(name, data, DecodeErrorKind::Data(error)))
}

/// Decodes a derived struct's event: its JSON data, read by the struct's
/// own `Deserialize`. Not public API.
#[doc(hidden)]
pub fn decode_struct<E: SseEvent + serde::de::DeserializeOwned>(
    name: &str,
    data: &str,
) -> Result<E, DecodeError> {
    if !E::EVENT_NAMES.contains(&name) {
        return Err(DecodeError::unknown_name(name, data, E::EVENT_NAMES));
    }
    serde_json::from_str(data)
        .map_err(|error| DecodeError::new(name, data, DecodeErrorKind::Data(error)))
}
