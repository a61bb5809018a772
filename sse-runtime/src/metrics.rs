//! Metrics, through the [`metrics`](https://docs.rs/metrics) crate's
//! facade: the application installs the recorder it wants (Prometheus,
//! StatsD, OpenTelemetry, ...), and this crate records into it. Without a
//! recorder, every handle is a no-op.
//!
//! Install the recorder before building the router's [`Hub`](crate::hub::Hub)s
//! and [`Runs`](crate::runs::Runs): they take their handles once, when
//! built (a stream takes its own when it opens). Then call [`describe`]
//! once for the units and help texts:
//!
//! ```
//! // With metrics-exporter-prometheus, for example:
//! // let handle = PrometheusBuilder::new().install_recorder()?;
//! sse_runtime::metrics::describe();
//! // Serve `handle.render()` at `/metrics` (the chat example does).
//! ```
//!
//! # The metrics
//!
//! Every name starts with `sse_`; the names, their labels and what they
//! count are stable. Labels: `route` is the route's path pattern as axum
//! matched it (`/rooms/{id}`, never the request's own path), or `unknown`
//! for a response built without a [`StreamContext`](crate::StreamContext);
//! `hub` is [`HubConfig::name`](crate::hub::HubConfig::name) (`default`
//! unless set); `topic` appears only where
//! [`HubConfig::topic_labels`](crate::hub::HubConfig::topic_labels) is on
//! (a run's topics are all labelled `sse-runtime:run`).
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `sse_streams_open` | gauge | `route` | streams open now |
//! | `sse_streams_opened_total` | counter | `route` | streams opened |
//! | `sse_streams_closed_total` | counter | `route`, `reason` | streams ended, by [`CloseReason`]: `completed`, `error`, `client_disconnected`, `shutdown` |
//! | `sse_events_sent_total` | counter | `route` | events sent, as [`StreamSummary::events`](crate::StreamSummary::events) counts them: the handler's events and comments (a hub's `lagged` and `reset` notices it forwards among them), keep-alives, final and `error` events, and `retry:` frames |
//! | `sse_bytes_sent_total` | counter | `route` | bytes of event stream written, before compression (feature `compression`): one figure per stream whatever encoding its client accepted; the bytes on the wire are the proxy's or load balancer's figure |
//! | `sse_hub_publishes_total` | counter | `hub` (`topic`) | events published through this instance's [`Hub::publish`](crate::hub::Hub::publish) (and a typed hub's) and stored |
//! | `sse_hub_deliveries_total` | counter | `hub` (`topic`) | events this instance's subscriptions delivered: live, replayed or read from the broker's history |
//! | `sse_hub_subscribers` | gauge | `hub` (`topic`) | open subscriptions on this instance (with topic labels, one per topic each) |
//! | `sse_hub_lagged_total` | counter | `hub` | `lagged` notices delivered: a subscriber fell behind |
//! | `sse_hub_resets_total` | counter | `hub` | `reset` notices delivered: a resuming client's history was gone |
//! | `sse_hub_redis_reader_lag_seconds` | gauge | `hub` | how far this instance's Redis reader is behind the stream's newest entry, by the entries' ids (milliseconds of publishing), after each read; 0 when it has read everything. Not read while the reader cannot reach Redis: it keeps its last value then (the reader's warnings in the log say so; the reconnect is counted once it succeeds) |
//! | `sse_hub_redis_reconnects_total` | counter | `hub` | times this instance's Redis reader connected again after losing its connection |
//! | `sse_runs_running` | gauge | `hub` | runs this instance produces now |
//! | `sse_runs_started_total` | counter | `hub` | runs started (stored) on this instance |
//! | `sse_runs_ended_total` | counter | `hub`, `state` | runs this instance produced that ended, by [`RunState`](crate::runs::RunState): `finished`, `cancelled`, `failed` |
//!
//! # Cost
//!
//! A stream takes its handles once, when it opens; per event it only adds
//! to counts the stream keeps anyway, and hands them to its handles at each
//! frame it writes (so a scrape during a long stream sees it move) and at
//! its end. Without a recorder that costs nothing measurable
//! (BENCHMARKS.md).
//!
//! # Topic labels
//!
//! Off by default: topic names often come from clients (a room, a user, a
//! document), and a label per topic makes a time series per topic, which
//! grows without bound and can take a monitoring system down. Turn them
//! on only where the topics are a small, fixed set.

use std::sync::Arc;

use ::metrics::{counter, gauge, Counter, Gauge, SharedString, Unit};

use crate::lifecycle::CloseReason;

pub(crate) const STREAMS_OPEN: &str = "sse_streams_open";
pub(crate) const STREAMS_OPENED: &str = "sse_streams_opened_total";
pub(crate) const STREAMS_CLOSED: &str = "sse_streams_closed_total";
pub(crate) const EVENTS_SENT: &str = "sse_events_sent_total";
pub(crate) const BYTES_SENT: &str = "sse_bytes_sent_total";
pub(crate) const HUB_PUBLISHES: &str = "sse_hub_publishes_total";
pub(crate) const HUB_DELIVERIES: &str = "sse_hub_deliveries_total";
pub(crate) const HUB_SUBSCRIBERS: &str = "sse_hub_subscribers";
pub(crate) const HUB_LAGGED: &str = "sse_hub_lagged_total";
pub(crate) const HUB_RESETS: &str = "sse_hub_resets_total";
pub(crate) const REDIS_READER_LAG: &str = "sse_hub_redis_reader_lag_seconds";
pub(crate) const REDIS_RECONNECTS: &str = "sse_hub_redis_reconnects_total";
pub(crate) const RUNS_RUNNING: &str = "sse_runs_running";
pub(crate) const RUNS_STARTED: &str = "sse_runs_started_total";
pub(crate) const RUNS_ENDED: &str = "sse_runs_ended_total";

/// The `route` label of a response built without a route.
const UNKNOWN_ROUTE: &str = "unknown";

/// Describes every metric (unit and help text) to the installed recorder,
/// for exporters that print them (Prometheus's `# HELP` lines). Call it
/// once, after installing the recorder; without one it does nothing.
///
/// ```
/// sse_runtime::metrics::describe();
/// ```
pub fn describe() {
    use ::metrics::{describe_counter, describe_gauge};
    describe_gauge!(STREAMS_OPEN, Unit::Count, "SSE streams open now");
    describe_counter!(STREAMS_OPENED, Unit::Count, "SSE streams opened");
    describe_counter!(
        STREAMS_CLOSED,
        Unit::Count,
        "SSE streams ended, by close reason"
    );
    describe_counter!(
        EVENTS_SENT,
        Unit::Count,
        "SSE events sent (the handler's events and comments, keep-alives, final and error events, retry: frames)"
    );
    describe_counter!(BYTES_SENT, Unit::Bytes, "Bytes of event stream written");
    describe_counter!(HUB_PUBLISHES, Unit::Count, "Events published to the hub");
    describe_counter!(
        HUB_DELIVERIES,
        Unit::Count,
        "Events the hub delivered to subscriptions"
    );
    describe_gauge!(HUB_SUBSCRIBERS, Unit::Count, "Open hub subscriptions");
    describe_counter!(HUB_LAGGED, Unit::Count, "`lagged` notices delivered");
    describe_counter!(HUB_RESETS, Unit::Count, "`reset` notices delivered");
    describe_gauge!(
        REDIS_READER_LAG,
        Unit::Seconds,
        "How far the hub's Redis reader is behind the stream's newest entry"
    );
    describe_counter!(
        REDIS_RECONNECTS,
        Unit::Count,
        "Reconnections of the hub's Redis reader"
    );
    describe_gauge!(RUNS_RUNNING, Unit::Count, "Runs this instance produces");
    describe_counter!(RUNS_STARTED, Unit::Count, "Runs started");
    describe_counter!(RUNS_ENDED, Unit::Count, "Runs ended, by final state");
}

/// One stream's handles, taken when it opens. Boxed: one pointer in every
/// stream's record, which an idle stream carries too.
pub(crate) struct StreamMetrics(Box<StreamHandles>);

struct StreamHandles {
    route: SharedString,
    open: Gauge,
    events: Counter,
    bytes: Counter,
    /// Events already added to `events`.
    counted: u64,
}

impl StreamMetrics {
    /// Counts a stream as opened on `route`.
    pub(crate) fn open(route: Option<&str>) -> StreamMetrics {
        let route = match route {
            Some(route) => SharedString::from(Arc::<str>::from(route)),
            None => SharedString::const_str(UNKNOWN_ROUTE),
        };
        counter!(STREAMS_OPENED, "route" => route.clone()).increment(1);
        let open = gauge!(STREAMS_OPEN, "route" => route.clone());
        open.increment(1.0);
        StreamMetrics(Box::new(StreamHandles {
            events: counter!(EVENTS_SENT, "route" => route.clone()),
            bytes: counter!(BYTES_SENT, "route" => route.clone()),
            route,
            open,
            counted: 0,
        }))
    }

    /// Adds a frame of `bytes` written, with `events`, the stream's events
    /// so far. Called per frame, not per event: a frame carries every event
    /// that was ready together.
    pub(crate) fn sent(&mut self, bytes: usize, events: u64) {
        let handles = &mut *self.0;
        handles.bytes.increment(bytes as u64);
        handles.events.increment(events - handles.counted);
        handles.counted = events;
    }

    /// Counts the stream's end, with its `events` in all (those queued
    /// and not written, as [`StreamSummary`](crate::StreamSummary) counts
    /// them, included).
    pub(crate) fn closed(&mut self, reason: CloseReason, events: u64) {
        let handles = &mut *self.0;
        handles
            .events
            .increment(events.saturating_sub(handles.counted));
        handles.counted = events;
        counter!(STREAMS_CLOSED, "route" => handles.route.clone(), "reason" => reason.as_str())
            .increment(1);
    }
}

impl Drop for StreamHandles {
    fn drop(&mut self) {
        self.open.decrement(1.0);
    }
}

/// A hub's handles, taken when it is built.
pub(crate) struct HubMetrics {
    name: &'static str,
    topic_labels: bool,
    publishes: Counter,
    deliveries: Counter,
    subscribers: Gauge,
    lagged: Counter,
    resets: Counter,
}

impl HubMetrics {
    pub(crate) fn new(name: &'static str, topic_labels: bool) -> HubMetrics {
        // With topic labels, every series of the three metrics that have
        // them carries one: a series without would be counted twice by a
        // `sum`.
        let (publishes, deliveries, subscribers) = if topic_labels {
            (Counter::noop(), Counter::noop(), Gauge::noop())
        } else {
            (
                counter!(HUB_PUBLISHES, "hub" => name),
                counter!(HUB_DELIVERIES, "hub" => name),
                gauge!(HUB_SUBSCRIBERS, "hub" => name),
            )
        };
        HubMetrics {
            name,
            topic_labels,
            publishes,
            deliveries,
            subscribers,
            lagged: counter!(HUB_LAGGED, "hub" => name),
            resets: counter!(HUB_RESETS, "hub" => name),
        }
    }

    /// Counts an event published to `topic`.
    pub(crate) fn published(&self, topic: &str) {
        if self.topic_labels {
            counter!(HUB_PUBLISHES, "hub" => self.name, "topic" => topic_label(topic)).increment(1);
        } else {
            self.publishes.increment(1);
        }
    }

    /// Counts a subscription to `topics` (sorted and distinct) as open,
    /// until [`unsubscribed`](Self::unsubscribed).
    pub(crate) fn subscribed(&self, topics: &[Arc<str>]) -> SubscriberMetrics {
        if !self.topic_labels {
            self.subscribers.increment(1.0);
            return SubscriberMetrics::Hub;
        }
        SubscriberMetrics::PerTopic(
            topics
                .iter()
                .map(|topic| {
                    let label = topic_label(topic);
                    let subscribers =
                        gauge!(HUB_SUBSCRIBERS, "hub" => self.name, "topic" => label.clone());
                    subscribers.increment(1.0);
                    TopicHandles {
                        deliveries: counter!(HUB_DELIVERIES, "hub" => self.name, "topic" => label),
                        subscribers,
                    }
                })
                .collect(),
        )
    }

    /// Counts a subscription as closed.
    pub(crate) fn unsubscribed(&self, subscriber: &SubscriberMetrics) {
        match subscriber {
            SubscriberMetrics::Uncounted => {}
            SubscriberMetrics::Hub => self.subscribers.decrement(1.0),
            SubscriberMetrics::PerTopic(topics) => {
                for handles in topics.iter() {
                    handles.subscribers.decrement(1.0);
                }
            }
        }
    }

    /// Counts an event of a subscriber's `topic`-th topic delivered.
    pub(crate) fn delivered(&self, subscriber: &SubscriberMetrics, topic: usize) {
        match subscriber {
            SubscriberMetrics::Uncounted => {}
            SubscriberMetrics::Hub => self.deliveries.increment(1),
            SubscriberMetrics::PerTopic(topics) => {
                if let Some(handles) = topics.get(topic) {
                    handles.deliveries.increment(1);
                }
            }
        }
    }

    /// Counts a `lagged` notice delivered to a subscriber.
    pub(crate) fn lagged(&self, subscriber: &SubscriberMetrics) {
        if !matches!(subscriber, SubscriberMetrics::Uncounted) {
            self.lagged.increment(1);
        }
    }

    /// Counts a `reset` notice delivered to a subscriber.
    pub(crate) fn reset(&self, subscriber: &SubscriberMetrics) {
        if !matches!(subscriber, SubscriberMetrics::Uncounted) {
            self.resets.increment(1);
        }
    }

    /// The hub's label.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }
}

/// The label of `topic`: a run's topics, one per run, share one.
fn topic_label(topic: &str) -> SharedString {
    if topic.starts_with(crate::runs::RUN_TOPIC_PREFIX) {
        SharedString::const_str("sse-runtime:run")
    } else {
        SharedString::from(topic.to_owned())
    }
}

/// How a subscription is counted: not at all (the library's own), in the
/// hub's series, or in its topics' (their handles taken once, in the
/// subscription's topic order).
pub(crate) enum SubscriberMetrics {
    Uncounted,
    Hub,
    PerTopic(Box<[TopicHandles]>),
}

pub(crate) struct TopicHandles {
    deliveries: Counter,
    subscribers: Gauge,
}

/// The Redis reader's handles.
#[cfg(feature = "redis")]
pub(crate) struct ReaderMetrics {
    pub(crate) lag: Gauge,
    pub(crate) reconnects: Counter,
}

#[cfg(feature = "redis")]
impl ReaderMetrics {
    pub(crate) fn new(hub: &'static str) -> ReaderMetrics {
        ReaderMetrics {
            lag: gauge!(REDIS_READER_LAG, "hub" => hub),
            reconnects: counter!(REDIS_RECONNECTS, "hub" => hub),
        }
    }
}

/// The runs' handles of one [`Runs`](crate::runs::Runs).
pub(crate) struct RunsMetrics {
    hub: &'static str,
    running: Gauge,
    started: Counter,
}

impl RunsMetrics {
    pub(crate) fn new(hub: &'static str) -> RunsMetrics {
        RunsMetrics {
            hub,
            running: gauge!(RUNS_RUNNING, "hub" => hub),
            started: counter!(RUNS_STARTED, "hub" => hub),
        }
    }

    /// Counts a run as started and running until the returned guard is
    /// dropped, when it counts the run's end in the guard's state.
    pub(crate) fn started(&self) -> RunningRun {
        self.started.increment(1);
        self.running.increment(1.0);
        RunningRun {
            hub: self.hub,
            running: self.running.clone(),
            state: crate::runs::RunState::Failed,
        }
    }
}

/// A run counted as running; see [`RunsMetrics::started`].
pub(crate) struct RunningRun {
    hub: &'static str,
    running: Gauge,
    /// How it ended: failed until known.
    pub(crate) state: crate::runs::RunState,
}

impl Drop for RunningRun {
    fn drop(&mut self) {
        self.running.decrement(1.0);
        counter!(RUNS_ENDED, "hub" => self.hub, "state" => self.state.as_str()).increment(1);
    }
}
