package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/sessions"
)

// Options configure a Store.
type Options struct {
	// Prefix starts every key and the fan-out channel name, so that
	// several deployments (or tests) share one Redis. It must not contain
	// '{' or '}': the hash tags that follow it decide the Cluster slots.
	Prefix string
	// Now is the clock every time rule reads; nil means time.Now.
	Now func() time.Time
	// TouchEvery is the least time between two writes of a session's
	// last activity; 0 means 5 seconds.
	TouchEvery time.Duration
	// Logger receives the few problems that are handled rather than
	// returned (a queue cleanup that failed, a lost subscription); nil
	// means slog.Default().
	Logger *slog.Logger
}

// DefaultTouchEvery is the touch interval when Options.TouchEvery is 0.
const DefaultTouchEvery = 5 * time.Second

const (
	// journalGrace is how old a journal entry must be before Sweep takes
	// over the operation that wrote it (it probably died).
	journalGrace = 30 * time.Second
	// deadGrace is how old an index entry must be before a reader that
	// finds no session behind it removes it (a Create in flight writes
	// its index entries before the session itself).
	deadGrace = time.Minute
	// sweepBatch bounds the items one Sweep looks at per deadline set.
	sweepBatch = 500
)

// Store is the Redis sessions.Store. It is safe for concurrent use and
// for many instances sharing one Redis and one Prefix.
type Store struct {
	c          goredis.UniversalClient
	prefix     string
	now        func() time.Time
	touchEvery time.Duration
	log        *slog.Logger
	channel    string
	// cluster: the client is a Cluster client, whose pipelines run per
	// node at once (no order between slots).
	cluster bool
}

var _ sessions.Store = (*Store)(nil)

// New returns a Store over client. It starts no goroutines: Watch and
// the Sweep loop are run by the caller.
func New(client goredis.UniversalClient, opts Options) *Store {
	s := &Store{
		c:          client,
		prefix:     opts.Prefix,
		now:        opts.Now,
		touchEvery: opts.TouchEvery,
		log:        opts.Logger,
		channel:    opts.Prefix + "events",
	}
	_, s.cluster = client.(*goredis.ClusterClient)
	if s.now == nil {
		s.now = time.Now
	}
	if s.touchEvery <= 0 {
		s.touchEvery = DefaultTouchEvery
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return wrapErr("ping", err)
	}
	return nil
}

// --- keys -----------------------------------------------------------------

// A bucket is three base64url characters derived from the user id. Every
// key of a user lives under the hash tag {<bucket>}, and session ids,
// command ids and tokens end with the bucket, so that a token or an id
// alone names its keys and one Lua script can touch all of a user's keys
// in Redis Cluster.
const bucketLen = 3

func bucketOf(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(sum[:3])[:bucketLen]
}

// bucketFromID returns the bucket an id or token ends with.
func bucketFromID(id string) (string, bool) {
	if len(id) < 4+bucketLen {
		return "", false
	}
	b := id[len(id)-bucketLen:]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return b, true
}

// bp is the key prefix of a bucket: Prefix{b}.
func (s *Store) bp(b string) string { return s.prefix + "{" + b + "}" }

func (s *Store) sessionKey(b, sid string) string { return s.bp(b) + "s:" + sid }
func (s *Store) tokenKey(b, th string) string    { return s.bp(b) + "t:" + th }
func (s *Store) commandKey(b, cid string) string { return s.bp(b) + "c:" + cid }
func (s *Store) userKey(b, uid string) string    { return s.bp(b) + "u:" + uid }
func (s *Store) outboxKey(b string) string       { return s.bp(b) + "ob" }

func (s *Store) deviceSessionsKey(dev string) string { return s.prefix + "{d:" + dev + "}s" }
func (s *Store) deviceQueueKey(dev string) string    { return s.prefix + "{d:" + dev + "}q" }
func (s *Store) onlineKey(dev string) string         { return s.prefix + "{d:" + dev + "}on" }
func (s *Store) warehouseKey(wh string) string       { return s.prefix + "{w:" + wh + "}s" }

// Global sorted sets, one key (so one slot) each.
func (s *Store) absKey() string     { return s.prefix + "{g}abs" }
func (s *Store) idleKey() string    { return s.prefix + "{g}idle" }
func (s *Store) warnKey() string    { return s.prefix + "{g}warn" }
func (s *Store) journalKey() string { return s.prefix + "{g}journal" }
func (s *Store) epochKey() string   { return s.prefix + "{g}epoch" }

// --- ids ------------------------------------------------------------------

// newID returns prefix, 26 characters that sort by time (milliseconds,
// then 80 random bits) and the bucket.
func newID(prefix string, now time.Time, bucket string) string {
	return id.NewSuffixed(prefix, now, bucket)
}

// newToken is a sessions token with the bucket appended, so that its
// index key is in the user's slot.
func newToken(bucket string) sessions.Token {
	return sessions.Token(sessions.NewToken().Reveal() + bucket)
}

func randomHex() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sessions/redis: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%x", b)
}

// --- errors and conversions ----------------------------------------------

// wrapErr translates a driver error: redis.Nil is ErrNotFound, a context
// error stays itself, anything else is ErrUnavailable (callers fail
// closed). The driver's text is kept for the log, not its type.
func wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis %s: %w", op, sessions.ErrNotFound)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("redis %s: %w: %w", op, sessions.ErrUnavailable, err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("redis %s: %w: %s", op, sessions.ErrUnavailable, ne.Error())
	}
	return fmt.Errorf("redis %s: %w: %s", op, sessions.ErrUnavailable, err.Error())
}
