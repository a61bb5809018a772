//! Attaching to a run: [`Attached`], a request's stream of a run's events
//! ([`RunItem`]) that ends with the run's end, whatever the hub or the
//! broker did meanwhile; and the watchdog that checks, for runs that
//! streams of this instance are attached to, that their producer is alive.
//!
//! A stream ends only at the run's end mark ([`RunEnd`]), never at anything
//! the producer sent. Where the mark cannot reach it, it learns the run's
//! state from the store: after a `reset` (what it resumed after is gone,
//! and the mark may have gone with it); and, on Redis, the watchdog reads
//! each watched run every quarter lease, which marks a run failed when its
//! producer's lease expired, or when its record is gone (Redis lost its
//! data), so that its mark comes.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::state::Store;
use super::{is_run_id, run_topic, RunError, RunRecord, RunState};
use crate::encode;
use crate::error::EventError;
use crate::event::{Event, IntoEvent};
use crate::hub::{BoxFuture, EntryKind, EventId, Hub, HubError, Item, Lagged, Reset, Subscription};
use crate::sync::lock;

/// One item of an [`Attached`] stream: an event the run's producer sent,
/// one of the hub's notices, or the run's end. Yield it as it is to
/// forward everything, or `match` it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::runs::{RunItem, RunState, Runs};
/// let runs = Runs::new(sse_runtime::hub::Hub::new(), Default::default());
/// let id = runs.start(|run| async move {
///     // Whatever it sends is an event, even text that looks like a mark.
///     run.send(sse_runtime::comment!("sse-runtime run ended")).await.unwrap();
/// }).await?;
/// let mut attached = runs.attach(&id, None).await?;
/// assert!(matches!(attached.next().await, Some(RunItem::Event(_))));
/// let Some(RunItem::End(end)) = attached.next().await else { panic!() };
/// assert_eq!(end.state(), RunState::Finished);
/// assert!(attached.next().await.is_none());
/// # Ok::<(), sse_runtime::runs::RunError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RunItem {
    /// An event the producer sent, with its hub id.
    Event(Event),
    /// The stream fell behind what the hub holds; see [`Lagged`].
    Lagged(Lagged),
    /// What the client resumed after is gone; see [`Reset`].
    Reset(Reset),
    /// The run ended: the stream's last item.
    End(RunEnd),
}

impl IntoEvent for RunItem {
    fn into_event(self) -> Result<Event, EventError> {
        match self {
            RunItem::Event(event) => Ok(event),
            RunItem::Lagged(lagged) => lagged.into_event(),
            RunItem::Reset(reset) => reset.into_event(),
            RunItem::End(end) => end.into_event(),
        }
    }
}

/// A run's end, as an attached stream receives it. Written as
/// `event: run_end` whose data is `{"state":"finished"}` (or `cancelled`,
/// `failed`), with the run's last id as its `id:`: a browser that
/// reconnects after it asks for nothing more, and is answered
/// [`RunError::Ended`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::runs::{RunItem, RunState, Runs};
/// let runs = Runs::new(sse_runtime::hub::Hub::new(), Default::default());
/// let id = runs.start(|_run| std::future::pending::<()>()).await?;
/// let mut attached = runs.attach(&id, None).await?;
/// runs.cancel(&id).await?;
/// let Some(RunItem::End(end)) = attached.next().await else { panic!() };
/// assert_eq!(end.state(), RunState::Cancelled);
/// let frame = sse_runtime::IntoEvent::into_event(end.clone()).unwrap();
/// let expected = format!("event: run_end\ndata: {{\"state\":\"cancelled\"}}\nid: {}\n\n", end.last_event_id());
/// assert_eq!(frame.as_bytes(), expected.as_bytes());
/// # Ok::<(), sse_runtime::runs::RunError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    state: RunState,
    last: EventId,
}

impl RunEnd {
    /// How the run ended: finished, cancelled or failed.
    ///
    /// ```
    /// # let _ = |end: sse_runtime::runs::RunEnd| end.state();
    /// ```
    pub fn state(&self) -> RunState {
        self.state
    }

    /// The id of the run's end: its last id.
    ///
    /// ```
    /// # let _ = |end: sse_runtime::runs::RunEnd| end.last_event_id();
    /// ```
    pub fn last_event_id(&self) -> EventId {
        self.last
    }
}

impl IntoEvent for RunEnd {
    fn into_event(self) -> Result<Event, EventError> {
        let mut out = Vec::new();
        encode::put_event_name(&mut out, "run_end");
        let data = format!("{{\"state\":\"{}\"}}", self.state.as_str());
        encode::put_data_lines(&mut out, &data);
        encode::put_id(&mut out, &self.last.to_string());
        encode::put_end_of_event(&mut out);
        Ok(Event::shared(Bytes::from(out)))
    }
}

pub(super) async fn attach(
    hub: &Hub,
    store: &Arc<Store>,
    watchdog: &Watchdog,
    run: &str,
    last: Option<&str>,
) -> Result<Attached, RunError> {
    if !is_run_id(run) {
        return Err(RunError::UnknownRun(run.to_owned()));
    }
    let record = store
        .read(run)
        .await?
        .ok_or_else(|| RunError::UnknownRun(run.to_owned()))?;
    if let (Some(end), Some(last)) = (
        record.last,
        last.and_then(|last| last.parse::<EventId>().ok()),
    ) {
        // The end, or an id after it (of another run's event, say):
        // nothing of this run comes after it, and a subscription there
        // would wait for ever.
        if last >= end {
            return Err(RunError::Ended);
        }
    }
    let topic = run_topic(run);
    let subscription = match (last, record.first) {
        (Some(last), _) => hub.subscribe(&[topic.as_str()], last),
        // From the start: after the start mark, from the log or the
        // broker's history, or a `reset` if the beginning is gone.
        (None, Some(first)) => hub.subscribe(&[topic.as_str()], first.to_string().as_str()),
        // The start is not known: the record was made again, failed,
        // after the broker lost it and the run's events with it. From
        // before everything (`0-0`, which no transport issues): a `reset`,
        // since the start is gone, then the end, read from the store. (It
        // was "whatever this process's log holds", which need not hold
        // the end mark: such a stream waited for ever.)
        (None, None) => hub.subscribe(&[topic.as_str()], "0-0"),
    };
    let watched = (record.state == RunState::Running)
        .then(|| watchdog.watch(run))
        .flatten();
    Ok(Attached {
        subscription,
        store: Arc::clone(store),
        run: run.to_owned(),
        checking: None,
        end: None,
        ended: false,
        watched,
    })
}

/// A request attached to a run: a `Stream` of its items that ends with the
/// run's end; see [`Runs::attach`](super::Runs::attach).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::SseResponse;
/// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
/// let id = runs.start(|_run| async {}).await.unwrap();
/// let response = SseResponse::from_stream(runs.attach(&id, None).await.unwrap());
/// # let _ = response;
/// # });
/// ```
pub struct Attached {
    subscription: Subscription,
    store: Arc<Store>,
    run: String,
    /// After a `reset`: reading whether the run is over.
    checking: Option<BoxFuture<Result<Option<RunRecord>, HubError>>>,
    /// The end to send next.
    end: Option<RunEnd>,
    ended: bool,
    /// The watchdog's watch on the run, while it may still be running.
    watched: Option<Watched>,
}

impl fmt::Debug for Attached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attached")
            .field("run", &self.run)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Attached {
    /// The run's next item; `None` after its end (or once the stream fell
    /// behind, with [`LagPolicy::Disconnect`](crate::hub::LagPolicy)).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::runs::RunItem;
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let id = runs.start(|_run| async {}).await.unwrap();
    /// let mut attached = runs.attach(&id, None).await.unwrap();
    /// assert!(matches!(attached.next().await, Some(RunItem::End(_))));
    /// assert!(attached.next().await.is_none());
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<RunItem> {
        std::future::poll_fn(|cx| self.poll_run_item(cx)).await
    }

    fn poll_run_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<RunItem>> {
        loop {
            if self.ended {
                // Over: nothing to watch any more (a stream kept open past
                // its run's end would have the watchdog check it past its
                // expiry, and find it gone).
                self.watched = None;
                return Poll::Ready(None);
            }
            if let Some(end) = self.end.take() {
                self.ended = true;
                self.watched = None;
                return Poll::Ready(Some(RunItem::End(end)));
            }
            if let Some(checking) = &mut self.checking {
                let checked = match checking.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(checked) => checked,
                };
                self.checking = None;
                match checked {
                    Ok(Some(record)) if record.state != RunState::Running => {
                        // Without a last id, its end is not stored yet: it
                        // comes as a mark.
                        if let Some(last) = record.last {
                            self.end = Some(RunEnd {
                                state: record.state,
                                last,
                            });
                        }
                    }
                    Ok(Some(_)) => {}
                    // Expired, or lost: nothing more will come.
                    Ok(None) => self.ended = true,
                    Err(error) => {
                        tracing::warn!(run = self.run, %error, "could not read whether a run is over after a reset; going on with its live events");
                    }
                }
                continue;
            }
            let item = match self.subscription.poll_item(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(item)) => item,
            };
            let names = &self.subscription.notice_names();
            return Poll::Ready(Some(match item {
                Item::Event(frame) => RunItem::Event(Event::shared(frame)),
                Item::Mark {
                    kind: EntryKind::RunEnd,
                    id,
                    frame,
                } => {
                    self.ended = true;
                    self.watched = None;
                    RunItem::End(RunEnd {
                        state: end_state(&frame),
                        last: id,
                    })
                }
                Item::Mark { .. } => continue,
                Item::Lagged(missed) => RunItem::Lagged(Lagged::new(missed, names)),
                Item::Reset(id) => {
                    // What the client asked to resume after is gone (or
                    // never was), and the subscription goes on with live
                    // events. If the run is over, its end mark may have
                    // gone with it: ask the store.
                    let store = Arc::clone(&self.store);
                    let run = self.run.clone();
                    self.checking = Some(Box::pin(async move { store.read(&run).await }));
                    RunItem::Reset(Reset::new(id, names))
                }
            }));
        }
    }
}

/// The state an end mark holds; a state this version does not know (a
/// newer one wrote it) is a failure, which ends the stream all the same.
fn end_state(frame: &[u8]) -> RunState {
    std::str::from_utf8(frame)
        .ok()
        .and_then(RunState::from_name)
        .filter(|state| *state != RunState::Running)
        .unwrap_or(RunState::Failed)
}

impl futures_core::Stream for Attached {
    type Item = RunItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RunItem>> {
        self.get_mut().poll_run_item(cx)
    }
}

/// Checks, every quarter lease, the runs that streams of this instance are
/// attached to; see the module's docs. Only where runs have leases.
pub(super) struct Watchdog {
    shared: Option<Arc<WatchdogShared>>,
}

struct WatchdogShared {
    store: Arc<Store>,
    every: Duration,
    /// Watched runs, with how many streams watch each.
    runs: Mutex<HashMap<String, usize>>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for WatchdogShared {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// A stream's watch on its run, given up when dropped.
struct Watched {
    shared: Arc<WatchdogShared>,
    run: String,
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut runs = lock(&self.shared.runs);
        if let Some(count) = runs.get_mut(&self.run) {
            *count -= 1;
            if *count == 0 {
                runs.remove(&self.run);
            }
        }
    }
}

impl Watchdog {
    pub(super) fn new(store: &Arc<Store>) -> Watchdog {
        Watchdog {
            shared: store.lease().map(|lease| {
                Arc::new(WatchdogShared {
                    store: Arc::clone(store),
                    every: lease / 4,
                    runs: Mutex::new(HashMap::new()),
                    task: Mutex::new(None),
                })
            }),
        }
    }

    /// Watches `run` for as long as the returned guard lives.
    fn watch(&self, run: &str) -> Option<Watched> {
        let shared = self.shared.as_ref()?;
        *lock(&shared.runs).entry(run.to_owned()).or_default() += 1;
        let mut task = lock(&shared.task);
        // Started again if it is gone: it runs on the runtime of the
        // stream that first needed it, which may have shut down since.
        if task
            .as_ref()
            .is_none_or(tokio::task::AbortHandle::is_finished)
        {
            let weak = Arc::downgrade(shared);
            *task = Some(tokio::spawn(check_watched(weak, shared.every)).abort_handle());
        }
        Some(Watched {
            shared: Arc::clone(shared),
            run: run.to_owned(),
        })
    }
}

/// The watchdog's task: stops once neither the runs nor any stream
/// attached to them is left.
async fn check_watched(shared: Weak<WatchdogShared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let runs: Vec<String> = lock(&shared.runs).keys().cloned().collect();
        for run in runs {
            match shared.store.check(&run).await {
                Ok(Some(record)) if record.state == RunState::Running => {}
                // Over, and its end mark stored: checked again after its
                // record expired, it would read as lost, and be recorded
                // again as failed, with a second end mark.
                Ok(_) => {
                    lock(&shared.runs).remove(&run);
                }
                Err(error) => {
                    tracing::warn!(run, %error, "could not check a run that streams are attached to");
                }
            }
        }
    }
}
