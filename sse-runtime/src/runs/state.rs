//! Where a run's state lives, and how it changes: a [`Store`]. Every change
//! to a run's state that has a mark (its start, its end) is made together
//! with that mark, and every send is checked against the state it is made
//! in, so that no event is stored after a run's end and no attached stream
//! waits for an end that was never stored.
//!
//! In process ([`LocalStore`]) the registry is a map under a lock, and the
//! mark is published while the lock is held: the in-process transport
//! appends when called, so the state and the mark change as one step. On
//! Redis (`redis.rs`) each change is one script.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::{run_topic, RunError, RunRecord, RunState, RunsConfig};
use crate::hub::{BoxFuture, EntryKind, EventId, Hub, HubError};
use crate::sync::lock;

/// Where runs keep their state: this process, or Redis beside the hub's
/// stream.
pub(super) enum Store {
    Local(LocalStore),
    /// Boxed: its scripts make it several times the size of the other.
    #[cfg(feature = "redis")]
    Redis(Box<super::redis::RedisStore>),
}

/// Who ends a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ender {
    /// The instance that produces it: its end is stored even if the run's
    /// record was lost (the broker lost its data), so that streams
    /// attached to it end.
    Producer,
    /// Anyone else (a cancel): a run no one knows is
    /// [`RunError::UnknownRun`].
    Other,
}

impl Store {
    pub(super) fn for_hub(hub: &Hub, config: &RunsConfig) -> Store {
        #[cfg(feature = "redis")]
        if let Some(redis) = hub.redis() {
            return Store::Redis(Box::new(super::redis::RedisStore::new(
                redis.clone(),
                config,
            )));
        }
        Store::Local(LocalStore::new(hub.clone(), *config))
    }

    /// Records a new run, running and produced here, together with its
    /// start mark; resolves to the mark's id.
    pub(super) async fn create(&self, run: &str) -> Result<EventId, HubError> {
        match self {
            Store::Local(store) => store.create(run)?.await,
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.create(run).await,
        }
    }

    /// Stores `frame` as the run's next event, if the run is running and
    /// has stored fewer than `max_events`.
    pub(super) async fn send(&self, run: &str, frame: Bytes) -> Result<EventId, RunError> {
        match self {
            Store::Local(store) => Ok(store.send(run, frame)?.await?),
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.send(run, frame).await,
        }
    }

    /// Ends a running run in `state`, together with its end mark. Resolves
    /// to the run's record: as it ends now, or as it had ended before.
    pub(super) async fn end(
        &self,
        run: &str,
        state: RunState,
        ender: Ender,
    ) -> Result<RunRecord, RunError> {
        match self {
            Store::Local(store) => store.end(run, state, ender).await,
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.end(run, state, ender).await,
        }
    }

    /// Renews this instance's hold on a run it produces; resolves to the
    /// run's record, whose state says whether it still runs.
    pub(super) async fn renew(&self, run: &str) -> Result<RunRecord, RunError> {
        match self {
            Store::Local(store) => store
                .read(run)
                .ok_or_else(|| RunError::UnknownRun(run.to_owned())),
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.renew(run).await,
        }
    }

    /// The run's record, or `None` if no one knows it. A running run
    /// whose producer's lease expired is marked failed first.
    pub(super) async fn read(&self, run: &str) -> Result<Option<RunRecord>, HubError> {
        match self {
            Store::Local(store) => Ok(store.read(run)),
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.read(run, false).await,
        }
    }

    /// Like [`read`](Self::read), for a run streams are attached to: a run
    /// whose record is gone (the broker lost its data) is marked failed
    /// too, so that they end.
    pub(super) async fn check(&self, run: &str) -> Result<Option<RunRecord>, HubError> {
        match self {
            Store::Local(store) => Ok(store.read(run)),
            #[cfg(feature = "redis")]
            Store::Redis(store) => store.read(run, true).await,
        }
    }

    /// In process, what tells a run's supervisor that the run ended, by
    /// whatever `Runs` on the hub ended it. On Redis, the supervisor watches
    /// for the run's end mark and renews its lease instead.
    pub(super) fn ended_signal(&self, run: &str) -> Option<Arc<Notify>> {
        match self {
            Store::Local(store) => store.ended_signal(run),
            #[cfg(feature = "redis")]
            Store::Redis(_) => None,
        }
    }

    /// The lease a producing instance holds on its runs, if runs are shared
    /// between instances.
    pub(super) fn lease(&self) -> Option<Duration> {
        match self {
            Store::Local(_) => None,
            #[cfg(feature = "redis")]
            Store::Redis(store) => Some(store.lease()),
        }
    }
}

/// The runs of one process, in a registry every [`Runs`](super::Runs) on
/// the same hub shares.
pub(super) struct LocalStore {
    hub: Hub,
    config: RunsConfig,
    records: Arc<Registry>,
}

/// The hub's registry of runs (see `Hub::runs_registry`).
#[derive(Default)]
pub(super) struct Registry(Mutex<Table>);

/// The runs known, and the order in which they ended.
#[derive(Default)]
struct Table {
    records: HashMap<String, Record>,
    /// The runs ended, with when, oldest first: runs end one at a time
    /// under the registry's lock, so expiring the finished ones costs what
    /// expires, not a walk over every run kept (which made each send cost
    /// as much as the runs finished within `keep_finished`).
    ended: VecDeque<(Instant, String)>,
}

impl std::ops::Deref for Table {
    type Target = HashMap<String, Record>;

    fn deref(&self) -> &Self::Target {
        &self.records
    }
}

impl std::ops::DerefMut for Table {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.records
    }
}

struct Record {
    /// Told when the run ends, whoever ends it: its supervisor stops the
    /// producer.
    ended: Arc<Notify>,
    state: RunState,
    first: Option<EventId>,
    last: Option<EventId>,
    /// Events stored.
    sent: usize,
    /// When it ended.
    ended_at: Option<Instant>,
}

impl Record {
    fn view(&self) -> RunRecord {
        RunRecord {
            state: self.state,
            first: self.first,
            last: self.last,
        }
    }
}

impl LocalStore {
    fn new(hub: Hub, config: RunsConfig) -> LocalStore {
        let records = hub.runs_registry::<Registry>().unwrap_or_default();
        LocalStore {
            hub,
            config,
            records,
        }
    }

    /// Publishes an entry of `kind` on `run`'s topic. Called with the
    /// registry locked: the in-process transport appends at the call, so
    /// the registry's change and the entry are one step.
    fn publish(
        &self,
        run: &str,
        kind: EntryKind,
        frame: Bytes,
    ) -> BoxFuture<Result<EventId, HubError>> {
        self.hub
            .transport()
            .publish(Arc::from(run_topic(run)), kind, frame)
    }

    /// The registry, locked, without the runs that ended longer than
    /// `keep_finished` ago.
    fn records(&self) -> std::sync::MutexGuard<'_, Table> {
        let mut table = lock(&self.records.0);
        let keep = self.config.keep_finished;
        let now = Instant::now();
        while let Some(&(at, _)) = table.ended.front() {
            if now.duration_since(at) <= keep {
                break;
            }
            let (_, run) = table.ended.pop_front().expect("just seen");
            // Unless it was recorded again since (see `end`).
            if table
                .records
                .get(&run)
                .is_some_and(|record| record.ended_at == Some(at))
            {
                table.records.remove(&run);
            }
        }
        table
    }

    fn create(
        &self,
        run: &str,
    ) -> Result<impl std::future::Future<Output = Result<EventId, HubError>> + '_, HubError> {
        let mut records = self.records();
        if records.contains_key(run) {
            return Err(HubError::Broker(format!("run {run:?} exists already")));
        }
        records.insert(
            run.to_owned(),
            Record {
                ended: Arc::new(Notify::new()),
                state: RunState::Running,
                first: None,
                last: None,
                sent: 0,
                ended_at: None,
            },
        );
        let mark = self.publish(run, EntryKind::RunStart, Bytes::new());
        drop(records);
        let run = run.to_owned();
        Ok(async move {
            let stored = mark.await;
            let mut records = lock(&self.records.0);
            match stored {
                Ok(first) => {
                    if let Some(record) = records.get_mut(&run) {
                        record.first = Some(first);
                    }
                }
                Err(_) => {
                    records.remove(&run);
                }
            }
            stored
        })
    }

    fn send(
        &self,
        run: &str,
        frame: Bytes,
    ) -> Result<impl std::future::Future<Output = Result<EventId, HubError>> + '_, RunError> {
        let mut records = self.records();
        let record = records
            .get_mut(run)
            .ok_or_else(|| RunError::UnknownRun(run.to_owned()))?;
        if record.state != RunState::Running {
            return Err(RunError::Ended);
        }
        if record.sent >= self.config.max_events {
            return Err(RunError::RunLogFull(self.config.max_events));
        }
        // Counted now, while it cannot be refused any more; given back if
        // the transport fails to store it.
        record.sent += 1;
        let stored = self.publish(run, EntryKind::Event, frame);
        drop(records);
        let run = run.to_owned();
        Ok(async move {
            let stored = stored.await;
            if stored.is_err() {
                if let Some(record) = lock(&self.records.0).get_mut(&run) {
                    record.sent -= 1;
                }
            }
            stored
        })
    }

    async fn end(&self, run: &str, state: RunState, ender: Ender) -> Result<RunRecord, RunError> {
        let mark = {
            let mut records = self.records();
            let record = match records.get_mut(run) {
                Some(record) => record,
                None if ender == Ender::Producer => {
                    records.entry(run.to_owned()).or_insert(Record {
                        ended: Arc::new(Notify::new()),
                        state: RunState::Running,
                        first: None,
                        last: None,
                        sent: 0,
                        ended_at: None,
                    })
                }
                None => return Err(RunError::UnknownRun(run.to_owned())),
            };
            let mut ended_now = None;
            match (record.state, record.last) {
                (RunState::Running, _) => {
                    let now = Instant::now();
                    record.state = state;
                    record.ended_at = Some(now);
                    ended_now = Some(now);
                    // A permit, kept until the supervisor waits for it.
                    record.ended.notify_one();
                }
                // Ended, and its mark stored.
                (_, Some(_)) => return Ok(record.view()),
                // Ended, but storing its mark failed: store it now.
                (_, None) => {}
            }
            let frame = Bytes::from_static(record.state.as_str().as_bytes());
            if let Some(now) = ended_now {
                records.ended.push_back((now, run.to_owned()));
            }
            self.publish(run, EntryKind::RunEnd, frame)
        };
        let last = mark.await?;
        let mut records = lock(&self.records.0);
        let record = records
            .get_mut(run)
            .ok_or_else(|| RunError::UnknownRun(run.to_owned()))?;
        record.last = Some(last);
        Ok(record.view())
    }

    fn read(&self, run: &str) -> Option<RunRecord> {
        self.records().get(run).map(Record::view)
    }

    fn ended_signal(&self, run: &str) -> Option<Arc<Notify>> {
        self.records()
            .get(run)
            .map(|record| Arc::clone(&record.ended))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finished runs expire oldest first, each once `keep_finished` has
    /// passed since its end, and nothing of them is left: neither the
    /// record nor its place in the order of ends.
    #[tokio::test]
    async fn finished_runs_expire_in_the_order_they_ended() {
        let keep = Duration::from_millis(200);
        let store = LocalStore::new(
            Hub::new(),
            RunsConfig {
                keep_finished: keep,
                ..RunsConfig::default()
            },
        );
        let runs: Vec<String> = (0..3).map(|n| format!("{n:032x}")).collect();
        for run in &runs {
            store.create(run).unwrap().await.unwrap();
        }
        store
            .end(&runs[0], RunState::Finished, Ender::Other)
            .await
            .unwrap();
        tokio::time::sleep(keep / 2 + Duration::from_millis(20)).await;
        store
            .end(&runs[1], RunState::Cancelled, Ender::Other)
            .await
            .unwrap();
        tokio::time::sleep(keep / 2 + Duration::from_millis(20)).await;
        // The first is past its keep; the second is not; the third runs.
        assert_eq!(store.read(&runs[0]), None);
        assert_eq!(store.read(&runs[1]).unwrap().state, RunState::Cancelled);
        assert_eq!(store.read(&runs[2]).unwrap().state, RunState::Running);
        assert_eq!(lock(&store.records.0).ended.len(), 1);
        tokio::time::sleep(keep).await;
        assert_eq!(store.read(&runs[1]), None);
        let table = lock(&store.records.0);
        assert_eq!((table.records.len(), table.ended.len()), (1, 0));
    }
}
