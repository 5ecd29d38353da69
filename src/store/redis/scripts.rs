//! Every read-modify-write the Redis store does, as a Lua script: Redis runs a script
//! atomically, so a check and the write it guards can never be split by another instance, and
//! a script either runs whole or not at all (nothing half-written when Redis goes away).
//!
//! Times are milliseconds (microseconds for rate limits) on the engine's clock, passed in as
//! arguments, so every instance and the tests' manual clock agree with the in-memory store.
//! Redis's own expiries (`PEXPIRE`) only free memory. Numbers that go back to Redis are
//! formatted with `%d`, never left to Lua's float formatting.

use std::sync::LazyLock;

use redis::Script;

/// Compare-and-set save of a session with its idempotency record.
///
/// KEYS: session hash, records hash, records order list, sessions index.
/// ARGV: expected version, updated (ms), now (ms), idle TTL (ms), doc, session id,
/// message id (empty: no record), record, most records kept.
/// Returns `{1, live sessions in the index}` when saved, `{0, stored version}` on conflict.
pub static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('HMGET', KEYS[1], 'version', 'updated')
local version = tonumber(current[1]) or 0
local updated = tonumber(current[2])
local idle = tonumber(ARGV[4])
if version ~= 0 and updated and updated + idle <= tonumber(ARGV[3]) then
  -- Idle past the TTL: absent, so a new conversation may take the id, without old records.
  version = 0
  redis.call('DEL', KEYS[2], KEYS[3])
end
local expected = tonumber(ARGV[1])
if version ~= expected then
  return {0, version}
end
redis.call('HSET', KEYS[1], 'version', string.format('%d', expected + 1), 'updated', ARGV[2], 'doc', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[7], ARGV[8])
  redis.call('LREM', KEYS[3], 0, ARGV[7])
  redis.call('RPUSH', KEYS[3], ARGV[7])
  local keep = tonumber(ARGV[9])
  while redis.call('LLEN', KEYS[3]) > keep do
    redis.call('HDEL', KEYS[2], redis.call('LPOP', KEYS[3]))
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[6])
return {1, redis.call('ZCARD', KEYS[4])}
",
    )
});

/// Forgets a session unless it was saved since the caller looked (eviction, sweeping).
///
/// KEYS: session hash, records hash, records order list, sessions index.
/// ARGV: session id, the `updated` (ms) the caller saw.
/// Returns `{1, doc}` when the session is gone from the index (deleted now, with its
/// document, or expired earlier, with `false`), `{0}` when it was saved meanwhile.
pub static EVICT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local updated = redis.call('HGET', KEYS[1], 'updated')
if updated and tonumber(updated) ~= tonumber(ARGV[2]) then
  return {0}
end
local doc = redis.call('HGET', KEYS[1], 'doc')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
return {1, doc}
",
    )
});

/// Deletes a session and its records. KEYS as [`SAVE`]; ARGV: session id.
/// Returns 1 when the session existed.
pub static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
return existed
",
    )
});

/// A sliding-window counter: drop events that left the window, count, add one if allowed.
///
/// KEYS: the counter's sorted set. ARGV: now (ms), window (ms), max, the event's member.
/// Returns `{1, events in the window}` when recorded, `{0, ms until the oldest event leaves}`
/// when full.
pub static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, redis.call('ZCARD', KEYS[1])}
",
    )
});

/// GCRA (the algorithm governor uses) on one key holding the theoretical arrival time.
///
/// KEYS: the bucket. ARGV: now (µs), emission interval (µs), burst.
/// Returns 0 when allowed, else the µs to wait.
pub static RATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tonumber(ARGV[3]) * interval
if allow_at > now then
  return allow_at - now
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', math.ceil((new_tat - now) / 1000)))
return 0
",
    )
});

/// Extends a lease if it is still ours. KEYS: the lease. ARGV: token, TTL (ms).
pub static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

/// Frees a lease if it is still ours. KEYS: the lease. ARGV: token.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Keeps an event of a session's stream, if its log is open or the event is said only
/// through the stream (then the log opens).
///
/// KEYS: the log's last id (string), its events (stream, entry ids `<id>-1`).
/// ARGV: `1` when the event is said only through the stream, the id before the first of a
/// log opened now, the event ([`super::format`]), events kept, retention (ms), the channel
/// readers on other instances listen on.
/// Returns the event's id, 0 when it was not kept.
pub static APPEND_EVENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] ~= '1' then
    return 0
  end
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
end
local n = redis.call('INCR', KEYS[1])
local id = string.format('%d', n)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], id .. '-1', 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[6], id)
return n
",
    )
});

/// Opens a session's event log (or keeps it open) and reads the events after an id.
///
/// KEYS: the log's last id, its events.
/// ARGV: the id before the first of a log opened now, the id to read after (empty: all),
/// retention (ms).
/// Returns `{last id, {{entry id, {'e', event}}, …}}`.
pub static READ_EVENTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return {ARGV[1], {}}
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local from = '-'
if ARGV[2] ~= '' then
  from = '(' .. ARGV[2] .. '-1'
end
return {redis.call('GET', KEYS[1]), redis.call('XRANGE', KEYS[2], from, '+')}
",
    )
});
