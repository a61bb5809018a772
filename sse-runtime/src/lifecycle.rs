//! How streams end: the shutdown signal, close reasons, the per-stream
//! summary and the open-streams gauge. No axum here: the extractors for
//! these types are in `extract.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::event::Event;
use crate::retry::Retry;
use crate::sync::lock;

static OPEN_STREAMS: AtomicUsize = AtomicUsize::new(0);

/// How many SSE streams are open in this process right now.
///
/// ```
/// let open: usize = sse_runtime::open_streams();
/// # let _ = open;
/// ```
pub fn open_streams() -> usize {
    OPEN_STREAMS.load(Ordering::Relaxed)
}

/// Why a stream ended.
///
/// ```
/// use sse_runtime::{CloseReason, StreamSummary};
/// fn on_close(summary: &StreamSummary) {
///     if summary.reason == CloseReason::Error {
///         eprintln!("stream on {:?} failed", summary.route);
///     }
/// }
/// # let _ = on_close;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The handler body returned (`()` or `Ok(())`).
    Completed,
    /// The body returned `Err`, yielded a refused event, or panicked.
    Error,
    /// The client went away: the response was dropped before it ended.
    ClientDisconnected,
    /// The server is shutting down ([`Shutdown::trigger`]).
    Shutdown,
}

impl CloseReason {
    /// A short lowercase name, as logged.
    ///
    /// ```
    /// assert_eq!(sse_runtime::CloseReason::ClientDisconnected.as_str(), "client_disconnected");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Completed => "completed",
            CloseReason::Error => "error",
            CloseReason::ClientDisconnected => "client_disconnected",
            CloseReason::Shutdown => "shutdown",
        }
    }
}

/// What one stream did, reported once when it ends: to the `on_close`
/// callback, and as a `tracing` event (target `sse_runtime::stream`).
///
/// ```
/// use sse_runtime::prelude::*;
///
/// fn record(summary: &sse_runtime::StreamSummary) {
///     println!("{} events, {} bytes in {:?}", summary.events, summary.bytes, summary.duration);
/// }
///
/// #[sse_handler(on_close = record)]
/// async fn counted() {
///     yield_!(event!("one"));
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(counted));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// The route's path pattern (`/updates/{id}`), when axum matched one.
    pub route: Option<Arc<str>>,
    /// Events sent: those the handler sent (events and comments), the
    /// keep-alives, and a final `error` or shutdown event.
    pub events: u64,
    /// Bytes of event stream written, before compression (feature
    /// `compression`): the same figure whatever encoding the client
    /// accepted, as `sse_bytes_sent_total` counts them. The bytes on the
    /// wire are the proxy's or load balancer's figure.
    pub bytes: u64,
    /// How long the stream was open.
    pub duration: Duration,
    /// Why it ended.
    pub reason: CloseReason,
}

/// Ends every open stream of a server at once, for
/// `axum::serve(..).with_graceful_shutdown(..)`, which otherwise waits for
/// SSE streams forever (they never end by themselves).
///
/// Install it on the router as an `Extension`, and hand the server the
/// future from [`Shutdown::after`]:
///
/// ```no_run
/// use axum::{routing::get, Extension, Router};
/// use sse_runtime::prelude::*;
/// use sse_runtime::Shutdown;
///
/// #[sse_handler]
/// async fn ticks() {
///     loop {
///         yield_!(event!("tick"));
///         tokio::time::sleep(std::time::Duration::from_secs(1)).await;
///     }
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let shutdown = Shutdown::new().final_event(event!(data: "bye", event: "shutdown").unwrap());
/// let app = Router::new().route("/ticks", get(ticks)).layer(Extension(shutdown.clone()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app)
///     .with_graceful_shutdown(shutdown.after(sse_runtime::ctrl_c_or_sigterm()))
///     .await
/// # }
/// ```
///
/// When triggered, each stream stops its handler body (polling it once more
/// first, so that a body waiting on [`ShutdownSignal`] can finish by itself,
/// and up to the [grace period](Self::grace) if it keeps yielding), sends the
/// final event if one is set, and ends its body cleanly: the client sees the
/// end of the response, not a reset.
#[derive(Clone, Debug)]
pub struct Shutdown {
    inner: Arc<ShutdownInner>,
}

#[derive(Debug)]
struct ShutdownInner {
    fired: watch::Sender<bool>,
    final_event: Mutex<Option<Event>>,
    grace: Mutex<Duration>,
    retry: Mutex<Option<Retry>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A signal not yet triggered, with no final event and no grace period.
    ///
    /// ```
    /// assert!(!sse_runtime::Shutdown::new().is_triggered());
    /// ```
    pub fn new() -> Self {
        let (fired, _) = watch::channel(false);
        Shutdown {
            inner: Arc::new(ShutdownInner {
                fired,
                final_event: Mutex::new(None),
                grace: Mutex::new(Duration::ZERO),
                retry: Mutex::new(None),
            }),
        }
    }

    /// Sends `event` as the last event of every stream it ends (for example
    /// an event telling clients to reconnect elsewhere). It is the same
    /// event for every stream: a `retry` in it brings every client back at
    /// the same moment, however long it is; to spread them out, use
    /// [`retry_jitter`](Self::retry_jitter).
    ///
    /// ```
    /// let shutdown = sse_runtime::Shutdown::new().final_event(sse_runtime::Event::data("bye"));
    /// # let _ = shutdown;
    /// ```
    pub fn final_event(self, event: Event) -> Self {
        *lock(&self.inner.final_event) = Some(event);
        self
    }

    /// After the final event, sends each stream it ends `retry: base`
    /// (plus, with [`retry_jitter`](Self::retry_jitter), a random part
    /// drawn for each stream): how long its client waits before it
    /// reconnects. It comes last, so it is the one the client follows,
    /// whatever `retry` the final event carries. At most 2^31 - 1 ms, base
    /// and random part together, as [`SseConfig::retry`] says.
    ///
    /// [`SseConfig::retry`]: crate::SseConfig::retry
    ///
    /// ```
    /// use std::time::Duration;
    /// let shutdown = sse_runtime::Shutdown::new().retry(Duration::from_secs(2));
    /// # let _ = shutdown;
    /// ```
    pub fn retry(self, base: Duration) -> Self {
        lock(&self.inner.retry)
            .get_or_insert_with(Retry::default)
            .base = base;
        self
    }

    /// Adds to the `retry:` each stream it ends is sent a random part of
    /// at most `spread`, drawn for each stream, so that the clients of a
    /// restarting server come back spread evenly over `base ..= base +
    /// spread` rather than together: one value for every stream, however
    /// long, brings them all back within a few milliseconds of each other.
    /// Without [`retry`](Self::retry), the base is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// // Clients come back between 1 and 11 seconds after the restart.
    /// let shutdown = sse_runtime::Shutdown::new()
    ///     .retry(Duration::from_secs(1))
    ///     .retry_jitter(Duration::from_secs(10));
    /// # let _ = shutdown;
    /// ```
    pub fn retry_jitter(self, spread: Duration) -> Self {
        lock(&self.inner.retry)
            .get_or_insert_with(Retry::default)
            .spread = spread;
        self
    }

    /// How long a handler body that watches [`ShutdownSignal`] may keep
    /// running (to save state, or send last events) before its stream is
    /// ended anyway. Zero by default: bodies get one more poll.
    ///
    /// ```
    /// let shutdown = sse_runtime::Shutdown::new().grace(std::time::Duration::from_millis(200));
    /// # let _ = shutdown;
    /// ```
    pub fn grace(self, grace: Duration) -> Self {
        *lock(&self.inner.grace) = grace;
        self
    }

    /// Ends every stream that has this signal. Idempotent.
    ///
    /// ```
    /// let shutdown = sse_runtime::Shutdown::new();
    /// shutdown.trigger();
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn trigger(&self) {
        self.inner.fired.send_replace(true);
    }

    /// Whether [`trigger`](Self::trigger) was called.
    ///
    /// ```
    /// assert!(!sse_runtime::Shutdown::new().is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        *self.inner.fired.borrow()
    }

    /// A future for `with_graceful_shutdown`: waits for `signal`, triggers
    /// this shutdown, and then completes, so the server stops accepting and
    /// waits for the (now ending) streams.
    ///
    /// ```
    /// let shutdown = sse_runtime::Shutdown::new();
    /// let when_done = shutdown.after(async {});
    /// # let _ = when_done;
    /// ```
    pub fn after<F: Future<Output = ()> + Send + 'static>(
        &self,
        signal: F,
    ) -> impl Future<Output = ()> + Send + 'static {
        let shutdown = self.clone();
        async move {
            signal.await;
            shutdown.trigger();
        }
    }

    /// A signal a handler body can wait on.
    ///
    /// ```
    /// let signal = sse_runtime::Shutdown::new().signal();
    /// assert!(!signal.is_triggered());
    /// ```
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            receiver: Some(self.inner.fired.subscribe()),
        }
    }

    pub(crate) fn final_frame(&self) -> Option<Event> {
        lock(&self.inner.final_event).clone()
    }

    /// The `retry:` frame for one stream it ends, drawn for that stream.
    pub(crate) fn retry_frame(&self) -> Option<Vec<u8>> {
        lock(&self.inner.retry).map(Retry::frame)
    }

    pub(crate) fn grace_period(&self) -> Duration {
        *lock(&self.inner.grace)
    }
}

/// Lets a handler body see that the server is shutting down, for example to
/// save its position before the stream ends. An extractor: with no
/// [`Shutdown`] installed on the router, it never fires.
///
/// ```
/// use sse_runtime::prelude::*;
/// use sse_runtime::ShutdownSignal;
///
/// #[sse_handler]
/// async fn ticks(mut shutdown: ShutdownSignal) {
///     let mut n = 0u64;
///     loop {
///         tokio::select! {
///             _ = shutdown.wait() => {
///                 yield_!(event!(data: format!("stopped at {n}"), event: "bye"));
///                 return;
///             }
///             _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
///                 n += 1;
///                 yield_!(event!(data: n.to_string()));
///             }
///         }
///     }
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(ticks));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ShutdownSignal {
    receiver: Option<watch::Receiver<bool>>,
}

impl ShutdownSignal {
    /// Completes once shutdown is triggered (at once if it already was).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let shutdown = sse_runtime::Shutdown::new();
    /// let mut signal = shutdown.signal();
    /// shutdown.trigger();
    /// signal.wait().await;
    /// # });
    /// ```
    pub async fn wait(&mut self) {
        match &mut self.receiver {
            Some(receiver) => {
                // An error means the `Shutdown` was dropped: it can no longer
                // fire, so wait forever like a signal that never fires.
                if receiver.wait_for(|fired| *fired).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }

    /// Whether shutdown was triggered.
    ///
    /// ```
    /// let shutdown = sse_runtime::Shutdown::new();
    /// let signal = shutdown.signal();
    /// shutdown.trigger();
    /// assert!(signal.is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.receiver
            .as_ref()
            .is_some_and(|receiver| *receiver.borrow())
    }

    pub(crate) fn into_future(self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let mut signal = self;
        Box::pin(async move { signal.wait().await })
    }
}

/// Completes on Ctrl-C, or on SIGTERM on Unix: the signals a server is asked
/// to stop with.
///
/// ```no_run
/// # async fn run() {
/// sse_runtime::ctrl_c_or_sigterm().await;
/// # }
/// ```
pub async fn ctrl_c_or_sigterm() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// Counts a stream as open while it lives.
#[derive(Debug)]
pub(crate) struct OpenStreamGuard;

impl OpenStreamGuard {
    pub(crate) fn new() -> Self {
        OPEN_STREAMS.fetch_add(1, Ordering::Relaxed);
        OpenStreamGuard
    }
}

impl Drop for OpenStreamGuard {
    fn drop(&mut self) {
        OPEN_STREAMS.fetch_sub(1, Ordering::Relaxed);
    }
}
