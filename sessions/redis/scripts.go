package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts. Every script touches keys of one slot only: the keys
// it declares, and keys of the same bucket ({b}) whose names it builds
// from the bucket prefix (ARGV bp) and ids it reads, such as the sessions
// it evicts. The one exception, announceScript's whole mode, runs only on
// a single Redis (standalone or Sentinel), where one node holds every
// slot. Times are Unix microseconds, TTLs milliseconds. A time
// computed in Lua goes back to Redis through string.format('%d'), never
// as a bare number, so that it keeps every digit.

// luaEndOne ends one session of a bucket: deletes the session hash, its
// token index and its member of the user's set, writes the logout
// command and adds it to the bucket's outbox. It returns the command as
// {id, session, user, device, warehouse, reason, by_device, by_warehouse,
// by_at, created}, or false when the session does not exist.
const luaEndOne = `
local function end_one(bp, sid, now, reason, bd, bw, ba, cttl)
  local sk = bp .. 's:' .. sid
  local f = redis.call('HMGET', sk, 'u', 'd', 'w', 'th')
  if not f[1] then return false end
  local cid
  if string.sub(sid, 1, 4) == 'ses_' then cid = 'cmd_' .. string.sub(sid, 5) else cid = 'cmd_' .. sid end
  local ck = bp .. 'c:' .. cid
  redis.call('DEL', sk)
  if f[4] then redis.call('DEL', bp .. 't:' .. f[4]) end
  redis.call('ZREM', bp .. 'u:' .. f[1], sid)
  redis.call('HSET', ck, 'id', cid, 's', sid, 'u', f[1], 'd', f[2], 'w', f[3], 'r', reason, 'c', now)
  if bd ~= '' then redis.call('HSET', ck, 'bd', bd, 'bw', bw, 'ba', ba) end
  redis.call('PEXPIRE', ck, cttl)
  redis.call('ZADD', bp .. 'ob', now, cid)
  return {cid, sid, f[1], f[2], f[3], reason, bd, bw, ba, now}
end
local function append(out, c)
  if c then for _, v in ipairs(c) do table.insert(out, v) end end
end
`

// createScript is the per-user atomic step of Create.
// KEYS: user set, new session, new token index, outbox.
// ARGV: bp, now, cap, deny, marked, sid, username, device, warehouse,
// expires, idle, pin_change, token hash, session ttl, command ttl, user,
// then the ids of this bucket found on the device.
// The sessions of this bucket still open on the device are replaced and
// do not count toward the cap. Returns {'deny'} (nothing was changed),
// {'needmark'} (sessions are to be ended but the caller says it has not
// journaled the bucket: nothing was changed) or {'ok', commands...}.
var createScript = goredis.NewScript(luaEndOne + `
local bp, now = ARGV[1], tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local replaced, rset = {}, {}
for k = 17, #ARGV do
  local sid = ARGV[k]
  if not rset[sid] and redis.call('HGET', bp .. 's:' .. sid, 'd') == ARGV[8] then
    rset[sid] = true
    table.insert(replaced, sid)
  end
end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local live = {}
for _, m in ipairs(members) do
  local f = redis.call('HMGET', bp .. 's:' .. m, 'a', 'x', 'i')
  if not f[1] then
    redis.call('ZREM', KEYS[1], m)
  elseif not rset[m] and now < tonumber(f[2]) and now < tonumber(f[1]) + tonumber(f[3]) then
    table.insert(live, m)
  end
end
local out = {'ok'}
local excess = #live - cap + 1
if excess > 0 and ARGV[4] == '1' then return {'deny'} end
if (excess > 0 or #replaced > 0) and ARGV[5] ~= '1' then return {'needmark'} end
for _, sid in ipairs(replaced) do
  append(out, end_one(bp, sid, ARGV[2], 'replaced', ARGV[8], ARGV[9], ARGV[2], ARGV[15]))
end
for k = 1, excess do
  append(out, end_one(bp, live[k], ARGV[2], 'evicted', ARGV[8], ARGV[9], ARGV[2], ARGV[15]))
end
redis.call('HSET', KEYS[2], 'u', ARGV[16], 'n', ARGV[7], 'd', ARGV[8], 'w', ARGV[9],
  'c', ARGV[2], 'a', ARGV[2], 'x', ARGV[10], 'i', ARGV[11], 'p', ARGV[12], 'th', ARGV[13])
redis.call('PEXPIRE', KEYS[2], ARGV[14])
redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[14])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[6])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[14]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[14])
end
return out
`)

// endScript ends sessions of one bucket: the ids given, or every session
// of one user.
// KEYS: outbox, user set (mode 'user' only).
// ARGV: bp, now, reason, by_device, by_warehouse, by_at, command ttl,
// mode ('ids' or 'user'), ids...
// Returns the commands, flattened.
var endScript = goredis.NewScript(luaEndOne + `
local out = {}
local ids
if ARGV[8] == 'user' then
  ids = redis.call('ZRANGE', KEYS[2], 0, -1)
else
  ids = {}
  for k = 9, #ARGV do table.insert(ids, ARGV[k]) end
end
for _, sid in ipairs(ids) do
  append(out, end_one(ARGV[1], sid, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]))
end
if ARGV[8] == 'user' then redis.call('DEL', KEYS[2]) end
return out
`)

// endPublishScript is endScript for ends without a by (End, EndUser,
// EndDevice): it also publishes each end on the fan-out from inside the
// script, so that the push leaves with the end itself instead of two
// round trips later (issue 14, item 3). PUBLISH names no key, so the
// script may run on Cluster too.
// KEYS: outbox, and for mode 'user' the user's set. ARGV: bp, now,
// reason, command ttl, channel, now as RFC 3339 (the commands'
// created_at as Go writes it), mode ('user' or 'ids'), then the ids.
// Returns the commands flattened as endScript does. Each event is the
// JSON of sessions.Event{Kind: KindEnded, Command: ...} for a command
// without by.
var endPublishScript = goredis.NewScript(luaEndOne + `
local out = {}
local ids
if ARGV[7] == 'user' then
  ids = redis.call('ZRANGE', KEYS[2], 0, -1)
else
  ids = {}
  for k = 8, #ARGV do table.insert(ids, ARGV[k]) end
end
for _, sid in ipairs(ids) do
  local c = end_one(ARGV[1], sid, ARGV[2], ARGV[3], '', '', '', ARGV[4])
  if c then
    redis.call('PUBLISH', ARGV[5], cjson.encode({kind = 'ended', command = {
      command_id = c[1], session_id = c[2], user_id = c[3], device_id = c[4],
      warehouse_id = c[5], reason = c[6], created_at = ARGV[6]}}))
    append(out, c)
  end
end
if ARGV[7] == 'user' then redis.call('DEL', KEYS[2]) end
return out
`)

// sweepScript decides about one due session by its own timestamps.
// KEYS: outbox. ARGV: bp, session id, now, command ttl.
// Returns {'gone'}, {'live', idle_end, absolute_end} or {'ended', command...}.
var sweepScript = goredis.NewScript(luaEndOne + `
local bp, sid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = redis.call('HMGET', bp .. 's:' .. sid, 'a', 'x', 'i')
if not f[1] then return {'gone'} end
local x = tonumber(f[2])
local idle_end = tonumber(f[1]) + tonumber(f[3])
if now < x and now < idle_end then return {'live', idle_end, x} end
local reason = 'expired'
if idle_end < x then reason = 'idle' end
local out = {'ended'}
append(out, end_one(bp, sid, ARGV[3], reason, '', '', '', ARGV[4]))
return out
`)

// warnScript marks a session warned, once.
// KEYS: session. ARGV: now, lead.
// Returns {'gone'}, {'early', due}, {'done'} or {'warn', device, expires}.
var warnScript = goredis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'd', 'x', 'wn', 'a', 'i')
if not f[1] then return {'gone'} end
local now, x = tonumber(ARGV[1]), tonumber(f[2])
if f[3] or now >= x or now >= tonumber(f[4]) + tonumber(f[5]) then return {'done'} end
local due = x - tonumber(ARGV[2])
if now < due then return {'early', due} end
redis.call('HSET', KEYS[1], 'wn', '1')
return {'warn', f[1], x}
`)

// validateScript reads a session by token and touches it.
// KEYS: token index. ARGV: bp, token hash, now, touch every, and on a
// single server the key prefix, to read the session's warehouse
// watermark (bulk.go; "" on Cluster, where Go reads it).
// Returns false (unknown, ended, refused by the watermark, or expired)
// or one string joined by NUL
// bytes (one reply to parse, not ten): session id, user, username,
// device, warehouse, created, last active, expires, idle, pin_change.
var validateScript = goredis.NewScript(`
local sid = redis.call('GET', KEYS[1])
if not sid then return false end
local sk = ARGV[1] .. 's:' .. sid
local f = redis.call('HMGET', sk, 'u', 'n', 'd', 'w', 'c', 'a', 'x', 'i', 'p', 'th')
if not f[1] or f[10] ~= ARGV[2] then return false end
local now, a = tonumber(ARGV[3]), tonumber(f[6])
if now >= tonumber(f[7]) or now >= a + tonumber(f[8]) then return false end
if ARGV[5] ~= '' then
  local eb = redis.call('HGET', ARGV[5] .. '{w:' .. f[4] .. '}eb', 't')
  if eb and tonumber(f[5]) < tonumber(eb) then return false end
end
if now - a >= tonumber(ARGV[4]) then
  redis.call('HSET', sk, 'a', ARGV[3])
  f[6] = ARGV[3]
end
return table.concat({sid, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]}, '\0')
`)

// drainScript lists a bucket's outbox up to a time, with the commands.
// KEYS: outbox. ARGV: bp, upto.
var drainScript = goredis.NewScript(`
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 1000)
for _, cid in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[1] .. 'c:' .. cid, 'id', 's', 'u', 'd', 'w', 'r', 'bd', 'bw', 'ba', 'c')
  if not f[1] then
    redis.call('ZREM', KEYS[1], cid)
  else
    for k = 1, 10 do
      if f[k] then table.insert(out, f[k]) else table.insert(out, '') end
    end
  end
end
return out
`)

// deliveredScript: KEYS command; ARGV now. 0 when there is no command.
var deliveredScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'dv', ARGV[1])
return 1
`)

// ackScript: KEYS command; ARGV device, now. 0 when there is no such
// command for that device. An acknowledgement proves delivery, so a
// command acknowledged before its delivery was marked (the device can
// answer faster than the gateway records the frame) gets delivered_at too.
var ackScript = goredis.NewScript(`
local d = redis.call('HGET', KEYS[1], 'd')
if not d or d ~= ARGV[1] then return 0 end
redis.call('HSETNX', KEYS[1], 'dv', ARGV[2])
redis.call('HSETNX', KEYS[1], 'ak', ARGV[2])
return 1
`)

// clearPINScript: KEYS session. 0 when there is no session.
var clearPINScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'p', '0')
return 1
`)

// offlineScript: KEYS presence marks ("<until>:<origin>"), one or many
// (on Cluster: one); ARGV origin. Deletes only origin's marks; returns
// how many.
var offlineScript = goredis.NewScript(`
local n = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v then
    local sep = string.find(v, ':', 1, true)
    if sep and string.sub(v, sep + 1) == ARGV[1] then n = n + redis.call('DEL', k) end
  end
end
return n
`)

// epochScript reads the store's epoch, a random value written the first
// time it is missing: a Redis that restarted without its data has lost
// it, so a watcher that finds a value other than the one it knew learns
// that every session and command is gone.
// KEYS: the epoch key. ARGV: a fresh random value.
var epochScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`)

// announceScript publishes an event and reads a device's session set and
// its command queue (from a time, exclusive). In whole mode (a single
// Redis only: the hashes are in their users' buckets) it also reads the
// session and command hashes, and trims from the queue the commands that
// are gone or acknowledged (their hash comes back empty), and leaves out
// a session its warehouse's watermark refuses (bulk.go; its hash comes
// back empty).
// KEYS: device sessions, device queue. ARGV: channel, payload, since,
// prefix, whole ('1' or '0').
// Returns {session ids, command ids}, or in whole mode {session ids,
// session hashes, command ids, command hashes} (HGETALL replies).
var announceScript = goredis.NewScript(`
redis.call('PUBLISH', ARGV[1], ARGV[2])
local sids = redis.call('SMEMBERS', KEYS[1])
local cids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], '+inf')
if ARGV[5] ~= '1' then return {sids, cids} end
local p = ARGV[4]
local ss, cs = {}, {}
for i, sid in ipairs(sids) do
  local h = redis.call('HGETALL', p .. '{' .. string.sub(sid, -3) .. '}s:' .. sid)
  local w, c
  for k = 1, #h, 2 do
    if h[k] == 'w' then w = h[k + 1] elseif h[k] == 'c' then c = h[k + 1] end
  end
  if w and c then
    local eb = redis.call('HGET', p .. '{w:' .. w .. '}eb', 't')
    if eb and tonumber(c) < tonumber(eb) then h = {} end
  end
  ss[i] = h
end
for i, cid in ipairs(cids) do
  local h = redis.call('HGETALL', p .. '{' .. string.sub(cid, -3) .. '}c:' .. cid)
  local done = #h == 0
  for k = 1, #h, 2 do
    if h[k] == 'ak' then done = true end
  end
  if done then
    redis.call('ZREM', KEYS[2], cid)
    h = {}
  end
  cs[i] = h
end
return {sids, ss, cids, cs}
`)
