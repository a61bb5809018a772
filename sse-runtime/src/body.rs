//! The streaming HTTP body of an SSE response, as one state machine: it
//! runs the handler, writes what the handler sent, sends keep-alives while
//! the handler is quiet, watches for shutdown, and ends the stream with the
//! right final frames and close record. Its options ([`SseConfig`]) and what
//! a handler may return ([`BodyOutcome`]) are here too, beside what reads
//! them.
//!
//! ```text
//!            handler returns, fails, panics,
//!            sends a refused event, or shutdown
//!  Running ───────────────────────────────────▶ Ending ──▶ Ended
//!  (handler, keep-alive,                        (final frames
//!   shutdown watch)                              in the outbox)
//! ```
//!
//! In every state, frames already in the outbox are written first, in
//! order; the handler is polled again only once they are all written, which
//! is what holds a fast handler back to the client's pace.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use tokio::time::{Instant, Sleep};

use crate::emitter::Outbox;
use crate::encode;
use crate::lifecycle::{CloseReason, OpenStreamGuard, Shutdown, StreamSummary};
use crate::metrics::StreamMetrics;
use crate::retry::Retry;

/// The keep-alive interval used when none is configured.
///
/// Proxies and load balancers commonly cut connections that stay silent for
/// 30 to 60 seconds (nginx's `proxy_read_timeout` and AWS ALB's idle timeout
/// both default to 60 s); 15 s stays well inside those limits for a cost of
/// three bytes per interval. It also bounds how long a vanished client can go
/// unnoticed: a write to a closed connection fails, and the handler body is
/// dropped.
///
/// ```
/// let config = sse_runtime::SseConfig::new();
/// assert_eq!(config.keep_alive_interval(), Some(sse_runtime::DEFAULT_KEEP_ALIVE));
/// ```
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How a stream behaves besides its events: keep-alive and what happens when
/// it fails.
///
/// `#[sse_handler(keep_alive = "30s", error_event = true)]` sets the same
/// options.
///
/// ```
/// use std::time::Duration;
/// use sse_runtime::SseConfig;
///
/// let config = SseConfig::new().keep_alive(Some(Duration::from_secs(30))).error_event(true);
/// assert_eq!(config.keep_alive_interval(), Some(Duration::from_secs(30)));
/// ```
#[derive(Clone)]
pub struct SseConfig {
    keep_alive: Option<Duration>,
    error_event: bool,
    on_close: Option<OnClose>,
    #[cfg(feature = "compression")]
    compression: crate::Compression,
    retry: Option<Retry>,
}

/// A stream's `on_close` callback, shared by the config's clones.
pub(crate) type OnClose = Arc<dyn Fn(&StreamSummary) + Send + Sync>;

impl fmt::Debug for SseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("SseConfig");
        f.field("keep_alive", &self.keep_alive)
            .field("error_event", &self.error_event)
            .field("retry", &self.retry)
            .field(
                "on_close",
                &self.on_close.as_ref().map(|_| "Fn(&StreamSummary)"),
            );
        #[cfg(feature = "compression")]
        f.field("compression", &self.compression);
        f.finish()
    }
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig::new()
    }
}

impl SseConfig {
    /// The defaults: keep-alive every [`DEFAULT_KEEP_ALIVE`], errors logged
    /// but not sent.
    ///
    /// ```
    /// let config = sse_runtime::SseConfig::new();
    /// assert_eq!(config.keep_alive_interval(), sse_runtime::SseConfig::default().keep_alive_interval());
    /// ```
    pub fn new() -> Self {
        SseConfig {
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
            error_event: false,
            on_close: None,
            #[cfg(feature = "compression")]
            compression: crate::Compression::off(),
            retry: None,
        }
    }

    /// Sends `retry: base` as the stream's first frame: how long the
    /// client waits before it reconnects (until an event of the stream
    /// sets another). With [`retry_jitter`](Self::retry_jitter), each
    /// stream adds a random part of its own. Kept in whole milliseconds,
    /// and at most 2^31 - 1 of them (about 24.8 days; base and random part
    /// together), the longest a JavaScript timer waits: clients that wait
    /// on one (undici's `EventSource`, `fetch`-based clients) come back at
    /// once when told longer.
    ///
    /// `#[sse_handler(retry = "3s")]` sets the same.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = sse_runtime::SseConfig::new().retry(Duration::from_secs(3));
    /// # let _ = config;
    /// ```
    pub fn retry(mut self, base: Duration) -> Self {
        self.retry.get_or_insert_with(Retry::default).base = base;
        self
    }

    /// Adds to each stream's first `retry:` a random part of at most
    /// `spread`, drawn per stream, so that clients cut off together come
    /// back spread evenly over `base ..= base + spread` rather than all
    /// at once (one value for every stream brings them back within a few
    /// milliseconds of each other, however long). Without
    /// [`retry`](Self::retry), the base is zero.
    ///
    /// `#[sse_handler(retry = "3s", retry_jitter = "2s")]` sets the same.
    ///
    /// ```
    /// use std::time::Duration;
    /// // Each stream tells its client to wait between 3 and 5 seconds.
    /// let config = sse_runtime::SseConfig::new()
    ///     .retry(Duration::from_secs(3))
    ///     .retry_jitter(Duration::from_secs(2));
    /// # let _ = config;
    /// ```
    pub fn retry_jitter(mut self, spread: Duration) -> Self {
        self.retry.get_or_insert_with(Retry::default).spread = spread;
        self
    }

    /// Calls `callback` once when the stream ends, with why and what it sent
    /// (see [`StreamSummary`]): a function, or a closure that holds what it
    /// needs (a metrics handle, the user's id). It runs on the server's
    /// task: keep it short.
    ///
    /// A panic in the callback is caught and logged; it does not affect the
    /// response.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let events_sent = Arc::new(AtomicU64::new(0));
    /// let counter = Arc::clone(&events_sent);
    /// let config = sse_runtime::SseConfig::new().on_close(move |summary| {
    ///     counter.fetch_add(summary.events, Ordering::Relaxed);
    /// });
    /// # let _ = config;
    /// ```
    pub fn on_close(mut self, callback: impl Fn(&StreamSummary) + Send + Sync + 'static) -> Self {
        self.on_close = Some(Arc::new(callback));
        self
    }

    /// Sends a keep-alive comment (`:\n\n`) whenever nothing else was sent
    /// for `interval`; `None` turns keep-alive off. A zero interval is treated
    /// as off, since it would send keep-alives in a busy loop. Intervals are
    /// kept in whole milliseconds (a shorter one counts as 1 ms) on tokio's
    /// clock, so `tokio::time::pause` applies to them.
    ///
    /// ```
    /// let config = sse_runtime::SseConfig::new().keep_alive(None);
    /// assert_eq!(config.keep_alive_interval(), None);
    /// ```
    pub fn keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive = match interval {
            Some(interval) if interval.is_zero() => None,
            other => other,
        };
        self
    }

    /// When the stream ends with an error (the body returned `Err`, yielded
    /// a refused event, or panicked), also send a final event of type `error`
    /// whose data is the error's `Display` text (for a panic: `handler
    /// panicked`, so that no panic message leaks to clients). Off by default:
    /// the error is always logged with `tracing`.
    ///
    /// ```
    /// assert!(sse_runtime::SseConfig::new().error_event(true).sends_error_event());
    /// ```
    pub fn error_event(mut self, send: bool) -> Self {
        self.error_event = send;
        self
    }

    /// Compresses the stream with one of `compression`'s encodings when the
    /// request's `Accept-Encoding` allows one (see
    /// [`Compression`](crate::Compression)); off by default.
    /// `#[sse_handler(compress = true)]` sets [`Compression::new`](crate::Compression::new).
    ///
    /// The request's headers reach the response through its
    /// [`StreamContext`](crate::StreamContext), which `#[sse_handler]`
    /// extracts by itself; a response built by hand needs
    /// [`SseResponse::with_context`](crate::SseResponse::with_context) for
    /// compression to apply.
    ///
    /// ```
    /// use sse_runtime::{Compression, SseConfig};
    /// let config = SseConfig::new().compression(Compression::new());
    /// assert_eq!(config.compression_offered(), Compression::new());
    /// ```
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    pub fn compression(mut self, compression: crate::Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The encodings offered.
    ///
    /// ```
    /// assert!(!sse_runtime::SseConfig::new().compression_offered().is_on());
    /// ```
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    pub const fn compression_offered(&self) -> crate::Compression {
        self.compression
    }

    /// The keep-alive interval in force.
    ///
    /// ```
    /// assert_eq!(sse_runtime::SseConfig::new().keep_alive_interval(), Some(sse_runtime::DEFAULT_KEEP_ALIVE));
    /// ```
    pub const fn keep_alive_interval(&self) -> Option<Duration> {
        self.keep_alive
    }

    /// The `on_close` callback, if one is set.
    pub(crate) fn on_close_callback(&self) -> Option<OnClose> {
        self.on_close.clone()
    }

    /// Whether a failing stream ends with an `error` event.
    ///
    /// ```
    /// assert!(!sse_runtime::SseConfig::new().sends_error_event());
    /// ```
    pub const fn sends_error_event(&self) -> bool {
        self.error_event
    }
}

/// What a handler body may return: `()`, or `Result<(), E>` where `E` can be
/// logged (`E: Display`). Named only in bounds (and by the generated code,
/// through `__private`), so not public API: its error message says what to
/// return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid return type for an SSE handler",
    label = "an SSE handler must return `()` or `Result<(), E>` with `E: Display`",
    note = "the stream ends when the handler returns; an `Err` is logged and ends the stream"
)]
pub trait BodyOutcome {
    /// The error to report, if the body failed.
    fn into_failure(self) -> Option<String>;
}

impl BodyOutcome for () {
    fn into_failure(self) -> Option<String> {
        None
    }
}

impl<E: fmt::Display> BodyOutcome for Result<(), E> {
    fn into_failure(self) -> Option<String> {
        self.err().map(|error| error.to_string())
    }
}

/// What a client is told when a handler panics: never the panic message,
/// which may hold anything.
const PANIC_MESSAGE: &str = "handler panicked";

pin_project_lite::pin_project! {
    /// The streaming HTTP body of an [`SseResponse`](crate::SseResponse):
    /// each poll runs the handler until it waits, and returns what it sent
    /// as one frame.
    ///
    /// ```
    /// use http_body_util::BodyExt;
    /// use sse_runtime::{Event, SseResponse};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let body = SseResponse::new(|mut emitter| async move {
    ///     emitter.send(Event::data("a")).await;
    /// })
    /// .into_body();
    /// assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"data: a\n\n");
    /// # });
    /// ```
    pub struct SseBody<F> {
        #[pin]
        phase: Phase<F>,
        outbox: Outbox,
        error_event: bool,
        record: StreamRecord,
    }

    impl<F> PinnedDrop for SseBody<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // The handler goes first, so that its locals are gone before
            // the close is reported.
            drop_handler(this.phase.as_mut(), Phase::Ended, this.record);
            this.record.report(this.outbox.events());
        }
    }
}

pin_project_lite::pin_project! {
    #[project = PhaseProj]
    enum Phase<F> {
        /// The handler runs; keep-alive and shutdown are watched.
        Running {
            // Inline, not boxed: axum boxes the whole body once.
            #[pin]
            handler: F,
            keep_alive: Option<KeepAlive>,
            // Boxed: most streams have none, and every idle stream carries
            // this field.
            shutdown: Option<Box<ShutdownWatch>>,
        },
        /// The handler is gone; the outbox holds its last frames and the
        /// final ones.
        Ending,
        /// The end of the body was returned.
        Ended,
    }
}

impl<F> SseBody<F> {
    pub(crate) fn new(
        handler: F,
        outbox: Outbox,
        config: &SseConfig,
        route: Option<axum::extract::MatchedPath>,
        shutdown: Option<Shutdown>,
    ) -> Self {
        let mut outbox = outbox;
        let mut own_events = 0;
        if let Some(retry) = config.retry {
            // Before anything the handler sends, in the same first frame.
            outbox.append(&retry.frame());
            own_events += 1;
        }
        SseBody {
            phase: Phase::Running {
                handler,
                keep_alive: config.keep_alive_interval().map(KeepAlive::new),
                shutdown: shutdown.map(|shutdown| Box::new(ShutdownWatch::new(shutdown))),
            },
            outbox,
            error_event: config.sends_error_event(),
            record: StreamRecord {
                on_close: config.on_close_callback(),
                started: Instant::now(),
                own_events,
                bytes: 0,
                reason: None,
                _open: OpenStreamGuard::new(),
                metrics: StreamMetrics::open(route.as_ref().map(|route| route.as_str())),
                route,
            },
        }
    }
}

impl<F> fmt::Debug for SseBody<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Running { .. } => "running",
            Phase::Ending => "ending",
            Phase::Ended => "ended",
        };
        f.debug_struct("SseBody")
            .field("phase", &phase)
            .finish_non_exhaustive()
    }
}

impl<F> http_body::Body for SseBody<F>
where
    F: Future,
    F::Output: BodyOutcome,
{
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let mut this = self.project();
        loop {
            if let Some(frame) = this.outbox.next_frame() {
                if let PhaseProj::Running {
                    keep_alive: Some(keep_alive),
                    ..
                } = this.phase.as_mut().project()
                {
                    keep_alive.sent();
                }
                return Poll::Ready(Some(Ok(this.record.sent(frame, this.outbox.events()))));
            }
            let end = match this.phase.as_mut().project() {
                PhaseProj::Running {
                    handler,
                    keep_alive,
                    shutdown,
                } => {
                    let end = poll_handler(handler, this.outbox, cx).or_else(|| {
                        // Checked after every poll, busy or idle, so that a
                        // handler that never stops yielding still ends.
                        let watch = shutdown.as_mut()?;
                        watch.poll_due(cx).is_ready().then(|| End::shutdown(watch))
                    });
                    match end {
                        Some(end) => end,
                        None if !this.outbox.is_empty() => continue,
                        None => {
                            return poll_keep_alive(
                                keep_alive,
                                this.record,
                                this.outbox.events(),
                                cx,
                            )
                        }
                    }
                }
                PhaseProj::Ending => {
                    this.phase.set(Phase::Ended);
                    return Poll::Ready(None);
                }
                PhaseProj::Ended => return Poll::Ready(None),
            };
            // Dropped before the final frames are written, so that its
            // locals' destructors run first.
            drop_handler(this.phase.as_mut(), Phase::Ending, this.record);
            end.write_final_frames(this.outbox, *this.error_event, this.record);
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }
}

/// Polls the handler once with the outbox lent to it; `Some` when the
/// stream must end.
fn poll_handler<F>(handler: Pin<&mut F>, outbox: &mut Outbox, cx: &mut Context<'_>) -> Option<End>
where
    F: Future,
    F::Output: BodyOutcome,
{
    let polled = {
        let _lend = outbox.lend();
        // A panic in one handler must end that stream only, with a proper
        // end of body, and never reach the connection task.
        catch_unwind(AssertUnwindSafe(|| handler.poll(cx)))
    };
    // A refused event ends the stream even if the handler went on (in
    // another `select!` branch, say): nothing after it may be sent.
    if let Some(error) = outbox.take_refused() {
        return Some(End::error(format!("event refused: {error}")));
    }
    match polled {
        Ok(Poll::Pending) => {
            if !outbox.is_full() {
                outbox.handler_idle();
            }
            None
        }
        Ok(Poll::Ready(outcome)) => Some(match outcome.into_failure() {
            None => End::completed(),
            Some(failure) => End::error(failure),
        }),
        Err(_panic) => Some(End::error(PANIC_MESSAGE.to_owned())),
    }
}

/// Moves the body to `next`, dropping the handler if it still runs. Its
/// locals' destructors are the handler's code too: a panic there is caught
/// as a panic in the handler is, so that it ends this stream only (with
/// its final frames, and its close reported) and never reaches the
/// connection task. Assigning a pinned place writes the new value even
/// when dropping the old one panics, so the body is in `next` either way.
fn drop_handler<F>(mut phase: Pin<&mut Phase<F>>, next: Phase<F>, record: &StreamRecord) {
    if std::thread::panicking() {
        // A panic now could not be caught: the process would abort.
        phase.set(next);
        return;
    }
    if catch_unwind(AssertUnwindSafe(|| phase.as_mut().set(next))).is_err() {
        tracing::error!(
            route = record.route_str(),
            "a local of the SSE handler panicked as it was dropped"
        );
    }
}

/// Sends a keep-alive if one is due; otherwise the stream waits.
fn poll_keep_alive(
    keep_alive: &mut Option<KeepAlive>,
    record: &mut StreamRecord,
    handler_events: u64,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
    let Some(keep_alive) = keep_alive else {
        return Poll::Pending;
    };
    if keep_alive.poll_due(cx).is_pending() {
        return Poll::Pending;
    }
    keep_alive.sent();
    record.own_events += 1;
    let frame = Bytes::from_static(encode::KEEP_ALIVE_FRAME);
    Poll::Ready(Some(Ok(record.sent(frame, handler_events))))
}

/// Why the stream ends, and what it still sends.
struct End {
    reason: CloseReason,
    /// The error that ended it, if any: logged, and sent as an `error`
    /// event when the handler asks for that.
    failure: Option<String>,
    /// The shutdown's final event.
    final_event: Option<crate::Event>,
    /// The shutdown's `retry:`, drawn for this stream.
    retry: Option<Vec<u8>>,
}

impl End {
    fn completed() -> End {
        End {
            reason: CloseReason::Completed,
            failure: None,
            final_event: None,
            retry: None,
        }
    }

    fn error(failure: String) -> End {
        End {
            reason: CloseReason::Error,
            failure: Some(failure),
            final_event: None,
            retry: None,
        }
    }

    fn shutdown(watch: &ShutdownWatch) -> End {
        End {
            reason: CloseReason::Shutdown,
            failure: None,
            final_event: watch.shutdown.final_frame(),
            retry: watch.shutdown.retry_frame(),
        }
    }

    /// Queues the final frames after what the handler sent (which is still
    /// delivered), and records the reason.
    fn write_final_frames(self, outbox: &mut Outbox, error_event: bool, record: &mut StreamRecord) {
        if let Some(message) = &self.failure {
            tracing::error!(error = %message, route = record.route_str(), "SSE stream ended with an error");
            if error_event {
                let mut frame = Vec::new();
                encode::put_named_event(&mut frame, "error", message);
                outbox.append(&frame);
                record.own_events += 1;
            }
        }
        if let Some(event) = self.final_event {
            outbox.append(event.as_bytes());
            record.own_events += 1;
        }
        // After the final event, so that it is the last `retry` the
        // client receives, whatever the final event carries.
        if let Some(frame) = self.retry {
            outbox.append(&frame);
            record.own_events += 1;
        }
        record.reason = Some(self.reason);
    }
}

/// One stream's keep-alive: a tokio `Sleep`, created when the stream first
/// waits, set for an interval after the last frame. Sending a frame only
/// records the time; a sleep that fires early (a frame went out since it
/// was set) is set again, so a busy stream touches its timer about once per
/// interval.
struct KeepAlive {
    interval: Duration,
    last_sent: Instant,
    // Boxed: a `Sleep` is large, and a stream may never wait.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl KeepAlive {
    fn new(interval: Duration) -> KeepAlive {
        KeepAlive {
            interval,
            last_sent: Instant::now(),
            sleep: None,
        }
    }

    fn sent(&mut self) {
        self.last_sent = Instant::now();
    }

    /// Ready when the stream has been silent for the interval.
    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let due = self.last_sent + self.interval;
        let sleep = match &mut self.sleep {
            Some(sleep) => sleep,
            None if outside_runtime() => return Poll::Pending,
            None => self.sleep.insert(Box::pin(tokio::time::sleep_until(due))),
        };
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= due {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(due);
        }
    }
}

/// Whether this thread has no tokio runtime to time keep-alives with (a
/// body polled by another executor); warns once.
fn outside_runtime() -> bool {
    if tokio::runtime::Handle::try_current().is_ok() {
        return false;
    }
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!("an SSE body was polled outside a tokio runtime; it sends no keep-alives");
    }
    true
}

/// The router's shutdown signal, as one stream watches it.
struct ShutdownWatch {
    shutdown: Shutdown,
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Set once the signal fired: when the grace period ends.
    grace: Option<Pin<Box<Sleep>>>,
}

impl ShutdownWatch {
    fn new(shutdown: Shutdown) -> ShutdownWatch {
        ShutdownWatch {
            signal: shutdown.signal().into_future(),
            shutdown,
            grace: None,
        }
    }

    /// Ready once the stream should be ended for shutdown.
    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.grace.is_none() {
            if self.signal.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let grace = self.shutdown.grace_period();
            if grace.is_zero() {
                return Poll::Ready(());
            }
            self.grace = Some(Box::pin(tokio::time::sleep(grace)));
        }
        match self.grace.as_mut() {
            Some(grace) => grace.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

/// The end-of-stream record: counted as the stream runs, reported once.
struct StreamRecord {
    route: Option<axum::extract::MatchedPath>,
    on_close: Option<OnClose>,
    started: Instant,
    /// Keep-alives and final events, which the handler did not send.
    own_events: u64,
    bytes: u64,
    /// Set when the stream ends; still `None` when the body is dropped
    /// means the client went away.
    reason: Option<CloseReason>,
    _open: OpenStreamGuard,
    metrics: StreamMetrics,
}

impl StreamRecord {
    /// Counts a frame about to be written, and hands the counts to the
    /// metrics: per frame rather than per event (a frame carries every
    /// event ready together), and before the end, so that a scrape during
    /// a long stream sees it move.
    fn sent(&mut self, frame: Bytes, handler_events: u64) -> Frame<Bytes> {
        self.bytes += frame.len() as u64;
        self.metrics
            .sent(frame.len(), handler_events + self.own_events);
        Frame::data(frame)
    }

    fn route_str(&self) -> &str {
        self.route.as_ref().map_or("", |route| route.as_str())
    }

    /// Logs the close and calls `on_close`, whose panic is caught and
    /// logged: it runs from the body's `Drop`, where a panic would lose
    /// the connection's response, or abort the process while unwinding.
    fn report(&mut self, handler_events: u64) {
        let reason = self.reason.unwrap_or(CloseReason::ClientDisconnected);
        self.metrics
            .closed(reason, handler_events + self.own_events);
        let summary = StreamSummary {
            route: self.route.as_ref().map(|route| Arc::from(route.as_str())),
            events: handler_events + self.own_events,
            bytes: self.bytes,
            duration: self.started.elapsed(),
            reason,
        };
        tracing::info!(
            target: "sse_runtime::stream",
            route = self.route_str(),
            events = summary.events,
            bytes = summary.bytes,
            duration_ms = summary.duration.as_millis() as u64,
            reason = reason.as_str(),
            "SSE stream closed"
        );
        let Some(on_close) = &self.on_close else {
            return;
        };
        if std::thread::panicking() {
            // A panic in the callback now could not be caught: the process
            // would abort. The close is logged above.
            tracing::warn!(
                route = self.route_str(),
                "on_close not called: the stream was dropped while its thread was unwinding"
            );
            return;
        }
        if catch_unwind(AssertUnwindSafe(|| on_close(&summary))).is_err() {
            tracing::error!(route = self.route_str(), "the on_close callback panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SseResponse;

    /// An idle stream's memory is mostly hyper's connection; what this crate
    /// adds is this body, which axum boxes once, plus a keep-alive timer
    /// allocated when the stream first waits. axum's own SSE body for the
    /// same stream is 248 bytes. A change that makes every idle stream
    /// bigger should be a decision, so the size is checked here.
    #[test]
    fn an_idle_stream_body_stays_within_budget() {
        let body = SseResponse::new(|mut emitter| async move {
            emitter.send(crate::event!("open")).await;
            std::future::pending::<()>().await;
        })
        .into_body();
        assert!(
            std::mem::size_of_val(&body) <= 256,
            "SseBody grew to {} bytes (outbox {}, record {})",
            std::mem::size_of_val(&body),
            std::mem::size_of::<Outbox>(),
            std::mem::size_of::<StreamRecord>(),
        );
    }
}
