//! One subscriber's way through the hub: a notice first if there is one
//! (`reset`, `lagged`), then older entries from the transport's history
//! while it is behind what this process's log holds, then the log, at its
//! own pace.
//!
//! It reads entries of every kind ([`Item`]); [`Subscription::next`] gives
//! the published events and the notices ([`Delivery`]), and the runs read
//! their marks too.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::time::Sleep;

use super::log::{steps, Log, Read, ResumeAt};
use super::notice::{Delivery, Lagged, Reset};
use super::transport::{log_frame, BoxFuture, EntryKind, History, Transport};
use super::{EventId, HubError, LagPolicy};
use crate::event::Event;
use crate::metrics::SubscriberMetrics;

/// Events read from the transport's history per request.
const HISTORY_PAGE: usize = 256;

/// How long to wait before asking an unavailable broker's history again.
const HISTORY_RETRY: Duration = Duration::from_millis(500);

/// The events of one subscriber: what it missed, then live events, and the
/// hub's notices ([`Delivery`]). A `Stream` of them too, for
/// [`SseResponse::from_stream`](crate::SseResponse::from_stream).
///
/// ```
/// use axum::extract::State;
/// use sse_runtime::hub::Hub;
/// use sse_runtime::{LastEventId, SseResponse, StreamContext, StreamForwarder};
///
/// async fn stream(
///     State(hub): State<Hub>,
///     last: LastEventId,
///     context: StreamContext,
/// ) -> SseResponse<StreamForwarder> {
///     SseResponse::from_stream(hub.subscribe(&["news"], &last)).with_context(context)
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(stream)).with_state(Hub::new());
/// ```
pub struct Subscription {
    log: Arc<Log>,
    transport: Arc<dyn Transport>,
    /// Its key in the log, which keeps its place there.
    key: usize,
    /// Its topics, sorted and distinct: looked up by binary search.
    topics: Vec<Arc<str>>,
    /// Sent before anything else.
    notice: Option<Notice>,
    state: State,
    /// How it is counted in the hub's metrics.
    metrics: SubscriberMetrics,
    /// When it ends by itself (its grants expire), and the timer for it,
    /// made on the first poll (a runtime is needed for it, and a
    /// subscription may be made outside one).
    ends: Option<Ends>,
}

/// When a subscription ends by itself.
enum Ends {
    At(SystemTime),
    Timer(Pin<Box<Sleep>>),
}

/// A notice waiting to be read.
enum Notice {
    Lagged(u64),
    Reset(String),
}

/// One entry read by a subscription, of any kind, or a notice.
pub(crate) enum Item {
    /// A published event, encoded with its id.
    Event(Bytes),
    /// One of the library's marks.
    Mark {
        id: EventId,
        kind: EntryKind,
        frame: Bytes,
    },
    /// The subscriber fell behind; how many events it missed.
    Lagged(u64),
    /// The id it resumed after is gone.
    Reset(String),
}

enum State {
    /// Reading this process's log.
    Log,
    /// Behind what the log holds: reading the transport's history.
    History(Box<Catchup>),
    /// Ended after a `lagged` notice, or refused (see
    /// [`Subscription::refused`]).
    Ended,
}

struct Catchup {
    /// The newest id passed: delivered, or read and not of these topics.
    after: EventId,
    /// Whether it fell behind while reading the log, which then keeps its
    /// place there as it was, to count what it missed if history cannot
    /// make up for it; false for a catch-up from the client's
    /// `Last-Event-ID`, whose history that is gone means `reset`.
    fell_behind: bool,
    /// For a catch-up from the client's id: the newest id the log held
    /// when the subscription began. If history turns out to be gone, live
    /// events go on from there (or from what history delivered, if later),
    /// so that nothing published since the client subscribed is skipped.
    subscribed_at: EventId,
    /// Events delivered from history since it fell behind.
    delivered: u64,
    /// Entries read from history, not yet delivered, each with its
    /// topic's place in the subscription's topics.
    page: VecDeque<(EventId, EntryKind, Bytes, usize)>,
    /// The newest id history returned.
    read_through: EventId,
    fetch: Option<BoxFuture<Result<History, HubError>>>,
    /// Set while waiting to ask an unavailable broker again.
    retry: Option<Pin<Box<Sleep>>>,
    /// History had nothing newer yet: wait for the log to catch up.
    waiting_for_log: bool,
    /// History is gone past `after` for a subscriber that fell behind:
    /// once the log has received everything up to `after`, count what it
    /// missed and end or skip ahead.
    gone: bool,
}

impl Catchup {
    fn new(after: EventId, fell_behind: bool, subscribed_at: EventId) -> Box<Catchup> {
        Box::new(Catchup {
            after,
            fell_behind,
            subscribed_at,
            delivered: 0,
            page: VecDeque::new(),
            read_through: after,
            fetch: None,
            retry: None,
            waiting_for_log: false,
            gone: false,
        })
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// A subscription to `topics` resuming after `last`, or why there is
    /// none: more distinct topics than [`HubConfig::max_topics`].
    ///
    /// [`HubConfig::max_topics`]: super::HubConfig::max_topics
    pub(crate) fn new(
        log: Arc<Log>,
        transport: Arc<dyn Transport>,
        topics: &[&str],
        last: Option<&str>,
    ) -> Result<Subscription, HubError> {
        let names = distinct(topics);
        let limit = log.config().max_topics;
        if names.len() > limit {
            return Err(HubError::TooManyTopics {
                count: names.len(),
                limit,
            });
        }
        let mut subscription = Subscription::register(log, transport, names, true);
        if let Some(last) = last {
            match last.parse::<EventId>() {
                // `0-0` is where every transport's ids begin, never one of
                // them: a transport that began with an empty broker would
                // otherwise read it as "from the start".
                Ok(after) if after != EventId::default() => subscription.resume_after(after),
                // Not an id this hub issued.
                _ => subscription.notice = Some(Notice::Reset(last.to_owned())),
            }
        }
        Ok(subscription)
    }

    /// A subscription that yields nothing and has ended: what
    /// [`Hub::subscribe`](super::Hub::subscribe) returns for a request it
    /// refuses. It holds no topic and is not counted among the hub's
    /// subscribers.
    pub(crate) fn refused(log: Arc<Log>, transport: Arc<dyn Transport>) -> Subscription {
        let mut subscription = Subscription::register(log, transport, Vec::new(), false);
        subscription.state = State::Ended;
        subscription
    }

    /// A subscription from the next entry, not counted among the hub's
    /// subscribers: the library's own.
    pub(crate) fn new_uncounted(
        log: Arc<Log>,
        transport: Arc<dyn Transport>,
        topics: &[&str],
    ) -> Subscription {
        Subscription::register(log, transport, distinct(topics), false)
    }

    /// Registers a subscriber of `topics` (sorted and distinct) at the
    /// newest event.
    fn register(
        log: Arc<Log>,
        transport: Arc<dyn Transport>,
        topics: Vec<Arc<str>>,
        counted: bool,
    ) -> Subscription {
        let key = log.register(&topics, counted);
        let metrics = if counted {
            log.metrics().subscribed(&topics)
        } else {
            SubscriberMetrics::Uncounted
        };
        Subscription {
            log,
            transport,
            key,
            topics,
            notice: None,
            state: State::Log,
            metrics,
            ends: None,
        }
    }

    /// Ends the subscription at `at` (wall-clock time, as a token's expiry
    /// is): its next read after then is `None`, whatever it had left to
    /// read. Used for grants that expire (`auth::Guarded`).
    pub(crate) fn end_at(&mut self, at: SystemTime) {
        self.ends = Some(Ends::At(at));
    }

    /// Whether the time set by [`end_at`](Self::end_at) has come; if so,
    /// the subscription has ended.
    fn poll_ended(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(Ends::At(at)) = self.ends {
            // Past, or a clock that went back: now.
            let left = at.duration_since(SystemTime::now()).unwrap_or_default();
            self.ends = Some(Ends::Timer(Box::pin(tokio::time::sleep(left))));
        }
        let Some(Ends::Timer(timer)) = &mut self.ends else {
            return false;
        };
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.ends = None;
        self.notice = None;
        self.state = State::Ended;
        true
    }

    /// The names the hub's notices are written with.
    pub(crate) fn notice_names(&self) -> super::NoticeNames {
        self.log.config().notices
    }

    /// Starts a live subscription with the newest `recent` events of its
    /// topics that the log holds.
    pub(crate) fn start_with_recent(&mut self, recent: usize) {
        if let State::Log = self.state {
            self.log.start_with_recent(self.key, recent);
        }
    }

    /// Goes on after `after`, from the log if it holds what comes next,
    /// else from the transport's history. Called before the subscription
    /// first reads, while the log still has it where it began.
    fn resume_after(&mut self, after: EventId) {
        let subscribed_at = self.log.passed(self.key);
        match self.log.resume_at(self.key, after) {
            ResumeAt::Here => {}
            ResumeAt::Before | ResumeAt::After => {
                self.state = State::History(Catchup::new(after, false, subscribed_at));
            }
            // Live events from where the subscription began.
            ResumeAt::Unknown => self.notice = Some(Notice::Reset(after.to_string())),
        }
    }

    /// The next event or notice; `None` once the subscription ended for
    /// lagging (see [`LagPolicy::Disconnect`]).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::hub::Delivery;
    /// let hub = sse_runtime::hub::Hub::new();
    /// let mut subscription = hub.subscribe(&["t"], None);
    /// let id = hub.publish("t", sse_runtime::event!("x")).await.unwrap();
    /// let Some(Delivery::Event(event)) = subscription.next().await else { panic!() };
    /// assert_eq!(event.as_bytes(), format!("data: x\nid: {id}\n\n").as_bytes());
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<Delivery> {
        std::future::poll_fn(|cx| self.poll_delivery(cx)).await
    }

    fn poll_delivery(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        loop {
            let item = match self.poll_item(cx) {
                Poll::Ready(Some(item)) => item,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            let names = &self.log.config().notices;
            return Poll::Ready(Some(match item {
                Item::Event(frame) => Delivery::Event(Event::shared(frame)),
                // The runs' marks are theirs to read; a subscriber of a
                // run's topic gets its events.
                Item::Mark { .. } => continue,
                Item::Lagged(missed) => Delivery::Lagged(Lagged::new(missed, names)),
                Item::Reset(id) => Delivery::Reset(Reset::new(id, names)),
            }));
        }
    }

    /// The next entry of any kind, or notice.
    pub(crate) fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if self.poll_ended(cx) {
            return Poll::Ready(None);
        }
        loop {
            if let Some(notice) = self.notice.take() {
                let metrics = self.log.metrics();
                return Poll::Ready(Some(match notice {
                    Notice::Lagged(missed) => {
                        metrics.lagged(&self.metrics);
                        Item::Lagged(missed)
                    }
                    Notice::Reset(id) => {
                        metrics.reset(&self.metrics);
                        Item::Reset(id)
                    }
                }));
            }
            match &mut self.state {
                State::Ended => return Poll::Ready(None),
                State::Log => match self.log.read(self.key, cx.waker()) {
                    Read::Entry {
                        id,
                        kind,
                        frame,
                        topic,
                    } => return Poll::Ready(Some(self.item(id, kind, frame, topic))),
                    Read::Waiting => return Poll::Pending,
                    Read::FellBehind { after } => {
                        // The transport's history may still hold what the
                        // log let go.
                        self.state = State::History(Catchup::new(after, true, after));
                    }
                },
                State::History(catchup) => {
                    if let Some((id, kind, frame, topic)) = catchup.page.pop_front() {
                        catchup.after = id;
                        // Counted as the log counts them, marks too, so that
                        // what a `lagged` notice says it missed is exact.
                        catchup.delivered += 1;
                        return Poll::Ready(Some(self.item(id, kind, frame, topic)));
                    }
                    catchup.after = catchup.after.max(catchup.read_through);
                    match self.poll_history(cx) {
                        Poll::Ready(()) => continue,
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }

    /// Moves a catch-up on: to the log once it holds what comes next, else
    /// reads a page of history. Ready when the state changed.
    fn poll_history(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let State::History(catchup) = &mut self.state else {
            return Poll::Ready(());
        };
        if catchup.fetch.is_none() {
            if let Some(retry) = &mut catchup.retry {
                if retry.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                catchup.retry = None;
            }
            if catchup.gone {
                // History may have run ahead of this process's log (its
                // broker delivers here later than it answers history):
                // skipping to the log's newest before the log has passed
                // `after` would deliver again what history delivered, and
                // the log could not count what was missed.
                self.log.wait(self.key, cx.waker());
                if self.log.newest() < catchup.after {
                    return Poll::Pending;
                }
                let delivered = catchup.delivered;
                self.apply_lag_policy(delivered);
                return Poll::Ready(());
            }
            match self.log.resume_at(self.key, catchup.after) {
                ResumeAt::Here => {
                    self.state = State::Log;
                    return Poll::Ready(());
                }
                // History said the id exists, so it is this log that does not
                // know it: read on from history.
                ResumeAt::Before | ResumeAt::After | ResumeAt::Unknown => {}
            }
            if catchup.waiting_for_log {
                // History had nothing after `after` and the log has not
                // reached it yet: this instance has not received the
                // newest events. Wait for them to arrive.
                catchup.waiting_for_log = false;
                self.log.wait(self.key, cx.waker());
                if let ResumeAt::Here = self.log.resume_at(self.key, catchup.after) {
                    self.state = State::Log;
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
            catchup.fetch = Some(self.transport.history(catchup.after, HISTORY_PAGE));
        }
        let fetch = catchup.fetch.as_mut().expect("set above");
        let fetched = match fetch.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(fetched) => fetched,
        };
        catchup.fetch = None;
        match fetched {
            Ok(History::Events(events)) => {
                if events.is_empty() {
                    catchup.waiting_for_log = true;
                }
                for event in events {
                    // Invariant: history returns ids after the one asked for,
                    // in order; anything else is skipped, never repeated.
                    if event.id <= catchup.read_through {
                        continue;
                    }
                    catchup.read_through = event.id;
                    if let Ok(topic) = self
                        .topics
                        .binary_search_by(|topic| (**topic).cmp(&*event.topic))
                    {
                        let frame = log_frame(event.kind, &event.frame, event.id);
                        catchup.page.push_back((event.id, event.kind, frame, topic));
                    }
                }
                Poll::Ready(())
            }
            Ok(History::Gone) => {
                if !catchup.fell_behind {
                    // Resuming from the client's id, at once or after some
                    // of its history was read: what comes after `after`
                    // is gone, and how many of its events is not known
                    // here (the log never held them), so the client is
                    // told as it is told of an id that is gone, never
                    // `lagged` with a count that could only be a guess.
                    self.notice = Some(Notice::Reset(catchup.after.to_string()));
                    // Live events from when it subscribed, or after what
                    // history delivered: none published since is skipped.
                    // (If the log no longer holds that place, what it
                    // missed was evicted too; it goes on with what comes.)
                    let from = match catchup.delivered {
                        // `after` is still the client's own id, not a place
                        // in this hub.
                        0 => catchup.subscribed_at,
                        _ => catchup.after.max(catchup.subscribed_at),
                    };
                    if !matches!(self.log.resume_at(self.key, from), ResumeAt::Here) {
                        self.log.go_live(self.key);
                    }
                    self.state = State::Log;
                } else {
                    catchup.gone = true;
                }
                Poll::Ready(())
            }
            Err(error) => {
                tracing::warn!(%error, "reading the hub's history failed; trying again");
                catchup.retry = Some(Box::pin(tokio::time::sleep(HISTORY_RETRY)));
                Poll::Ready(())
            }
        }
    }

    /// The subscriber fell behind what the hub still holds: tell it how
    /// many events of its topics it did not get, and end or skip ahead.
    fn apply_lag_policy(&mut self, delivered: u64) {
        // The log kept the subscriber's place as it was when it fell
        // behind: what it skips from there is what it missed, less what
        // history delivered since.
        let missed = self.log.skip_to_newest(self.key).saturating_sub(delivered);
        self.notice = Some(Notice::Lagged(missed));
        self.state = match self.log.config().lag {
            LagPolicy::Disconnect => State::Ended,
            LagPolicy::SkipAhead => State::Log,
        };
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.log.unregister(self.key);
        self.log.metrics().unsubscribed(&self.metrics);
    }
}

impl futures_core::Stream for Subscription {
    type Item = Delivery;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        self.get_mut().poll_delivery(cx)
    }
}

/// `topics` sorted, each once: O(n log n) for n names (a search of those
/// kept for each name was O(n²): 2.6 s for 20,000 topics in a debug build).
fn distinct(topics: &[&str]) -> Vec<Arc<str>> {
    let mut sorted = topics.to_vec();
    sorted.sort_unstable_by(|a, b| {
        steps::add(1);
        a.cmp(b)
    });
    sorted.dedup();
    sorted.into_iter().map(Arc::from).collect()
}

impl Subscription {
    /// An entry of its `topic`-th topic, read from the log or history, as
    /// an [`Item`]; an event is counted as delivered.
    fn item(&self, id: EventId, kind: EntryKind, frame: Bytes, topic: usize) -> Item {
        match kind {
            EntryKind::Event => {
                self.log.metrics().delivered(&self.metrics, topic);
                Item::Event(frame)
            }
            EntryKind::RunStart | EntryKind::RunEnd => Item::Mark { id, kind, frame },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Hub, HubConfig};
    use super::steps;

    /// Subscribing to n topics takes O(n log n) steps (comparisons while
    /// setting duplicates aside, one per topic registered), and dropping
    /// the subscription one per topic: searching the names kept for each
    /// new name took n²/2 comparisons, 200 million for these 20,000.
    /// Counted, not timed; the time is in `benches/hub_topics.rs`.
    #[test]
    fn subscribing_to_n_topics_takes_n_log_n_steps() {
        const TOPICS: usize = 20_000;
        let hub = Hub::with_config(HubConfig {
            max_topics: TOPICS,
            ..HubConfig::default()
        });
        let names: Vec<String> = (0..TOPICS).map(|n| format!("topic-{n}")).collect();
        let mut topics: Vec<&str> = names.iter().map(String::as_str).collect();
        // Named twice, and counted once.
        topics.push(topics[7]);
        topics.push(topics[TOPICS - 1]);
        steps::take();
        let subscription = hub.subscribe(&topics, None);
        let subscribing = steps::take();
        let bound = 3 * TOPICS as u64 * u64::from(TOPICS.ilog2() + 1);
        assert!(subscribing <= bound, "{subscribing} steps, over {bound}");
        assert_eq!(subscription.topics.len(), TOPICS);
        assert_eq!(hub.subscribers(), 1);
        drop(subscription);
        assert_eq!(steps::take(), TOPICS as u64);
        assert_eq!(hub.subscribers(), 0);
    }
}
