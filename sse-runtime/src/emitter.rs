//! The hand-off between a handler body and the response body that sends its
//! events: what `yield` becomes.
//!
//! The response body owns an outbox buffer. While it polls the handler body,
//! it lends that buffer to the current thread; each `yield` appends its
//! event there and the body keeps running until it either waits on something
//! else (a timer, a channel) or the buffer holds [`HIGH_WATER`] bytes. The
//! response body then takes the buffer back and sends it as one HTTP body
//! frame. So events that are ready together go out in one frame and one
//! write, an event yielded alone goes out at once (the body stops to wait
//! right after it), and no more than about `HIGH_WATER` bytes are ever
//! buffered between the body and the socket.
//!
//! Lending the buffer through a thread-local, rather than sharing it behind
//! an `Arc<Mutex<_>>`, costs no lock per event and no allocation per stream.
//! It relies on the handler body being polled only by its response body,
//! which the macros guarantee: the emitter they create is hidden, and a
//! `yield` inside a closure or `async` block is a compile error.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::event::{EventError, IntoEvent};

/// Once the outbox holds this many bytes, a yield waits until the response
/// body has taken them. Large enough to batch hundreds of small events into
/// one write; small enough that a slow client holds little memory.
pub(crate) const HIGH_WATER: usize = 16 * 1024;

/// Names the stream an emitter belongs to, so that a send can tell whether
/// the outbox lent on this thread is its own. 32 bits, because every idle
/// stream and every `yield` point carries one: the numbers wrap after four
/// billion streams, and a mix-up would need an emitter smuggled into another
/// stream's handler body (which the macros rule out) with exactly that
/// number.
static NEXT_STREAM: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// The outbox of the stream whose handler body is being polled on this
    /// thread, if any.
    static LENT: RefCell<Option<Lent>> = const { RefCell::new(None) };
    /// An empty queue that keeps its capacity from one lend to the next, so
    /// that a shared event's place in line allocates nothing: a hub sends
    /// one to every subscriber for each event.
    static SPARE_QUEUE: RefCell<VecDeque<Bytes>> = const { RefCell::new(VecDeque::new()) };
}

/// A spare queue larger than this is let go rather than kept for reuse.
const SPARE_QUEUE_CAPACITY: usize = 64;

/// An outbox while it is lent to a handler body.
#[derive(Debug, Default)]
struct Lent {
    stream: u32,
    buffer: Vec<u8>,
    /// Frames that go out before `buffer`: shared events, and the batch
    /// written before each.
    queued: VecDeque<Bytes>,
    queued_bytes: usize,
    refused: Option<Box<EventError>>,
    events: u64,
    /// A send stopped because the buffer reached `HIGH_WATER`.
    full: bool,
}

/// Sends events from a handler body to its response. The `#[sse_handler]`
/// macro creates one and turns each `yield` into
/// `emitter.send(event).await`; [`SseResponse::new`](crate::SseResponse::new)
/// hands one to a closure for handlers written without the macro.
///
/// An emitter works only inside the future it was given to: that future is
/// what the response polls. Sending from another task (after moving the
/// emitter into `tokio::spawn`, say) cannot reach the stream; such a send
/// logs an error and never completes. To send events from other tasks, use a
/// channel and [`SseResponse::from_stream`](crate::SseResponse::from_stream).
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
    stream: u32,
}

impl Emitter {
    pub(crate) fn new() -> (Emitter, Outbox) {
        let stream = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
        (
            Emitter { stream },
            Outbox {
                stream,
                buffer: Vec::new(),
                queued: None,
            },
        )
    }

    /// Sends one event: it is queued for the client at once, and the
    /// returned future completes at once unless about 16 KiB are already
    /// waiting for the client, in which case it waits for them to be
    /// written. Awaiting it is what gives a fast producer backpressure.
    ///
    /// Sending a refused event (`Err`) ends the stream: the future never
    /// completes, and the response drops the handler body.
    ///
    /// ```
    /// use sse_runtime::{event, SseResponse};
    /// let response = SseResponse::new(|mut emitter| async move {
    ///     emitter.send(event!("built with event!")).await;
    ///     emitter.send(sse_runtime::Event::comment("or by hand")).await;
    /// });
    /// # let _ = response;
    /// ```
    pub fn send<T: IntoEvent>(&mut self, event: T) -> Send<'_> {
        // Queued here rather than when first polled, so that the future
        // holds no event: it lives in the handler body's state at every
        // `yield`, and an idle stream should be small.
        let state = LENT.with_borrow_mut(|lent| {
            let Some(lent) = lent.as_mut().filter(|lent| lent.stream == self.stream) else {
                tracing::error!(
                    "an sse_runtime::Emitter was used outside its response's handler body; \
                     the event cannot be sent and the send never completes"
                );
                return SendState::Stuck;
            };
            match event.into_event() {
                Ok(event) => {
                    lent.accept(event);
                    if lent.pending_bytes() >= HIGH_WATER {
                        lent.full = true;
                        SendState::Draining
                    } else {
                        SendState::Sent
                    }
                }
                Err(error) => {
                    lent.refused.get_or_insert(Box::new(error));
                    SendState::Stuck
                }
            }
        });
        Send {
            stream: self.stream,
            state,
            _emitter: PhantomData,
        }
    }
}

/// The future returned by [`Emitter::send`]; see there for an example.
#[derive(Debug)]
#[must_use = "the event is queued, but only awaiting this waits for the client to catch up"]
pub struct Send<'a> {
    stream: u32,
    state: SendState,
    /// Holds the emitter borrowed, as a reference would, without storing
    /// one: this future is part of every handler body's state.
    _emitter: PhantomData<&'a mut Emitter>,
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    Sent,
    /// Waiting for the response body to take the outbox.
    Draining,
    /// Refused, or sent from outside the handler body: never completes.
    Stuck,
}

impl Future for Send<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        match self.state {
            SendState::Sent => Poll::Ready(()),
            SendState::Stuck => Poll::Pending,
            // No waker is needed: after taking a frame, the response body
            // polls the handler body again before anything else.
            SendState::Draining => LENT.with_borrow(|lent| {
                let drained = lent.as_ref().is_some_and(|lent| {
                    lent.stream == self.stream
                        && lent.pending_bytes() < HIGH_WATER
                        && lent.refused.is_none()
                });
                if drained {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        }
    }
}

impl Lent {
    fn accept(&mut self, event: crate::Event) {
        self.events += 1;
        if !event.is_shared() {
            // One copy into the outbox, so that many events leave as one
            // frame (see the module docs).
            self.buffer.extend_from_slice(event.as_bytes());
            return;
        }
        // Sent to many streams: written as it is, not copied, after the
        // batch so far.
        if !self.buffer.is_empty() {
            let batch = Bytes::from(std::mem::take(&mut self.buffer));
            self.queued_bytes += batch.len();
            self.queued.push_back(batch);
        }
        let frame = event.into_bytes();
        self.queued_bytes += frame.len();
        self.queued.push_back(frame);
    }

    fn pending_bytes(&self) -> usize {
        self.queued_bytes + self.buffer.len()
    }
}

/// The response body's side: the buffer it lends, and what it counts.
#[derive(Debug)]
pub(crate) struct Outbox {
    stream: u32,
    buffer: Vec<u8>,
    /// Boxed: only streams that send shared (hub) events use it, and every
    /// idle stream carries this struct.
    #[allow(
        clippy::box_collection,
        reason = "8 bytes in every stream instead of 32; allocated only when used"
    )]
    queued: Option<Box<VecDeque<Bytes>>>,
}

/// What one poll of the handler body sent.
pub(crate) struct Taken {
    pub(crate) frame: Option<Bytes>,
    /// How many events the body sent.
    pub(crate) events: u64,
    pub(crate) refused: Option<Box<EventError>>,
}

impl Outbox {
    /// Polls the handler body with the outbox lent to it, then takes what it
    /// sent.
    pub(crate) fn poll_with<T>(&mut self, poll: impl FnOnce() -> T) -> (T, Taken) {
        let queued = match self.queued.take() {
            Some(queued) => *queued,
            None => SPARE_QUEUE.take(),
        };
        let lent = Lent {
            stream: self.stream,
            buffer: std::mem::take(&mut self.buffer),
            queued,
            ..Lent::default()
        };
        // Save what is lent already: a handler body may itself poll another
        // stream's body (a proxy), which lends its own outbox in turn.
        let outer = LENT.replace(Some(lent));
        let polled = poll();
        let lent = LENT.replace(outer).unwrap_or_default();
        self.buffer = lent.buffer;
        let mut queued = lent.queued;
        // Queued frames go before the batch in the buffer. Usually there is
        // at most one, sent now, and only a longer line needs a box of its
        // own until the next polls have sent it.
        let frame = match queued.pop_front() {
            Some(frame) => Some(frame),
            None => self.take_buffer(lent.full),
        };
        if queued.is_empty() {
            if queued.capacity() <= SPARE_QUEUE_CAPACITY {
                SPARE_QUEUE.set(queued);
            }
        } else {
            self.queued = Some(Box::new(queued));
        }
        (
            polled,
            Taken {
                frame,
                events: lent.events,
                refused: lent.refused,
            },
        )
    }

    /// Takes what is in the outbox without polling the handler body.
    pub(crate) fn take_remaining(&mut self) -> Option<Bytes> {
        self.take_queued().or_else(|| self.take_buffer(false))
    }

    /// Writes final frames after what the body sent.
    pub(crate) fn append(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.buffer);
    }

    /// A frame queued before the current batch, if any: sent before the
    /// handler body is polled again.
    pub(crate) fn take_queued(&mut self) -> Option<Bytes> {
        let queued = self.queued.as_mut()?;
        let frame = queued.pop_front();
        if queued.is_empty() {
            self.queued = None;
        }
        frame
    }

    /// The batch in the buffer, as one frame.
    fn take_buffer(&mut self, full: bool) -> Option<Bytes> {
        if self.buffer.is_empty() {
            return None;
        }
        // The whole buffer becomes the frame, which needs no
        // shared-ownership record (`split` would allocate one), and an idle
        // stream then keeps no buffer alive. A stream that filled its buffer
        // is busy: its next buffer starts at full size, so that a burst
        // grows no buffer event by event.
        let next = if full {
            Vec::with_capacity(HIGH_WATER + HIGH_WATER / 4)
        } else {
            Vec::new()
        };
        Some(Bytes::from(std::mem::replace(&mut self.buffer, next)))
    }
}
