//! Streams that outlive their connection: a *run* is a producer task whose
//! events are recorded on the hub under the run's id; any request can
//! attach to it by id and `Last-Event-ID`, on any instance sharing the hub,
//! and receives what it missed, then live events, then the end.
//!
//! * The producer owns the work; connections only attach. A client that
//!   goes away detaches; the producer goes on. [`Runs::cancel`] stops it:
//!   its future is dropped.
//! * A run's events are hub events on the run's own topic, so they resume
//!   exactly as any hub subscription does, and are bounded by the hub's
//!   [`HubConfig`](crate::hub::HubConfig) as well as by
//!   [`RunsConfig::max_events`].
//! * A run ends with a comment frame of its own (invisible to `EventSource`
//!   and to SSE client libraries) that tells attached streams to end.
//! * Which runs exist, and how they ended, travels on the hub too (the
//!   topic [`CONTROL_TOPIC`]), so every instance knows the runs of every
//!   other, and a cancel sent to one instance stops a producer on another.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;

use crate::error::EventError;
use crate::event::{Event, IntoEvent};
use crate::hub::{EventId, Hub, HubError, LastSeen, Subscription};
use crate::sync::lock;

/// The hub topic on which instances tell each other about runs.
pub const CONTROL_TOPIC: &str = "sse-runtime:runs";

/// The comment that ends a run's stream. A hub event, so it carries the
/// run's last id; a comment, so clients never see it.
const END_MARK: &[u8] = b": sse-runtime run ended\n";

/// Limits for [`Runs`].
///
/// ```
/// use std::time::Duration;
/// let config = sse_runtime::runs::RunsConfig {
///     max_running: 16,
///     max_events: 5_000,
///     keep_finished: Duration::from_secs(60),
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RunsConfig {
    /// Runs that may be producing at once on this instance; starting one
    /// more fails with [`RunError::TooManyRuns`]. Default 100.
    pub max_running: usize,
    /// Events one run may send; the next send fails with
    /// [`RunError::RunLogFull`]. Default 10,000.
    pub max_events: usize,
    /// How long a finished run stays attachable. Default 5 minutes.
    pub keep_finished: Duration,
}

impl Default for RunsConfig {
    fn default() -> Self {
        RunsConfig {
            max_running: 100,
            max_events: 10_000,
            keep_finished: Duration::from_secs(300),
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
    /// The run has sent [`RunsConfig::max_events`] events already.
    RunLogFull(usize),
    /// The run is over: nothing more can be sent.
    Ended,
    /// The hub could not store an event.
    Hub(HubError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
                "the run has sent {limit} events, its limit (RunsConfig::max_events)"
            ),
            RunError::Ended => f.write_str("the run has ended"),
            RunError::Hub(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for RunError {}

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

/// How a run is, as far as this instance knows.
///
/// ```
/// assert_eq!(sse_runtime::runs::RunState::Finished.as_str(), "finished");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunState {
    /// The producer is working.
    Running,
    /// The producer returned.
    Finished,
    /// The run was cancelled.
    Cancelled,
    /// The producer panicked.
    Failed,
}

impl RunState {
    /// A short lowercase name.
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
}

/// What instances tell each other on [`CONTROL_TOPIC`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Control {
    /// A run changed state; `at` is when, in milliseconds since the epoch.
    State {
        run: String,
        state: RunState,
        at: u64,
        /// The id of the run's end mark, once it ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last: Option<String>,
    },
    /// Stop this run, wherever it is produced.
    Cancel { run: String },
}

/// Runs on a hub: start producers, attach to them, cancel them.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::event;
/// use sse_runtime::hub::Hub;
/// use sse_runtime::runs::{Runs, RunsConfig};
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
/// let mut attached = runs.attach(&id, None)?;
/// let mut received = Vec::new();
/// while let Some(event) = attached.next().await {
///     received.extend_from_slice(event.as_bytes());
/// }
/// let data: Vec<_> = sse_runtime::testing::parse_all(&received)
///     .into_iter()
///     .filter_map(|item| match item {
///         sse_runtime::testing::Received::Event(event) => Some(event.data),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(data, ["1", "2", "3"]);
/// # Ok::<(), sse_runtime::runs::RunError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Runs {
    shared: Arc<Shared>,
}

struct Shared {
    hub: Hub,
    config: RunsConfig,
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    runs: HashMap<String, Entry>,
}

struct Entry {
    state: RunState,
    /// When it stopped running, in milliseconds since the epoch.
    ended_at: Option<u64>,
    /// Set on the instance that produces it, while it does.
    producer: Option<AbortHandle>,
    /// The id of the run's end mark, once it ended: a client whose last id
    /// it is has everything.
    last: Option<String>,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Runs {
    /// Runs on `hub`. Learns of other instances' runs from the hub, so
    /// build it inside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// # let _ = runs;
    /// # });
    /// ```
    pub fn new(hub: Hub, config: RunsConfig) -> Runs {
        let shared = Arc::new(Shared {
            // Recent control events first: runs started on other instances
            // before this one was built.
            hub,
            config,
            registry: Mutex::new(Registry::default()),
        });
        let control = shared
            .hub
            .subscribe_with_recent(&[CONTROL_TOPIC], None, 4096);
        tokio::spawn(follow_control(Arc::downgrade(&shared), control));
        Runs { shared }
    }

    /// Starts `producer` as a new run and returns its id. It runs on its
    /// own task, and sends its events with the [`RunSender`] it is given;
    /// the run ends when it returns (or panics, or is cancelled).
    ///
    /// Fails with [`RunError::TooManyRuns`] when
    /// [`RunsConfig::max_running`] runs are producing on this instance.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let id = runs.start(|_run| async {}).await?;
    /// assert!(!id.is_empty());
    /// # Ok::<(), sse_runtime::runs::RunError>(())
    /// # }).unwrap();
    /// ```
    pub async fn start<F, Fut>(&self, producer: F) -> Result<String, RunError>
    where
        F: FnOnce(RunSender) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        {
            let registry = lock(&self.shared.registry);
            let running = registry
                .runs
                .values()
                .filter(|entry| entry.producer.is_some())
                .count();
            if running >= self.shared.config.max_running {
                return Err(RunError::TooManyRuns(self.shared.config.max_running));
            }
        }
        let id = new_run_id();
        lock(&self.shared.registry).runs.insert(
            id.clone(),
            Entry {
                state: RunState::Running,
                ended_at: None,
                producer: None,
                last: None,
            },
        );
        self.announce(&id, RunState::Running, None).await;
        let sender = RunSender {
            hub: self.shared.hub.clone(),
            topic: run_topic(&id),
            sent: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            limit: self.shared.config.max_events,
        };
        let task = tokio::spawn(producer(sender));
        if let Some(entry) = lock(&self.shared.registry).runs.get_mut(&id) {
            if entry.state == RunState::Running {
                entry.producer = Some(task.abort_handle());
            }
        }
        // A panic in the producer fails the run, not the process; a cancel
        // has ended the run already.
        let shared = Arc::downgrade(&self.shared);
        let run = id.clone();
        tokio::spawn(async move {
            let state = match task.await {
                Ok(()) => RunState::Finished,
                Err(error) if error.is_panic() => RunState::Failed,
                Err(_) => RunState::Cancelled,
            };
            if let Some(shared) = shared.upgrade() {
                Runs { shared }.end(&run, state).await;
            }
        });
        Ok(id)
    }

    /// Attaches to run `id`, after `last` (the request's `Last-Event-ID`,
    /// or `None` for everything the run sent): what it missed, then live
    /// events, then the end. Fails with [`RunError::UnknownRun`] for a run
    /// this instance does not know, or one finished longer ago than
    /// [`RunsConfig::keep_finished`]; and with [`RunError::Ended`] when the
    /// run has ended and `last` is its end, so nothing is left to send (an
    /// HTTP handler answers `204 No Content`, which stops `EventSource`
    /// from reconnecting).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// assert!(matches!(runs.attach("nope", None), Err(sse_runtime::runs::RunError::UnknownRun(_))));
    /// # });
    /// ```
    #[allow(
        clippy::result_large_err,
        reason = "an error per attach, not per event"
    )]
    pub fn attach<'a>(
        &self,
        id: &str,
        last: impl Into<LastSeen<'a>>,
    ) -> Result<Attached, RunError> {
        let last = last.into();
        {
            let state = self.state(id);
            let registry = lock(&self.shared.registry);
            let entry = match (state, registry.runs.get(id)) {
                (Some(_), Some(entry)) => entry,
                _ => return Err(RunError::UnknownRun(id.to_owned())),
            };
            if entry.state != RunState::Running
                && entry.last.as_deref() == last.id()
                && last.id().is_some()
            {
                return Err(RunError::Ended);
            }
        }
        let topic = run_topic(id);
        let subscription = match last.id() {
            Some(_) => self.shared.hub.subscribe(&[topic.as_str()], last),
            // Everything the run sent: its events are all on its topic.
            None => self
                .shared
                .hub
                .subscribe_with_recent(&[topic.as_str()], None, usize::MAX),
        };
        Ok(Attached {
            subscription,
            ended: false,
        })
    }

    /// Whether run `id` is attachable, and how it is.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// assert_eq!(runs.state("nope"), None);
    /// # });
    /// ```
    pub fn state(&self, id: &str) -> Option<RunState> {
        let mut registry = lock(&self.shared.registry);
        let keep = self.shared.config.keep_finished.as_millis() as u64;
        let now = crate::hub::unix_ms();
        registry.runs.retain(|_, entry| {
            entry
                .ended_at
                .is_none_or(|ended| now.saturating_sub(ended) <= keep)
        });
        registry.runs.get(id).map(|entry| entry.state)
    }

    /// Cancels run `id`, wherever it is produced: its producer's future is
    /// dropped, and attached streams end. Cancelling a run that already
    /// ended does nothing.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let id = runs.start(|_run| std::future::pending::<()>()).await?;
    /// runs.cancel(&id).await?;
    /// assert_eq!(runs.state(&id), Some(sse_runtime::runs::RunState::Cancelled));
    /// # Ok::<(), sse_runtime::runs::RunError>(())
    /// # }).unwrap();
    /// ```
    pub async fn cancel(&self, id: &str) -> Result<(), RunError> {
        let state = self
            .state(id)
            .ok_or_else(|| RunError::UnknownRun(id.to_owned()))?;
        if state != RunState::Running {
            return Ok(());
        }
        if self.abort_local(id) {
            self.end(id, RunState::Cancelled).await;
        } else {
            // Produced elsewhere: ask the instance that produces it.
            let control = Control::Cancel { run: id.to_owned() };
            self.shared
                .hub
                .publish(CONTROL_TOPIC, Event::json(&control)?)
                .await?;
        }
        Ok(())
    }

    /// Stops the local producer of `id`, if this instance has it.
    fn abort_local(&self, id: &str) -> bool {
        let producer = lock(&self.shared.registry)
            .runs
            .get_mut(id)
            .and_then(|entry| entry.producer.take());
        match producer {
            Some(producer) => {
                producer.abort();
                true
            }
            None => false,
        }
    }

    /// Records the end of a run produced here, ends its streams, and tells
    /// the other instances.
    async fn end(&self, id: &str, state: RunState) {
        let changed = {
            let mut registry = lock(&self.shared.registry);
            match registry.runs.get_mut(id) {
                Some(entry) if entry.state == RunState::Running => {
                    entry.state = state;
                    entry.ended_at = Some(crate::hub::unix_ms());
                    entry.producer = None;
                    true
                }
                _ => false,
            }
        };
        if !changed {
            return;
        }
        let mark = Event::comment("sse-runtime run ended");
        let last = match self.shared.hub.publish(&run_topic(id), mark).await {
            Ok(last) => {
                let last = last.to_string();
                if let Some(entry) = lock(&self.shared.registry).runs.get_mut(id) {
                    entry.last = Some(last.clone());
                }
                Some(last)
            }
            Err(error) => {
                tracing::warn!(run = id, %error, "could not mark the end of a run");
                None
            }
        };
        self.announce(id, state, last).await;
    }

    async fn announce(&self, id: &str, state: RunState, last: Option<String>) {
        let control = Control::State {
            run: id.to_owned(),
            state,
            at: crate::hub::unix_ms(),
            last,
        };
        let published = match Event::json(&control) {
            Ok(event) => self.shared.hub.publish(CONTROL_TOPIC, event).await,
            Err(error) => Err(HubError::Event(error)),
        };
        if let Err(error) = published {
            tracing::warn!(run = id, %error, "could not tell other instances about a run");
        }
    }
}

/// Keeps this instance's registry in step with what every instance says.
async fn follow_control(shared: Weak<Shared>, mut control: Subscription) {
    while let Some(event) = control.next().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(message) = parse_control(event.as_bytes()) else {
            continue;
        };
        let runs = Runs { shared };
        match message {
            Control::State {
                run,
                state,
                at,
                last,
            } => {
                let mut registry = lock(&runs.shared.registry);
                let entry = registry.runs.entry(run).or_insert(Entry {
                    state: RunState::Running,
                    ended_at: None,
                    producer: None,
                    last: None,
                });
                // A run only moves on from `running`.
                if entry.state == RunState::Running && state != RunState::Running {
                    entry.state = state;
                    entry.ended_at = Some(at);
                }
                if last.is_some() {
                    entry.last = last;
                }
            }
            Control::Cancel { run } => {
                if runs.abort_local(&run) {
                    runs.end(&run, RunState::Cancelled).await;
                }
            }
        }
    }
}

fn parse_control(frame: &[u8]) -> Option<Control> {
    let text = std::str::from_utf8(frame).ok()?;
    let data = text.lines().find_map(|line| line.strip_prefix("data: "))?;
    serde_json::from_str(data).ok()
}

fn run_topic(id: &str) -> String {
    format!("sse-runtime:run:{id}")
}

/// 128 random bits, as hex: unguessable, so a run id is its capability.
fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut id = String::with_capacity(32);
    for _ in 0..2 {
        // `RandomState` draws fresh keys from the system's randomness.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(crate::hub::unix_ms());
        id.push_str(&format!("{:016x}", hasher.finish()));
    }
    id
}

/// What a producer sends its events with; see [`Runs::start`].
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
    hub: Hub,
    topic: String,
    sent: Arc<std::sync::atomic::AtomicUsize>,
    limit: usize,
}

impl std::fmt::Debug for RunSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSender")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl RunSender {
    /// Records `event` in the run; resolves to its id. Fails with
    /// [`RunError::RunLogFull`] past [`RunsConfig::max_events`], and when
    /// the hub cannot store it.
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
        use std::sync::atomic::Ordering;
        let event = event.into_event()?;
        if self.sent.fetch_add(1, Ordering::Relaxed) >= self.limit {
            self.sent.fetch_sub(1, Ordering::Relaxed);
            return Err(RunError::RunLogFull(self.limit));
        }
        Ok(self.hub.publish(&self.topic, event).await?)
    }
}

/// A request attached to a run: a `Stream` of its events that ends when the
/// run ends; see [`Runs::attach`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sse_runtime::SseResponse;
/// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
/// let id = runs.start(|_run| async {}).await.unwrap();
/// let response = SseResponse::from_stream(runs.attach(&id, None).unwrap());
/// # let _ = response;
/// # });
/// ```
pub struct Attached {
    subscription: Subscription,
    ended: bool,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Attached {
    /// The run's next event; `None` once it ended.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runs = sse_runtime::runs::Runs::new(sse_runtime::hub::Hub::new(), Default::default());
    /// let id = runs.start(|_run| async {}).await.unwrap();
    /// let mut attached = runs.attach(&id, None).unwrap();
    /// // The end: a comment no client sees, carrying the run's last id.
    /// assert!(attached.next().await.unwrap().as_bytes().starts_with(b": "));
    /// assert!(attached.next().await.is_none());
    /// # });
    /// ```
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.subscription);
        match futures_core::Stream::poll_next(polled, cx) {
            Poll::Ready(Some(event)) if event.as_bytes().starts_with(END_MARK) => {
                self.ended = true;
                // The mark carries the run's last id: sent, so that a client
                // that reconnects after the end asks for nothing more.
                Poll::Ready(Some(event))
            }
            other => other,
        }
    }
}

impl futures_core::Stream for Attached {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().poll_next_event(cx)
    }
}
