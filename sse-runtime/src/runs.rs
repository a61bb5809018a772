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
//! * A run begins and ends with comment frames of its own. The start mark
//!   is never delivered: attaching from the start resumes after it. The
//!   end mark tells attached streams to end and carries the run's last id;
//!   `EventSource` does not dispatch it (nor do WHATWG-conforming
//!   libraries, though openai-python 3.57 dispatches it as an event with
//!   empty data when no `[DONE]` came first).
//! * Which runs exist, and how they ended, travels on the hub too (the
//!   topic [`CONTROL_TOPIC`]), so every instance knows the runs of every
//!   other, and a cancel sent to one instance stops a producer on another.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// The comment that begins a run's topic: its id is where a client that
/// attaches without a `Last-Event-ID` resumes after, so that a run whose
/// beginning the hub no longer holds is said to be (`reset`), and so that
/// an instance whose own log never held that beginning reads it from the
/// broker's history. Never delivered: every attach starts after it.
const START_MARK: &str = "sse-runtime run started";

/// How a `reset` notice begins (see `hub::reset_frame`).
const RESET_NOTICE: &[u8] = b"event: reset\n";

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
        /// The id of the run's start mark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first: Option<String>,
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
    /// Whether this instance produces it. A run counts against
    /// `max_running` from the moment it is recorded here until it ends, so
    /// that starts that come together (each waiting on the broker) cannot
    /// all pass the check.
    local: bool,
    /// Set on the instance that produces it, while it does.
    producer: Option<AbortHandle>,
    /// Set when the run ends; its senders refuse to send after that.
    ended: Arc<AtomicBool>,
    /// The id of the run's start mark: attaching from the start resumes
    /// after it.
    first: Option<String>,
    /// The id of the run's end mark, once it ended: a client whose last id
    /// it is has everything.
    last: Option<String>,
}

impl Entry {
    fn new(local: bool) -> Entry {
        Entry {
            state: RunState::Running,
            ended_at: None,
            local,
            producer: None,
            ended: Arc::new(AtomicBool::new(false)),
            first: None,
            last: None,
        }
    }
}

impl Registry {
    /// Forgets the runs that finished longer ago than `keep`.
    fn expire(&mut self, keep: Duration) {
        let keep = keep.as_millis() as u64;
        let now = crate::hub::unix_ms();
        self.runs.retain(|_, entry| {
            entry
                .ended_at
                .is_none_or(|ended| now.saturating_sub(ended) <= keep)
        });
    }
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
            .subscribe_with_recent(&[CONTROL_TOPIC], None, CONTROL_RECENT);
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
        let id = new_run_id();
        let ended = {
            let mut registry = lock(&self.shared.registry);
            // Starting is as good a time as attaching to forget expired
            // runs: a server whose runs are never attached again would
            // otherwise keep them all.
            registry.expire(self.shared.config.keep_finished);
            let running = registry
                .runs
                .values()
                .filter(|entry| entry.local && entry.state == RunState::Running)
                .count();
            if running >= self.shared.config.max_running {
                return Err(RunError::TooManyRuns(self.shared.config.max_running));
            }
            let entry = Entry::new(true);
            let ended = Arc::clone(&entry.ended);
            registry.runs.insert(id.clone(), entry);
            ended
        };
        let topic = run_topic(&id);
        let first = match self
            .shared
            .hub
            .publish(&topic, Event::comment(START_MARK))
            .await
        {
            Ok(first) => Some(first.to_string()),
            Err(error) => {
                tracing::warn!(run = id, %error, "could not mark the start of a run");
                None
            }
        };
        let sender = RunSender {
            hub: self.shared.hub.clone(),
            topic,
            sent: Arc::new(AtomicUsize::new(0)),
            limit: self.shared.config.max_events,
            ended,
        };
        let task = tokio::spawn(producer(sender));
        {
            let mut registry = lock(&self.shared.registry);
            if let Some(entry) = registry.runs.get_mut(&id) {
                entry.first.clone_from(&first);
                if entry.state == RunState::Running {
                    entry.producer = Some(task.abort_handle());
                } else {
                    // Cancelled while its start was being marked.
                    task.abort();
                }
            }
        }
        // A panic in the producer fails the run, not the process; a cancel
        // has ended the run already. This task holds the runs, not a weak
        // handle: a run's end is marked even if every `Runs` handle was
        // dropped while it ran, or streams attached to it would never end.
        let runs = self.clone();
        let run = id.clone();
        tokio::spawn(async move {
            let state = match task.await {
                Ok(()) => RunState::Finished,
                Err(error) if error.is_panic() => RunState::Failed,
                Err(_) => RunState::Cancelled,
            };
            runs.end(&run, state).await;
        });
        self.announce(&id, RunState::Running, first, None).await;
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
        let first = {
            let mut registry = lock(&self.shared.registry);
            registry.expire(self.shared.config.keep_finished);
            let Some(entry) = registry.runs.get(id) else {
                return Err(RunError::UnknownRun(id.to_owned()));
            };
            if entry.state != RunState::Running {
                if let (Some(end), Some(last)) = (&entry.last, last.id()) {
                    // The end mark, or an id after it (of another run's
                    // event, say): nothing of this run comes after it,
                    // and a subscription there would wait for ever.
                    let beyond = match (end.parse::<EventId>(), last.parse::<EventId>()) {
                        (Ok(end), Ok(last)) => last >= end,
                        _ => end == last,
                    };
                    if beyond {
                        return Err(RunError::Ended);
                    }
                }
            }
            entry.first.clone()
        };
        let topic = run_topic(id);
        let subscription = match (last.id(), first.as_deref()) {
            (Some(_), _) => self.shared.hub.subscribe(&[topic.as_str()], last),
            // From the start: after the start mark, from the log or the
            // broker's history, or a `reset` if the beginning is gone.
            (None, Some(first)) => self.shared.hub.subscribe(&[topic.as_str()], first),
            // The start was not marked: whatever the log holds.
            (None, None) => {
                self.shared
                    .hub
                    .subscribe_with_recent(&[topic.as_str()], None, usize::MAX)
            }
        };
        Ok(Attached {
            subscription,
            runs: Arc::downgrade(&self.shared),
            run: id.to_owned(),
            after_reset: None,
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
        registry.expire(self.shared.config.keep_finished);
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

    /// Stops the local producer of `id`, if this instance has it. A run
    /// started here whose producer is not spawned yet counts too: `start`
    /// does not spawn it once the run has ended.
    fn abort_local(&self, id: &str) -> bool {
        let mut registry = lock(&self.shared.registry);
        match registry.runs.get_mut(id) {
            Some(entry) if entry.local && entry.state == RunState::Running => {
                if let Some(producer) = entry.producer.take() {
                    producer.abort();
                }
                true
            }
            _ => false,
        }
    }

    /// Records the end of a run produced here, ends its streams, and tells
    /// the other instances.
    async fn end(&self, id: &str, state: RunState) {
        let first = {
            let mut registry = lock(&self.shared.registry);
            match registry.runs.get_mut(id) {
                Some(entry) if entry.state == RunState::Running => {
                    entry.state = state;
                    entry.ended_at = Some(crate::hub::unix_ms());
                    entry.producer = None;
                    // Before the end mark: a send that sees the run
                    // running is (unless it is in flight now) before it.
                    entry.ended.store(true, Ordering::SeqCst);
                    entry.first.clone()
                }
                _ => return,
            }
        };
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
        self.announce(id, state, first, last).await;
    }

    async fn announce(
        &self,
        id: &str,
        state: RunState,
        first: Option<String>,
        last: Option<String>,
    ) {
        let control = Control::State {
            run: id.to_owned(),
            state,
            at: crate::hub::unix_ms(),
            first,
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
///
/// The control subscription is a hub subscriber like any other: one that
/// falls behind what the hub holds is told `lagged` and, by default,
/// ended. Then it subscribes again, with what the log still holds of the
/// control topic (reading it twice does no harm: a run only moves on from
/// `running`, and cancelling an ended run does nothing); without that, this
/// instance would stop hearing of other instances' runs for good.
async fn follow_control(shared: Weak<Shared>, mut control: Subscription) {
    loop {
        while let Some(event) = control.next().await {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if let Some(message) = parse_control(event.as_bytes()) {
                Runs { shared }.apply(message).await;
            }
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        tracing::warn!("fell behind the runs' control topic; following it again");
        control = shared
            .hub
            .subscribe_with_recent(&[CONTROL_TOPIC], None, CONTROL_RECENT);
    }
}

/// How many recent control events an instance reads when it begins to
/// follow the control topic.
const CONTROL_RECENT: usize = 4096;

impl Runs {
    /// Applies what an instance (this one too) said on the control topic.
    async fn apply(&self, message: Control) {
        match message {
            Control::State {
                run,
                state,
                at,
                first,
                last,
            } => {
                let mut registry = lock(&self.shared.registry);
                let entry = registry
                    .runs
                    .entry(run)
                    .or_insert_with(|| Entry::new(false));
                // A run only moves on from `running`.
                if entry.state == RunState::Running && state != RunState::Running {
                    entry.state = state;
                    entry.ended_at = Some(at);
                }
                if first.is_some() {
                    entry.first = first;
                }
                if last.is_some() {
                    entry.last = last;
                }
            }
            Control::Cancel { run } => {
                if self.abort_local(&run) {
                    self.end(&run, RunState::Cancelled).await;
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

/// A run's end mark as the hub delivers it, with `last` as its id.
fn end_mark(last: EventId) -> Event {
    let mut frame = END_MARK.to_vec();
    frame.extend_from_slice(format!("id: {last}\n\n").as_bytes());
    Event::shared(bytes::Bytes::from(frame))
}

/// 128 random bits from the operating system, as hex: unguessable, so a
/// run id is its capability. (It was two SipHash-1-3 outputs of the clock
/// under std's `RandomState` keys, which are drawn once per thread and
/// then only incremented: not 128 fresh random bits per id.)
fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    let mut id = String::with_capacity(32);
    for byte in bytes {
        id.push_str(&format!("{byte:02x}"));
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
    sent: Arc<AtomicUsize>,
    limit: usize,
    /// Set when the run ends (returns, panics, or is cancelled).
    ended: Arc<AtomicBool>,
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
    /// [`RunError::RunLogFull`] past [`RunsConfig::max_events`], with
    /// [`RunError::Ended`] once the run has ended (a clone of the sender
    /// kept by a task of the producer's: what it sent would come after the
    /// run's end, where no attached client reads), and when the hub cannot
    /// store it.
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
        if self.ended.load(Ordering::SeqCst) {
            return Err(RunError::Ended);
        }
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
    /// The runs, and this run's id, to learn at a `reset` notice whether
    /// the run is over.
    runs: Weak<Shared>,
    run: String,
    /// After a `reset` notice for a run that is over: the end mark to send
    /// next, if the run's end id is known (`Some(None)` if it is not).
    after_reset: Option<Option<Event>>,
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
        if let Some(mark) = self.after_reset.take() {
            self.ended = true;
            return Poll::Ready(mark);
        }
        let polled = Pin::new(&mut self.subscription);
        match futures_core::Stream::poll_next(polled, cx) {
            Poll::Ready(Some(event)) if event.as_bytes().starts_with(END_MARK) => {
                self.ended = true;
                // The mark carries the run's last id: sent, so that a client
                // that reconnects after the end asks for nothing more.
                Poll::Ready(Some(event))
            }
            Poll::Ready(Some(event)) if event.as_bytes().starts_with(RESET_NOTICE) => {
                // What the client asked to resume after is gone (or never
                // was), and the subscription goes on with live events. If
                // the run is over, its end mark has gone by and none will
                // come: end here, with a mark of the run's last id, so
                // that the client's next attempt is answered `Ended`.
                // (`end` marks a run over before it publishes the mark, so
                // a run still running here will have its mark delivered.)
                if let Some(end) = self.run_over() {
                    let end = end.and_then(|last| last.parse::<EventId>().ok());
                    self.after_reset = Some(end.map(end_mark));
                }
                Poll::Ready(Some(event))
            }
            other => other,
        }
    }

    /// `Some(last id)` if the run is over (or forgotten), `None` if it runs.
    fn run_over(&self) -> Option<Option<String>> {
        let Some(shared) = self.runs.upgrade() else {
            return Some(None);
        };
        let registry = lock(&shared.registry);
        match registry.runs.get(&self.run) {
            Some(entry) if entry.state == RunState::Running => None,
            Some(entry) => Some(entry.last.clone()),
            None => Some(None),
        }
    }
}

impl futures_core::Stream for Attached {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().poll_next_event(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::new_run_id;

    #[test]
    fn run_ids_are_128_bits_as_hex_and_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_run_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }
}
