//! What `yield` becomes: the hand-off from a handler to the response body
//! that sends its events.
//!
//! The response body owns an `Outbox`. While it polls the handler, it
//! lends the outbox to the current thread (`Outbox::lend`); each `yield`
//! (`Emitter::send`) appends its event there, and the handler runs on
//! until it waits on something else (a timer, a channel) or the outbox
//! holds `HIGH_WATER` bytes. The response body then sends what the outbox
//! holds, and polls the handler again only once all of it is written. So
//! events that are ready together leave as one frame and one write, an
//! event yielded alone leaves at once (the handler stops to wait right
//! after it), and no more than about `HIGH_WATER` bytes ever wait between
//! a handler and its socket.
//!
//! Why a thread-local rather than a channel or an `Arc<Mutex<_>>` shared by
//! the emitter and the body: no lock, reference count or wake-up per event,
//! and no allocation per stream. With it, an event costs 55 ns through the
//! response body against 206 ns for axum's `Sse` (16-byte text, `cargo bench
//! --bench encode`, "through the response body"), and the generated handler
//! is cheaper than the same stream written with async-stream (63 µs against
//! 92 µs per 1,000 events, `macro_overhead`), which hands each item over
//! through a thread-local slot and a wake-up of its own.
//!
//! Invariants, each checked where it is relied on:
//! * An emitter sends only into its own stream's outbox: each outbox and
//!   its emitter share a `StreamId`, and a send that finds another
//!   stream's outbox (or none) lent panics with a message rather than lose
//!   the event (`Emitter::send`).
//! * A lend is undone on every exit from the poll, unwinding included, by a
//!   guard (`Lend`) that puts back whatever was lent before, so a handler
//!   may poll another stream's body inside its own (a proxy, a merger), and
//!   the guard checks it takes back its own outbox.
//! * No user code runs while the thread-local is borrowed: an event is
//!   built (`IntoEvent::into_event`, which may run `Serialize` or a user
//!   conversion) before the outbox is touched.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::error::EventError;
use crate::event::{Event, IntoEvent};

/// Once the outbox holds this many bytes, a send waits until the response
/// body has written them. Large enough to batch hundreds of small events
/// into one write; small enough that a slow client holds little memory.
pub(crate) const HIGH_WATER: usize = 16 * 1024;

/// The capacity of the batch that replaces a full one as it is taken: a
/// stream that filled its outbox is in a burst, and its next batch should
/// not grow event by event. Allocating it while the full one is still
/// alive also keeps the allocator from handing the memory back to the
/// system and faulting it in again for every batch, which cost 60% more
/// server CPU per 4 KiB event (`cargo bench --bench e2e`, text 4 KiB). An
/// empty batch is released when the handler goes idle.
const BURST_BATCH: usize = HIGH_WATER + HIGH_WATER / 4;

/// A frame queue that empties with more room than this gives it back, so
/// that an idle stream does not keep the queue of its last burst.
const IDLE_QUEUE_CAPACITY: usize = 4;

/// Names the stream an emitter and an outbox belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamId(u64);

impl StreamId {
    fn next() -> StreamId {
        // 64 bits: never wraps, so two live streams never share a number.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StreamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

thread_local! {
    /// The outbox of the stream whose handler is being polled on this
    /// thread, if any. Set and restored only by [`Lend`].
    static LENT: RefCell<Option<Outbox>> = const { RefCell::new(None) };
}

/// Sends events from a handler to its response. The `#[sse_handler]` macro
/// creates one and turns each `yield` into `emitter.send(event).await`;
/// [`SseResponse::new`](crate::SseResponse::new) hands one to a closure for
/// handlers written without the macro.
///
/// An emitter works only inside the future it was given to, since that
/// future is what the response polls. Sending from anywhere else (after
/// moving the emitter into `tokio::spawn`, say) cannot reach the stream, and
/// panics with a message that says so. To send events from other tasks, use
/// a channel and [`SseResponse::from_stream`](crate::SseResponse::from_stream).
///
/// ```
/// use sse_runtime::{Emitter, Event, SseResponse};
///
/// async fn hello() -> SseResponse<impl std::future::Future<Output = ()> + Send> {
///     SseResponse::new(|mut emitter: Emitter| async move {
///         emitter.send(Event::data("Hello")).await;
///     })
/// }
/// ```
#[derive(Debug)]
pub struct Emitter {
    stream: StreamId,
}

impl Emitter {
    /// A new stream's emitter and the outbox it sends into.
    pub(crate) fn new() -> (Emitter, Outbox) {
        let stream = StreamId::next();
        (Emitter { stream }, Outbox::new(stream))
    }

    /// Sends one event: it is queued for the client at once, and the
    /// returned future completes at once unless about 16 KiB are already
    /// waiting for the client, in which case it waits for them to be
    /// written. Awaiting it is what gives a fast producer backpressure.
    ///
    /// Sending a refused event (`Err`) ends the stream: the future never
    /// completes, and the response drops the handler.
    ///
    /// # Panics
    ///
    /// When called anywhere but inside the future this emitter was given
    /// to, while its response polls it (see [`Emitter`]).
    ///
    /// ```
    /// use sse_runtime::{event, SseResponse};
    /// let response = SseResponse::new(|mut emitter| async move {
    ///     emitter.send(event!("built with event!")).await;
    ///     emitter.send(sse_runtime::Event::comment("or by hand")).await;
    /// });
    /// # let _ = response;
    /// ```
    pub fn send<T: IntoEvent>(&mut self, event: T) -> SendEvent<'_> {
        // Built before the outbox is borrowed: this is user code, and it may
        // itself poll another stream (see the module docs).
        let event = event.into_event();
        // Queued here rather than when first polled, so that the future
        // holds no event: it lives in the handler's state at every `yield`.
        let state = with_own_outbox(self.stream, |outbox| match event {
            // A refused event ends the stream once this poll is over, but
            // the handler may go on until then (another branch of a
            // `select!` won, and it never awaited the refused send):
            // nothing it sends after the refused event may be written.
            _ if outbox.refused.is_some() => SendState::Refused,
            Ok(event) => {
                outbox.accept(event);
                if outbox.pending_bytes >= HIGH_WATER {
                    SendState::Draining
                } else {
                    SendState::Sent
                }
            }
            Err(error) => {
                outbox.refused.get_or_insert(Box::new(error));
                SendState::Refused
            }
        });
        SendEvent {
            stream: self.stream,
            state,
            _emitter: PhantomData,
        }
    }
}

/// Runs `f` on the outbox lent to this thread, which must be `stream`'s.
fn with_own_outbox<R>(stream: StreamId, f: impl FnOnce(&mut Outbox) -> R) -> R {
    let result = LENT.with_borrow_mut(|lent| match lent {
        Some(outbox) if outbox.stream == stream => Ok(f(outbox)),
        _ => Err(()),
    });
    match result {
        Ok(result) => result,
        Err(()) => panic!(
            "an sse_runtime::Emitter was used outside the handler it was given to \
             (moved into a spawned task, a thread, or another stream's handler): \
             its events cannot reach the stream; send from other tasks through a \
             channel and SseResponse::from_stream instead"
        ),
    }
}

/// The future returned by [`Emitter::send`]; see there for an example.
#[derive(Debug)]
#[must_use = "the event is queued, but only awaiting this waits for the client to catch up"]
pub struct SendEvent<'a> {
    stream: StreamId,
    state: SendState,
    /// Holds the emitter borrowed, as a reference would, without storing
    /// one: this future is part of every handler's state.
    _emitter: PhantomData<&'a mut Emitter>,
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    Sent,
    /// Waiting for the response body to write what the outbox holds.
    Draining,
    /// The event was refused: never completes; the response body ends the
    /// stream after this poll.
    Refused,
}

impl Future for SendEvent<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        match self.state {
            SendState::Sent => Poll::Ready(()),
            SendState::Refused => Poll::Pending,
            // No waker is needed: the response body polls the handler again
            // as soon as it has written the outbox out.
            SendState::Draining => with_own_outbox(self.stream, |outbox| {
                if outbox.pending_bytes < HIGH_WATER {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        }
    }
}

/// The response body's side of a stream: frames waiting to be written, in
/// order, and what the handler sent.
#[derive(Debug)]
pub(crate) struct Outbox {
    stream: StreamId,
    /// Events copied together, written as one frame after `frames`.
    batch: Vec<u8>,
    /// Frames ready to be written before `batch`: shared (hub) events, each
    /// as it is, and the batch written before each.
    frames: VecDeque<Bytes>,
    /// Bytes in `frames` and `batch`.
    pending_bytes: usize,
    /// Events the handler sent, over the whole stream.
    events: u64,
    /// The first event the handler tried to send that was refused.
    refused: Option<Box<EventError>>,
}

impl Outbox {
    fn new(stream: StreamId) -> Outbox {
        Outbox {
            stream,
            batch: Vec::new(),
            frames: VecDeque::new(),
            pending_bytes: 0,
            events: 0,
            refused: None,
        }
    }

    /// Lends this outbox to the current thread until the guard is dropped:
    /// poll the handler while holding it.
    pub(crate) fn lend(&mut self) -> Lend<'_> {
        let stream = self.stream;
        let lent = std::mem::replace(self, Outbox::new(stream));
        let outer = LENT.replace(Some(lent));
        Lend {
            outbox: self,
            outer,
        }
    }

    fn accept(&mut self, event: Event) {
        self.events += 1;
        let len = event.as_bytes().len();
        self.pending_bytes += len;
        if !event.is_shared() {
            // One copy, so that many events leave as one frame.
            self.batch.extend_from_slice(event.as_bytes());
            return;
        }
        // Sent to many streams: written as it is, not copied, after the
        // batch so far.
        if !self.batch.is_empty() {
            self.frames
                .push_back(Bytes::from(std::mem::take(&mut self.batch)));
        }
        self.frames.push_back(event.into_bytes());
    }

    /// The next frame to write, if any.
    pub(crate) fn next_frame(&mut self) -> Option<Bytes> {
        let frame = match self.frames.pop_front() {
            Some(frame) => {
                if self.frames.is_empty() && self.frames.capacity() > IDLE_QUEUE_CAPACITY {
                    self.frames = VecDeque::new();
                }
                frame
            }
            None if self.batch.is_empty() => return None,
            None => {
                // The whole buffer becomes the frame (no copy, and no
                // shared-ownership record as `split` would allocate). A full
                // batch means a burst: the next one starts at full size.
                let next = if self.pending_bytes >= HIGH_WATER {
                    Vec::with_capacity(BURST_BATCH)
                } else {
                    Vec::new()
                };
                Bytes::from(std::mem::replace(&mut self.batch, next))
            }
        };
        self.pending_bytes -= frame.len();
        Some(frame)
    }

    /// Called when the handler waits on something other than the client:
    /// a burst is over, and an idle stream keeps no buffer.
    pub(crate) fn handler_idle(&mut self) {
        if self.batch.is_empty() && self.batch.capacity() > 0 {
            self.batch = Vec::new();
        }
    }

    /// Appends final frames (written by the response body itself) after
    /// what the handler sent.
    pub(crate) fn append(&mut self, frame: &[u8]) {
        self.pending_bytes += frame.len();
        self.batch.extend_from_slice(frame);
    }

    /// How many events the handler sent.
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    /// The event the handler tried to send that was refused, if any.
    pub(crate) fn take_refused(&mut self) -> Option<Box<EventError>> {
        self.refused.take()
    }

    /// Whether nothing is waiting to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending_bytes == 0
    }

    /// Whether the handler's last send is waiting for the client.
    pub(crate) fn is_full(&self) -> bool {
        self.pending_bytes >= HIGH_WATER
    }
}

/// An outbox lent to the current thread; see [`Outbox::lend`]. Dropping it
/// takes the outbox back and restores whatever was lent before.
pub(crate) struct Lend<'a> {
    outbox: &'a mut Outbox,
    outer: Option<Outbox>,
}

impl Drop for Lend<'_> {
    fn drop(&mut self) {
        let back = LENT.replace(self.outer.take());
        match back {
            Some(back) if back.stream == self.outbox.stream => *self.outbox = back,
            // Lends nest (each guard restores what it found), so the outbox
            // lent now is always this guard's own. Were it not, its frames
            // would be sent on the wrong stream: stop, unless already
            // unwinding, where a second panic would abort the process.
            other if !std::thread::panicking() => panic!(
                "sse_runtime: the outbox lent for stream {:?} was not the one taken back ({:?})",
                self.outbox.stream,
                other.map(|outbox| outbox.stream)
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polled(outbox: &mut Outbox, f: impl FnOnce()) {
        let _lend = outbox.lend();
        f();
    }

    #[test]
    fn events_ready_together_leave_as_one_frame() {
        let (mut emitter, mut outbox) = Emitter::new();
        polled(&mut outbox, || {
            drop(emitter.send(Event::data("a")));
            drop(emitter.send(Event::data("b")));
        });
        assert_eq!(
            outbox.next_frame().as_deref(),
            Some(&b"data: a\n\ndata: b\n\n"[..])
        );
        assert_eq!(outbox.next_frame(), None);
        assert_eq!(outbox.events(), 2);
    }

    #[test]
    fn a_shared_event_keeps_its_place_in_line() {
        let (mut emitter, mut outbox) = Emitter::new();
        let shared = Event::shared(Bytes::from_static(b"data: s\n\n"));
        polled(&mut outbox, || {
            drop(emitter.send(Event::data("a")));
            drop(emitter.send(shared.clone()));
            drop(emitter.send(Event::data("b")));
        });
        let frames: Vec<Bytes> = std::iter::from_fn(|| outbox.next_frame()).collect();
        assert_eq!(
            frames,
            [&b"data: a\n\n"[..], b"data: s\n\n", b"data: b\n\n"]
        );
        assert!(outbox.is_empty());
    }

    #[test]
    fn nested_lends_restore_the_outer_one_even_when_unwinding() {
        let (mut outer_emitter, mut outer) = Emitter::new();
        let (mut inner_emitter, mut inner) = Emitter::new();
        polled(&mut outer, || {
            drop(outer_emitter.send(Event::data("outer 1")));
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _lend = inner.lend();
                drop(inner_emitter.send(Event::data("inner")));
                panic!("a handler panics while its outbox is lent");
            }));
            assert!(result.is_err());
            drop(outer_emitter.send(Event::data("outer 2")));
        });
        assert_eq!(
            outer.next_frame().as_deref(),
            Some(&b"data: outer 1\n\ndata: outer 2\n\n"[..])
        );
        assert_eq!(inner.next_frame().as_deref(), Some(&b"data: inner\n\n"[..]));
        assert!(LENT.with_borrow(Option::is_none));
    }

    #[test]
    fn sending_outside_the_handler_panics_with_a_message() {
        let (mut emitter, _outbox) = Emitter::new();
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(emitter.send(Event::data("lost?")));
        }))
        .expect_err("a send with no outbox lent");
        let message = panic.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(message.contains("outside the handler"), "{message}");
    }

    #[test]
    fn sending_into_another_streams_outbox_panics() {
        let (mut emitter, _own) = Emitter::new();
        let (_other_emitter, mut other) = Emitter::new();
        let _lend = other.lend();
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(emitter.send(Event::data("wrong stream")));
        }));
        assert!(panic.is_err());
    }

    #[test]
    fn an_idle_outbox_keeps_no_buffer_after_a_large_event() {
        let (mut emitter, mut outbox) = Emitter::new();
        let snapshot = "x".repeat(HIGH_WATER + 1);
        polled(&mut outbox, || {
            drop(emitter.send(Event::data(&snapshot)));
        });
        assert!(outbox.is_full());
        let frame = outbox.next_frame().expect("the snapshot");
        assert!(frame.len() > HIGH_WATER);
        outbox.handler_idle();
        assert_eq!(outbox.batch.capacity(), 0);
        assert_eq!(outbox.frames.capacity(), 0);
        // The next small event does not start a burst-sized buffer.
        polled(&mut outbox, || {
            drop(emitter.send(Event::data("small")));
        });
        assert!(outbox.batch.capacity() < 64, "{}", outbox.batch.capacity());
    }
}
