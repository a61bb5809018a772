//! Runs' state on Redis: a hash per run beside the hub's stream
//! (`{prefix}:run:<id>`: `state`, `owner`, `lease`, `first`, `last`,
//! `events`), changed only by the scripts below, each of which stores the
//! run's mark (with the hub's own `append_entry`) in the same step as the
//! state it marks. A script checks everything it may refuse before its
//! first write, so an error reply means that nothing changed.
//!
//! The instance that produces a run holds a lease on it: the `lease` field
//! is when it expires, on Redis's clock, and the producer renews it. A
//! running run whose lease expired is marked failed, with its end mark, by
//! whoever reads it first: an instance attaching to it, one whose streams
//! are attached to it (they check every quarter lease), or the producer's
//! own renewal.
//!
//! Reading a run is first asked of a script that only reads ([`PEEK`]),
//! which Redis runs while it refuses writes (paused for a failover, out
//! of memory); only a read that would change the run runs [`READ`].

use std::time::Duration;

use bytes::Bytes;
use redis::{Script, ScriptInvocation, Value};

use super::state::Ender;
use super::{run_topic, RunError, RunRecord, RunState, RunsConfig};
use crate::hub::{broker_error, EventId, HubError, RedisHandle};

/// Lua helpers for the scripts below, after the hub's `append_entry`.
/// KEYS of every script: the stream, the meta hash, the run's hash.
const HELPERS: &str = r#"
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
-- Whether the run's lease expired, or is not a number.
local function lease_expired()
  local lease = tonumber(redis.call('HGET', KEYS[3], 'lease') or '0')
  return not lease or lease < now_ms()
end
-- The run's record: {state, first, last}, '' for what is not set.
local function record()
  local fields = redis.call('HMGET', KEYS[3], 'state', 'first', 'last')
  return {fields[1] or '', fields[2] or '', fields[3] or ''}
end
-- Ends the run in `state` with its end mark, and keeps the record for
-- `keep` ms. ARGV[1] is the run's topic; the last three ARGV are the hub's
-- budgets.
local function end_run(state, keep)
  local n = #ARGV
  local id = append_entry(KEYS[1], KEYS[2], ARGV[1], 'run-end', state,
    tonumber(ARGV[n - 2]), tonumber(ARGV[n - 1]), tonumber(ARGV[n]))
  redis.call('HSET', KEYS[3], 'state', state, 'last', id)
  redis.call('PEXPIRE', KEYS[3], keep)
  return id
end
"#;

/// ARGV: topic, owner, lease ms, keep ms, budgets. Returns the start
/// mark's id. A running run's record expires a `keep` after its lease
/// does, so that one whose instance died and that no one reads again does
/// not stay in Redis for ever.
const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('ERR this run id exists already')
end
local id = append_entry(KEYS[1], KEYS[2], ARGV[1], 'run-start', '',
  tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
redis.call('HSET', KEYS[3], 'state', 'running', 'owner', ARGV[2],
  'lease', now_ms() + tonumber(ARGV[3]), 'first', id, 'events', 0)
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3]) + tonumber(ARGV[4]))
return id
"#;

/// ARGV: topic, frame, max events, budgets. Returns {'ok', id}, or
/// {'unknown'}, {'ended', state}, {'full'}. The count is checked to be one
/// `HINCRBY` takes (digits, no leading zero) before anything is written:
/// a count Lua reads as a number but Redis does not (`1.5`, `07`, written
/// by hand) would fail the script after its event was stored.
const SEND: &str = r#"
local state = redis.call('HGET', KEYS[3], 'state')
if not state then return {'unknown'} end
if state ~= 'running' then return {'ended', state} end
local events = redis.call('HGET', KEYS[3], 'events') or '0'
if not (events == '0' or (string.match(events, '^[1-9]%d*$') and #events <= 18)) then
  return redis.error_reply('ERR the run\'s count of events stored is not a count: ' .. events)
end
if tonumber(events) >= tonumber(ARGV[3]) then
  return {'full'}
end
local id = append_entry(KEYS[1], KEYS[2], ARGV[1], 'event', ARGV[2],
  tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
redis.call('HINCRBY', KEYS[3], 'events', 1)
return {'ok', id}
"#;

/// ARGV: topic, state, keep ms, '1' to end a run whose record is gone,
/// budgets. Returns the record, or {} for an unknown run.
const END: &str = r#"
local current = redis.call('HGET', KEYS[3], 'state')
if not current then
  if ARGV[4] ~= '1' then return {} end
  end_run(ARGV[2], tonumber(ARGV[3]))
elseif current == 'running' then
  end_run(ARGV[2], tonumber(ARGV[3]))
end
return record()
"#;

/// ARGV: topic, owner, lease ms, keep ms, budgets. Renews the owner's lease
/// on a running run; a run whose record is gone is failed (it can no longer
/// be followed). Returns the record.
const RENEW: &str = r#"
local current = redis.call('HGET', KEYS[3], 'state')
if not current then
  end_run('failed', tonumber(ARGV[4]))
elseif current == 'running' and redis.call('HGET', KEYS[3], 'owner') == ARGV[2] then
  redis.call('HSET', KEYS[3], 'lease', now_ms() + tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3]) + tonumber(ARGV[4]))
end
return record()
"#;

/// ARGV: topic, '1' to fail a run whose record is gone, keep ms, budgets.
/// Fails a running run whose lease expired (or is not a number: no one
/// can tell it holds). Returns the record, or {} for an unknown run.
const READ: &str = r#"
local current = redis.call('HGET', KEYS[3], 'state')
if not current then
  if ARGV[2] ~= '1' then return {} end
  end_run('failed', tonumber(ARGV[3]))
elseif current == 'running' and lease_expired() then
  end_run('failed', tonumber(ARGV[3]))
end
return record()
"#;

/// What [`READ`] would answer, if it would change nothing: the record;
/// else {'gone'} (no record) or {'expired'} (a running run whose lease
/// expired). Only reads, so Redis runs it while it refuses writes (writes
/// paused for a failover, out of memory, a replica): most reads are
/// answered then, and only those that would change the run need `READ`.
const PEEK: &str = r#"
local current = redis.call('HGET', KEYS[3], 'state')
if not current then return {'gone'} end
if current == 'running' and lease_expired() then return {'expired'} end
return record()
"#;

pub(super) struct RedisStore {
    redis: RedisHandle,
    /// This instance, as the owner of the runs it produces.
    owner: String,
    lease: Duration,
    keep_finished: Duration,
    max_events: usize,
    create: Script,
    send: Script,
    end: Script,
    renew: Script,
    read: Script,
    peek: Script,
}

impl RedisStore {
    pub(super) fn new(redis: RedisHandle, config: &RunsConfig) -> RedisStore {
        let script = |body: &str| RedisHandle::script(&format!("{HELPERS}{body}"));
        RedisStore {
            redis,
            owner: super::producer::random_hex(8),
            lease: config.lease,
            keep_finished: config.keep_finished,
            max_events: config.max_events,
            create: script(CREATE),
            send: script(SEND),
            end: script(END),
            renew: script(RENEW),
            read: script(READ),
            peek: RedisHandle::read_only_script(&format!("{HELPERS}{PEEK}")),
        }
    }

    pub(super) fn lease(&self) -> Duration {
        self.lease
    }

    /// The lease a producer takes at each renewal: three quarters of the
    /// configured one, renewed every quarter, so that a dead producer's run
    /// is found failed within one lease by a check every quarter.
    fn lease_ms(&self) -> u64 {
        (millis(self.lease) / 4 * 3).max(1)
    }

    fn keep_ms(&self) -> u64 {
        millis(self.keep_finished)
    }

    /// Runs `script` on `run`'s keys with `args` then the hub's budgets.
    async fn invoke(
        &self,
        script: &Script,
        run: &str,
        args: impl FnOnce(&mut ScriptInvocation<'_>),
    ) -> Result<Value, HubError> {
        let mut invocation = script.prepare_invoke();
        let (stream, meta) = self.redis.stream_keys();
        invocation
            .key(stream)
            .key(meta)
            .key(self.redis.key(&format!("run:{run}")))
            .arg(run_topic(run));
        args(&mut invocation);
        let (maxlen, budget, max_age) = self.redis.budget();
        invocation.arg(maxlen).arg(budget).arg(max_age);
        let timeout = self.redis.timeout();
        let mut connection = self.redis.connection();
        tokio::time::timeout(timeout, invocation.invoke_async(&mut connection))
            .await
            .map_err(|_| HubError::Timeout(timeout))?
            .map_err(|error| broker_error(error, timeout))
    }

    pub(super) async fn create(&self, run: &str) -> Result<EventId, HubError> {
        let reply = self
            .invoke(&self.create, run, |invocation| {
                invocation
                    .arg(&self.owner)
                    .arg(self.lease_ms())
                    .arg(self.keep_ms());
            })
            .await?;
        text(&reply)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| unexpected("create", &reply))
    }

    pub(super) async fn send(&self, run: &str, frame: Bytes) -> Result<EventId, RunError> {
        let reply = self
            .invoke(&self.send, run, |invocation| {
                invocation.arg(&frame[..]).arg(self.max_events);
            })
            .await?;
        let parts = strings(&reply);
        match parts.first().map(String::as_str) {
            Some("ok") => parts
                .get(1)
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| unexpected("send", &reply).into()),
            Some("unknown") => Err(RunError::UnknownRun(run.to_owned())),
            Some("ended") => Err(RunError::Ended),
            Some("full") => Err(RunError::RunLogFull(self.max_events)),
            _ => Err(unexpected("send", &reply).into()),
        }
    }

    pub(super) async fn end(
        &self,
        run: &str,
        state: RunState,
        ender: Ender,
    ) -> Result<RunRecord, RunError> {
        let reply = self
            .invoke(&self.end, run, |invocation| {
                invocation
                    .arg(state.as_str())
                    .arg(self.keep_ms())
                    .arg(if ender == Ender::Producer { "1" } else { "0" });
            })
            .await?;
        record(&reply)?.ok_or_else(|| RunError::UnknownRun(run.to_owned()))
    }

    pub(super) async fn renew(&self, run: &str) -> Result<RunRecord, RunError> {
        let reply = self
            .invoke(&self.renew, run, |invocation| {
                invocation
                    .arg(&self.owner)
                    .arg(self.lease_ms())
                    .arg(self.keep_ms());
            })
            .await?;
        record(&reply)?.ok_or_else(|| RunError::UnknownRun(run.to_owned()))
    }

    pub(super) async fn read(
        &self,
        run: &str,
        fail_if_gone: bool,
    ) -> Result<Option<RunRecord>, HubError> {
        let peeked = self.invoke(&self.peek, run, |_| {}).await?;
        match strings(&peeked).as_slice() {
            [status] if status == "gone" && !fail_if_gone => return Ok(None),
            // `READ` decides, in one step with what it changes.
            [status] if status == "gone" || status == "expired" => {}
            _ => return record(&peeked),
        }
        let reply = self
            .invoke(&self.read, run, |invocation| {
                invocation
                    .arg(if fail_if_gone { "1" } else { "0" })
                    .arg(self.keep_ms());
            })
            .await?;
        record(&reply)
    }
}

/// The longest duration the scripts are given: a century. Lua reads
/// numbers as doubles and writes those above about 10^15 in exponent form,
/// which `PEXPIRE` refuses, failing the script after it wrote its mark.
const MAX_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// `duration` in milliseconds, at least one, at most [`MAX_MS`].
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MS)
}

/// A script's `{state, first, last}` reply, or `None` for `{}`.
fn record(reply: &Value) -> Result<Option<RunRecord>, HubError> {
    let parts = strings(reply);
    if parts.is_empty() {
        return Ok(None);
    }
    let [state, first, last] = parts.as_slice() else {
        return Err(unexpected("run record", reply));
    };
    // A state this version does not know (a newer one wrote it) is not
    // `running` to any script here, so the run is over: as a failure, as
    // an end mark of such a state reads (`attach::end_state`). Read as an
    // error, a producer's end would be retried for ever.
    let state = RunState::from_name(state).unwrap_or(RunState::Failed);
    Ok(Some(RunRecord {
        state,
        first: first.parse().ok(),
        last: last.parse().ok(),
    }))
}

fn strings(reply: &Value) -> Vec<String> {
    match reply {
        Value::Array(parts) => parts.iter().filter_map(text).collect(),
        _ => Vec::new(),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

fn unexpected(what: &str, reply: &Value) -> HubError {
    HubError::Broker(format!(
        "unexpected reply to the runs' {what} script: {reply:?}"
    ))
}
