//! A hub shared by several processes through a Redis stream.
//!
//! * **Publishing** runs one Lua script ([`PUBLISH`]): `XADD`, then
//!   trimming by count (about [`HubConfig::replay`], as `MAXLEN ~` would),
//!   by bytes and by age, recording what it trimmed, atomically. The entry
//!   holds the topic (`t`), its [`EntryKind`] (`k`: an event, or a run's
//!   mark), the encoded event without its id (`d`), and a
//!   running byte count (`c`) that lets the script trim to
//!   [`HubConfig::replay_bytes`] without a counter that could drift, and
//!   a reader tell that it read every entry in turn. The
//!   Redis entry id is the event's SSE id. Publishes go over redis-rs's
//!   multiplexed connection manager, so concurrent publishes are pipelined
//!   rather than waiting one round trip each.
//! * **Delivery**: each process runs one reader, a blocking `XREAD` on a
//!   connection of its own (a blocking command on the shared one would
//!   stall publishes), and appends what it reads to the hub's log, where
//!   every local subscriber reads it. So an event is encoded once per
//!   process, whatever the number of subscribers. The reader reconnects
//!   with backoff and resumes from the last id it read. It checks that the
//!   entries it reads follow one another (their byte counts chain), so
//!   that entries trimmed before it read them (it was slow, or away) are
//!   never skipped in silence.
//! * **History** runs a second script ([`HISTORY`]), which first checks that
//!   nothing after the id asked for is gone, then reads on with `XRANGE`.
//! * **Lost history is never a silent gap.** A `meta` hash beside the
//!   stream holds the *epoch*: the id of the first event stored since the
//!   stream was (re)created. Redis losing its data loses the epoch too, and
//!   the next publish sets a new one; an id older than the epoch, an id
//!   after which entries were trimmed (recorded by the publish script) or
//!   deleted (`max-deleted-entry-id`), or an id never issued, all read as
//!   gone, which a resuming client hears as
//!   `event: reset`. The epoch lives in Redis, not in the server's run id,
//!   so a restart that keeps the data (RDB or AOF) is not a loss.
//!
//! * **Entries it did not write are skipped, never trusted.** An entry
//!   without a topic and data, or whose data is not one encoded event
//!   (written by another program), or of a kind this version does not
//!   know (written by a newer one) is skipped with a warning, and readers
//!   move past it; an entry without a kind (written before kinds were
//!   stored) is read as an event.
//! * **Errors say what is known.** Every script declares its flags
//!   (`#!lua`), so Redis refuses one that would write before it runs
//!   (out of memory, a replica, `MISCONF`, `NOREPLICAS`, busy): every error
//!   reply means nothing was stored ([`HubError::Broker`]); only a
//!   connection lost after the command went out leaves it unknown. The
//!   scripts that only read (history, start-up) say so (`no-writes`), so
//!   that Redis runs them while it refuses writes.
//!
//! Needs Redis 7.0 or newer (`max-deleted-entry-id`, script flags).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, Script, Value};

use super::transport::{BoxFuture, EntryKind, History, LiveFeed, StoredEvent, Transport};
use super::{EventId, HubError};
use crate::metrics::ReaderMetrics;

/// How a [`RedisTransport`] connects and names its keys.
///
/// ```
/// use std::time::Duration;
/// let options = sse_runtime::hub::RedisOptions::new()
///     .prefix("chat")
///     .publish_timeout(Duration::from_secs(1));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    prefix: String,
    publish_timeout: Duration,
    connect_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions::new()
    }
}

impl RedisOptions {
    /// Keys under the prefix `sse`; publishes fail after 2 s without an
    /// answer; connecting gives up after 5 s.
    ///
    /// ```
    /// let options = sse_runtime::hub::RedisOptions::new();
    /// # let _ = options;
    /// ```
    pub fn new() -> Self {
        RedisOptions {
            prefix: "sse".into(),
            publish_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The hub's keys are `{prefix}:events` (the stream) and
    /// `{prefix}:meta`; hubs with different prefixes share one Redis
    /// without meeting. The braces keep both keys in one Redis Cluster
    /// slot, as the scripts need.
    ///
    /// ```
    /// let options = sse_runtime::hub::RedisOptions::new().prefix("orders");
    /// # let _ = options;
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a publish waits for Redis to confirm before it fails with
    /// [`HubError::Timeout`]. A publish while Redis is down fails sooner,
    /// as soon as reconnecting is refused.
    ///
    /// ```
    /// let options = sse_runtime::hub::RedisOptions::new().publish_timeout(std::time::Duration::from_millis(500));
    /// # let _ = options;
    /// ```
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// How long connecting (at start-up, and each reconnection) may take.
    ///
    /// ```
    /// let options = sse_runtime::hub::RedisOptions::new().connect_timeout(std::time::Duration::from_secs(1));
    /// # let _ = options;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// A [`Transport`] over a Redis stream: every process that builds a hub on
/// the same Redis and prefix shares one hub. See the module docs of
/// [`hub`](crate::hub) for what it guarantees.
///
/// ```no_run
/// # async fn run() -> Result<(), sse_runtime::hub::HubError> {
/// use sse_runtime::hub::{Hub, HubConfig, RedisOptions, RedisTransport};
/// let transport = RedisTransport::connect("redis://127.0.0.1:6379", RedisOptions::new()).await?;
/// let hub = Hub::with_transport(transport, HubConfig::default());
/// # let _ = hub;
/// # Ok(())
/// # }
/// ```
pub struct RedisTransport {
    shared: Arc<Shared>,
    started: EventId,
    /// The byte count when `started` was the newest entry.
    started_bytes: i64,
}

impl std::fmt::Debug for RedisTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTransport")
            .field("url", &self.shared.url)
            .field("prefix", &self.shared.options.prefix)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    url: String,
    client: Client,
    /// Publishes and history reads; never blocking commands.
    connection: ConnectionManager,
    events_key: String,
    meta_key: String,
    options: RedisOptions,
    publish: Script,
    history: Script,
    runtime: tokio::runtime::Handle,
    feed: OnceLock<LiveFeed>,
}

/// What the runs' scripts need of a Redis transport: its multiplexed
/// connection, its keys, its budgets and the scripts' shared parts. The
/// runs keep their state beside the hub's stream and change it in the same
/// scripts that store their marks.
#[derive(Clone)]
pub(crate) struct RedisHandle {
    shared: Arc<Shared>,
}

impl RedisHandle {
    /// The multiplexed connection (never for blocking commands).
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.shared.connection.clone()
    }

    /// The stream and meta keys, the first two keys of every script that
    /// stores an entry.
    pub(crate) fn stream_keys(&self) -> (&str, &str) {
        (&self.shared.events_key, &self.shared.meta_key)
    }

    /// A key of its own beside the stream, in the same Redis Cluster slot.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{{{}}}:{name}", self.shared.options.prefix)
    }

    /// How long a command may take.
    pub(crate) fn timeout(&self) -> Duration {
        self.shared.options.publish_timeout
    }

    /// The arguments `append_entry` takes after the frame: replay count,
    /// replay bytes, max age in ms (0: none).
    pub(crate) fn budget(&self) -> (usize, usize, u64) {
        let config = self
            .shared
            .feed
            .get()
            .map(|feed| *feed.config())
            .unwrap_or_default();
        budget_args(&config)
    }

    /// A script whose `body` may call `append_entry` and `less`.
    pub(crate) fn script(body: &str) -> Script {
        Script::new(&format!("{FLAGS}{ID_ORDER}{APPEND}{body}"))
    }

    /// Like [`script`](Self::script), for a `body` that only reads (it
    /// may define functions that write, never call them): Redis runs it
    /// while it refuses writes.
    pub(crate) fn read_only_script(body: &str) -> Script {
        Script::new(&format!("{READ_ONLY_FLAGS}{ID_ORDER}{APPEND}{body}"))
    }
}

/// `append_entry`'s budget arguments for `config`.
fn budget_args(config: &super::HubConfig) -> (usize, usize, u64) {
    (
        config.replay.max(1),
        config.replay_bytes,
        config
            .max_age
            .map_or(0, |age| age.as_millis().max(1) as u64),
    )
}

/// The first line of every script: declares it (Redis 7 script flags, none
/// set), so that Redis refuses it before it runs when it could not write
/// (out of memory, a read-only replica, `MISCONF`, `NOREPLICAS`). So an
/// error reply always means that nothing was stored.
const FLAGS: &str = "#!lua\n";

/// The first line of the scripts that only read (history, where a reader
/// starts): declared so, Redis runs them when it refuses writes (out of
/// memory, `MISCONF`, a replica), as it runs any read. Declared as
/// [`FLAGS`], they were refused then: a resuming client got neither its
/// events nor a `reset`, and no instance could start.
const READ_ONLY_FLAGS: &str = "#!lua flags=no-writes\n";

/// Stream ids compared as Redis orders them (`ms-seq`, both numbers), for
/// the scripts that need it.
pub(crate) const ID_ORDER: &str = r#"
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
"#;

/// `append_entry(stream, meta, topic, kind, frame, maxlen, budget,
/// max_age)`: appends one entry and trims the stream to the hub's budgets
/// (`maxlen` entries, `budget` bytes, `max_age` ms or 0 for none). Returns
/// the new id. Needs [`ID_ORDER`] before it. Every script that stores an
/// entry (publishing, and the runs' scripts, which store a mark with the
/// run's state) calls it, so that the state and the entry change together.
///
/// It trims by itself rather than with `XADD .. MAXLEN ~`: Redis
/// records nothing of what its own trimming removed (`max-deleted-entry-id`
/// counts only `XDEL`), and a resuming client must be told when what it
/// missed is gone. So the script finds the oldest entry to keep by count,
/// by bytes and by age, records the newest entry it removes as `trimmed`
/// in the meta hash, and trims to exactly there. Like `MAXLEN ~`, it trims
/// by count only once the stream is a sixteenth over, so that a publish
/// rarely pays for it.
pub(crate) const APPEND: &str = r#"
local function append_entry(stream, meta, topic, kind, frame, maxlen, budget, max_age)
local total = redis.call('HINCRBY', meta, 'bytes', string.len(frame))
local id = redis.call('XADD', stream, '*', 't', topic, 'k', kind, 'd', frame, 'c', total)
-- The first event since the stream was (re)created sets the epoch.
redis.call('HSETNX', meta, 'epoch', id)
local keep = nil
local function keep_from(candidate)
  if candidate and (not keep or less(keep, candidate)) then keep = candidate end
end
-- By count: keep the newest `maxlen`.
local length = redis.call('XLEN', stream)
if length > maxlen + math.floor(maxlen / 16) then
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', length - maxlen + 1)
  keep_from(oldest[#oldest][1])
end
-- By bytes: an entry stays when everything from its start to the newest
-- fits the budget, i.e. c - len(d) >= total - budget.
local floor = total - budget
if floor > 0 then
  local from, count, found = '-', 2, nil
  while not found do
    local batch = redis.call('XRANGE', stream, from, '+', 'COUNT', count)
    if #batch == 0 then break end
    for _, entry in ipairs(batch) do
      local fields, c, size = entry[2], nil, nil
      for i = 1, #fields, 2 do
        if fields[i] == 'c' then c = tonumber(fields[i + 1]) elseif fields[i] == 'd' then size = string.len(fields[i + 1]) end
      end
      if c and size and c - size >= floor then found = entry[1]; break end
    end
    from = '(' .. batch[#batch][1]
    count = count * 2
  end
  keep_from(found)
end
-- By age.
if max_age > 0 then
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - max_age
  if cutoff > 0 then
    local young = redis.call('XRANGE', stream, cutoff .. '-0', '+', 'COUNT', 1)
    if #young > 0 then keep_from(young[1][1]) end
  end
end
if keep then
  local newest_trimmed = redis.call('XREVRANGE', stream, '(' .. keep, '-', 'COUNT', 1)
  if #newest_trimmed > 0 then
    redis.call('HSET', meta, 'trimmed', newest_trimmed[1][1])
    redis.call('XTRIM', stream, 'MINID', keep)
  end
end
return id
end
"#;

/// Publishes one entry. KEYS: stream, meta. ARGV: topic, kind, frame,
/// replay count, replay bytes, max age in ms (0: none). Returns the new id.
const PUBLISH: &str = r#"
return append_entry(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
"#;

/// Reads up to ARGV[2] entries after the id ARGV[1], or says that some of
/// what came after it is gone (or older than ARGV[3] ms). KEYS: stream,
/// meta. Returns {'ok', entries}
/// or {'gone', id}, where the stream holds everything after `id`, or
/// {'gone', id, 'trimmed'} when entries after ARGV[1] were surely removed
/// (trimmed or deleted) in this epoch, rather than perhaps lost with
/// Redis's data. The id `0-0` means "from the first event of this epoch".
const HISTORY: &str = r#"
local stream, meta = KEYS[1], KEYS[2]
local after, limit = ARGV[1], tonumber(ARGV[2])
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  -- Nothing stored since the data was (re)created: only "from the start" is known.
  if after == '0-0' then return {'ok', {}} end
  return {'gone', '0-0'}
end
if redis.call('EXISTS', stream) == 0 then return {'gone', '0-0'} end
local trimmed = redis.call('HGET', meta, 'trimmed')
local info = redis.call('XINFO', 'STREAM', stream)
local deleted, last = '0-0', '0-0'
for i = 1, #info, 2 do
  if info[i] == 'max-deleted-entry-id' then deleted = info[i + 1]
  elseif info[i] == 'last-generated-id' then last = info[i + 1] end
end
-- The stream holds everything after this id.
local complete = deleted
if trimmed and less(complete, trimmed) then complete = trimmed end
if after == '0-0' then
  if complete ~= '0-0' then return {'gone', complete, 'trimmed'} end
else
  -- Issued before this epoch, or after the newest (never issued, or lost
  -- with data Redis no longer has).
  if less(after, epoch) or less(last, after) then return {'gone', complete} end
  -- Something after it was removed.
  if less(after, complete) then return {'gone', complete, 'trimmed'} end
  -- Not an entry of this stream.
  if after ~= complete and #redis.call('XRANGE', stream, after, after) == 0 then
    return {'gone', complete}
  end
end
-- What comes next is older than the hub keeps (ARGV[3]: max age in ms, 0:
-- none), though not trimmed yet: the publish script trims by age only as
-- events are published, and the hub's log lets such events go on its own.
local max_age = tonumber(ARGV[3])
if max_age > 0 then
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - max_age
  local upcoming = redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', 1)
  if #upcoming > 0 and parse(upcoming[1][1]) < cutoff then return {'gone', complete} end
end
if limit == 0 then return {'ok', {}} end
return {'ok', redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', limit)}
"#;

/// Where a reader starts: {the newest id the stream ever issued (or `0-0`),
/// the byte count so far (the newest entry's `c`, or 0)}. KEYS: stream,
/// meta.
const NEWEST: &str = r#"
local bytes = redis.call('HGET', KEYS[2], 'bytes') or '0'
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0-0', bytes} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return {info[i + 1], bytes} end
end
return {'0-0', bytes}
"#;

/// How long a reader's `XREAD` blocks: also how soon it notices that its
/// hub was dropped.
const READ_BLOCK: Duration = Duration::from_secs(1);
/// Entries a reader takes per `XREAD`.
const READ_COUNT: usize = 512;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl RedisTransport {
    /// Connects to Redis at `url` (`redis://host:port/db`), checks its
    /// version, and notes where this process's reader starts. Fails with
    /// [`HubError::Connect`], naming the URL, when Redis cannot be reached.
    /// Call it inside a tokio runtime: the reader runs on it.
    ///
    /// ```no_run
    /// # async fn run() {
    /// let error = sse_runtime::hub::RedisTransport::connect("redis://127.0.0.1:1", Default::default())
    ///     .await
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("redis://127.0.0.1:1"));
    /// # }
    /// ```
    pub async fn connect(url: &str, options: RedisOptions) -> Result<RedisTransport, HubError> {
        let connect_error = |reason: String| HubError::Connect {
            url: url.to_owned(),
            reason,
        };
        let client = Client::open(url).map_err(|error| connect_error(error.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.publish_timeout))
            // A publish while Redis is down should fail at once, not wait
            // out a long series of reconnection attempts.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let mut connection = tokio::time::timeout(
            options.connect_timeout,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| connect_error(format!("no answer within {:?}", options.connect_timeout)))?
        .map_err(|error| connect_error(error.to_string()))?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut connection)
            .await
            .map_err(|error| connect_error(error.to_string()))?;
        check_version(&info).map_err(connect_error)?;
        let events_key = format!("{{{}}}:events", options.prefix);
        let meta_key = format!("{{{}}}:meta", options.prefix);
        let (newest, started_bytes): (String, i64) =
            Script::new(&format!("{READ_ONLY_FLAGS}{NEWEST}"))
                .key(&events_key)
                .key(&meta_key)
                .invoke_async(&mut connection)
                .await
                .map_err(|error| connect_error(error.to_string()))?;
        let started = newest.parse::<EventId>().map_err(|_| {
            connect_error(format!(
                "the stream's newest id {newest:?} is not a stream id"
            ))
        })?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            connect_error("RedisTransport::connect must run inside a tokio runtime".into())
        })?;
        Ok(RedisTransport {
            shared: Arc::new(Shared {
                url: url.to_owned(),
                client,
                connection,
                events_key,
                meta_key,
                options,
                publish: Script::new(&format!("{FLAGS}{ID_ORDER}{APPEND}{PUBLISH}")),
                history: Script::new(&format!("{READ_ONLY_FLAGS}{ID_ORDER}{HISTORY}")),
                runtime,
                feed: OnceLock::new(),
            }),
            started,
            started_bytes,
        })
    }
}

impl RedisTransport {
    /// What the runs need of this transport.
    pub(crate) fn handle(&self) -> RedisHandle {
        RedisHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

fn check_version(info: &str) -> Result<(), String> {
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .map(str::trim)
        .unwrap_or("unknown");
    let major = version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if major >= 7 => Ok(()),
        _ => Err(format!(
            "RedisTransport needs Redis 7.0 or newer (max-deleted-entry-id); this server is {version}"
        )),
    }
}

impl Transport for RedisTransport {
    fn starts_after(&self) -> EventId {
        self.started
    }

    fn attach(&self, feed: LiveFeed) {
        assert!(
            self.shared.feed.set(feed.clone()).is_ok(),
            "a RedisTransport serves one hub"
        );
        let shared = Arc::clone(&self.shared);
        self.shared
            .runtime
            .spawn(read_forever(shared, feed, self.started, self.started_bytes));
    }

    fn publish(
        &self,
        topic: Arc<str>,
        kind: EntryKind,
        frame: Bytes,
    ) -> BoxFuture<Result<EventId, HubError>> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let (maxlen, budget, max_age) = budget_args(
                shared
                    .feed
                    .get()
                    .ok_or_else(|| {
                        HubError::Broker("the transport is not attached to a hub".into())
                    })?
                    .config(),
            );
            let mut connection = shared.connection.clone();
            let mut invocation = shared.publish.prepare_invoke();
            invocation
                .key(&shared.events_key)
                .key(&shared.meta_key)
                .arg(&*topic)
                .arg(kind.as_str())
                .arg(&frame[..])
                .arg(maxlen)
                .arg(budget)
                .arg(max_age);
            let timeout = shared.options.publish_timeout;
            let id: String =
                tokio::time::timeout(timeout, invocation.invoke_async(&mut connection))
                    .await
                    .map_err(|_| HubError::Timeout(timeout))?
                    .map_err(|error| broker_error(error, timeout))?;
            id.parse::<EventId>()
                .map_err(|_| HubError::Broker(format!("Redis returned {id:?} as an id")))
        })
    }

    fn history(&self, after: EventId, limit: usize) -> BoxFuture<Result<History, HubError>> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let mut connection = shared.connection.clone();
            let max_age = shared.feed.get().and_then(|feed| feed.config().max_age);
            let mut after = after;
            loop {
                let reply = read_history(&shared, &mut connection, after, limit, max_age).await?;
                match (&reply.history, reply.newest) {
                    // A full page of entries that are not the hub's: read on,
                    // or a subscriber would ask for the same page for ever.
                    (History::Events(events), Some(newest))
                        if events.is_empty() && reply.read >= limit =>
                    {
                        after = newest;
                    }
                    _ => return Ok(reply.history),
                }
            }
        })
    }
}

/// A failed command as a [`HubError`], saying only what is known of the
/// event: not stored when the connection was refused (nothing was sent) or
/// Redis answered with an error (every script is refused before it runs
/// when it could not write, see [`FLAGS`], and checks what it refuses
/// before its first write); perhaps stored when the connection failed
/// after the command went out, or the answer did not come in time (the
/// connection's own response timeout may fire before ours).
pub(crate) fn broker_error(error: redis::RedisError, timeout: Duration) -> HubError {
    if error.is_timeout() {
        HubError::Timeout(timeout)
    } else if error.is_connection_refusal() || error.code().is_some() {
        HubError::Broker(error.to_string())
    } else {
        HubError::Unconfirmed(error.to_string())
    }
}

/// The history script's reply.
struct HistoryReply {
    history: History,
    /// Entries read, the hub's and any skipped.
    read: usize,
    /// The newest of them.
    newest: Option<EventId>,
    /// For [`History::Gone`]: the id after which the stream is complete.
    complete_after: EventId,
    /// For [`History::Gone`]: whether entries after the id asked for were
    /// surely removed (trimmed or deleted), rather than perhaps lost with
    /// Redis's data.
    trimmed: bool,
}

async fn read_history(
    shared: &Shared,
    connection: &mut impl redis::aio::ConnectionLike,
    after: EventId,
    limit: usize,
    max_age: Option<Duration>,
) -> Result<HistoryReply, HubError> {
    let mut invocation = shared.history.prepare_invoke();
    invocation
        .key(&shared.events_key)
        .key(&shared.meta_key)
        .arg(after.to_string())
        .arg(limit)
        .arg(max_age.map_or(0, |age| age.as_millis().max(1) as u64));
    let timeout = shared.options.publish_timeout;
    let reply: Value = tokio::time::timeout(timeout, invocation.invoke_async(connection))
        .await
        .map_err(|_| HubError::Timeout(timeout))?
        .map_err(|error| broker_error(error, timeout))?;
    parse_history(reply)
}

fn parse_history(reply: Value) -> Result<HistoryReply, HubError> {
    let malformed = || HubError::Broker("unexpected reply to the history script".into());
    let Value::Array(parts) = reply else {
        return Err(malformed());
    };
    match parts.first() {
        Some(Value::BulkString(status)) if status == b"gone" => {
            let mut parts = parts.into_iter().skip(1);
            let complete_after = parts
                .next()
                .and_then(text)
                .and_then(|id| id.parse::<EventId>().ok())
                .ok_or_else(malformed)?;
            let trimmed = parts.next().and_then(text).as_deref() == Some("trimmed");
            return Ok(HistoryReply {
                history: History::Gone,
                read: 0,
                newest: None,
                complete_after,
                trimmed,
            });
        }
        Some(Value::BulkString(status)) if status == b"ok" => {}
        _ => return Err(malformed()),
    }
    let entries = match parts.into_iter().nth(1) {
        Some(Value::Array(entries)) => entries,
        _ => return Err(malformed()),
    };
    let mut events = Vec::with_capacity(entries.len());
    let mut newest = None;
    let read = entries.len();
    for entry in entries {
        let entry = parse_entry(entry).ok_or_else(malformed)?;
        newest = Some(entry.id);
        match entry.parsed {
            Ok((event, _)) => events.push(event),
            // Every reader of this process warned of it once already.
            Err(why) => {
                tracing::debug!(id = %entry.id, why, "skipping an entry of the hub's Redis stream in a history read")
            }
        }
    }
    Ok(HistoryReply {
        history: History::Events(events),
        read,
        newest,
        complete_after: EventId::default(),
        trimmed: false,
    })
}

/// One stream entry: its id, and the entry as a stored event with its
/// byte count (`c`) if it has one, or why it is not one of this hub's.
struct ParsedEntry {
    id: EventId,
    parsed: Result<(StoredEvent, Option<i64>), &'static str>,
}

/// One stream entry, `[id, [field, value, ..]]`; `None` only when the reply
/// is not shaped as Redis writes an entry.
fn parse_entry(entry: Value) -> Option<ParsedEntry> {
    let Value::Array(mut parts) = entry else {
        return None;
    };
    let Value::Array(fields) = parts.pop()? else {
        return None;
    };
    let id = text(parts.pop()?)?.parse::<EventId>().ok()?;
    Some(ParsedEntry {
        id,
        parsed: stored_event(id, fields_of(fields)),
    })
}

fn fields_of(fields: Vec<Value>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::with_capacity(fields.len() / 2);
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if let (Value::BulkString(name), Value::BulkString(value)) = (name, value) {
            pairs.push((name, value));
        }
    }
    pairs
}

/// The hub's entry in `fields`, or why they are not one: an entry another
/// program wrote (no topic or data), or one of a kind a newer version of
/// the library wrote.
fn stored_event(
    id: EventId,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<(StoredEvent, Option<i64>), &'static str> {
    let mut topic = None;
    let mut frame = None;
    let mut count = None;
    // Entries written before kinds were stored are events.
    let mut kind = Some(EntryKind::Event);
    for (name, value) in fields {
        match &name[..] {
            b"t" => topic = String::from_utf8(value).ok(),
            b"d" => frame = Some(Bytes::from(value)),
            b"c" => {
                count = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|c| c.parse().ok())
            }
            b"k" => {
                kind = std::str::from_utf8(&value)
                    .ok()
                    .and_then(EntryKind::from_name)
            }
            _ => {}
        }
    }
    let (Some(topic), Some(frame)) = (topic, frame) else {
        return Err("not written by the hub: it has no topic (t) or data (d)");
    };
    let Some(kind) = kind else {
        return Err("of a kind (k) this version does not know: written by a newer version");
    };
    if kind == EntryKind::Event && !is_one_event(&frame) {
        return Err("not written by the hub: its data (d) is not one encoded event");
    }
    let event = StoredEvent {
        id,
        topic: Arc::from(topic),
        kind,
        frame,
    };
    Ok((event, count))
}

/// Whether `frame` is one event as the hub's encoder writes it: lines
/// ended by LF (it never writes CR), and one blank line, at the end. The
/// hub adds its id before that blank line, and a client reads each frame
/// as one event: bytes of another shape would run into the id (no blank
/// line at the end), or carry events of their own without one (a blank
/// line inside).
fn is_one_event(frame: &[u8]) -> bool {
    frame.ends_with(b"\n\n")
        && memchr::memchr(b'\r', frame).is_none()
        && memchr::memmem::find(frame, b"\n\n") == Some(frame.len() - 2)
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// This process's reader: follows the stream from `cursor` and feeds the
/// hub's log, until the hub is dropped. `count` is the byte count (`c`)
/// of the entry at `cursor`.
///
/// Nothing the stream held after `cursor` may be skipped in silence, and
/// Redis gives no sign when it removes what a reader has not read yet: an
/// `XREAD` after `cursor` simply starts at the oldest entry left. So the
/// reader checks the entries' byte counts, which chain (an entry's `c`
/// less its size is the `c` of the entry before it, see [`PUBLISH`]): a
/// jump forward means entries between were trimmed or deleted before this
/// process read them ([`LiveFeed::lost`]); a jump back, that the count
/// started again because Redis lost its data ([`LiveFeed::gap`]). And each
/// connection starts by asking the history script whether anything after
/// `cursor` is gone.
async fn read_forever(shared: Arc<Shared>, feed: LiveFeed, mut cursor: EventId, count: i64) {
    let metrics = ReaderMetrics::new(feed.config().name);
    let mut backoff = BACKOFF_MIN;
    let mut connected_before = false;
    let mut count = Some(count);
    while !feed.is_closed() {
        let mut connection = match connect_reader(&shared).await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(url = %shared.url, %error, retry_in = ?backoff, "the hub's Redis reader cannot connect");
                backoff = wait(backoff).await;
                continue;
            }
        };
        // While away (or since the hub's start), Redis may have trimmed
        // what this process had not read yet, or lost its data: then the
        // log must not read on as if nothing happened.
        // Regardless of age: what is still there is read, not lost.
        match read_history(&shared, &mut connection, cursor, 0, None).await {
            Ok(HistoryReply {
                history: History::Events(_),
                ..
            }) => {}
            Ok(reply) => {
                tracing::warn!(url = %shared.url, after = %cursor, trimmed = reply.trimmed, "events were lost while the hub's Redis reader was away (trimmed, or Redis lost its data); subscribers that had not read them are told");
                if reply.trimmed {
                    feed.lost();
                } else {
                    feed.gap();
                }
                cursor = reply.complete_after;
                count = None;
            }
            Err(error) => {
                tracing::warn!(url = %shared.url, %error, retry_in = ?backoff, "the hub's Redis reader could not check for lost events");
                backoff = wait(backoff).await;
                continue;
            }
        }
        if connected_before {
            tracing::info!(url = %shared.url, after = %cursor, "the hub's Redis reader reconnected");
            metrics.reconnects.increment(1);
        }
        connected_before = true;
        let mut read_any = false;
        loop {
            if feed.is_closed() {
                return;
            }
            match read_once(&shared, &mut connection, cursor).await {
                Ok(entries) => {
                    read_any = true;
                    backoff = BACKOFF_MIN;
                    let full = entries.len() >= READ_COUNT;
                    for entry in entries {
                        // Past every entry read, the hub's or not: one that
                        // is not stays behind the cursor, never read again.
                        cursor = entry.id;
                        let (event, entry_count) = match entry.parsed {
                            Ok(parsed) => parsed,
                            Err(why) => {
                                tracing::warn!(url = %shared.url, id = %entry.id, why, "skipping an entry of the hub's Redis stream");
                                continue;
                            }
                        };
                        if let (Some(before), Some(after)) = (count, entry_count) {
                            let expected = after - event.frame.len() as i64;
                            if expected > before {
                                tracing::warn!(url = %shared.url, after = %cursor, "Redis trimmed or deleted events the hub's reader had not read yet; subscribers are told");
                                feed.lost();
                            } else if expected < before {
                                tracing::warn!(url = %shared.url, after = %cursor, "Redis lost its data while the hub's reader was connected; subscribers that had not read everything are told");
                                feed.gap();
                            }
                        }
                        count = entry_count;
                        feed.append(event.id, &event.topic, event.kind, event.frame);
                    }
                    // A read that was not full took everything there was;
                    // only a full one asks how much more is waiting.
                    let lag = match full {
                        false => Some(0),
                        true => newest_id(&shared, &mut connection)
                            .await
                            .ok()
                            .map(|newest| newest.ms().saturating_sub(cursor.ms())),
                    };
                    if let Some(lag) = lag {
                        metrics.lag.set(lag as f64 / 1000.0);
                    }
                }
                Err(error) => {
                    tracing::warn!(url = %shared.url, %error, "the hub's Redis reader lost its connection; reconnecting");
                    break;
                }
            }
        }
        if !read_any {
            // The read fails as soon as it is made (a refused command, a
            // server still loading its data): reconnecting at once would
            // spin.
            backoff = wait(backoff).await;
        }
    }
}

/// The newest id of the hub's stream (`0-0` when it is empty): one
/// `XREVRANGE`, after a full read only.
async fn newest_id(
    shared: &Shared,
    connection: &mut MultiplexedConnection,
) -> redis::RedisResult<EventId> {
    let reply: Value = redis::cmd("XREVRANGE")
        .arg(&shared.events_key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(connection)
        .await?;
    let Value::Array(mut entries) = reply else {
        return Ok(EventId::default());
    };
    Ok(entries
        .pop()
        .and_then(parse_entry)
        .map_or(EventId::default(), |entry| entry.id))
}

/// Sleeps for `backoff`; returns the next one.
async fn wait(backoff: Duration) -> Duration {
    tokio::time::sleep(backoff).await;
    (backoff * 2).min(BACKOFF_MAX)
}

async fn connect_reader(shared: &Shared) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(shared.options.connect_timeout))
        .set_response_timeout(Some(READ_BLOCK + shared.options.publish_timeout));
    shared
        .client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// One blocking `XREAD` after `cursor`: the entries.
async fn read_once(
    shared: &Shared,
    connection: &mut MultiplexedConnection,
    cursor: EventId,
) -> redis::RedisResult<Vec<ParsedEntry>> {
    let reply: Value = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(READ_COUNT)
        .arg("BLOCK")
        .arg(READ_BLOCK.as_millis() as u64)
        .arg("STREAMS")
        .arg(&shared.events_key)
        .arg(cursor.to_string())
        .query_async(connection)
        .await?;
    let mut entries = Vec::new();
    // Nil when the block timed out; else [[key, [[id, fields], ..]]]
    // (RESP2) or a map of key to entries (RESP3).
    let streams = match reply {
        Value::Array(streams) => streams
            .into_iter()
            .filter_map(|stream| match stream {
                Value::Array(mut parts) if parts.len() == 2 => parts.pop(),
                _ => None,
            })
            .collect(),
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        _ => Vec::new(),
    };
    for stream in streams {
        let Value::Array(stream_entries) = stream else {
            continue;
        };
        for entry in stream_entries {
            match parse_entry(entry) {
                Some(entry) => entries.push(entry),
                None => tracing::warn!("skipping a malformed entry in the hub's Redis stream"),
            }
        }
    }
    Ok(entries)
}
