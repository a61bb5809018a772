//! The hub's log in this process: the recent events, in id order, that
//! every subscriber reads at its own pace; and the subscribers, each with
//! its place in it.
//!
//! A subscriber owns no queue. For each of its topics the log keeps the
//! *ordinal* (the place among that topic's events, counted per topic as
//! they are appended) of the oldest event of the topic it has not passed,
//! if there is one; and, per subscriber, a min-heap of those topics keyed
//! by that event's id. Its next event is the top of the heap, and appending
//! an event puts the topic on the heap of each of its subscribers that had
//! passed all of it: both are O(log n) in the n topics the subscriber
//! holds, where a scan of its topics was O(n). (One subscriber of 10,000
//! topics: 254 µs per delivered event with the scan, 0.59 µs with the
//! heap, against 0.56 µs for one topic; `benches/hub_topics.rs`,
//! BENCHMARKS.md.)
//!
//! Topics and subscribers are kept in slabs and name each other by key: a
//! topic lists its subscribers (its *members*), and each subscriber its
//! topics (its *slots*), each entry with its place in the other's list. So
//! reading indexes instead of hashing a topic's name (a fan-out to 10,000
//! subscribers: 1.25 ms before, 0.98 ms), and a subscriber leaves a topic
//! in O(1) however many others hold it (2.9 µs before with 10,000 others,
//! 0.12 µs).
//!
//! So a slow subscriber costs no memory: what it has not read yet is what
//! the log holds anyway, bounded in count, bytes and age by [`HubConfig`].
//! It falls behind only when an event of its topics is evicted before it
//! read it; since the log evicts oldest first, that is exactly when its
//! oldest unread event, the top of its heap, is at or before the newest
//! eviction.
//!
//! One lock orders appending, evicting, reading and waiting, so that a
//! subscriber never misses an event between finding nothing and waiting.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::ops::{Index, IndexMut};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;

use super::transport::EntryKind;
use super::{EventId, HubConfig};
use crate::metrics::HubMetrics;
use crate::sync::lock;

/// One event as the log keeps it: encoded once, with its id, and shared by
/// every subscriber.
#[derive(Debug, Clone)]
struct Entry {
    id: EventId,
    /// Its topic's key in [`State::topics`].
    topic: usize,
    /// A published event, or one of the library's marks; never decided
    /// from `frame`.
    kind: EntryKind,
    /// For an event, the encoded event with its id; for a mark, what the
    /// mark carries (see [`EntryKind`]).
    frame: Bytes,
    at: Instant,
    /// Its place among its topic's events, from 1.
    ordinal: u64,
}

/// What reading the log gave a subscriber.
pub(crate) enum Read {
    /// The next entry of its topics.
    Entry {
        id: EventId,
        kind: EntryKind,
        frame: Bytes,
        /// Which of the subscriber's topics it is of: its place in the
        /// list given to [`Log::register`].
        topic: usize,
    },
    /// Nothing new; the subscriber's waker is registered.
    Waiting,
    /// Events of its topics were evicted before it read them. `after` is
    /// the newest id it passed; its place in the log stays as it was, for
    /// [`Log::skip_to_newest`] to count what it missed.
    FellBehind { after: EventId },
}

/// Where a subscription that resumes after an id can start.
pub(crate) enum ResumeAt {
    /// The log holds everything after that id for its topics; the
    /// subscriber now reads on from there.
    Here,
    /// The id is older than what the log holds for these topics (or from
    /// before it began): ask the transport's history.
    Before,
    /// The id is newer than anything in the log: the transport may know it
    /// (another instance's event this one has not received yet), or no one
    /// does.
    After,
    /// The log holds every event around that id, and none has it: it was
    /// never issued.
    Unknown,
}

pub(crate) struct Log {
    config: HubConfig,
    state: Mutex<State>,
    metrics: HubMetrics,
}

struct State {
    entries: VecDeque<Entry>,
    /// The index of `entries[0]` in the log's whole history.
    first_index: u64,
    bytes: usize,
    /// Ids up to this one came before the log began (or before a gap in
    /// what it received): they are not known here.
    start: EventId,
    /// Whether everything after `start` reached this log, so that a
    /// subscriber can resume after `start` itself from here: true when the
    /// log began there (the transport delivers all that follows), false
    /// after a gap, when what came right after it may be lost.
    complete_after_start: bool,
    /// The newest id appended, or `start`.
    head: EventId,
    /// The newest id evicted, over all topics. Every event up to it is
    /// gone, and every event held is newer: the log evicts oldest first.
    last_evicted: EventId,
    /// The topics tracked: those with events held or with subscribers.
    topics: Slab<Topic>,
    /// The keys of `topics`, by name.
    names: HashMap<Arc<str>, usize>,
    /// The subscribers.
    readers: Slab<Reader>,
    /// The subscribers counted in [`HubStats::subscribers`].
    live: usize,
}

struct Topic {
    name: Arc<str>,
    /// Ordinal of this topic's newest event.
    appended: u64,
    /// Ordinal of this topic's newest evicted event: those up to it are gone.
    evicted: u64,
    /// The id of this topic's newest evicted event.
    last_evicted: EventId,
    /// Log indexes of this topic's events still held, oldest first: the
    /// ordinals `evicted + 1 ..= appended`, in order.
    index: VecDeque<u64>,
    /// Its subscribers, each with what it has not read of this topic.
    members: Vec<Member>,
}

/// One subscriber of a topic, as the topic lists it.
struct Member {
    /// The subscriber: its key in [`State::readers`].
    reader: usize,
    /// This topic's place in the subscriber's [`Reader::slots`].
    slot: usize,
    /// The ordinal of the oldest event of this topic the subscriber has not
    /// passed (held, or evicted unread), or `None` when it passed them all.
    unread: Option<u64>,
}

/// A subscriber: its topics, what it has not read of them, and how to wake
/// it.
///
/// Invariants, which reading relies on to deliver the right entry:
///
/// * For each slot `s`, `topics[slots[s].topic].members[slots[s].member]`
///   is this subscriber's member, with `slot == s`; one slot per topic.
/// * `next` holds one [`Next`] for each slot whose member's `unread` is
///   set, and none for the others. Its id is that of the event with ordinal
///   `unread`, kept after that event is evicted (at a [`Log::lost`], the
///   newest id then stands for the lost events).
///
/// So the top of `next` is the subscriber's oldest unread event; and since
/// the log evicts oldest first, the subscriber fell behind exactly when
/// that id is at or before [`State::last_evicted`].
struct Reader {
    waker: Option<Waker>,
    /// Whether it counts in [`HubStats::subscribers`]: the library's own
    /// subscriptions (a run's producer watching for its end) do not.
    counted: bool,
    /// The newest id it passed: the last event it read, or the newest in
    /// the log when it found nothing newer for its topics.
    passed: EventId,
    /// Its topics, in the order it subscribed to them.
    slots: Vec<Slot>,
    /// Its topics with an unread event, oldest first.
    next: BinaryHeap<Next>,
}

/// One of a subscriber's topics.
struct Slot {
    /// The topic's key in [`State::topics`].
    topic: usize,
    /// The subscriber's place in the topic's [`Topic::members`].
    member: usize,
}

/// A topic of a subscriber with an event it has not passed: the id of the
/// oldest such event, and the subscriber's slot for the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Next {
    id: EventId,
    slot: usize,
}

impl Ord for Next {
    /// Reversed, so that [`BinaryHeap`], a max-heap, gives the oldest
    /// first.
    fn cmp(&self, other: &Self) -> Ordering {
        steps::add(1);
        other
            .id
            .cmp(&self.id)
            .then_with(|| other.slot.cmp(&self.slot))
    }
}

impl PartialOrd for Next {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Values under keys that stay theirs until removed, then are reused: the
/// topics and the subscribers, which refer to each other by key.
struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Slab<T> {
    fn new() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, value: T) -> usize {
        match self.free.pop() {
            Some(key) => {
                self.items[key] = Some(value);
                key
            }
            None => {
                self.items.push(Some(value));
                self.items.len() - 1
            }
        }
    }

    fn remove(&mut self, key: usize) -> Option<T> {
        let value = self.items.get_mut(key)?.take()?;
        self.free.push(key);
        Some(value)
    }

    fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.items.get_mut(key)?.as_mut()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.items.iter_mut().flatten()
    }

    /// Removes the values `keep` says no to.
    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for (key, item) in self.items.iter_mut().enumerate() {
            if item.as_ref().is_some_and(|value| !keep(value)) {
                *item = None;
                self.free.push(key);
            }
        }
    }
}

impl<T> Index<usize> for Slab<T> {
    type Output = T;

    fn index(&self, key: usize) -> &T {
        self.items[key].as_ref().expect("a key in use")
    }
}

impl<T> IndexMut<usize> for Slab<T> {
    fn index_mut(&mut self, key: usize) -> &mut T {
        self.items[key].as_mut().expect("a key in use")
    }
}

/// Counts the steps whose number grows with a subscription's topics (one
/// per topic visited, one per comparison of keys), so that unit tests
/// bound the work of subscribing and of delivering an event by counting
/// rather than timing. Counts nothing outside this crate's unit tests.
#[cfg(test)]
pub(crate) mod steps {
    use std::cell::Cell;

    thread_local! {
        static STEPS: Cell<u64> = const { Cell::new(0) };
    }

    pub(crate) fn add(n: u64) {
        STEPS.with(|steps| steps.set(steps.get() + n));
    }

    /// The steps counted on this thread since the last call.
    pub(crate) fn take() -> u64 {
        STEPS.with(|steps| steps.replace(0))
    }
}

#[cfg(not(test))]
pub(crate) mod steps {
    #[inline(always)]
    pub(crate) fn add(_: u64) {}
}

/// Counts of what the log holds; see [`Hub::stats`](super::Hub::stats).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let hub = sse_runtime::hub::Hub::new();
/// let _listening = hub.subscribe(&["t"], None);
/// hub.publish("t", sse_runtime::event!("x")).await.unwrap();
/// let stats: sse_runtime::hub::HubStats = hub.stats();
/// assert_eq!((stats.events, stats.subscribers), (1, 1));
/// assert!(stats.bytes > 0);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HubStats {
    /// Events held for replay and for subscribers still reading them.
    pub events: usize,
    /// Their encoded size in bytes.
    pub bytes: usize,
    /// Subscriptions open.
    pub subscribers: usize,
}

impl Log {
    /// An empty log that knows nothing at or before `start`.
    pub(crate) fn new(config: HubConfig, start: EventId) -> Log {
        Log {
            config,
            metrics: HubMetrics::new(config.name, config.topic_labels),
            state: Mutex::new(State {
                entries: VecDeque::new(),
                first_index: 0,
                bytes: 0,
                start,
                complete_after_start: true,
                head: start,
                last_evicted: start,
                topics: Slab::new(),
                names: HashMap::new(),
                readers: Slab::new(),
                live: 0,
            }),
        }
    }

    pub(crate) fn config(&self) -> &HubConfig {
        &self.config
    }

    pub(crate) fn metrics(&self) -> &HubMetrics {
        &self.metrics
    }

    /// Appends an entry of `kind` with the next id `next_id` gives (called
    /// with the newest id so far, under the lock) and wakes the topic's
    /// subscribers. `frame` builds what the entry holds for that id.
    /// Returns the id, or `None` when `next_id` gave one not newer than the
    /// newest (a transport delivering an entry twice): nothing is appended
    /// then.
    pub(crate) fn append(
        &self,
        topic: &str,
        kind: EntryKind,
        next_id: impl FnOnce(EventId) -> EventId,
        frame: impl FnOnce(EventId) -> Bytes,
    ) -> Option<EventId> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let id = next_id(state.head);
        if id <= state.head {
            return None;
        }
        let frame = frame(id);
        let index = state.first_index + state.entries.len() as u64;
        let key = state.topic_key(topic);
        let ordinal = {
            let topic = &mut state.topics[key];
            topic.appended += 1;
            topic.index.push_back(index);
            topic.appended
        };
        state.bytes += frame.len();
        state.head = id;
        state.entries.push_back(Entry {
            id,
            topic: key,
            kind,
            frame,
            at: now,
            ordinal,
        });
        state.evict(&self.config, now);
        // The newest event is never evicted (see `evict`), so its topic is
        // still tracked under `key`.
        let State {
            topics, readers, ..
        } = &mut *state;
        for member in &mut topics[key].members {
            steps::add(1);
            let reader = &mut readers[member.reader];
            if member.unread.is_none() {
                // It had passed every event of this topic: this one is its
                // oldest unread.
                member.unread = Some(ordinal);
                reader.next.push(Next {
                    id,
                    slot: member.slot,
                });
            }
            if let Some(waker) = reader.waker.take() {
                waker.wake();
            }
        }
        Some(id)
    }

    /// Forgets everything held: events after the newest may have been lost
    /// before reaching this log (see [`LiveFeed::gap`](super::LiveFeed::gap)).
    /// Subscribers that had read everything go on with what comes next;
    /// the others fall behind, and resuming after any id held until now,
    /// the newest included, asks the transport's history, which knows what
    /// is gone.
    pub(crate) fn gap(&self) {
        lock(&self.state).forget(false);
    }

    /// Like [`gap`](Self::gap), for events after the newest that were lost
    /// for sure (see [`LiveFeed::lost`](super::LiveFeed::lost)): every
    /// subscriber falls behind, those that had read everything included.
    pub(crate) fn lost(&self) {
        lock(&self.state).forget(true);
    }

    /// Registers a subscriber of `topics` (a topic named twice counts
    /// once), at the newest event: it reads what comes next. Returns its
    /// key, for every other call about it.
    pub(crate) fn register(&self, topics: &[Arc<str>], counted: bool) -> usize {
        let mut state = lock(&self.state);
        let reader = Reader {
            waker: None,
            counted,
            passed: state.head,
            slots: Vec::with_capacity(topics.len()),
            // Most subscribers hold one topic, so one unread topic at most:
            // room for exactly that, where a first push makes room for
            // four (72 bytes more per subscriber).
            next: BinaryHeap::with_capacity(topics.len().min(1)),
        };
        let key = state.readers.insert(reader);
        for name in topics {
            steps::add(1);
            let topic_key = state.topic_key(name);
            let State {
                topics, readers, ..
            } = &mut *state;
            let topic = &mut topics[topic_key];
            // Two members for one topic would deliver its events twice.
            // Registering holds the lock, so this subscriber's member, if
            // the topic has one, is its newest.
            if topic
                .members
                .last()
                .is_some_and(|member| member.reader == key)
            {
                continue;
            }
            let slots = &mut readers[key].slots;
            topic.members.push(Member {
                reader: key,
                slot: slots.len(),
                unread: None,
            });
            slots.push(Slot {
                topic: topic_key,
                member: topic.members.len() - 1,
            });
        }
        state.live += usize::from(counted);
        key
    }

    /// Forgets the subscriber `key`: O(1) per topic, whatever the topic's
    /// other subscribers.
    pub(crate) fn unregister(&self, key: usize) {
        let mut state = lock(&self.state);
        let Some(reader) = state.readers.remove(key) else {
            return;
        };
        for (slot_number, slot) in reader.slots.iter().enumerate() {
            steps::add(1);
            let State {
                topics, readers, ..
            } = &mut *state;
            let members = &mut topics[slot.topic].members;
            // Invariant (see `Reader`): removing another subscriber's
            // member would leave this key among the topic's members, and
            // the topic's events would go to whichever subscriber gets
            // the key next.
            assert!(
                members
                    .get(slot.member)
                    .is_some_and(|member| member.reader == key && member.slot == slot_number),
                "a subscriber's slot points at its own member"
            );
            members.swap_remove(slot.member);
            if let Some(moved) = members.get(slot.member) {
                // The topic's last member took the removed one's place.
                readers[moved.reader].slots[moved.slot].member = slot.member;
            }
            state.untrack_if_idle(slot.topic);
        }
        state.live -= usize::from(reader.counted);
    }

    /// Moves the subscriber `key` to the newest event: it reads what comes
    /// next.
    pub(crate) fn go_live(&self, key: usize) {
        lock(&self.state).skip_to_newest(key);
    }

    /// Moves the subscriber `key` back to the newest `recent` events of its
    /// topics held here: it reads them, then what comes next.
    pub(crate) fn start_with_recent(&self, key: usize, recent: usize) {
        let mut state = lock(&self.state);
        let mine: HashSet<usize> = state.readers[key]
            .slots
            .iter()
            .map(|slot| slot.topic)
            .collect();
        let mut matching = 0;
        let mut first = None;
        for (position, entry) in state.entries.iter().enumerate().rev() {
            if mine.contains(&entry.topic) {
                matching += 1;
                first = Some(position);
                if matching == recent {
                    break;
                }
            }
        }
        let Some(first) = first else {
            state.skip_to_newest(key);
            return;
        };
        let start = state.entries[first].id;
        let passed = match first {
            0 => state.last_evicted,
            _ => state.entries[first - 1].id,
        };
        state.place(key, passed, |id| id < start);
    }

    /// Where the subscriber `key`, which has seen everything up to `after`
    /// of its topics, can read on; with [`ResumeAt::Here`] it is moved
    /// there, and otherwise left where it was.
    pub(crate) fn resume_at(&self, key: usize, after: EventId) -> ResumeAt {
        let mut state = lock(&self.state);
        state.evict_expired(&self.config, Instant::now());
        if after > state.head {
            return ResumeAt::After;
        }
        if after < state.start || (after == state.start && !state.complete_after_start) {
            return ResumeAt::Before;
        }
        // Everything after the newest eviction is held, so an id there must
        // be one of the held events' (or where the log began).
        if after > state.last_evicted
            && after != state.start
            && state
                .entries
                .binary_search_by(|entry| entry.id.cmp(&after))
                .is_err()
        {
            return ResumeAt::Unknown;
        }
        // An event of one of its topics after `after` was evicted. (A
        // subscriber's topics are tracked while it is registered; one
        // tracked anew assumes the newest eviction of any topic.)
        let evicted_after = state.readers[key]
            .slots
            .iter()
            .any(|slot| state.topics[slot.topic].last_evicted > after);
        if evicted_after {
            return ResumeAt::Before;
        }
        state.place(key, after, |id| id <= after);
        ResumeAt::Here
    }

    /// The next event for the subscriber `key`, which it passes; registers
    /// `waker` when there is none. O(log n) in its n topics.
    pub(crate) fn read(&self, key: usize, waker: &Waker) -> Read {
        let mut state = lock(&self.state);
        state.evict_expired(&self.config, Instant::now());
        steps::add(1);
        let State {
            entries,
            first_index,
            head,
            last_evicted,
            topics,
            readers,
            ..
        } = &mut *state;
        let reader = &mut readers[key];
        let Some(&next) = reader.next.peek() else {
            reader.passed = *head;
            match &reader.waker {
                Some(current) if current.will_wake(waker) => {}
                _ => reader.waker = Some(waker.clone()),
            }
            return Read::Waiting;
        };
        if next.id <= *last_evicted {
            // Its oldest unread event is gone.
            return Read::FellBehind {
                after: reader.passed,
            };
        }
        reader.next.pop();
        let slot = &reader.slots[next.slot];
        let topic = &mut topics[slot.topic];
        let member = &mut topic.members[slot.member];
        let ordinal = member
            .unread
            .expect("a topic in `next` has an unread event");
        // Held, since it is newer than the newest eviction: ordinal
        // `evicted + 1` is the first of the topic's index.
        let position = (ordinal - topic.evicted - 1) as usize;
        let entry = &entries[(topic.index[position] - *first_index) as usize];
        // Invariant (see `Reader`): reading any other entry would send one
        // topic's event to a subscriber of another.
        assert!(
            entry.id == next.id && entry.topic == slot.topic && entry.ordinal == ordinal,
            "a subscriber's next event is the one its topic holds at that ordinal"
        );
        member.unread = topic.index.get(position + 1).map(|&index| {
            reader.next.push(Next {
                id: entries[(index - *first_index) as usize].id,
                slot: next.slot,
            });
            ordinal + 1
        });
        reader.passed = entry.id;
        Read::Entry {
            id: entry.id,
            kind: entry.kind,
            frame: entry.frame.clone(),
            topic: next.slot,
        }
    }

    /// The newest id the subscriber `key` passed: where it began, until
    /// it reads or is moved.
    pub(crate) fn passed(&self, key: usize) -> EventId {
        lock(&self.state).readers[key].passed
    }

    /// The newest id received.
    pub(crate) fn newest(&self) -> EventId {
        lock(&self.state).head
    }

    /// Moves the subscriber `key`, which fell behind, to the newest event;
    /// returns how many events of its topics it skipped.
    pub(crate) fn skip_to_newest(&self, key: usize) -> u64 {
        lock(&self.state).skip_to_newest(key)
    }

    /// Registers `waker` to be woken by the next event of the subscriber's
    /// topics, without reading.
    pub(crate) fn wait(&self, key: usize, waker: &Waker) {
        let mut state = lock(&self.state);
        if let Some(reader) = state.readers.get_mut(key) {
            reader.waker = Some(waker.clone());
        }
    }

    pub(crate) fn stats(&self) -> HubStats {
        let mut state = lock(&self.state);
        state.evict_expired(&self.config, Instant::now());
        HubStats {
            events: state.entries.len(),
            bytes: state.bytes,
            subscribers: state.live,
        }
    }
}

impl State {
    /// Places the subscriber `key` after the events of its topics that
    /// `is_passed` (monotonic in the id: true up to some id, then false),
    /// with `passed` as the newest id it passed. Every event of its topics
    /// not passed must be held. O(n log m) for n topics of m held events.
    fn place(&mut self, key: usize, passed: EventId, is_passed: impl Fn(EventId) -> bool) {
        let State {
            entries,
            first_index,
            topics,
            readers,
            ..
        } = self;
        let Reader {
            slots,
            next,
            passed: reader_passed,
            ..
        } = &mut readers[key];
        *reader_passed = passed;
        let id_at = |index: u64| entries[(index - *first_index) as usize].id;
        let mut unread = Vec::with_capacity(slots.len());
        for (slot_number, slot) in slots.iter().enumerate() {
            steps::add(1);
            let topic = &mut topics[slot.topic];
            let held = topic
                .index
                .partition_point(|&index| is_passed(id_at(index)));
            topic.members[slot.member].unread = topic.index.get(held).map(|&index| {
                unread.push(Next {
                    id: id_at(index),
                    slot: slot_number,
                });
                topic.evicted + held as u64 + 1
            });
        }
        *next = BinaryHeap::from(unread);
    }

    /// What [`Log::skip_to_newest`] does.
    fn skip_to_newest(&mut self, key: usize) -> u64 {
        let State {
            topics,
            readers,
            head,
            ..
        } = self;
        let reader = &mut readers[key];
        let mut skipped = 0;
        for next in reader.next.drain() {
            let slot = &reader.slots[next.slot];
            let topic = &mut topics[slot.topic];
            let unread = topic.members[slot.member]
                .unread
                .take()
                .expect("a topic in `next` has an unread event");
            // It had not passed the ordinals `unread ..= appended`.
            skipped += topic.appended + 1 - unread;
        }
        reader.passed = *head;
        skipped
    }

    /// What [`Log::gap`] and [`Log::lost`] do: forget every held event,
    /// and with `lost`, count one lost event in each topic subscribed to,
    /// so that every subscriber falls behind and is told. How many were
    /// lost is not known here (the broker lost them before this process
    /// received them): one stands for them in a `lagged` count.
    fn forget(&mut self, lost: bool) {
        self.first_index += self.entries.len() as u64;
        self.entries.clear();
        self.bytes = 0;
        let head = self.head;
        let State {
            topics,
            names,
            readers,
            ..
        } = self;
        // A topic no one subscribes to and with no event held is tracked no
        // longer, as eviction does; kept, every topic ever published to
        // before a gap would stay in memory.
        topics.retain(|topic| {
            let keep = !topic.members.is_empty();
            if !keep {
                names.remove(&topic.name);
            }
            keep
        });
        for topic in topics.iter_mut() {
            if lost {
                topic.appended += 1;
                for member in &mut topic.members {
                    if member.unread.is_none() {
                        // `head` stands for the lost event's id: at the
                        // newest eviction (set below), so the subscriber
                        // falls behind.
                        member.unread = Some(topic.appended);
                        readers[member.reader].next.push(Next {
                            id: head,
                            slot: member.slot,
                        });
                    }
                }
            }
            topic.evicted = topic.appended;
            topic.last_evicted = head;
            topic.index.clear();
        }
        self.start = head;
        self.complete_after_start = false;
        self.last_evicted = head;
        self.wake_all();
    }

    /// The key of the topic `name`, tracked from now on if it was not.
    fn topic_key(&mut self, name: &str) -> usize {
        if let Some(&key) = self.names.get(name) {
            return key;
        }
        let name: Arc<str> = Arc::from(name);
        let key = self.topics.insert(Topic {
            name: name.clone(),
            appended: 0,
            evicted: 0,
            // Events of this topic may have been evicted before it was
            // tracked again: assume the newest eviction of any topic.
            last_evicted: self.last_evicted,
            index: VecDeque::new(),
            members: Vec::new(),
        });
        self.names.insert(name, key);
        key
    }

    /// Stops tracking the topic `key` if it has no subscriber and no event
    /// held.
    fn untrack_if_idle(&mut self, key: usize) {
        let topic = &self.topics[key];
        if topic.members.is_empty() && topic.index.is_empty() {
            if let Some(topic) = self.topics.remove(key) {
                self.names.remove(&topic.name);
            }
        }
    }

    /// Evicts the oldest events beyond the count and byte budgets, and
    /// those past their age. The newest event always stays, so that a
    /// subscriber waiting for it is never told it fell behind by an event
    /// no one could read.
    fn evict(&mut self, config: &HubConfig, now: Instant) {
        while self.entries.len() > 1
            && (self.entries.len() > config.replay || self.bytes > config.replay_bytes)
        {
            self.evict_oldest();
        }
        self.evict_expired(config, now);
    }

    fn evict_expired(&mut self, config: &HubConfig, now: Instant) {
        let Some(max_age) = config.max_age else {
            return;
        };
        while self
            .entries
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.at) > max_age)
        {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        let Some(oldest) = self.entries.pop_front() else {
            return;
        };
        self.first_index += 1;
        self.bytes -= oldest.frame.len();
        self.last_evicted = oldest.id;
        let topic = &mut self.topics[oldest.topic];
        // Invariant: a topic's index lists its held events in log order,
        // so the oldest event is at the front of its topic's.
        let front = topic.index.pop_front();
        debug_assert_eq!(front, Some(self.first_index - 1));
        topic.evicted = oldest.ordinal;
        topic.last_evicted = oldest.id;
        self.untrack_if_idle(oldest.topic);
    }

    fn wake_all(&mut self) {
        for reader in self.readers.iter_mut() {
            if let Some(waker) = reader.waker.take() {
                waker.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::task::Waker;

    use super::*;

    fn append(log: &Log, topic: &str) -> EventId {
        log.append(
            topic,
            EntryKind::Event,
            |newest| newest.next_at(0),
            |_| Bytes::from_static(b"data: x\n\n"),
        )
        .expect("a new id")
    }

    fn names(count: usize) -> Vec<Arc<str>> {
        (0..count).map(|n| Arc::from(format!("t{n}"))).collect()
    }

    /// Topics are tracked while they hold events or have subscribers; a
    /// gap forgets the others, as eviction does, so that every topic ever
    /// published to before a gap does not stay in memory.
    #[test]
    fn a_gap_forgets_topics_no_one_subscribes_to() {
        let log = Log::new(HubConfig::default(), EventId::new(1, 0));
        let subscribed: Arc<str> = Arc::from("kept");
        let key = log.register(std::slice::from_ref(&subscribed), true);
        for n in 0..1000 {
            append(&log, &format!("user-{n}"));
        }
        append(&log, "kept");
        assert_eq!(lock(&log.state).topics.len(), 1001);
        log.gap();
        assert_eq!(lock(&log.state).topics.len(), 1);
        assert_eq!(lock(&log.state).names.len(), 1);
        log.unregister(key);
        assert_eq!(lock(&log.state).topics.len(), 0);
        assert!(lock(&log.state).names.is_empty());
    }

    /// After a gap, resuming after the newest id received before it asks
    /// the transport: what came right after it may be what was lost. At
    /// the start, the id the log starts after is resumed from here.
    #[test]
    fn after_a_gap_even_the_newest_id_asks_the_transport() {
        let start = EventId::new(1, 0);
        let log = Log::new(HubConfig::default(), start);
        let key = log.register(&[Arc::from("t")], true);
        assert!(matches!(log.resume_at(key, start), ResumeAt::Here));
        let newest = append(&log, "t");
        assert!(matches!(log.resume_at(key, newest), ResumeAt::Here));
        log.gap();
        assert!(matches!(log.resume_at(key, newest), ResumeAt::Before));
        let next = append(&log, "t");
        assert!(matches!(log.resume_at(key, next), ResumeAt::Here));
    }

    /// Delivering an event to a subscriber of n topics (appending it, then
    /// the subscriber reading it) takes O(log n) steps, as many as for a
    /// subscriber of a few: a scan of its topics took n per read. Counted,
    /// not timed; the time is in `benches/hub_topics.rs`.
    #[test]
    fn delivering_an_event_takes_log_n_steps_in_the_topics_subscribed_to() {
        const TOPICS: usize = 20_000;
        const EVENTS: usize = 1_000;
        let log = Log::new(HubConfig::default(), EventId::new(1, 0));
        let topics = names(TOPICS);
        let key = log.register(&topics, true);
        let log2 = TOPICS.ilog2() as u64 + 1;
        // Unread events spread over many topics, so that the subscriber's
        // heap holds many of them.
        let published: Vec<EventId> = (0..EVENTS)
            .map(|n| append(&log, &topics[n * 7919 % TOPICS]))
            .collect();
        steps::take();
        for id in &published {
            let Read::Entry { id: read, .. } = log.read(key, Waker::noop()) else {
                panic!("an event to read");
            };
            assert_eq!(read, *id);
        }
        let per_read = steps::take() / EVENTS as u64;
        assert!(per_read <= 3 * log2, "{per_read} steps per read");
        // Published and read one at a time.
        for n in 0..EVENTS {
            let id = append(&log, &topics[n * 31 % TOPICS]);
            let Read::Entry { id: read, .. } = log.read(key, Waker::noop()) else {
                panic!("an event to read");
            };
            assert_eq!(read, id);
        }
        let per_event = steps::take() / EVENTS as u64;
        assert!(per_event <= 3 * log2, "{per_event} steps per event");
        assert!(matches!(log.read(key, Waker::noop()), Read::Waiting));
    }

    /// Unsubscribing costs one step per topic, however many other
    /// subscribers each topic has: a search through each topic's
    /// subscribers made dropping many subscribers of one topic quadratic.
    #[test]
    fn unsubscribing_takes_a_step_per_topic() {
        let log = Log::new(HubConfig::default(), EventId::new(1, 0));
        let topics = names(100);
        let keys: Vec<usize> = (0..1000).map(|_| log.register(&topics, true)).collect();
        append(&log, "t7");
        steps::take();
        for key in keys.iter().step_by(2) {
            log.unregister(*key);
        }
        assert_eq!(steps::take(), 500 * 100);
        // The others still read their events, once each.
        let id = append(&log, "t7");
        for key in keys.iter().skip(1).step_by(2) {
            let Read::Entry { id: first, .. } = log.read(*key, Waker::noop()) else {
                panic!("an event to read");
            };
            let Read::Entry { id: second, .. } = log.read(*key, Waker::noop()) else {
                panic!("an event to read");
            };
            assert!(first < second && second == id);
            assert!(matches!(log.read(*key, Waker::noop()), Read::Waiting));
        }
        for key in keys.iter().skip(1).step_by(2) {
            log.unregister(*key);
        }
        let state = lock(&log.state);
        assert_eq!((state.readers.len(), state.live), (0, 0));
        assert_eq!(state.topics.len(), 1, "only t7 holds events");
    }

    /// A small random number generator (xorshift), so that the model test
    /// below is the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// The log as it was before the heap: each subscriber holds, per topic,
    /// the ordinal of the newest event it passed, and reading scans them
    /// all. Kept as the model the log must agree with, step by step.
    struct Model {
        head: EventId,
        start: EventId,
        complete_after_start: bool,
        last_evicted: EventId,
        /// Held events: (id, topic, ordinal).
        held: VecDeque<(EventId, usize, u64)>,
        /// Per topic: appended, evicted, last evicted id.
        topics: Vec<(u64, u64, EventId)>,
        /// Per subscriber: its topics with the ordinal passed, and the
        /// newest id passed.
        readers: Vec<(Vec<(usize, u64)>, EventId)>,
    }

    #[derive(Debug, PartialEq)]
    enum Got {
        Entry(EventId),
        Waiting,
        FellBehind(EventId),
    }

    impl Model {
        fn append(&mut self, id: EventId, topic: usize, replay: usize) {
            self.topics[topic].0 += 1;
            self.held.push_back((id, topic, self.topics[topic].0));
            self.head = id;
            while self.held.len() > replay {
                let (id, topic, ordinal) = self.held.pop_front().unwrap();
                self.last_evicted = id;
                self.topics[topic].1 = ordinal;
                self.topics[topic].2 = id;
            }
        }

        fn forget(&mut self, lost: bool) {
            self.held.clear();
            for topic in &mut self.topics {
                topic.0 += u64::from(lost);
                topic.1 = topic.0;
                topic.2 = self.head;
            }
            self.start = self.head;
            self.complete_after_start = false;
            self.last_evicted = self.head;
        }

        fn read(&mut self, reader: usize) -> Got {
            let (seen, passed) = &mut self.readers[reader];
            if seen.iter().any(|&(t, s)| self.topics[t].1 > s) {
                return Got::FellBehind(*passed);
            }
            let next = self
                .held
                .iter()
                .find(|&&(_, t, o)| seen.iter().any(|&(mine, s)| mine == t && o == s + 1));
            match next {
                Some(&(id, t, o)) => {
                    seen.iter_mut().find(|(mine, _)| *mine == t).unwrap().1 = o;
                    *passed = id;
                    Got::Entry(id)
                }
                None => {
                    *passed = self.head;
                    Got::Waiting
                }
            }
        }

        fn skip(&mut self, reader: usize) -> u64 {
            let (seen, passed) = &mut self.readers[reader];
            let mut skipped = 0;
            for (t, s) in seen.iter_mut() {
                skipped += self.topics[*t].0 - *s;
                *s = self.topics[*t].0;
            }
            *passed = self.head;
            skipped
        }

        /// Places `reader` after the events `is_passed` says it passed.
        fn place(&mut self, reader: usize, passed: EventId, is_passed: impl Fn(EventId) -> bool) {
            let (seen, at) = &mut self.readers[reader];
            for (t, s) in seen.iter_mut() {
                let held = self
                    .held
                    .iter()
                    .filter(|&&(id, topic, _)| topic == *t && is_passed(id))
                    .count();
                *s = self.topics[*t].1 + held as u64;
            }
            *at = passed;
        }

        fn resume_at(&mut self, reader: usize, after: EventId) -> &'static str {
            if after > self.head {
                return "after";
            }
            if after < self.start || (after == self.start && !self.complete_after_start) {
                return "before";
            }
            if after > self.last_evicted
                && after != self.start
                && !self.held.iter().any(|&(id, _, _)| id == after)
            {
                return "unknown";
            }
            let (seen, _) = &self.readers[reader];
            if seen.iter().any(|&(t, _)| self.topics[t].2 > after) {
                return "before";
            }
            self.place(reader, after, |id| id <= after);
            "here"
        }

        fn recent(&mut self, reader: usize, recent: usize) {
            let mine: Vec<usize> = self.readers[reader].0.iter().map(|&(t, _)| t).collect();
            let matching: Vec<usize> = (0..self.held.len())
                .rev()
                .filter(|&p| mine.contains(&self.held[p].1))
                .take(recent)
                .collect();
            let Some(&first) = matching.last() else {
                self.skip(reader);
                return;
            };
            let start = self.held[first].0;
            let passed = match first {
                0 => self.last_evicted,
                _ => self.held[first - 1].0,
            };
            self.place(reader, passed, |id| id < start);
        }
    }

    /// The log and the model above, given the same random operations,
    /// agree on every read, skip count and resume: the heap changed how the
    /// next event is found, not which.
    #[test]
    fn the_log_reads_as_the_scanning_model_did() {
        const TOPICS: usize = 6;
        const REPLAY: usize = 6;
        let subscriptions: [&[usize]; 5] = [
            &[0, 1, 2, 3, 4, 5],
            &[0],
            &[1, 2, 3],
            &[4, 5, 0, 2],
            &[3, 3, 1],
        ];
        let start = EventId::new(1, 0);
        let config = HubConfig {
            replay: REPLAY,
            ..HubConfig::default()
        };
        let log = Log::new(config, start);
        let topic_names = names(TOPICS);
        let keys: Vec<usize> = subscriptions
            .iter()
            .map(|topics| {
                let named: Vec<Arc<str>> = topics.iter().map(|&t| topic_names[t].clone()).collect();
                log.register(&named, true)
            })
            .collect();
        let mut model = Model {
            head: start,
            start,
            complete_after_start: true,
            last_evicted: start,
            held: VecDeque::new(),
            topics: vec![(0, 0, start); TOPICS],
            readers: subscriptions
                .iter()
                .map(|topics| {
                    let mut distinct: Vec<(usize, u64)> = Vec::new();
                    for &t in *topics {
                        if !distinct.iter().any(|&(d, _)| d == t) {
                            distinct.push((t, 0));
                        }
                    }
                    (distinct, start)
                })
                .collect(),
        };
        let mut ids = vec![start];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut tally: HashMap<&str, usize> = HashMap::new();
        let mut outcomes: HashMap<String, usize> = HashMap::new();
        for step in 0..200_000 {
            let reader = rng.below(keys.len());
            let key = keys[reader];
            let operation = match rng.below(100) {
                0..=34 => "append",
                35..=74 => "read",
                75..=84 => "skip",
                85..=92 => "resume",
                93..=95 => "recent",
                96..=97 => "live",
                98 => "gap",
                _ => "lost",
            };
            *tally.entry(operation).or_default() += 1;
            match operation {
                "append" => {
                    let topic = rng.below(TOPICS);
                    // Ids two apart, so that some between them were never
                    // issued.
                    let id = log
                        .append(
                            &topic_names[topic],
                            EntryKind::Event,
                            |newest| EventId::new(newest.ms(), newest.seq() + 2),
                            |_| Bytes::from_static(b"data: x\n\n"),
                        )
                        .expect("a new id");
                    model.append(id, topic, REPLAY);
                    ids.push(id);
                }
                "read" => {
                    let got = match log.read(key, Waker::noop()) {
                        Read::Entry { id, .. } => Got::Entry(id),
                        Read::Waiting => Got::Waiting,
                        Read::FellBehind { after } => Got::FellBehind(after),
                    };
                    assert_eq!(got, model.read(reader), "step {step}");
                    *outcomes
                        .entry(format!("{got:?}").split('(').next().unwrap().to_owned())
                        .or_default() += 1;
                }
                "skip" => assert_eq!(log.skip_to_newest(key), model.skip(reader), "step {step}"),
                "resume" => {
                    // An id issued, one between two issued, or one never
                    // issued past the newest.
                    let base = ids[ids.len() - 1 - rng.below(ids.len().min(20))];
                    let after = match rng.below(4) {
                        0 => EventId::new(base.ms(), base.seq() + 1),
                        1 if rng.below(4) == 0 => EventId::new(base.ms() + 1000, 0),
                        _ => base,
                    };
                    let got = match log.resume_at(key, after) {
                        ResumeAt::Here => "here",
                        ResumeAt::Before => "before",
                        ResumeAt::After => "after",
                        ResumeAt::Unknown => "unknown",
                    };
                    assert_eq!(got, model.resume_at(reader, after), "step {step}");
                    *outcomes.entry(got.to_owned()).or_default() += 1;
                }
                "recent" => {
                    let recent = 1 + rng.below(8);
                    log.start_with_recent(key, recent);
                    model.recent(reader, recent);
                }
                "live" => {
                    log.go_live(key);
                    model.skip(reader);
                }
                "gap" => {
                    log.gap();
                    model.forget(false);
                }
                _ => {
                    log.lost();
                    model.forget(true);
                }
            }
        }
        for (reader, &key) in keys.iter().enumerate() {
            assert_eq!(log.skip_to_newest(key), model.skip(reader));
        }
        assert!(tally.values().all(|&count| count > 1000), "{tally:?}");
        // Every outcome was met, many times.
        assert_eq!(outcomes.len(), 7, "{outcomes:?}");
        assert!(outcomes.values().all(|&count| count > 100), "{outcomes:?}");
    }
}
