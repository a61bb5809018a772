//! Streams that outlive their connection: a *run* is a producer task whose
//! events are recorded on the hub under the run's id; any request can
//! attach to it by id and `Last-Event-ID`, on any instance sharing the hub,
//! and receives what it missed, then live events, then the end.
//!
//! * **The producer owns the work; connections only attach.** A client that
//!   goes away detaches; the producer goes on. [`Runs::cancel`] stops it:
//!   its future is dropped, on whichever instance runs it.
//! * **Events** are hub events on the run's own topic, so they resume
//!   exactly as any hub subscription does, and are bounded by the hub's
//!   [`HubConfig`](crate::hub::HubConfig) as well as by
//!   [`RunsConfig::max_events`].
//! * **Marks, not messages.** A run's start and end are entries of their
//!   own kind ([`EntryKind::RunStart`](crate::hub::EntryKind),
//!   `RunEnd`) on its topic, never events: nothing a producer sends can
//!   pass for one. The end ends every attached stream ([`RunItem::End`]),
//!   with how the run ended.
//! * **State lives where every instance reads it** (`state.rs`): in
//!   process, a registry; on a [`RedisTransport`](crate::hub::RedisTransport),
//!   a hash per run beside the hub's stream (`redis.rs`), changed by the
//!   same scripts that store the run's marks, so a state and its mark never
//!   disagree. An instance started mid-run attaches to it; a cancel stored
//!   on one instance is applied by the instance that produces the run.
//! * **Every change survives a dropped future and a broker that is down**
//!   (`producer.rs`): a run's life is driven by a task of its own, not by
//!   the caller's future; its end is stored with retries until it is; on
//!   Redis the producing instance holds a lease it renews, and a run whose
//!   instance died is marked failed by whoever notices first.
//!
//! On another [`Transport`](crate::hub::Transport) than those two, runs keep
//! their state in this process only: each instance knows the runs it
//! started. Such a transport must take an entry's place in the order when
//! `publish` is called (see [`Transport::publish`](crate::hub::Transport::publish)),
//! or a run's events may be stored after its end.

mod attach;
mod producer;
#[cfg(feature = "redis")]
mod redis;
mod state;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::EventError;
use crate::hub::{EventId, Hub, HubError, LastSeen};

use self::attach::Watchdog;
pub use self::attach::{Attached, RunEnd, RunItem};
use self::producer::Producers;
pub use self::producer::RunSender;
use self::state::Store;

/// Limits for [`Runs`].
///
/// ```
/// use std::time::Duration;
/// let config = sse_runtime::runs::RunsConfig {
///     max_running: 16,
///     max_events: 5_000,
///     keep_finished: Duration::from_secs(60),
///     ..Default::default()
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RunsConfig {
    /// Runs that may be producing at once on this instance; starting one
    /// more fails with [`RunError::TooManyRuns`]. Default 100.
    pub max_running: usize,
    /// Events one run may store; the next send fails with
    /// [`RunError::RunLogFull`]. Only events stored count. Default 10,000.
    pub max_events: usize,
    /// How long a finished run stays attachable. Default 5 minutes.
    pub keep_finished: Duration,
    /// On Redis, a run whose producing instance has not renewed its lease
    /// for this long is marked [`RunState::Failed`]: its instance died, or
    /// lost Redis for that long. The instance renews it every quarter of
    /// this, and an instance with streams attached to the run checks it as
    /// often, so such a run ends within this period. Default 15 s; at
    /// least [`MIN_LEASE`] (a shorter one, zero included, is taken as
    /// that: renewed every quarter, a zero lease renewed every run at
    /// every tick of the timer, and failed it at every read).
    pub lease: Duration,
}

/// The shortest [`RunsConfig::lease`]: a shorter one is taken as this.
///
/// ```
/// assert_eq!(sse_runtime::runs::MIN_LEASE, std::time::Duration::from_millis(100));
/// ```
pub const MIN_LEASE: Duration = Duration::from_millis(100);

impl Default for RunsConfig {
    fn default() -> Self {
        RunsConfig {
            max_running: 100,
            max_events: 10_000,
            keep_finished: Duration::from_secs(300),
            lease: Duration::from_secs(15),
        }
    }
}

/// Why a run could not be started, attached to, cancelled, or sent to.
///
/// ```
/// let error = sse_runtime::runs::RunError::UnknownRun("abc".into());
/// assert_eq!(error.to_string(), "no run \"abc\": it never existed, or it finished and expired");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// No such run: never started, or finished and expired.
    UnknownRun(String),
    /// [`RunsConfig::max_running`] runs are producing already.
    TooManyRuns(usize),
    /// The run has stored [`RunsConfig::max_events`] events already.
    RunLogFull(usize),
    /// The run is over: nothing more can be sent, or (attaching) nothing
    /// is left to send after the id given.
    Ended,
    /// The hub or its broker could not do it.
    Hub(HubError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::UnknownRun(id) => write!(
                f,
                "no run {id:?}: it never existed, or it finished and expired"
            ),
            RunError::TooManyRuns(limit) => {
                write!(
                    f,
                    "{limit} runs are running already (RunsConfig::max_running)"
                )
            }
            RunError::RunLogFull(limit) => write!(
                f,
                "the run has stored {limit} events, its limit (RunsConfig::max_events)"
            ),
            RunError::Ended => f.write_str("the run has ended"),
            RunError::Hub(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Hub(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EventError> for RunError {
    fn from(error: EventError) -> Self {
        RunError::Hub(HubError::Event(error))
    }
}

impl From<HubError> for RunError {
    fn from(error: HubError) -> Self {
        RunError::Hub(error)
    }
}

/// How a run is.
///
/// ```
/// assert_eq!(sse_runtime::runs::RunState::Finished.as_str(), "finished");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunState {
    /// The producer is working.
    Running,
    /// The producer returned.
    Finished,
    /// The run was cancelled.
    Cancelled,
    /// The producer panicked, or its instance stopped (died, or dropped
    /// its [`Runs`]) before it returned.
    Failed,
}

impl RunState {
    /// A short lowercase name, as the state is stored.
    ///
    /// ```
    /// assert_eq!(sse_runtime::runs::RunState::Running.as_str(), "running");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Cancelled => "cancelled",
            RunState::Failed => "failed",
        }
    }

    /// The state named `name`.
    fn from_name(name: &str) -> Option<RunState> {
        match name {
            "running" => Some(RunState::Running),
            "finished" => Some(RunState::Finished),
            "cancelled" => Some(RunState::Cancelled),
            "failed" => Some(RunState::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs on a hub: start producers, attach to them, cancel them. Cheap to
/// clone. Dropping the last clone stops this instance's producers (their
/// runs end as [`RunState::Failed`]) and every task the runs started.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::event;
/// use sse_runtime::hub::Hub;
/// use sse_runtime::runs::{RunItem, Runs, RunsConfig, RunState};
///
/// let runs = Runs::new(Hub::new(), RunsConfig::default());
/// let id = runs.start(|run| async move {
///     for n in 1..=3 {
///         run.send(event!(data: n.to_string())).await.unwrap();
///     }
/// })
/// .await?;
/// // Any request, now or later, on any instance: what it missed, then
/// // live events, then the end.
/// let mut attached = runs.attach(&id, None).await?;
/// let mut data = Vec::new();
/// while let Some(item) = attached.next().await {
///     match item {
///         RunItem::Event(event) => data.push(event),
///         RunItem::End(end) => assert_eq!(end.state(), RunState::Finished),
///         _ => {}
///     }
/// }
/// assert_eq!(data.len(), 3);
/// # Ok::<(), sse_runtime::runs::RunError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

/// What the clones of a [`Runs`] share.
struct Inner {
    hub: Hub,
    store: Arc<Store>,
    config: RunsConfig,
    /// The runs this instance produces.
    producers: Producers,
    /// Checks the runs that streams of this instance are attached to.
    watchdog: Watchdog,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.producers.stop_all();
    }
}

impl fmt::Debug for Runs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runs")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Runs {
    /// Runs on `hub`, keeping their state where `hub`'s transport keeps
    /// its events.
    ///
    /// ```
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// # let _ = runs;
    /// ```
    pub fn new(hub: Hub, mut config: RunsConfig) -> Runs {
        config.lease = config.lease.max(MIN_LEASE);
        let store = Arc::new(Store::for_hub(&hub, &config));
        Runs {
            inner: Arc::new(Inner {
                producers: Producers::new(Arc::clone(&store), hub.clone(), config),
                watchdog: Watchdog::new(&store),
                hub,
                store,
                config,
            }),
        }
    }

    /// Starts `producer` as a new run and returns its id once the run is
    /// stored. It runs on its own task, and sends its events with the
    /// [`RunSender`] it is given; the run ends when it returns (or panics,
    /// or is cancelled).
    ///
    /// Fails with [`RunError::TooManyRuns`] when
    /// [`RunsConfig::max_running`] runs are producing on this instance, and
    /// with [`RunError::Hub`] when the run cannot be stored. If this future
    /// is dropped before it resolves, the run is cancelled (no one would
    /// know its id) and its place freed.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let id = runs.start(|_run| async {}).await?;
    /// assert_eq!(id.len(), 32);
    /// # Ok::<(), sse_runtime::runs::RunError>(())
    /// # }).unwrap();
    /// ```
    pub async fn start<F, Fut>(&self, producer: F) -> Result<String, RunError>
    where
        F: FnOnce(RunSender) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.producers.start(producer).await
    }

    /// Attaches to run `id`, after `last` (the request's `Last-Event-ID`,
    /// or `None` for everything the run sent): what it missed, then live
    /// events, then the end. Fails with [`RunError::UnknownRun`] for a run
    /// no instance knows, or one finished longer ago than
    /// [`RunsConfig::keep_finished`]; and with [`RunError::Ended`] when the
    /// run has ended and `last` is its end, so nothing is left to send (an
    /// HTTP handler answers `204 No Content`, which stops `EventSource`
    /// from reconnecting).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// assert!(matches!(runs.attach("nope", None).await, Err(sse_runtime::runs::RunError::UnknownRun(_))));
    /// # });
    /// ```
    pub async fn attach<'a>(
        &self,
        id: &str,
        last: impl Into<LastSeen<'a>>,
    ) -> Result<Attached, RunError> {
        let last = last.into().id().map(str::to_owned);
        attach::attach(
            &self.inner.hub,
            &self.inner.store,
            &self.inner.watchdog,
            id,
            last.as_deref(),
        )
        .await
    }

    /// How run `id` is, or `None` for a run no instance knows (never
    /// started, or finished and expired). On Redis, a running run whose
    /// lease expired is marked failed here.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// assert_eq!(runs.state("nope").await?, None);
    /// # Ok::<(), sse_runtime::runs::RunError>(())
    /// # }).unwrap();
    /// ```
    pub async fn state(&self, id: &str) -> Result<Option<RunState>, RunError> {
        if !is_run_id(id) {
            return Ok(None);
        }
        Ok(self.inner.store.read(id).await?.map(|record| record.state))
    }

    /// How many runs this instance is producing: each holds a place under
    /// [`RunsConfig::max_running`] from its start until its end is stored
    /// (or given up on, when the instance stops).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let id = runs.start(|_run| std::future::pending::<()>()).await?;
    /// assert_eq!(runs.running(), 1);
    /// # Ok::<(), sse_runtime::runs::RunError>(())
    /// # }).unwrap();
    /// ```
    pub fn running(&self) -> usize {
        self.inner.producers.running()
    }

    /// Cancels run `id`, wherever it is produced: the end is stored at
    /// once (attached streams end with [`RunState::Cancelled`]), and the
    /// producing instance drops the producer's future, within a lease
    /// period at worst, at once when its hub is keeping up. Cancelling a
    /// run that already ended does nothing.
    ///
    /// `Ok` means the cancel is stored, or, for a run this instance
    /// produces while the broker is unreachable, that its producer has
    /// stopped and its end will be stored when the broker is back. Dropping
    /// this future never leaves a run half cancelled.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sse_runtime::runs::{RunState, Runs};
    /// let runs = Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let id = runs.start(|_run| std::future::pending::<()>()).await?;
    /// runs.cancel(&id).await?;
    /// assert_eq!(runs.state(&id).await?, Some(RunState::Cancelled));
    /// # Ok::<(), sse_runtime::runs::RunError>(())
    /// # }).unwrap();
    /// ```
    pub async fn cancel(&self, id: &str) -> Result<(), RunError> {
        self.inner.producers.cancel(id).await
    }
}

/// Whether `id` can be a run's id (32 hex digits): anything else is
/// unknown without asking the store.
fn is_run_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A run's hub topic.
fn run_topic(id: &str) -> String {
    format!("{RUN_TOPIC_PREFIX}{id}")
}

/// What every run's topic starts with.
pub(crate) const RUN_TOPIC_PREFIX: &str = "sse-runtime:run:";

/// What is known of a run, as its state is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RunRecord {
    state: RunState,
    /// The id of its start mark.
    first: Option<EventId>,
    /// The id of its end mark, once it ended.
    last: Option<EventId>,
}
