// Package redis is the production sessions backend: a sessions.Store
// (New) over a go-redis v9
// UniversalClient, so standalone Redis, Sentinel and Redis Cluster work
// unchanged. It passes sessions/sessionstest against standalone Redis and
// a 3-primary Cluster.
//
// It imports the standard library, go-redis and sessions; never devices,
// gateway or admin. It keeps no goroutines running: Watch runs on the
// caller's goroutine (a context.AfterFunc closes its subscription when
// the context ends), the caller runs Sweep on a ticker on every
// instance, and the only goroutines it starts (up to 8, ending many
// buckets at once, below) end before the call that started them
// returns.
//
// # Keys
//
// Every key starts with Options.Prefix (P below), which must not contain
// '{' or '}'. A user's keys live under the hash tag of the user's bucket
// b: three base64url characters of SHA-256(user id). Session ids, command
// ids and tokens end with their bucket, so an id or a token alone names
// its keys, and one Lua script reaches every key of a user in one slot.
// (Users that share a bucket share a slot; that is harmless.)
//
//	key                    type    holds                                          GC
//	P{b}u:<user>           zset    the user's session ids, score = created        longest session + 1h
//	P{b}s:<session id>     hash    u n d w c(reated) a(ctive) x(pires) i(dle)     absolute + 1h
//	                               p(in change) th (token hash) wn (warned)
//	P{b}t:<token hash>     string  session id                                     absolute + 1h
//	P{b}c:<command id>     hash    id s u d w r(eason) bd bw ba (by) c(reated)    24h + 1h
//	                               dv (delivered) ak (acked)
//	P{b}ob                 zset    outbox: commands not yet in their device       removed on drain
//	                               queue, score = created
//	P{d:<device>}s         set     session ids on the device                      absolute + 1h
//	P{d:<device>}q         zset    the device's command queue, score = created    24h + 1h
//	P{d:<device>}on        string  "<until>:<origin>" presence                     ttl + 1h
//	P{w:<warehouse>}s      zset    session ids, all scores 0 (pages by lex)       entries removed on end
//	P{w:<warehouse>}eb     hash    t (the last warehouse logout), r (its reason):  7 days + 1h
//	                               sessions created before t are refused
//	P{g}abs, P{g}idle      zset    session id by absolute / idle deadline         entries removed on end
//	P{g}warn               zset    session id by warning time                     entries removed when sent
//	P{g}journal            zset    "<op>:<bucket>" of operations in flight        removed on finish
//	P{g}bulk               zset    "<time>:<reason>:<warehouse>" of warehouse     removed on finish
//	                               ends whose records are being written
//	P{g}epoch              string  random, written when missing (Watch)           none
//	P+"events"             channel the fan-out (pub/sub)
//
// Times are Unix microseconds, stored as strings and scores (exact in a
// double). Expiry is decided from them against Options.Now; key TTLs
// only collect garbage, and they are relative, so a test clock far from
// the wall clock is fine.
//
// The command id is "cmd_" + the session id without "ses_": a session
// ends once, so it has one command, and ids can be made inside Lua.
//
// # Cluster
//
// Lua scripts touch one bucket's slot only: the keys they declare plus
// keys of the same bucket whose names they build from ids they read
// (the sessions Create evicts, the token index of an ended session). The
// indexes that are not per user (device, warehouse, deadline sets,
// journal, queues, presence) are written by plain commands or pipelines,
// which go-redis splits per node; nothing uses MGET or another
// multi-key command across slots. The three deadline sets and the
// journal share the one slot {g}: each is a single key either way. The
// one exception is Announce on a single Redis (standalone or Sentinel,
// never a Cluster client): its script reads, besides the device's two
// keys in {d:<device>}, the session and command hashes they name, in
// their users' buckets, so that a device's welcome costs one round trip.
// On Cluster the same script reads the device's keys only, and one
// pipeline reads the hashes. MarkOffline is the other: on a single Redis
// its compare-and-delete script takes up to 500 devices' presence keys
// at once (one round trip per batch of closed sockets); on Cluster it
// runs the same script per key, in one pipeline.
//
// Validate is one EVALSHA on the token's own key (its bucket comes from
// the token), which reads the session hash in the same slot, decides
// idle and absolute expiry, and writes last_active only when TouchEvery
// (default 5 s) has passed since the stored value. The reply is one
// string, to keep parsing off the hot path.
//
// # Create, and why each failure in between is safe
//
//  1. One pipeline: write the session id into the device set, the
//     warehouse set and the three deadline sets, add a journal entry for
//     the user's bucket, and read the device set. An index entry whose
//     session does not exist is skipped by every reader and dropped
//     later (ByWarehouse drops such entries once older than a minute;
//     Sweep drops deadline entries it finds without a session), so if
//     anything below fails these entries only cost memory. The reverse
//     order would be unsafe: a session that exists but is missing from
//     the device or warehouse index would survive EndDevice or
//     EndWarehouse.
//  2. End what the device set held in other buckets (ReasonReplaced,
//     "by" = this login) through the end script of each session's own
//     bucket, as below: those sessions belong to other users, whose keys
//     are in other slots. This runs before the user's step, so a crash
//     after it leaves the device signed out (the same as a logout, never
//     a session valid that should not be). Under deny_new it runs after
//     step 3 instead, because a refusal must change nothing; a crash in
//     between then leaves the previous user signed in on the device
//     until the next login there, which is the one window where two
//     users can hold one device.
//  3. The create script over the user's bucket, atomically: end the
//     bucket's sessions still open on this device (ReasonReplaced; they
//     do not count toward the cap, so a user signing in again on the
//     same device evicts no one), drop ids of vanished sessions from the
//     user set, count the live ones (idle or expired ones do not count;
//     Sweep ends them), evict the oldest by created time (then id) until
//     there is room, or return the deny marker having changed nothing,
//     then write the session hash, the token index and the set member.
//     Ending writes each command hash and adds it to the bucket's outbox
//     in the same script: a command exists from the moment its session
//     has ended.
//  4. Finish the evictions (below), then one pipeline that re-reads the
//     device set and removes the unused journal entry. Of the sessions on
//     a device the newest id stays: a login that ran at the same time on
//     the same device and missed this one in step 2 is ended here
//     (ReasonReplaced), so concurrent logins on one device converge on
//     one session.
//
// # Ending, and why no command is lost
//
// Every end (End, EndUser, EndDevice, EndWarehouse, evictions, Sweep)
// first writes a journal entry "<op>:<bucket>" with the time, then runs
// the end script of the bucket: it deletes the session hash, the token
// index and the user set member, writes the command hash and adds it to
// the outbox, in one step, so a token stops validating exactly when its
// command comes to exist. Then finish: (a) one pipeline queues each
// command in its device's queue and removes the session from the device,
// warehouse and deadline indexes; (b) one pipeline publishes a KindEnded
// event per command, takes the commands out of the outbox and removes
// the journal entry. If the process dies or Redis fails anywhere after
// the script, the journal entry stays; Sweep, on any instance, takes
// over entries older than 30 s: it drains the bucket's outbox into the
// device queues and publishes again. A duplicate event is harmless (same
// command id); a lost one cannot happen while the journal holds it.
//
// End (one session: the forced logout an admin waits for), EndUser and
// EndDevice on one bucket (no by) do the same in fewer round trips
// before the push: their script publishes each KindEnded event itself
// (cjson, created_at written by Go as RFC 3339), so the event leaves
// with the end, and on a single server the journal ZADD goes in the
// same pipeline as the script, ahead of it on the one connection (a NOSCRIPT answer, which did not run, is run again with
// EVAL). On Cluster the journal keeps its own round trip first, since a
// Cluster pipeline has no order between slots. finish then queues the
// commands and clears the outbox and the journal without publishing
// again. One round trip before the event instead of four
// (BenchmarkEnd: 421 to 152 µs from the call to the event on a busy
// machine).
//
// Ends that span many buckets (EndWarehouse, EndDevice, Create's step 2)
// journal all their buckets in one ZADD first, then cut them into chunks
// of 16 buckets and run up to 8 chunks at once, each in its own
// goroutine: one pipeline of the chunk's end scripts (EVALSHA; a bucket
// answered NOSCRIPT, which did not run, is run again with EVAL), then
// the chunk's finish as above, removing the journal members of its own
// buckets. Each script is still one bucket's slot, and each chunk
// publishes as soon as its sessions have ended, so the first devices
// hear within a few round trips. EndWarehouse does this for the whole
// warehouse index at once, after its one event and without a KindEnded
// event per session (below). A warehouse of 5,000 sessions,
// nearly one bucket each, went from 5,000 sequential script round trips
// (1.2 to 1.4 s on the 2-core test machine) to 0.24 to 0.45 s, and its
// first event from 170 ms to about 10 ms (BenchmarkEndWarehouse; see
// docs/BENCHMARKS.md). The finish also removes a chunk's sessions from
// the warehouse and deadline indexes with one ZREM per key, not one per
// session.
//
// # A warehouse at once
//
// EndWarehouse (bulk.go) first writes the warehouse's "ended before"
// watermark and reads its index (one script in the warehouse's slot),
// reads the sessions (one pipeline) and publishes one KindWarehouseEnded
// event carrying every command, so that every instance pushes the whole
// warehouse's logouts at once; only then are the records written as
// above, with the same time, but without a KindEnded event per session
// (every instance has applied the one event; 6,333 more events cost
// each instance 6,333 decodes while the frames were going out). The one
// event is published again once the records are written, for the
// sockets opened in between (their welcome could not carry a command
// not yet queued); a socket pushes a command once. The event goes out
// in a compact form (bulkevent.go: "FGB1", then the warehouse, reason
// and time once, then session, user and device id per command, each
// length-prefixed; about 100 bytes per command instead of 250 of JSON),
// which Watch decodes by slicing the payload. Every other event, and a
// warehouse event whose commands differ in warehouse, reason, time or
// by, is JSON as before.
//
// Custody: no instance notes the custody ends of a warehouse's event;
// its caller (the admin API) records them, once, with its actor, before
// it calls finish. If the caller dies before that, finish never runs:
// Sweep finishes the P{g}bulk entry after 30 s and publishes a KindEnded
// event for every session it ends, which every instance notes for
// custody as any other end.
//
// A rolling upgrade: an instance of the previous version cannot parse
// the compact event and drops it (a "malformed event" warning), and
// hears no KindEnded events for the warehouse either, so its sockets
// get their logouts from its re-check of their queues (every 10 s) or
// on their next connect, not at once; it still applies the JSON
// warehouse event a previous-version admin instance publishes, and this
// version applies both forms. Upgrade every instance before relying on
// the 200 ms figure.
//
// Validate refuses a session created before
// its warehouse's watermark (read inside its script on a single server,
// by one more HGET on Cluster), Announce leaves such a session out of a
// connecting device's state (inside its script; on Cluster one HMGET
// per session found), and Create ends a session it has just
// written if the watermark is later than its time, so that a login
// racing the logout is either ended, with its command, or created after
// it. StartEndWarehouse stops after the event (journaled in P{g}bulk
// first) and hands back the writing of the records, so that the admin
// call answers before them: meanwhile Command answers a refused
// session's command as pending, and Delivered and Ack of such a command
// write their fields into its hash ahead of the record, whose end
// script adds the rest (one script on a single server; on Cluster the
// session and the watermark are read first). Sweep finishes a P{g}bulk entry older than 30 s.
//
// Ack sets acked_at on the command first and removes it from the queue
// second; Pending skips acknowledged and expired commands anyway.
// DeliveredMany and AckMany (marks.go) do the same for a batch: one
// pipeline of one script per command, which on a single server also
// marks a warehouse end's command ahead of its record in the same step
// (so a record written meanwhile cannot make it miss), and for acks one
// pipeline of the queue removals; on Cluster the commands with no record
// yet take two more pipelines (their sessions, their watermarks).
//
// # Fan-out
//
// Publish sends JSON events on P+"events" (a warehouse's end in its
// compact form, above). Watch subscribes, calls fn
// for each event, and when the subscription fails subscribes again after
// a jittered backoff from 50 ms to 1 s; a quiet channel is pinged every
// 30 s to detect a dead connection. Pub/sub is at most once: the device
// queue is the truth, read when a device (re)connects and by the
// gateway's re-check of its sockets (PendingMany, one pipeline per
// batch). Each time Watch has subscribed it reads P{g}epoch (writing a
// random one when missing) and calls ready, with reset
// when the value is not the one it read before: a Redis that restarted
// without its data has lost the key with everything else.
//
// # Sweep
//
// Sweep reads the due part of P{g}abs and P{g}idle (ZRANGEBYSCORE up to
// now, 500 at a time) and runs the sweep script over each session's
// bucket: it ends the session (ReasonIdle if its idle end came first,
// else ReasonExpired) if its stored times say so, or reports its real
// deadlines. Validate does not touch the idle set: a session touched
// since its entry was written is found live when the old deadline comes
// due and its entry is moved to the real idle end (at most one extra
// check per idle period, instead of a write per touch). Warnings come
// from P{g}warn: the warn script sets the session's "wn" field once and
// only then is the warning published.
//
// Every instance may sweep at once. The claim is the bucket script
// itself, not a ZREM: the script ends a session (or marks it warned)
// only if that has not happened, so exactly one instance makes each
// command or warning, and an entry leaves its deadline set only after
// that decision. A ZREM-first claim would lose the end of a session if
// the claiming instance died between the ZREM and the script; here a
// dying sweeper leaves the entry for the next one.
package redis
