//! Running a run: the producers of this instance, each driven by a
//! supervising task of its own, and [`RunSender`], what a producer sends
//! with.
//!
//! A run's life (stored, produced, ended, its end stored) is carried out by
//! its supervisor, not by the future of whoever called
//! [`Runs::start`](super::Runs::start) or [`Runs::cancel`](super::Runs::cancel):
//! dropping those futures never leaves a run half done. The supervisor
//!
//! * holds the run's place in [`RunsConfig::max_running`] until the run's
//!   end is stored or given up on, and no longer (a guard, so a panic or an
//!   abort frees it too);
//! * cancels a run whose starter stopped waiting before it learned the id;
//! * stops the producer when the run ends elsewhere (a cancel stored by any
//!   instance, seen as the run's end mark, or at the latest at the next
//!   lease renewal), or when [`Runs::cancel`](super::Runs::cancel) is
//!   called here;
//! * stores the run's end, retrying with backoff while the broker is down,
//!   until it is stored; and, if it is dropped first (its runtime shut
//!   down), stores it as failed from its drop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::task::{AbortHandle, JoinHandle};

use super::state::{Ender, Store};
use super::{run_topic, RunError, RunState, RunsConfig};
use crate::event::IntoEvent;
use crate::hub::{EntryKind, EventId, Hub, HubError, Item, Subscription};
use crate::metrics::RunsMetrics;
use crate::sync::lock;

/// How long to wait before storing a run's end again, at first and at most.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The runs this instance produces.
pub(super) struct Producers {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<Store>,
    hub: Hub,
    config: RunsConfig,
    /// Runs holding a place in `max_running`.
    running: AtomicUsize,
    /// The supervisors of the runs produced here, by run id.
    supervisors: Mutex<HashMap<String, Supervisor>>,
    metrics: RunsMetrics,
}

struct Supervisor {
    /// Set once the task is spawned.
    task: Option<AbortHandle>,
    /// Tells it that [`Runs::cancel`](super::Runs::cancel) was called here.
    cancel: Arc<Notify>,
}

impl Producers {
    pub(super) fn new(store: Arc<Store>, hub: Hub, config: RunsConfig) -> Producers {
        let metrics = RunsMetrics::new(hub.metrics().name());
        Producers {
            shared: Arc::new(Shared {
                store,
                hub,
                config,
                running: AtomicUsize::new(0),
                supervisors: Mutex::new(HashMap::new()),
                metrics,
            }),
        }
    }

    pub(super) async fn start<F, Fut>(&self, producer: F) -> Result<String, RunError>
    where
        F: FnOnce(RunSender) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let place = Place::take(&self.shared)?;
        let run = random_hex(16);
        let sender = RunSender {
            store: Arc::clone(&self.shared.store),
            hub: self.shared.hub.clone(),
            run: Arc::from(run.as_str()),
        };
        let work = producer(sender);
        let (reply, answer) = oneshot::channel();
        let cancel = Arc::new(Notify::new());
        let cancel_on_drop = Arc::clone(&cancel);
        // Registered before the task exists, so that the task, which may
        // finish at once on another thread, always finds its entry to
        // remove.
        lock(&self.shared.supervisors).insert(
            run.clone(),
            Supervisor {
                task: None,
                cancel: Arc::clone(&cancel),
            },
        );
        let task = tokio::spawn(supervise(
            Arc::clone(&self.shared),
            run.clone(),
            work,
            reply,
            place,
            cancel,
        ));
        if let Some(supervisor) = lock(&self.shared.supervisors).get_mut(&run) {
            supervisor.task = Some(task.abort_handle());
        }
        // If this future is dropped before it has the answer, no one knows
        // the run's id: the guard cancels it, whether it is stored yet or
        // not.
        let mut unanswered = CancelUnlessAnswered(Some(cancel_on_drop));
        let answer = answer.await.unwrap_or_else(|_| {
            Err(RunError::Hub(HubError::Broker(
                "the run's supervising task stopped before the run was stored".into(),
            )))
        });
        unanswered.0 = None;
        answer
    }

    pub(super) fn running(&self) -> usize {
        self.shared.running.load(Ordering::Acquire)
    }

    pub(super) async fn cancel(&self, run: &str) -> Result<(), RunError> {
        if !super::is_run_id(run) {
            return Err(RunError::UnknownRun(run.to_owned()));
        }
        let stored = self
            .shared
            .store
            .end(run, RunState::Cancelled, Ender::Other)
            .await;
        // Whether or not it was stored, a producer here stops at once; its
        // supervisor stores the end if this could not.
        let local = lock(&self.shared.supervisors)
            .get(run)
            .map(|supervisor| Arc::clone(&supervisor.cancel));
        if let Some(cancel) = &local {
            cancel.notify_one();
        }
        match stored {
            Ok(_) => Ok(()),
            Err(RunError::Hub(_)) if local.is_some() => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Stops every producer of this instance and its supervisor, and ends
    /// their runs as failed: this instance will not produce them. Where
    /// the end cannot be stored at once, the runs' leases expire and other
    /// instances mark them failed.
    pub(super) fn stop_all(&self) {
        let supervisors = std::mem::take(&mut *lock(&self.shared.supervisors));
        for (run, supervisor) in supervisors {
            if let Some(task) = supervisor.task {
                task.abort();
            }
            end_without_waiting(&self.shared.store, run, RunState::Failed);
        }
    }
}

/// Stores a run's end where no one can wait for it (a drop): in process at
/// once; through a broker on a task, if a runtime is there to run it, else
/// not at all (the run's lease expires, and other instances fail it).
fn end_without_waiting(store: &Arc<Store>, run: String, state: RunState) {
    let store = Arc::clone(store);
    let shared_by_broker = store.lease().is_some();
    let end = async move {
        if let Err(error) = store.end(&run, state, Ender::Producer).await {
            tracing::warn!(run, %error, "could not store the end of a run whose instance stopped");
        }
    };
    if shared_by_broker {
        // Not polled here: a broker's call makes a tokio timer, which
        // panics outside a runtime (a `Runs` dropped after `block_on`).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(end);
        }
        return;
    }
    // In process, the end is stored when first polled (the in-process
    // transport appends at the call), runtime or not.
    let mut end = Box::pin(end);
    let mut cx = Context::from_waker(Waker::noop());
    if end.as_mut().poll(&mut cx).is_pending() {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(end);
        }
    }
}

/// A run's place among the `max_running` runs of this instance, given back
/// when dropped.
struct Place {
    shared: Arc<Shared>,
}

impl Place {
    fn take(shared: &Arc<Shared>) -> Result<Place, RunError> {
        let limit = shared.config.max_running;
        shared
            .running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < limit).then_some(running + 1)
            })
            .map_err(|_| RunError::TooManyRuns(limit))?;
        Ok(Place {
            shared: Arc::clone(shared),
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.shared.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Removes a run's supervisor from the table when its task ends, however
/// it ends.
struct Registered {
    shared: Arc<Shared>,
    run: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.shared.supervisors).remove(&self.run);
    }
}

/// Cancels a run when dropped, unless disarmed (set to `None`).
struct CancelUnlessAnswered(Option<Arc<Notify>>);

impl Drop for CancelUnlessAnswered {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.notify_one();
        }
    }
}

/// Ends a run when dropped (as failed, unless its end is known), unless
/// disarmed (`run` set to `None`): a supervisor dropped before it stored
/// its run's end (its runtime shut down, or it panicked) must not leave
/// the run `running` with no producer, which in process nothing else
/// would ever end.
struct FailUnlessEnded {
    store: Arc<Store>,
    run: Option<String>,
    /// How it ended, once known; failed until then.
    state: RunState,
}

impl Drop for FailUnlessEnded {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            end_without_waiting(&self.store, run, self.state);
        }
    }
}

/// Aborts a task when dropped: the producer stops with its supervisor.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a run's supervision ended.
enum Outcome {
    /// The run ended here, in this state: its end is to be stored.
    Ended(RunState),
    /// The run's end is stored already (a cancel, or a failure another
    /// instance marked).
    EndedElsewhere,
}

async fn supervise<Fut>(
    shared: Arc<Shared>,
    run: String,
    work: Fut,
    reply: oneshot::Sender<Result<String, RunError>>,
    place: Place,
    cancel: Arc<Notify>,
) where
    Fut: Future<Output = ()> + Send + 'static,
{
    let _place = place;
    let _registered = Registered {
        shared: Arc::clone(&shared),
        run: run.clone(),
    };
    let topic = run_topic(&run);
    // Where runs are shared through a broker, the run's end mark tells
    // that another instance ended it: watched from before the run exists,
    // so that none is missed. In process, the registry tells (below).
    let shared_by_broker = shared.store.lease().is_some();
    let mut watch = shared_by_broker.then(|| shared.hub.watch(&[&topic]));
    if let Err(error) = shared.store.create(&run).await {
        // A run that may have been stored after all is ended, so that it
        // does not wait for a producer that never comes.
        let maybe_stored = matches!(error, HubError::Timeout(_) | HubError::Unconfirmed(_));
        let _ = reply.send(Err(error.into()));
        if maybe_stored {
            store_end(&shared, &run, RunState::Cancelled, Ender::Other).await;
        }
        return;
    }
    // From here the run is stored: it must end, however this task does.
    // Counted as running until this task ends, however it does, and then
    // as ended in `counted.state` (failed until known).
    let mut counted = shared.metrics.started();
    let mut unended = FailUnlessEnded {
        store: Arc::clone(&shared.store),
        run: Some(run.clone()),
        state: RunState::Failed,
    };
    if reply.send(Ok(run.clone())).is_err() {
        // Whoever started it stopped waiting before it learned the id: no
        // one can attach to it or cancel it.
        unended.state = RunState::Cancelled;
        counted.state = RunState::Cancelled;
        store_end(&shared, &run, RunState::Cancelled, Ender::Producer).await;
        unended.run = None;
        return;
    }
    let ended_here = shared.store.ended_signal(&run);
    let mut producer = AbortOnDrop(tokio::spawn(work));
    let renew_every = shared.store.lease().map(|lease| lease / 4);
    let mut renewal = Box::pin(tokio::time::sleep(renew_every.unwrap_or(Duration::MAX)));
    let outcome = loop {
        tokio::select! {
            finished = &mut producer.0 => break Outcome::Ended(match finished {
                Ok(()) => RunState::Finished,
                Err(error) if error.is_panic() => RunState::Failed,
                Err(_) => RunState::Cancelled,
            }),
            () = cancel.notified() => break Outcome::Ended(RunState::Cancelled),
            () = wait_for(ended_here.as_deref()), if ended_here.is_some() => {
                break Outcome::EndedElsewhere;
            }
            ended = ended_elsewhere(&mut watch), if watch.is_some() => {
                if !ended {
                    // It fell behind its topic: watch again; the renewal
                    // catches what it missed.
                    watch = Some(shared.hub.watch(&[&topic]));
                    continue;
                }
                // The mark is stored with the state, in one script: a
                // state that is still `running` means someone else wrote
                // the mark into the stream, and the run goes on. (Streams
                // attached to it end at it: they trust the stream.)
                match shared.store.renew(&run).await {
                    Ok(record) if record.state == RunState::Running => {
                        tracing::warn!(run, "an end mark for a running run that its state does not back; the run goes on");
                    }
                    _ => break Outcome::EndedElsewhere,
                }
            }
            () = &mut renewal, if renew_every.is_some() => {
                let every = renew_every.unwrap_or(Duration::MAX);
                renewal.as_mut().reset(tokio::time::Instant::now() + every);
                match shared.store.renew(&run).await {
                    Ok(record) if record.state != RunState::Running => break Outcome::EndedElsewhere,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(run, %error, "could not renew a run's lease; trying again"),
                }
            }
        }
    };
    drop(producer);
    match outcome {
        Outcome::Ended(state) => {
            unended.state = state;
            counted.state = state;
            store_end(&shared, &run, state, Ender::Producer).await;
        }
        Outcome::EndedElsewhere => {
            // As it was stored (a cancel, most often); failed if that
            // cannot be read.
            if let Ok(Some(record)) = shared.store.read(&run).await {
                if record.state != RunState::Running {
                    counted.state = record.state;
                }
            }
        }
    }
    unended.run = None;
}

/// Waits for `signal`, if there is one.
async fn wait_for(signal: Option<&Notify>) {
    match signal {
        Some(signal) => signal.notified().await,
        None => std::future::pending().await,
    }
}

/// Waits on a run's own topic for its end mark: `true` once seen, `false`
/// if the watch fell behind (or ended) first.
async fn ended_elsewhere(watch: &mut Option<Subscription>) -> bool {
    let Some(watch) = watch else {
        return std::future::pending().await;
    };
    loop {
        match std::future::poll_fn(|cx| watch.poll_item(cx)).await {
            Some(Item::Mark {
                kind: EntryKind::RunEnd,
                ..
            }) => return true,
            Some(Item::Lagged(_) | Item::Reset(_)) | None => return false,
            Some(_) => {}
        }
    }
}

/// Stores a run's end, retrying with backoff while the broker cannot,
/// until it is stored (or the run is unknown to an `Ender::Other`).
async fn store_end(shared: &Shared, run: &str, state: RunState, ender: Ender) {
    let mut backoff = RETRY_MIN;
    loop {
        match shared.store.end(run, state, ender).await {
            Ok(_) | Err(RunError::UnknownRun(_)) => return,
            Err(error) => {
                tracing::warn!(run, %error, retry_in = ?backoff, "could not store the end of a run; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        }
    }
}

/// `bytes` random bytes from the operating system, as hex: unguessable, so
/// a run id is its capability.
pub(super) fn random_hex(bytes: usize) -> String {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).expect("the operating system's random source is available");
    let mut hex = String::with_capacity(bytes * 2);
    for byte in random {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 15), 16).unwrap_or('0'));
    }
    hex
}

/// What a producer sends its events with; see
/// [`Runs::start`](super::Runs::start).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
/// runs.start(|run| async move {
///     let id = run.send(sse_runtime::event!("token")).await.unwrap();
///     # let _ = id;
/// }).await.unwrap();
/// # });
/// ```
#[derive(Clone)]
pub struct RunSender {
    store: Arc<Store>,
    hub: Hub,
    run: Arc<str>,
}

impl std::fmt::Debug for RunSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSender")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl RunSender {
    /// The run's id.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let (tell, told) = tokio::sync::oneshot::channel();
    /// let id = runs.start(|run| async move { let _ = tell.send(run.id().to_owned()); }).await.unwrap();
    /// assert_eq!(told.await.unwrap(), id);
    /// # });
    /// ```
    pub fn id(&self) -> &str {
        &self.run
    }

    /// Stores `event` in the run; resolves to its id. Fails with
    /// [`RunError::RunLogFull`] once [`RunsConfig::max_events`] events are
    /// stored (only stored events count), with [`RunError::Ended`] once the
    /// run has ended (a clone of the sender kept by a task of the
    /// producer's: what it sent would come after the run's end, where no
    /// attached client reads), and with [`RunError::Hub`] when the event is
    /// refused or the hub cannot store it.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::runs::{Runs, RunsConfig, RunError};
    /// let runs = Runs::new(sse_runtime::hub::Hub::new(), RunsConfig { max_events: 1, ..Default::default() });
    /// let (done, result) = tokio::sync::oneshot::channel();
    /// runs.start(|run| async move {
    ///     run.send(sse_runtime::event!("one")).await.unwrap();
    ///     let _ = done.send(run.send(sse_runtime::event!("two")).await);
    /// }).await.unwrap();
    /// assert!(matches!(result.await.unwrap(), Err(RunError::RunLogFull(1))));
    /// # });
    /// ```
    pub async fn send<E: IntoEvent>(&self, event: E) -> Result<EventId, RunError> {
        let frame = self.hub.frame_of(event)?;
        self.store.send(&self.run, frame).await
    }
}
