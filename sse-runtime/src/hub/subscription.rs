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
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Sleep;

use super::log::{Cursor, Log, Read, ResumeAt};
use super::notice::{Delivery, Lagged, Reset};
use super::transport::{log_frame, BoxFuture, EntryKind, History, Transport};
use super::{EventId, HubError, LagPolicy};
use crate::event::Event;

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
/// use sse_runtime::{LastEventId, SseResponse};
///
/// async fn stream(State(hub): State<Hub>, last: LastEventId) -> SseResponse<sse_runtime::response::StreamForwarder> {
///     SseResponse::from_stream(hub.subscribe(&["news"], &last))
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(stream)).with_state(Hub::new());
/// ```
pub struct Subscription {
    log: Arc<Log>,
    transport: Arc<dyn Transport>,
    key: usize,
    topics: Vec<Arc<str>>,
    /// Sent before anything else.
    notice: Option<Notice>,
    state: State,
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
    Log(Cursor),
    /// Behind what the log holds: reading the transport's history.
    History(Box<Catchup>),
    /// Ended after a `lagged` notice.
    Ended,
}

struct Catchup {
    /// The newest id passed: delivered, or read and not of these topics.
    after: EventId,
    /// Where the subscriber was in the log when it fell behind, to count
    /// what it missed if history cannot make up for it; `None` for a
    /// catch-up from the client's `Last-Event-ID`, whose history that is
    /// gone means `reset`.
    fell_behind: Option<Cursor>,
    /// For a catch-up from the client's `Last-Event-ID`: where the log was
    /// when it subscribed. If its history is gone before any of it was
    /// delivered, it goes on live from there, after its `reset`: events
    /// published since it subscribed are not skipped because it was first
    /// read later.
    live_from: Option<Cursor>,
    /// Events delivered from history since it fell behind.
    delivered: u64,
    /// Entries read from history, not yet delivered.
    page: VecDeque<(EventId, EntryKind, Bytes)>,
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
    fn new(after: EventId, fell_behind: Option<Cursor>, live_from: Option<Cursor>) -> Box<Catchup> {
        Box::new(Catchup {
            after,
            fell_behind,
            live_from,
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
    pub(crate) fn new(
        log: Arc<Log>,
        transport: Arc<dyn Transport>,
        topics: &[&str],
        last: Option<&str>,
    ) -> Subscription {
        let mut subscription = Subscription::register(log, transport, topics, true);
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
        subscription
    }

    /// A subscription from the next entry, not counted among the hub's
    /// subscribers: the library's own.
    pub(crate) fn new_uncounted(
        log: Arc<Log>,
        transport: Arc<dyn Transport>,
        topics: &[&str],
    ) -> Subscription {
        Subscription::register(log, transport, topics, false)
    }

    fn register(
        log: Arc<Log>,
        transport: Arc<dyn Transport>,
        topics: &[&str],
        counted: bool,
    ) -> Subscription {
        let mut names: Vec<Arc<str>> = Vec::with_capacity(topics.len());
        for topic in topics {
            if !names.iter().any(|name| &**name == *topic) {
                names.push(Arc::from(*topic));
            }
        }
        let (key, live) = log.register(&names, counted);
        Subscription {
            log,
            transport,
            key,
            topics: names,
            notice: None,
            state: State::Log(live),
        }
    }

    /// The names the hub's notices are written with.
    pub(crate) fn notice_names(&self) -> super::NoticeNames {
        self.log.config().notices
    }

    /// Starts a live subscription with the newest `recent` events of its
    /// topics that the log holds.
    pub(crate) fn start_with_recent(&mut self, recent: usize) {
        if let State::Log(_) = self.state {
            self.state = State::Log(self.log.recent_cursor(&self.topics, recent));
        }
    }

    /// Goes on after `after`, from the log if it holds what comes next,
    /// else from the transport's history.
    fn resume_after(&mut self, after: EventId) {
        self.state = match self.log.resume_at(after, &self.topics) {
            ResumeAt::Here(cursor) => State::Log(cursor),
            ResumeAt::Before | ResumeAt::After => State::History(Catchup::new(
                after,
                None,
                Some(self.log.live_cursor(&self.topics)),
            )),
            ResumeAt::Unknown => {
                self.notice = Some(Notice::Reset(after.to_string()));
                State::Log(self.log.live_cursor(&self.topics))
            }
        };
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
        loop {
            if let Some(notice) = self.notice.take() {
                return Poll::Ready(Some(match notice {
                    Notice::Lagged(missed) => Item::Lagged(missed),
                    Notice::Reset(id) => Item::Reset(id),
                }));
            }
            match &mut self.state {
                State::Ended => return Poll::Ready(None),
                State::Log(cursor) => match self.log.read(self.key, cursor, cx.waker()) {
                    Read::Entry { id, kind, frame } => {
                        return Poll::Ready(Some(item(id, kind, frame)))
                    }
                    Read::Waiting => return Poll::Pending,
                    Read::FellBehind => {
                        // The transport's history may still hold what the
                        // log let go.
                        let cursor = cursor.clone();
                        self.state = State::History(Catchup::new(cursor.id, Some(cursor), None));
                    }
                },
                State::History(catchup) => {
                    if let Some((id, kind, frame)) = catchup.page.pop_front() {
                        catchup.after = id;
                        // Counted as the log counts them, marks too, so that
                        // what a `lagged` notice says it missed is exact.
                        catchup.delivered += 1;
                        return Poll::Ready(Some(item(id, kind, frame)));
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
                let fell_behind = catchup.fell_behind.take().expect("set when gone");
                self.apply_lag_policy(fell_behind, delivered);
                return Poll::Ready(());
            }
            match self.log.resume_at(catchup.after, &self.topics) {
                ResumeAt::Here(cursor) => {
                    self.state = State::Log(cursor);
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
                if let ResumeAt::Here(cursor) = self.log.resume_at(catchup.after, &self.topics) {
                    self.state = State::Log(cursor);
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
                    if self.topics.contains(&event.topic) {
                        let frame = log_frame(event.kind, &event.frame, event.id);
                        catchup.page.push_back((event.id, event.kind, frame));
                    }
                }
                Poll::Ready(())
            }
            Ok(History::Gone) => {
                if catchup.fell_behind.is_none() {
                    // Resuming from the client's id, at once or after some
                    // of its history was read: what comes after `after`
                    // is gone, and how many of its events is not known
                    // here (the log never held them), so the client is
                    // told as it is told of an id that is gone, never
                    // `lagged` with a count that could only be a guess.
                    self.notice = Some(Notice::Reset(catchup.after.to_string()));
                    let live = match catchup.live_from.take() {
                        // Before anything was delivered: live from when
                        // it subscribed. After some of its history was,
                        // from the newest: the `reset` says that what
                        // follows it is gone.
                        Some(from) if catchup.delivered == 0 => from,
                        _ => self.log.live_cursor(&self.topics),
                    };
                    self.state = State::Log(live);
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
    fn apply_lag_policy(&mut self, mut cursor: Cursor, delivered: u64) {
        let missed = self
            .log
            .skip_to_newest(&mut cursor)
            .saturating_sub(delivered);
        self.notice = Some(Notice::Lagged(missed));
        self.state = match self.log.config().lag {
            LagPolicy::Disconnect => State::Ended,
            LagPolicy::SkipAhead => State::Log(cursor),
        };
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.log.unregister(self.key, &self.topics);
    }
}

impl futures_core::Stream for Subscription {
    type Item = Delivery;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        self.get_mut().poll_delivery(cx)
    }
}

/// An entry read from the log or history as an [`Item`].
fn item(id: EventId, kind: EntryKind, frame: Bytes) -> Item {
    match kind {
        EntryKind::Event => Item::Event(frame),
        EntryKind::RunStart | EntryKind::RunEnd => Item::Mark { id, kind, frame },
    }
}
