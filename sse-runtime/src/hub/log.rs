//! The hub's log in this process: the recent events, in id order, that
//! every subscriber reads at its own pace; and the subscribers waiting for
//! the next one.
//!
//! A subscriber owns no queue. It holds a [`Cursor`]: for each of its
//! topics, how many of that topic's events it has passed (their *ordinal*,
//! counted per topic as they are appended). Its next event is the oldest of
//! the next event of each topic, found in constant time through the topic's
//! index into the log. So a slow subscriber costs no memory: what it has not
//! read yet is what the log holds anyway, bounded in count, bytes and age by
//! [`HubConfig`]. It falls behind only when an event of its topics is
//! evicted before it read it, which the topic's eviction count tells
//! exactly.
//!
//! One lock orders appending, evicting, reading and waiting, so that a
//! subscriber never misses an event between finding nothing and waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;

use super::transport::EntryKind;
use super::{EventId, HubConfig};
use crate::sync::lock;

/// One event as the log keeps it: encoded once, with its id, and shared by
/// every subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: EventId,
    topic: Arc<str>,
    /// A published event, or one of the library's marks; never decided
    /// from `frame`.
    pub(crate) kind: EntryKind,
    /// For an event, the encoded event with its id; for a mark, what the
    /// mark carries (see [`EntryKind`]).
    pub(crate) frame: Bytes,
    at: Instant,
    /// Its place among its topic's events, from 1.
    ordinal: u64,
}

/// What a subscriber has passed, per topic.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    /// The newest id it has passed: the last event it read, or the newest
    /// in the log when it found nothing newer for its topics.
    pub(crate) id: EventId,
    /// For each of its topics, the ordinal of the newest event it passed.
    seen: Vec<(Arc<str>, u64)>,
}

/// What reading the log gave a subscriber.
pub(crate) enum Read {
    /// The next entry of its topics.
    Entry {
        id: EventId,
        kind: EntryKind,
        frame: Bytes,
    },
    /// Nothing new; the subscriber's waker is registered.
    Waiting,
    /// Events of its topics were evicted before it read them.
    FellBehind,
}

/// Where a subscription that resumes after an id can start.
pub(crate) enum ResumeAt {
    /// The log holds everything after that id for these topics.
    Here(Cursor),
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
    /// The newest id evicted, over all topics.
    last_evicted: EventId,
    topics: HashMap<Arc<str>, Topic>,
    subscribers: Vec<Option<Waiter>>,
    free: Vec<usize>,
    live: usize,
}

struct Topic {
    /// Ordinal of this topic's newest event.
    appended: u64,
    /// Ordinal of this topic's newest evicted event: those up to it are gone.
    evicted: u64,
    /// The id of this topic's newest evicted event.
    last_evicted: EventId,
    /// Log indexes of this topic's events still held, oldest first.
    index: VecDeque<u64>,
    /// The subscribers of this topic (keys into `State::subscribers`).
    subscribers: Vec<usize>,
}

struct Waiter {
    waker: Option<Waker>,
    /// Whether it counts in [`HubStats::subscribers`]: the library's own
    /// subscriptions (a run's producer watching for its end) do not.
    counted: bool,
}

/// Counts of what the log holds; see [`Hub::stats`](super::Hub::stats).
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
            state: Mutex::new(State {
                entries: VecDeque::new(),
                first_index: 0,
                bytes: 0,
                start,
                complete_after_start: true,
                head: start,
                last_evicted: start,
                topics: HashMap::new(),
                subscribers: Vec::new(),
                free: Vec::new(),
                live: 0,
            }),
        }
    }

    pub(crate) fn config(&self) -> &HubConfig {
        &self.config
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
        let fallback_evicted = state.last_evicted;
        let (topic_key, ordinal) = {
            let (key, topic) = state.topic_entry(topic, fallback_evicted);
            topic.appended += 1;
            topic.index.push_back(index);
            (key, topic.appended)
        };
        state.bytes += frame.len();
        state.head = id;
        state.entries.push_back(Entry {
            id,
            topic: topic_key.clone(),
            kind,
            frame,
            at: now,
            ordinal,
        });
        state.evict(&self.config, now);
        let State {
            topics,
            subscribers,
            ..
        } = &mut *state;
        if let Some(topic) = topics.get(&topic_key) {
            for &key in &topic.subscribers {
                if let Some(waker) = subscribers[key].as_mut().and_then(|w| w.waker.take()) {
                    waker.wake();
                }
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

    /// Registers a subscriber of `topics`; returns its key, and a cursor at
    /// the newest event, from which it reads what comes next.
    pub(crate) fn register(&self, topics: &[Arc<str>], counted: bool) -> (usize, Cursor) {
        let mut state = lock(&self.state);
        let waiter = Waiter {
            waker: None,
            counted,
        };
        let key = match state.free.pop() {
            Some(key) => {
                state.subscribers[key] = Some(waiter);
                key
            }
            None => {
                state.subscribers.push(Some(waiter));
                state.subscribers.len() - 1
            }
        };
        let fallback_evicted = state.last_evicted;
        for topic in topics {
            state
                .topic_entry(topic, fallback_evicted)
                .1
                .subscribers
                .push(key);
        }
        state.live += usize::from(counted);
        (key, state.live_cursor(topics))
    }

    pub(crate) fn unregister(&self, key: usize, topics: &[Arc<str>]) {
        let mut state = lock(&self.state);
        for topic in topics {
            if let Some(entry) = state.topics.get_mut(topic) {
                entry.subscribers.retain(|&k| k != key);
                if entry.subscribers.is_empty() && entry.index.is_empty() {
                    state.topics.remove(topic);
                }
            }
        }
        let counted = state.subscribers[key]
            .take()
            .is_some_and(|waiter| waiter.counted);
        state.free.push(key);
        state.live -= usize::from(counted);
    }

    /// A cursor at the newest event: the subscriber reads what comes next.
    pub(crate) fn live_cursor(&self, topics: &[Arc<str>]) -> Cursor {
        lock(&self.state).live_cursor(topics)
    }

    /// A cursor from which a subscriber of `topics` reads the newest
    /// `recent` of their events held here, then what comes next.
    pub(crate) fn recent_cursor(&self, topics: &[Arc<str>], recent: usize) -> Cursor {
        let state = lock(&self.state);
        let mut matching = 0;
        let mut first = None;
        for (position, entry) in state.entries.iter().enumerate().rev() {
            if topics.contains(&entry.topic) {
                matching += 1;
                first = Some(position);
                if matching == recent {
                    break;
                }
            }
        }
        let Some(first) = first else {
            return state.live_cursor(topics);
        };
        let start = state.entries[first].id;
        let seen = topics
            .iter()
            .map(|name| {
                let passed = state.topics.get(name).map_or(0, |topic| {
                    let held = topic
                        .index
                        .partition_point(|&index| state.entry(index).id < start);
                    topic.evicted + held as u64
                });
                (name.clone(), passed)
            })
            .collect();
        let id = match first {
            0 => state.last_evicted,
            _ => state.entries[first - 1].id,
        };
        Cursor { id, seen }
    }

    /// Where a subscriber of `topics` that has seen everything up to
    /// `after` can read on.
    pub(crate) fn resume_at(&self, after: EventId, topics: &[Arc<str>]) -> ResumeAt {
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
        let mut seen = Vec::with_capacity(topics.len());
        for name in topics {
            let passed = match state.topics.get(name) {
                // An event of this topic after `after` was evicted.
                Some(topic) if topic.last_evicted > after => return ResumeAt::Before,
                Some(topic) => {
                    let held = topic
                        .index
                        .partition_point(|&index| state.entry(index).id <= after);
                    topic.evicted + held as u64
                }
                // Nothing of this topic is held; whether any of it after
                // `after` was evicted is known only from all topics.
                None if state.last_evicted > after => return ResumeAt::Before,
                None => 0,
            };
            seen.push((name.clone(), passed));
        }
        ResumeAt::Here(Cursor { id: after, seen })
    }

    /// The next event for the subscriber `key` at `cursor`, which it passes;
    /// registers `waker` when there is none.
    pub(crate) fn read(&self, key: usize, cursor: &mut Cursor, waker: &Waker) -> Read {
        let mut state = lock(&self.state);
        state.evict_expired(&self.config, Instant::now());
        let mut next: Option<(usize, &Entry)> = None;
        let mut fell_behind = false;
        for (slot, (name, seen)) in cursor.seen.iter().enumerate() {
            let Some(topic) = state.topics.get(name) else {
                continue;
            };
            fell_behind |= topic.evicted > *seen;
            if topic.appended > *seen && topic.evicted <= *seen {
                // Ordinal `seen + 1` sits at position `seen - evicted` of
                // the topic's index.
                let index = topic.index[(*seen - topic.evicted) as usize];
                let entry = state.entry(index);
                if next.is_none_or(|(_, best)| entry.id < best.id) {
                    next = Some((slot, entry));
                }
            }
        }
        if fell_behind {
            return Read::FellBehind;
        }
        if let Some((slot, entry)) = next {
            cursor.id = entry.id;
            cursor.seen[slot].1 = entry.ordinal;
            return Read::Entry {
                id: entry.id,
                kind: entry.kind,
                frame: entry.frame.clone(),
            };
        }
        cursor.id = state.head;
        if let Some(waiter) = state.subscribers[key].as_mut() {
            match &waiter.waker {
                Some(current) if current.will_wake(waker) => {}
                _ => waiter.waker = Some(waker.clone()),
            }
        }
        Read::Waiting
    }

    /// The newest id received.
    pub(crate) fn newest(&self) -> EventId {
        lock(&self.state).head
    }

    /// Moves a cursor that fell behind to the newest event; returns how
    /// many events of its topics it skipped.
    pub(crate) fn skip_to_newest(&self, cursor: &mut Cursor) -> u64 {
        let state = lock(&self.state);
        let mut skipped = 0;
        for (name, seen) in &mut cursor.seen {
            if let Some(topic) = state.topics.get(name) {
                skipped += topic.appended.saturating_sub(*seen);
                *seen = topic.appended;
            }
        }
        cursor.id = state.head;
        skipped
    }

    /// Registers `waker` to be woken by the next event of the subscriber's
    /// topics, without reading.
    pub(crate) fn wait(&self, key: usize, waker: &Waker) {
        let mut state = lock(&self.state);
        if let Some(waiter) = state.subscribers[key].as_mut() {
            waiter.waker = Some(waker.clone());
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
    fn live_cursor(&self, topics: &[Arc<str>]) -> Cursor {
        Cursor {
            id: self.head,
            seen: topics
                .iter()
                .map(|topic| {
                    let appended = self.topics.get(topic).map_or(0, |t| t.appended);
                    (topic.clone(), appended)
                })
                .collect(),
        }
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
        // A topic no one subscribes to and with no event held is tracked no
        // longer, as eviction does; kept, every topic ever published to
        // before a gap would stay in memory.
        self.topics.retain(|_, topic| !topic.subscribers.is_empty());
        for topic in self.topics.values_mut() {
            if lost {
                topic.appended += 1;
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

    fn entry(&self, index: u64) -> &Entry {
        &self.entries[(index - self.first_index) as usize]
    }

    fn topic_entry(&mut self, name: &str, last_evicted: EventId) -> (Arc<str>, &mut Topic) {
        if let Some((key, _)) = self.topics.get_key_value(name) {
            let key = key.clone();
            let topic = self.topics.get_mut(&key).expect("just found");
            return (key, topic);
        }
        let key: Arc<str> = Arc::from(name);
        let topic = self.topics.entry(key.clone()).or_insert(Topic {
            appended: 0,
            evicted: 0,
            // Events of this topic may have been evicted before it was
            // tracked again: assume the newest eviction of any topic.
            last_evicted,
            index: VecDeque::new(),
            subscribers: Vec::new(),
        });
        (key, topic)
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
        let drop_topic = {
            let topic = self
                .topics
                .get_mut(&oldest.topic)
                .expect("every held event's topic is tracked");
            // Invariant: a topic's index lists its held events in log
            // order, so the oldest event is at the front of its topic's.
            let front = topic.index.pop_front();
            debug_assert_eq!(front, Some(self.first_index - 1));
            topic.evicted = oldest.ordinal;
            topic.last_evicted = oldest.id;
            topic.index.is_empty() && topic.subscribers.is_empty()
        };
        if drop_topic {
            self.topics.remove(&oldest.topic);
        }
    }

    fn wake_all(&mut self) {
        for waiter in self.subscribers.iter_mut().flatten() {
            if let Some(waker) = waiter.waker.take() {
                waker.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
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

    /// Topics are tracked while they hold events or have subscribers; a
    /// gap forgets the others, as eviction does, so that every topic ever
    /// published to before a gap does not stay in memory.
    #[test]
    fn a_gap_forgets_topics_no_one_subscribes_to() {
        let log = Log::new(HubConfig::default(), EventId::new(1, 0));
        let subscribed: Arc<str> = Arc::from("kept");
        let (key, _) = log.register(std::slice::from_ref(&subscribed), true);
        for n in 0..1000 {
            append(&log, &format!("user-{n}"));
        }
        append(&log, "kept");
        assert_eq!(lock(&log.state).topics.len(), 1001);
        log.gap();
        assert_eq!(lock(&log.state).topics.len(), 1);
        log.unregister(key, &[subscribed]);
        assert!(lock(&log.state).topics.is_empty());
    }

    /// After a gap, resuming after the newest id received before it asks
    /// the transport: what came right after it may be what was lost. At
    /// the start, the id the log starts after is resumed from here.
    #[test]
    fn after_a_gap_even_the_newest_id_asks_the_transport() {
        let start = EventId::new(1, 0);
        let log = Log::new(HubConfig::default(), start);
        let topics = [Arc::from("t")];
        assert!(matches!(log.resume_at(start, &topics), ResumeAt::Here(_)));
        let newest = append(&log, "t");
        assert!(matches!(log.resume_at(newest, &topics), ResumeAt::Here(_)));
        log.gap();
        assert!(matches!(log.resume_at(newest, &topics), ResumeAt::Before));
        let next = append(&log, "t");
        assert!(matches!(log.resume_at(next, &topics), ResumeAt::Here(_)));
    }
}
