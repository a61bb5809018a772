//! Keep-alive timing for many streams at once.
//!
//! Each stream needs to be woken when it has been silent for its keep-alive
//! interval. A tokio `Sleep` per stream would do it, but costs 112 bytes in
//! every stream, most of which are idle: that was the largest single part of
//! an idle stream's memory. Instead, the streams polled on one worker thread
//! share a [`Wheel`]: a table of wakers and a queue of deadlines, driven by
//! one task with one `Sleep`. A stream keeps 40 bytes of [`KeepAlive`]; the
//! wheel keeps a waker (16 bytes) per stream and 8 bytes per pending
//! deadline.
//!
//! A stream does not re-arm on every frame it sends, which would take the
//! wheel's lock per frame. It records when it last sent; when its deadline
//! fires early (it sent since arming), it arms again for the right moment.
//! So a stream, busy or idle, touches the wheel about once per interval.
//!
//! Time is tokio's clock in whole milliseconds, so `tokio::time::pause`
//! applies to keep-alive as it would to a `Sleep`.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::{Instant, Sleep};

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Where [`EPOCH`] sits on the millisecond scale: half of the scale's 40
/// bits (about 17 years) lies before it. A paused tokio clock can stand
/// before the epoch: a test runtime that advanced its clock by days may be
/// the first to use keep-alive, and a runtime started later reads an
/// earlier time. Those moments must still count up, never all read as zero.
const EPOCH_MS: u64 = 1 << 39;

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds on tokio's clock (rounded down), on a scale that places
/// the first use at [`EPOCH_MS`].
pub(crate) fn now_ms() -> u64 {
    let (now, epoch) = (Instant::now(), epoch());
    match now.checked_duration_since(epoch) {
        Some(after) => EPOCH_MS + after.as_millis() as u64,
        None => {
            let before = epoch.duration_since(now).as_nanos().div_ceil(1_000_000);
            EPOCH_MS.saturating_sub(u64::try_from(before).unwrap_or(u64::MAX))
        }
    }
}

/// The moment a millisecond count stands for: the wheel sleeps until then,
/// and `now_ms` has reached the count when it wakes.
fn instant_of(ms: u64) -> Instant {
    let epoch = epoch();
    if ms >= EPOCH_MS {
        epoch + Duration::from_millis(ms - EPOCH_MS)
    } else {
        // Representable: some runtime's clock read this moment.
        epoch
            .checked_sub(Duration::from_millis(EPOCH_MS - ms))
            .unwrap_or(epoch)
    }
}

/// One stream's keep-alive: its interval, when it last sent, and its place
/// in a wheel once it has waited. Kept flat, without a nested struct for
/// the wheel's part, so that the two `u32`s share one word: every stream
/// carries this.
pub(crate) struct KeepAlive {
    last_send_ms: u64,
    /// The deadline last armed in the wheel.
    armed_ms: u64,
    /// The wheel holding this stream's waker in `slot`; `None` until the
    /// stream first waits.
    wheel: Option<Arc<Wheel>>,
    /// Which task the wheel wakes: the data pointer of the waker it holds.
    /// Compared on every wait, so that a body polled by another task from
    /// then on is still woken, without taking the wheel's lock to ask.
    waker_id: usize,
    slot: u32,
    interval_ms: NonZeroU32,
}

impl KeepAlive {
    /// `None` for an interval that rounds to zero milliseconds.
    pub(crate) fn new(interval: Duration) -> Option<KeepAlive> {
        // Whole milliseconds, rounded up so that a sub-millisecond interval
        // is not silently turned off; capped at about 49 days.
        let ms = interval.as_nanos().div_ceil(1_000_000);
        let interval_ms = NonZeroU32::new(u32::try_from(ms).unwrap_or(u32::MAX))?;
        Some(KeepAlive {
            last_send_ms: now_ms(),
            armed_ms: 0,
            wheel: None,
            waker_id: 0,
            slot: 0,
            interval_ms,
        })
    }

    pub(crate) fn record_send(&mut self) {
        self.last_send_ms = now_ms();
    }

    /// Ready when a keep-alive is due; then counts it as sent. Otherwise
    /// makes sure the wheel wakes this task by the time one is due.
    pub(crate) fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let now = now_ms();
        let due = self.last_send_ms + u64::from(self.interval_ms.get());
        if now >= due {
            // The next poll, which follows this frame, arms for the next one.
            self.last_send_ms = now;
            return Poll::Ready(());
        }
        if self.armed_ms <= now || self.live_wheel().is_none() {
            // Never armed, or the deadline passed while frames went out: arm
            // for when the silence will have lasted an interval.
            self.arm(Some(due), cx.waker());
        } else if self.waker_id != cx.waker().data() as usize {
            self.arm(None, cx.waker());
        }
        Poll::Pending
    }

    /// The wheel this stream is in, unless its runtime has shut down.
    fn live_wheel(&self) -> Option<&Arc<Wheel>> {
        self.wheel
            .as_ref()
            .filter(|wheel| wheel.driven.load(Ordering::Relaxed))
    }

    /// Queues a deadline at `due`, if given, and has the wheel wake `waker`.
    fn arm(&mut self, due: Option<u64>, waker: &Waker) {
        if self.live_wheel().is_none() {
            // First arming, or the runtime that drove the old wheel is gone.
            self.leave_wheel();
            let Some(wheel) = Wheel::for_this_thread() else {
                return;
            };
            let Some(slot) = wheel.lock().insert(waker.clone()) else {
                return;
            };
            self.wheel = Some(wheel);
            self.slot = slot;
        }
        let Some(wheel) = &self.wheel else {
            return;
        };
        self.waker_id = waker.data() as usize;
        let mut table = wheel.lock();
        let slot = &mut table.slots[self.slot as usize];
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            slot.waker = Some(waker.clone());
        }
        let Some(due) = due else {
            return;
        };
        self.armed_ms = due;
        table.deadlines.push(Reverse(Deadline::new(due, self.slot)));
        if table.scheduled_ms.is_none_or(|scheduled| due < scheduled) {
            // The driver sleeps until a later deadline, or not at all.
            if let Some(driver) = table.driver.take() {
                driver.wake();
            }
        }
    }

    fn leave_wheel(&mut self) {
        if let Some(wheel) = self.wheel.take() {
            // Drops the waker now, so that a closed stream's task is freed
            // at once rather than when its deadline passes.
            wheel.lock().remove(self.slot);
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.leave_wheel();
    }
}

/// The keep-alive deadlines of the streams polled on one worker thread of
/// one runtime, and the task that wakes them.
pub(crate) struct Wheel {
    table: Mutex<Table>,
    /// False once the driver task is gone (its runtime shut down). Read on
    /// every wait, so kept outside the lock.
    driven: AtomicBool,
}

struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    deadlines: BinaryHeap<Reverse<Deadline>>,
    /// The deadline the driver is sleeping until.
    scheduled_ms: Option<u64>,
    /// Woken when an earlier deadline arrives.
    driver: Option<Waker>,
}

/// A stream's waker. A freed slot may be reused while deadlines its last
/// stream armed are still queued; those then wake the new stream once for
/// nothing, which costs one poll and saves a generation count per slot.
struct Slot {
    waker: Option<Waker>,
}

/// A deadline and the slot it wakes, in one `u64` so that the queue costs 8
/// bytes per waiting stream: the low [`SLOT_BITS`] bits hold the slot, the
/// rest the milliseconds. Ordered by time first.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Deadline(u64);

/// Up to 16.7 million streams per thread, and deadlines up to about 17
/// years after the first keep-alive (see [`EPOCH_MS`]).
const SLOT_BITS: u32 = 24;
const MAX_SLOTS: usize = 1 << SLOT_BITS;

impl Deadline {
    fn new(due_ms: u64, slot: u32) -> Deadline {
        let due_ms = due_ms.min(u64::MAX >> SLOT_BITS);
        Deadline(due_ms << SLOT_BITS | u64::from(slot))
    }

    fn due_ms(&self) -> u64 {
        self.0 >> SLOT_BITS
    }

    fn slot(&self) -> usize {
        (self.0 & (MAX_SLOTS as u64 - 1)) as usize
    }
}

thread_local! {
    static THIS_THREAD: RefCell<Option<(tokio::runtime::Id, Arc<Wheel>)>> =
        const { RefCell::new(None) };
}

impl Wheel {
    /// This thread's wheel for the current runtime, created with its driver
    /// task on first use. `None` outside a tokio runtime.
    fn for_this_thread() -> Option<Arc<Wheel>> {
        let Ok(runtime) = Handle::try_current() else {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "an SSE body was polled outside a tokio runtime; it sends no keep-alives there"
                );
            }
            return None;
        };
        THIS_THREAD.with_borrow_mut(|current| {
            if let Some((id, wheel)) = current.as_ref() {
                if *id == runtime.id() && wheel.driven.load(Ordering::Relaxed) {
                    return Some(Arc::clone(wheel));
                }
            }
            let wheel = Arc::new(Wheel {
                table: Mutex::new(Table {
                    slots: Vec::new(),
                    free: Vec::new(),
                    deadlines: BinaryHeap::new(),
                    scheduled_ms: None,
                    driver: None,
                }),
                driven: AtomicBool::new(true),
            });
            runtime.spawn(Driver {
                wheel: Arc::clone(&wheel),
                sleep: None,
            });
            *current = Some((runtime.id(), Arc::clone(&wheel)));
            Some(wheel)
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Nothing panics while holding the lock; recover rather than spread
        // a poison to every stream.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Table {
    /// A slot for a new stream; `None` once the thread has [`MAX_SLOTS`].
    fn insert(&mut self, waker: Waker) -> Option<u32> {
        if let Some(slot) = self.free.pop() {
            self.slots[slot as usize].waker = Some(waker);
            return Some(slot);
        }
        if self.slots.len() >= MAX_SLOTS {
            return None;
        }
        self.slots.push(Slot { waker: Some(waker) });
        u32::try_from(self.slots.len() - 1).ok()
    }

    fn remove(&mut self, slot: u32) {
        self.slots[slot as usize].waker = None;
        self.free.push(slot);
    }

    /// Wakes every stream whose deadline has passed; returns the next
    /// deadline, if any.
    fn fire(&mut self, now: u64) -> Option<u64> {
        while let Some(Reverse(next)) = self.deadlines.peek() {
            if next.due_ms() > now {
                return Some(next.due_ms());
            }
            let Reverse(deadline) = self.deadlines.pop()?;
            if let Some(waker) = &self.slots[deadline.slot()].waker {
                waker.wake_by_ref();
            }
        }
        None
    }
}

/// The task that sleeps until a wheel's next deadline and wakes its streams.
struct Driver {
    wheel: Arc<Wheel>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            let next = {
                let mut table = this.wheel.lock();
                let next = table.fire(now_ms());
                table.scheduled_ms = next;
                table.driver = Some(cx.waker().clone());
                next
            };
            let Some(next) = next else {
                return Poll::Pending;
            };
            let deadline = instant_of(next);
            let sleep = match this.sleep.as_mut() {
                Some(sleep) => {
                    if sleep.deadline() != deadline {
                        sleep.as_mut().reset(deadline);
                    }
                    sleep
                }
                None => this
                    .sleep
                    .insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The runtime is shutting down. Streams still registered here find a
        // new wheel if they are ever polled on another runtime.
        self.wheel.driven.store(false, Ordering::Relaxed);
        self.wheel.lock().driver = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct CountingWaker;

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {}
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_stream_lets_go_of_its_task_and_its_slot() {
        let task = Arc::new(CountingWaker);
        let waker = Waker::from(Arc::clone(&task));
        let mut context = Context::from_waker(&waker);
        let wheel = Wheel::for_this_thread().expect("inside a runtime");
        for _ in 0..100 {
            let mut keep_alive = KeepAlive::new(Duration::from_secs(15)).expect("interval");
            assert!(keep_alive.poll_due(&mut context).is_pending());
            assert!(Arc::ptr_eq(
                keep_alive.wheel.as_ref().expect("armed"),
                &wheel
            ));
            // The wheel holds the task's waker while the stream waits.
            assert_eq!(Arc::strong_count(&task), 3);
            drop(keep_alive);
            assert_eq!(Arc::strong_count(&task), 2, "waker released on close");
        }
        let table = wheel.lock();
        assert_eq!(table.slots.len(), 1, "one slot, reused");
        assert_eq!(table.free, [0]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_waiting_again_within_its_interval_takes_no_new_deadline() {
        let waker = Waker::from(Arc::new(CountingWaker));
        let mut context = Context::from_waker(&waker);
        let mut keep_alive = KeepAlive::new(Duration::from_secs(15)).expect("interval");
        for _ in 0..50 {
            assert!(keep_alive.poll_due(&mut context).is_pending());
            keep_alive.record_send();
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        let wheel = Arc::clone(keep_alive.wheel.as_ref().expect("armed"));
        assert_eq!(wheel.lock().deadlines.len(), 1);
    }
}
