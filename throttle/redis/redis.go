package redis

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/throttle"
)

// Options configure a Throttle.
type Options struct {
	// Prefix starts every key, so that several deployments (or tests)
	// share one Redis. It must not contain '{' or '}': the hash tags that
	// follow it decide the Cluster slots.
	Prefix string
	// Now is the clock every time rule reads; nil means time.Now.
	Now func() time.Time
}

// Throttle is the Redis throttle.Throttle. Keys:
//
//	Prefix{t:<subject>}st   hash: c (consecutive failures), h (hard lock),
//	                        lu (timed lock until), ln (timed locks since the
//	                        last success), seq, p:<source> ("fails:last")
//	Prefix{t:<subject>}w    zset: the subject's failures in its window
//	Prefix{s:<source>}st    hash: q (quarantined), e (last unlock)
//	Prefix{s:<source>}w     zset: the source's failures in its window
//	Prefix{sp:<warehouse>}z zset: subject -> its latest failure (spray)
//	Prefix{sp:<warehouse>}a string: when the spray alarm was last raised
//	Prefix{c:<key>}         string: the id of the attempt that leases key
//	Prefix{b:<key>}         hash: Take's bucket of key: t (tokens), at (µs),
//	                        r (the last take was refused)
//
// A subject's counters (its window, lock, consecutive count and its
// per-source pair delays) change in one script over its own slot, so
// failures are counted one at a time per subject. The source's counters
// and quarantine change in another script over the source's slot. A pair
// record older than the source's last unlock counts as cleared, which is
// how UnlockSource clears the delays of every subject on that source
// without touching (or scanning for) their keys.
type Throttle struct {
	c      goredis.UniversalClient
	prefix string
	now    func() time.Time

	// owed are leases whose fate is unknown (a SET NX or a release that
	// got no answer: Redis may still apply the SET once it answers
	// again), as {lease key, id}; the next Claim releases them first, so
	// that an attempt that failed during an outage does not hold its
	// keys for ClaimTTL after Redis is back.
	mu   sync.Mutex
	owed map[[2]string]bool
}

// maxOwed bounds owed; beyond it leases are left to expire.
const maxOwed = 10000

var _ throttle.Throttle = (*Throttle)(nil)

// throttleForget is how long counters outlive their last failure when
// nothing locks them. Hard locks and quarantines are never forgotten.
const throttleForget = 7 * 24 * time.Hour

// New returns a Throttle over client. It does not own the client.
func New(client goredis.UniversalClient, opts Options) *Throttle {
	t := &Throttle{c: client, prefix: opts.Prefix, now: opts.Now}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

func (t *Throttle) subjectState(s string) string  { return t.prefix + "{t:" + s + "}st" }
func (t *Throttle) subjectWindow(s string) string { return t.prefix + "{t:" + s + "}w" }
func (t *Throttle) sourceState(s string) string   { return t.prefix + "{s:" + s + "}st" }
func (t *Throttle) sourceWindow(s string) string  { return t.prefix + "{s:" + s + "}w" }
func (t *Throttle) leaseKey(k string) string      { return t.prefix + "{c:" + k + "}" }
func (t *Throttle) bucketKey(k string) string     { return t.prefix + "{b:" + k + "}" }
func (t *Throttle) sprayKeys(w string) []string {
	return []string{t.prefix + "{sp:" + w + "}z", t.prefix + "{sp:" + w + "}a"}
}

// subjectFailScript counts a failure for a subject and one of its pairs.
// KEYS: state, window. ARGV: now, source, user failures, user window,
// user lock, hard failures, source's last unlock, ttl ms, user lock max
// (0: no growth; ln counts the locks since the last success).
// Returns {hard, locked until, pair fails, pair last}.
var subjectFailScript = goredis.NewScript(`
local now = tonumber(ARGV[1])
local uf, win, lock, hard = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local c = redis.call('HINCRBY', KEYS[1], 'c', 1)
if hard > 0 and c >= hard then redis.call('HSET', KEYS[1], 'h', '1') end
if uf > 0 then
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1] .. ':' .. seq)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - win))
  if redis.call('ZCARD', KEYS[2]) >= uf then
    local ln = redis.call('HINCRBY', KEYS[1], 'ln', 1)
    local d, mx = lock, tonumber(ARGV[9])
    if mx > 0 then
      for i = 2, ln do
        if d >= mx then break end
        d = d * 2
      end
      if d > math.max(mx, lock) then d = math.max(mx, lock) end
    end
    redis.call('HSET', KEYS[1], 'lu', string.format('%d', now + d))
    redis.call('DEL', KEYS[2])
  else
    redis.call('PEXPIRE', KEYS[2], ARGV[8])
  end
end
local pf = 'p:' .. ARGV[2]
local fails = 0
local pv = redis.call('HGET', KEYS[1], pf)
if pv then
  local sep = string.find(pv, ':', 1, true)
  local last = tonumber(string.sub(pv, sep + 1))
  if last > tonumber(ARGV[7]) then fails = tonumber(string.sub(pv, 1, sep - 1)) end
end
fails = fails + 1
redis.call('HSET', KEYS[1], pf, fails .. ':' .. ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'h', 'lu')
if f[1] then
  redis.call('PERSIST', KEYS[1])
else
  local ttl = tonumber(ARGV[8])
  if f[2] then ttl = math.max(ttl, math.floor((tonumber(f[2]) - now) / 1000) + 1) end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {f[1] or '', f[2] or '', fails, ARGV[1]}
`)

// sourceFailScript counts a failure for a source.
// KEYS: state, window. ARGV: now, device failures, device window, ttl ms.
// Returns {quarantined, last unlock}.
var sourceFailScript = goredis.NewScript(`
local now = tonumber(ARGV[1])
local df, win = tonumber(ARGV[2]), tonumber(ARGV[3])
local q = redis.call('HGET', KEYS[1], 'q')
if df > 0 and not q then
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1] .. ':' .. seq)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - win))
  if redis.call('ZCARD', KEYS[2]) >= df then
    redis.call('HSET', KEYS[1], 'q', '1')
    redis.call('DEL', KEYS[2])
    q = '1'
  else
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  end
end
if q then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {q or '', redis.call('HGET', KEYS[1], 'e') or ''}
`)

// sprayScript records a subject failing in a warehouse.
// KEYS: subjects, alarm. ARGV: now, subject, spray users, spray window,
// window ttl ms, spray period (the least time between alarms), period
// ttl ms.
// Returns {1 when this failure raised the alarm else 0, the last alarm
// (µs, ” when none)}.
var sprayScript = goredis.NewScript(`
local now, win, period = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[6])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - win))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local a = redis.call('GET', KEYS[2])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then return {0, a or ''} end
if a and now - tonumber(a) < period then return {0, a} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[7])
return {1, ARGV[1]}
`)

// unlockSourceScript lifts a quarantine, clears the source's window and
// records the unlock time (pair records up to it count as cleared).
// KEYS: state, window. ARGV: now, ttl ms.
var unlockSourceScript = goredis.NewScript(`
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 'q', 'seq')
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// Check decides whether an attempt may proceed to hashing. One pipelined
// round trip of reads; it counts nothing.
func (t *Throttle) Check(ctx context.Context, a throttle.Attempt, l throttle.Limits) (throttle.Decision, error) {
	now := t.now()
	var r checkReads
	_, err := t.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		r = t.queueCheck(ctx, p, a, l)
		return nil
	})
	if err != nil && err != goredis.Nil {
		return throttle.Decision{}, wrapErr("throttle check", err)
	}
	return r.decide(l, now), nil
}

// checkReads are the replies Check decides from.
type checkReads struct {
	sub, src *goredis.SliceCmd
	alarm    *goredis.StringCmd // nil when the spray hold is off
}

// queueCheck queues Check's reads on p.
func (t *Throttle) queueCheck(ctx context.Context, p goredis.Pipeliner, a throttle.Attempt, l throttle.Limits) checkReads {
	var r checkReads
	r.sub = p.HMGet(ctx, t.subjectState(a.Subject), "h", "lu", "p:"+a.Source)
	r.src = p.HMGet(ctx, t.sourceState(a.Source), "q", "e")
	if a.WarehouseID != "" && l.SprayHold > 0 {
		r.alarm = p.Get(ctx, t.sprayKeys(a.WarehouseID)[1])
	}
	return r
}

// decide is Check's decision from its replies.
func (r checkReads) decide(l throttle.Limits, now time.Time) throttle.Decision {
	tight := false
	if r.alarm != nil {
		tight = tightened(l, r.alarm.Val(), now)
		if tight {
			l = throttle.Tighten(l)
		}
	}
	sv, qv := r.sub.Val(), r.src.Val()
	st := throttleState{
		quarantined: redisval.Str(qv[0]) == "1",
		hard:        redisval.Str(sv[0]) == "1",
		lockedUntil: redisval.Atoi(redisval.Str(sv[1])),
	}
	if pv := redisval.Str(sv[2]); pv != "" {
		fails, last, _ := strings.Cut(pv, ":")
		if l := redisval.Atoi(last); l > redisval.Atoi(redisval.Str(qv[1])) {
			st.pairFails, st.pairLast = redisval.Atoi(fails), l
		}
	}
	d := st.decide(l, now)
	d.Tightened = tight
	return d
}

// ordered reports whether a pipeline's commands reach Redis, and are
// run, in the order they were queued: on one server (standalone, or the
// master a Sentinel names), a pipeline is one connection's stream. A
// Cluster client sends each node its part at once, so a read queued
// after a write on another node may run before it.
func (t *Throttle) ordered() bool {
	_, ok := t.c.(*goredis.Client)
	return ok
}

// ClaimCheck is Claim and then, when every key was claimed, Check, in
// one round trip where Redis runs the pipeline in order (ordered): the
// reads run after the claims, so they see every failure counted by an
// attempt that held a key before (it counts before it releases), as
// Check after Claim does. On a Cluster it is Claim, then Check. When ok
// is false or err is not nil, no key is held.
func (t *Throttle) ClaimCheck(ctx context.Context, keys []string, id string, ttl time.Duration,
	a throttle.Attempt, l throttle.Limits) (bool, throttle.Decision, error) {
	if !t.ordered() {
		ok, err := t.Claim(ctx, keys, id, ttl)
		if !ok || err != nil {
			return ok, throttle.Decision{}, err
		}
		d, err := t.Check(ctx, a, l)
		if err != nil {
			_ = t.Release(context.WithoutCancel(ctx), keys, id)
			return false, throttle.Decision{}, err
		}
		return true, d, nil
	}
	t.settleOwed(ctx)
	now := t.now()
	claims := make([]*goredis.BoolCmd, len(keys))
	var r checkReads
	_, err := t.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			claims[i] = p.SetNX(ctx, t.leaseKey(k), id, ttl)
		}
		r = t.queueCheck(ctx, p, a, l)
		return nil
	})
	if err == goredis.Nil {
		err = nil
	}
	all := true
	for _, c := range claims {
		if c.Err() != nil && c.Err() != goredis.Nil && err == nil {
			err = c.Err()
		}
		all = all && c.Err() == nil && c.Val()
	}
	if err == nil && all {
		return true, r.decide(l, now), nil
	}
	// As Claim: give back what was taken (a SET that got no answer may
	// still land; Release owes it then).
	if rerr := t.Release(context.WithoutCancel(ctx), keys, id); err == nil {
		err = rerr
	}
	if err != nil {
		return false, throttle.Decision{}, wrapErr("claim", err)
	}
	return false, throttle.Decision{}, nil
}

// SucceedRelease is Succeed and then Release, in one round trip where
// Redis runs the pipeline in order (ordered), so that the delays are
// cleared before the keys are free, as when the two are called one after
// the other (which is what it does on a Cluster).
func (t *Throttle) SucceedRelease(ctx context.Context, a throttle.Attempt, keys []string, id string) error {
	if !t.ordered() {
		err := t.Succeed(ctx, a)
		if rerr := t.Release(ctx, keys, id); err == nil {
			err = rerr
		}
		return err
	}
	_, err := t.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		t.queueSucceed(ctx, p, a)
		for _, k := range keys {
			releaseScript.Eval(ctx, p, []string{t.leaseKey(k)}, id)
		}
		return nil
	})
	if err != nil && err != goredis.Nil {
		t.owe(keys, id)
		return wrapErr("throttle succeed and release", err)
	}
	return nil
}

// tightened reports whether a spray alarm raised at alarmedAt (µs, ""
// when none) still holds at now.
func tightened(l throttle.Limits, alarmedAt string, now time.Time) bool {
	if l.SprayHold <= 0 || alarmedAt == "" {
		return false
	}
	return now.Sub(redisval.FromMicros(redisval.Atoi(alarmedAt))) < l.SprayHold
}

// Fail counts a failure against the source, the subject (window,
// consecutive count, pair) and the warehouse, and returns the decision
// for the next attempt.
func (t *Throttle) Fail(ctx context.Context, a throttle.Attempt, l throttle.Limits) (throttle.Decision, error) {
	now := t.now()
	nowUS := redisval.Micros(now)
	ttl := redisval.TTLMillis(throttleForget)
	// The warehouse first: the failure that raises the alarm is counted
	// under the limits it tightens.
	spray, tight := false, false
	if a.WarehouseID != "" && l.SprayUsers > 0 {
		res, err := sprayScript.Run(ctx, t.c, t.sprayKeys(a.WarehouseID),
			nowUS, a.Subject, l.SprayUsers, redisval.DurMicros(l.SprayWindow), redisval.TTLMillis(l.SprayWindow),
			redisval.DurMicros(l.SprayPeriod()), redisval.TTLMillis(l.SprayPeriod())).Slice()
		if err != nil {
			return throttle.Decision{}, wrapErr("throttle fail", err)
		}
		spray = redisval.Int(res[0]) == 1
		if tight = tightened(l, redisval.Str(res[1]), now); tight {
			l = throttle.Tighten(l)
		}
	}
	sv, err := sourceFailScript.Run(ctx, t.c, []string{t.sourceState(a.Source), t.sourceWindow(a.Source)},
		nowUS, l.DeviceFailures, redisval.DurMicros(l.DeviceWindow), ttl).Slice()
	if err != nil {
		return throttle.Decision{}, wrapErr("throttle fail", err)
	}
	res, err := subjectFailScript.Run(ctx, t.c, []string{t.subjectState(a.Subject), t.subjectWindow(a.Subject)},
		nowUS, a.Source, l.UserFailures, redisval.DurMicros(l.UserWindow), redisval.DurMicros(l.UserLock), l.UserHardFailures,
		redisval.Atoi(redisval.Str(sv[1])), ttl, redisval.DurMicros(l.UserLockMax)).Slice()
	if err != nil {
		return throttle.Decision{}, wrapErr("throttle fail", err)
	}
	st := throttleState{
		quarantined: redisval.Str(sv[0]) == "1",
		hard:        redisval.Str(res[0]) == "1",
		lockedUntil: redisval.Atoi(redisval.Str(res[1])),
		pairFails:   redisval.Int(res[2]),
		pairLast:    redisval.Atoi(redisval.Str(res[3])),
	}
	d := st.decide(l, now)
	d.Spray, d.Tightened = spray, tight
	return d, nil
}

// Succeed clears the (subject, source) delay and the consecutive count.
func (t *Throttle) Succeed(ctx context.Context, a throttle.Attempt) error {
	if err := t.c.HDel(ctx, t.subjectState(a.Subject), "p:"+a.Source, "c", "ln").Err(); err != nil {
		return wrapErr("throttle succeed", err)
	}
	return nil
}

// queueSucceed queues Succeed's one command (one HDEL of the pair's
// record, the consecutive count and the lock count: atomic, as the
// MULTI around two HDELs it replaces was).
func (t *Throttle) queueSucceed(ctx context.Context, p goredis.Pipeliner, a throttle.Attempt) {
	p.HDel(ctx, t.subjectState(a.Subject), "p:"+a.Source, "c", "ln")
}

// UnlockSubject clears every counter and lock of a subject.
func (t *Throttle) UnlockSubject(ctx context.Context, subject string) error {
	if err := t.c.Del(ctx, t.subjectState(subject), t.subjectWindow(subject)).Err(); err != nil {
		return wrapErr("unlock subject", err)
	}
	return nil
}

// UnlockSource lifts a quarantine and clears the source's counters and
// the delays of every subject on that source.
func (t *Throttle) UnlockSource(ctx context.Context, source string) error {
	err := unlockSourceScript.Run(ctx, t.c, []string{t.sourceState(source), t.sourceWindow(source)},
		redisval.Micros(t.now()), redisval.TTLMillis(throttleForget)).Err()
	if err != nil {
		return wrapErr("unlock source", err)
	}
	return nil
}

// Quarantined reports whether a source is quarantined.
func (t *Throttle) Quarantined(ctx context.Context, source string) (bool, error) {
	q, err := t.c.HGet(ctx, t.sourceState(source), "q").Result()
	if err == goredis.Nil {
		return false, nil
	}
	if err != nil {
		return false, wrapErr("read quarantine", err)
	}
	return q == "1", nil
}

// throttleState is what the decision needs, read from both slots.
type throttleState struct {
	quarantined bool
	hard        bool
	lockedUntil int64 // µs
	pairFails   int64
	pairLast    int64 // µs
}

// decide: a quarantined source, then a locked subject, then the pair's
// delay.
func (st throttleState) decide(l throttle.Limits, now time.Time) throttle.Decision {
	switch {
	case st.quarantined:
		return throttle.Decision{Verdict: throttle.Quarantined}
	case st.hard:
		return throttle.Decision{Verdict: throttle.UserLocked}
	}
	clean := l.SpareCleanSources && st.pairFails == 0
	if until := redisval.FromMicros(st.lockedUntil); st.lockedUntil != 0 && now.Before(until) && !clean {
		return throttle.Decision{Verdict: throttle.UserLocked, RetryAfter: until.Sub(now)}
	}
	if st.pairFails > int64(l.PairFreeFailures) {
		until := redisval.FromMicros(st.pairLast).Add(pairDelay(st.pairFails-int64(l.PairFreeFailures), l.PairMaxDelay))
		if now.Before(until) {
			return throttle.Decision{Verdict: throttle.Delay, RetryAfter: until.Sub(now)}
		}
	}
	return throttle.Decision{Verdict: throttle.Allow}
}

// pairDelay is the wait after the n-th failure beyond the free ones: 1s,
// 2s, 4s... up to max when max is positive (and never beyond 2^30 s).
func pairDelay(n int64, max time.Duration) time.Duration {
	d := time.Second
	for i := int64(1); i < n; i++ {
		if (max > 0 && d >= max) || d >= 1<<30*time.Second {
			break
		}
		d *= 2
	}
	if max > 0 && d > max {
		d = max
	}
	return d
}

// releaseScript deletes a lease that id still holds. KEYS: lease. ARGV: id.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Claim leases every key to id for ttl (SET NX PX, one command per key,
// all in one pipeline: one round trip; on Cluster the keys may live in
// different slots and go-redis sends each node its part), or none: when
// one is held, those taken are released again.
func (t *Throttle) Claim(ctx context.Context, keys []string, id string, ttl time.Duration) (bool, error) {
	t.settleOwed(ctx)
	cmds := make([]*goredis.BoolCmd, len(keys))
	_, err := t.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.SetNX(ctx, t.leaseKey(k), id, ttl)
		}
		return nil
	})
	if err == goredis.Nil {
		err = nil
	}
	all := true
	for _, c := range cmds {
		if c.Err() != nil && c.Err() != goredis.Nil && err == nil {
			err = c.Err()
		}
		all = all && c.Err() == nil && c.Val()
	}
	if err == nil && all {
		return true, nil
	}
	// Give back what was taken: the release deletes only the leases id
	// holds. When Redis did not answer, a SET may still land later (a
	// stalled Redis applies it when it resumes): Release owes it then.
	if rerr := t.Release(context.WithoutCancel(ctx), keys, id); err == nil {
		err = rerr
	}
	if err != nil {
		return false, wrapErr("claim", err)
	}
	return false, nil
}

// owe records leases of id to release once Redis answers.
func (t *Throttle) owe(keys []string, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.owed == nil {
		t.owed = map[[2]string]bool{}
	}
	for _, k := range keys {
		if len(t.owed) < maxOwed {
			t.owed[[2]string{t.leaseKey(k), id}] = true
		}
	}
}

// settleOwed releases the owed leases (each only if its id still holds
// it); at the first one Redis does not answer for, it keeps the rest for
// the next Claim.
func (t *Throttle) settleOwed(ctx context.Context) {
	t.mu.Lock()
	owed := t.owed
	t.owed = nil
	t.mu.Unlock()
	for lease := range owed {
		if err := releaseScript.Run(ctx, t.c, []string{lease[0]}, lease[1]).Err(); err != nil {
			break
		}
		delete(owed, lease)
	}
	if len(owed) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.owed == nil {
		t.owed = owed
		return
	}
	for lease := range owed {
		if len(t.owed) < maxOwed {
			t.owed[lease] = true
		}
	}
}

// Release ends the leases of keys that id still holds: one script per
// key, all in one pipeline (one round trip). The scripts are sent whole
// (EVAL), so that a Redis that lost its script cache (a restart, a
// failover, a new Cluster node) needs no second trip.
func (t *Throttle) Release(ctx context.Context, keys []string, id string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := t.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			releaseScript.Eval(ctx, p, []string{t.leaseKey(k)}, id)
		}
		return nil
	})
	if err != nil && err != goredis.Nil {
		t.owe(keys, id)
		return wrapErr("release", err)
	}
	return nil
}

// takeScript spends one take of a token bucket.
// KEYS: bucket. ARGV: now µs, burst, per minute, ttl ms.
// Returns {1 when taken else 0, 1 when this is the first refusal since
// a take, the tokens left (a string)}.
var takeScript = goredis.NewScript(`
local now, burst, per = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 't', 'at', 'r')
local tokens, at = burst, now
if v[1] then tokens, at = tonumber(v[1]), tonumber(v[2]) end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * per / 60000000)
  at = now
end
local taken, first, refused = 0, 0, '0'
if tokens >= 1 then
  tokens, taken = tokens - 1, 1
else
  refused = '1'
  if v[3] ~= '1' then first = 1 end
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'at', string.format('%d', at), 'r', refused)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {taken, first, string.format('%.17g', tokens)}
`)

// Take spends one take of key's bucket: one script, so that every
// instance spends from the same bucket.
func (t *Throttle) Take(ctx context.Context, key string, r throttle.Rate) (time.Duration, bool, error) {
	// The bucket is kept until it would be full again, and a minute more.
	refill := time.Duration(float64(r.Burst) / float64(r.PerMinute) * float64(time.Minute))
	res, err := takeScript.Run(ctx, t.c, []string{t.bucketKey(key)},
		redisval.Micros(t.now()), r.Burst, r.PerMinute, redisval.TTLMillis(refill+time.Minute)).Slice()
	if err != nil {
		return 0, false, wrapErr("take", err)
	}
	if redisval.Int(res[0]) == 1 {
		return 0, false, nil
	}
	tokens, err := strconv.ParseFloat(redisval.Str(res[2]), 64)
	if err != nil {
		return 0, false, wrapErr("take", err)
	}
	return throttle.RateWait(r, tokens), redisval.Int(res[1]) == 1, nil
}
