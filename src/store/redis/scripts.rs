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

/// `save(K, A)`: compare-and-set save of a session with its idempotency record.
///
/// K: session hash, records hash, records order list, sessions index.
/// A: expected version, updated (ms), now (ms), idle TTL (ms), doc, session id,
/// message id (empty: no record), record, most records kept.
/// Returns `{1, live sessions in the index}` when saved, `{0, stored version}` on conflict.
const SAVE_FN: &str = r"
local function save(K, A)
  local current = redis.call('HMGET', K[1], 'version', 'updated')
  local version = tonumber(current[1]) or 0
  local updated = tonumber(current[2])
  local idle = tonumber(A[4])
  if version ~= 0 and updated and updated + idle <= tonumber(A[3]) then
    -- Idle past the TTL: absent, so a new conversation may take the id, without old records.
    version = 0
    redis.call('DEL', K[2], K[3])
  end
  local expected = tonumber(A[1])
  if version ~= expected then
    return {0, version}
  end
  redis.call('HSET', K[1], 'version', string.format('%d', expected + 1), 'updated', A[2], 'doc', A[5])
  redis.call('PEXPIRE', K[1], A[4])
  if A[7] ~= '' then
    redis.call('HSET', K[2], A[7], A[8])
    redis.call('LREM', K[3], 0, A[7])
    redis.call('RPUSH', K[3], A[7])
    local keep = tonumber(A[9])
    while redis.call('LLEN', K[3]) > keep do
      redis.call('HDEL', K[2], redis.call('LPOP', K[3]))
    end
  end
  redis.call('PEXPIRE', K[2], A[4])
  redis.call('PEXPIRE', K[3], A[4])
  redis.call('ZADD', K[4], A[2], A[6])
  return {1, redis.call('ZCARD', K[4])}
end
";

/// `save` on its own: KEYS and ARGV as its K and A.
pub static SAVE: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{SAVE_FN}return save(KEYS, ARGV)")));

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

/// `acquire(K, A)`: a sliding-window counter: drop events that left the window, count, add
/// one if allowed.
///
/// K: the counter's sorted set. A: now (ms), window (ms), max, the event's member.
/// Returns `{1, events in the window}` when recorded, `{0, ms until the oldest event leaves}`
/// when full.
const ACQUIRE_FN: &str = r"
local function acquire(K, A)
  local now = tonumber(A[1])
  local window = tonumber(A[2])
  redis.call('ZREMRANGEBYSCORE', K[1], '-inf', string.format('%d', now - window))
  local count = redis.call('ZCARD', K[1])
  if count >= tonumber(A[3]) then
    local oldest = redis.call('ZRANGE', K[1], 0, 0, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + window - now}
  end
  -- The member is new (its instant and a random id): the set grows by one.
  redis.call('ZADD', K[1], A[1], A[4])
  redis.call('PEXPIRE', K[1], A[2])
  return {1, count + 1}
end
";

/// `acquire` on its own: KEYS and ARGV as its K and A.
pub static ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{ACQUIRE_FN}return acquire(KEYS, ARGV)")));

/// `acquire` on one counter and the events of another after an instant, in one round trip.
///
/// KEYS: the counter to charge, the counter to count. ARGV: `acquire`'s four, the instant
/// (ms) after which events count.
/// Returns `acquire`'s two and the count.
pub static ACQUIRE_COUNTING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{ACQUIRE_FN}
local acquired = acquire({{KEYS[1]}}, {{unpack(ARGV, 1, 4)}})
local counted = redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[5], '+inf')
return {{acquired[1], acquired[2], counted}}
"
    ))
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

/// `release(K, A)`: frees a lease if it is still ours. K: the lease. A: token.
const RELEASE_FN: &str = r"
local function release(K, A)
  if redis.call('GET', K[1]) == A[1] then
    return redis.call('DEL', K[1])
  end
  return 0
end
";

/// `release` on its own: KEYS and ARGV as its K and A.
pub static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{RELEASE_FN}return release(KEYS, ARGV)")));

/// `append_event(K, A)`: keeps an event of a session's stream, if its log is open or the
/// event is said only through the stream (then the log opens).
///
/// K: the log's last id (string), its events (stream, entry ids `<id>-1`).
/// A: `1` when the event is said only through the stream, the id before the first of a
/// log opened now, the event ([`super::format`]), events kept, retention (ms), the channel
/// readers on other instances listen on.
/// Returns the event's id, 0 when it was not kept.
const APPEND_EVENT_FN: &str = r"
local function append_event(K, A)
  if redis.call('EXISTS', K[1]) == 0 then
    if A[1] ~= '1' then
      return 0
    end
    redis.call('SET', K[1], A[2])
    redis.call('DEL', K[2])
  end
  local n = redis.call('INCR', K[1])
  local id = string.format('%d', n)
  redis.call('XADD', K[2], 'MAXLEN', A[4], id .. '-1', 'e', A[3])
  redis.call('PEXPIRE', K[1], A[5])
  redis.call('PEXPIRE', K[2], A[5])
  redis.call('PUBLISH', A[6], id)
  return n
end
";

/// `append_event` on its own: KEYS and ARGV as its K and A.
pub static APPEND_EVENT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{APPEND_EVENT_FN}return append_event(KEYS, ARGV)")));

/// The first round trip of a turn: takes the session's lease and, when it got it, reads the
/// session and the record of the message (a retry is answered from it).
///
/// KEYS: the lease, session hash, records hash. ARGV: token, lease TTL (ms), message id.
/// Returns `{'0'}` while another holds the lease, else `{'1', version, updated (ms), doc,
/// record}`, with `''` for what is not there.
pub static BEGIN_TURN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'0'}
end
local session = redis.call('HMGET', KEYS[2], 'version', 'updated', 'doc')
local record = redis.call('HGET', KEYS[3], ARGV[3])
return {'1', session[1] or '', session[2] or '', session[3] or '', record or ''}
",
    )
});

/// The second round trip of a turn: `save`, then (when saved and the event log wants it)
/// `append_event`, then `release` whatever the save did. A failing append cannot undo or fail
/// the save: it is caught, and the event is not kept.
///
/// KEYS: `save`'s four, the lease, `append_event`'s two.
/// ARGV: `save`'s nine, the lease's token, `1` to append an event (else the six that follow
/// are absent), `append_event`'s six.
/// Returns `{1, live sessions, event id or 0}` when saved, `{0, stored version, 0}` on
/// conflict.
pub static FINISH_TURN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{SAVE_FN}{APPEND_EVENT_FN}{RELEASE_FN}
local saved = save({{KEYS[1], KEYS[2], KEYS[3], KEYS[4]}}, {{unpack(ARGV, 1, 9)}})
local event = 0
if saved[1] == 1 and ARGV[11] == '1' then
  local ok, id = pcall(append_event, {{KEYS[6], KEYS[7]}}, {{unpack(ARGV, 12, 17)}})
  if ok then
    event = id
  end
end
release({{KEYS[5]}}, {{ARGV[10]}})
return {{saved[1], saved[2], event}}
"
    ))
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
