//! The hand-off between a handler body and the response body that sends its
//! events: what `yield` becomes.
//!
//! The body appends each yielded event to a shared outbox buffer and keeps
//! running until it either waits on something else (a timer, a channel) or the
//! outbox holds [`HIGH_WATER`] bytes. The response body then takes the whole
//! outbox as one HTTP body frame. So events that are ready together go out in
//! one frame and one write, an event yielded alone goes out at once (the body
//! stops to wait right after it), and no more than about `HIGH_WATER` bytes
//! are ever buffered between the body and the socket.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};

use crate::event::{EventError, IntoEvent};

/// Once the outbox holds this many bytes, a yield waits until the response
/// body has taken them. Large enough to batch hundreds of small events into
/// one write; small enough that a slow client holds little memory.
pub(crate) const HIGH_WATER: usize = 16 * 1024;

/// Sends events from a handler body to its response. The `#[sse_handler]`
/// macro creates one and turns each `yield` into
/// `emitter.send(event).await`; [`SseResponse::new`](crate::SseResponse::new)
/// hands one to a closure for handlers written without the macro.
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
    outbox: Arc<Mutex<Outbox>>,
}

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    buffer: BytesMut,
    /// A yielded event that was refused; the response body ends the stream.
    /// Boxed, as it is rare and the outbox lives as long as the stream.
    refused: Option<Box<EventError>>,
    /// The response body's waker, for an emitter used from another task.
    receiver: Option<Waker>,
    /// A send waiting for the buffer to drain.
    sender: Option<Waker>,
    /// Set while the response body is polling the handler body: sends made
    /// then need no wake-up, since the response body looks at the outbox
    /// right after.
    receiver_polling: bool,
    /// Events accepted, for the end-of-stream record.
    events_sent: u64,
}

pub(crate) fn lock(outbox: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    // Nothing panics while the lock is held, but a poisoned lock must not turn
    // into a panic of ours either.
    outbox.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Emitter {
    pub(crate) fn new() -> (Emitter, Arc<Mutex<Outbox>>) {
        let outbox = Arc::new(Mutex::new(Outbox::default()));
        (
            Emitter {
                outbox: Arc::clone(&outbox),
            },
            outbox,
        )
    }

    /// Sends one event. Completes at once unless about 16 KiB are already
    /// waiting for the client, in which case it waits for them to be written.
    ///
    /// Sending a refused event (`Err`) ends the stream: the future never
    /// completes, and the response drops the handler body.
    pub fn send<T: IntoEvent>(&mut self, event: T) -> Send<'_> {
        Send {
            emitter: self,
            event: Some(event.into_event()),
        }
    }
}

/// The future returned by [`Emitter::send`].
#[derive(Debug)]
#[must_use = "an event is only sent when this future is awaited"]
pub struct Send<'a> {
    emitter: &'a Emitter,
    event: Option<Result<crate::Event, EventError>>,
}

impl Future for Send<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut outbox = lock(&this.emitter.outbox);
        let Some(event) = this.event.take() else {
            // Polled again after waiting: continue once the buffer drained.
            if outbox.buffer.len() >= HIGH_WATER || outbox.refused.is_some() {
                outbox.sender = Some(cx.waker().clone());
                return Poll::Pending;
            }
            return Poll::Ready(());
        };
        match event {
            Ok(event) => {
                // One copy into the shared buffer, so that many events leave
                // as one frame (see the module docs).
                outbox.buffer.extend_from_slice(event.as_bytes());
                outbox.events_sent += 1;
                if !outbox.receiver_polling {
                    if let Some(receiver) = outbox.receiver.take() {
                        receiver.wake();
                    }
                }
                if outbox.buffer.len() >= HIGH_WATER {
                    outbox.sender = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(())
            }
            Err(error) => {
                outbox.refused.get_or_insert(Box::new(error));
                if let Some(receiver) = outbox.receiver.take() {
                    receiver.wake();
                }
                Poll::Pending
            }
        }
    }
}

/// The response body's side of the outbox.
#[derive(Debug)]
pub(crate) struct OutboxReader {
    outbox: Arc<Mutex<Outbox>>,
}

/// What one look at the outbox found.
pub(crate) struct Taken {
    pub(crate) frame: Option<Bytes>,
    pub(crate) refused: Option<Box<EventError>>,
}

impl OutboxReader {
    pub(crate) fn new(outbox: Arc<Mutex<Outbox>>) -> Self {
        OutboxReader { outbox }
    }

    /// Marks the start of a poll of the handler body.
    pub(crate) fn begin_poll(&self) {
        lock(&self.outbox).receiver_polling = true;
    }

    /// Marks the end of a poll of the handler body and takes what it sent.
    /// `waker` is stored so that sends from elsewhere wake the response.
    pub(crate) fn end_poll(&self, waker: &Waker) -> Taken {
        let mut outbox = lock(&self.outbox);
        outbox.receiver_polling = false;
        match &outbox.receiver {
            Some(stored) if stored.will_wake(waker) => {}
            _ => outbox.receiver = Some(waker.clone()),
        }
        Self::take(&mut outbox)
    }

    /// Takes what is in the outbox without polling the handler body.
    pub(crate) fn take_remaining(&self) -> Taken {
        Self::take(&mut lock(&self.outbox))
    }

    /// Writes final frames after what the body sent.
    pub(crate) fn append(&self, write: impl FnOnce(&mut BytesMut)) {
        write(&mut lock(&self.outbox).buffer);
    }

    pub(crate) fn events_sent(&self) -> u64 {
        lock(&self.outbox).events_sent
    }

    fn take(outbox: &mut Outbox) -> Taken {
        let frame = if outbox.buffer.is_empty() {
            None
        } else {
            // The whole buffer becomes the frame, which needs no
            // shared-ownership record (`split` would allocate one), and an
            // idle stream then keeps no buffer alive. A stream that filled
            // its buffer is busy: its next buffer starts at full size, so
            // that a burst grows no buffer event by event.
            let next = match outbox.sender.take() {
                Some(sender) => {
                    sender.wake();
                    BytesMut::with_capacity(HIGH_WATER + HIGH_WATER / 4)
                }
                None => BytesMut::new(),
            };
            Some(std::mem::replace(&mut outbox.buffer, next).freeze())
        };
        Taken {
            frame,
            refused: outbox.refused.take(),
        }
    }
}
