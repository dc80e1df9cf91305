package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/breaker"
)

// defaultStoreTimeout bounds each call to PostgreSQL or Redis: a stalled
// store fails a request within it (with a breaker, at once after the
// first couple), so that the answer is 503 within a second.
const defaultStoreTimeout = 500 * time.Millisecond

// storeGuards are the breakers of the two shared stores, one per store,
// and the deadline of each call.
type storeGuards struct {
	timeout  time.Duration
	registry *breaker.Breaker
	sessions *breaker.Breaker
}

// newStoreGuards makes the breakers, each logging when it opens (the
// store stopped answering: calls get 503 at once) and when it closes.
func newStoreGuards(timeout time.Duration, log *slog.Logger) *storeGuards {
	mk := func(store string) *breaker.Breaker {
		return breaker.New(breaker.Options{OnChange: func(open bool) {
			if open {
				log.Warn("store does not answer: calls refused (503) until a probe succeeds", "store", store, "timeout", timeout.String())
			} else {
				log.Info("store answers again", "store", store)
			}
		}})
	}
	return &storeGuards{timeout: timeout, registry: mk("postgres"), sessions: mk("redis")}
}

// register adds the breakers' metrics: floorgate_store_breaker_open and
// floorgate_store_refused_total, by store.
func (g *storeGuards) register(reg prometheus.Registerer) error {
	for store, b := range map[string]*breaker.Breaker{"postgres": g.registry, "redis": g.sessions} {
		labels := prometheus.Labels{"store": store}
		open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "floorgate_store_breaker_open",
			Help:        "1 while the store's circuit breaker refuses calls (the store stopped answering), else 0.",
			ConstLabels: labels,
		}, func() float64 {
			if b.Open() {
				return 1
			}
			return 0
		})
		refused := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "floorgate_store_refused_total",
			Help:        "Calls to the store that its open circuit breaker refused at once.",
			ConstLabels: labels,
		}, func() float64 { return float64(b.Refused()) })
		openings := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "floorgate_store_breaker_openings_total",
			Help:        "Times the store's circuit breaker opened.",
			ConstLabels: labels,
		}, func() float64 { return float64(b.Openings()) })
		for _, c := range []prometheus.Collector{open, refused, openings} {
			if err := reg.Register(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// redisGuard is the go-redis hook that bounds every command, script and
// pipeline by a deadline of its own and keeps the Redis breaker: while
// Redis is known not to answer, calls fail at once with
// breaker.ErrOpen, which the stores turn into ErrUnavailable (503).
// Blocking commands (BLPOP, XREAD BLOCK, ...) keep the bound go-redis
// gives them. Pub/sub connections do not pass through hooks: the
// subscriber bounds its own reads.
type redisGuard struct {
	timeout time.Duration
	br      *breaker.Breaker
	// stall is how long a connection may wait for the answer to what it
	// sent before it counts as dead (stallConn); 0 means redisStall.
	stall time.Duration
}

var _ goredis.Hook = redisGuard{}

// redisStall is how long any Redis connection, the fan-out's
// subscription included, may wait for an answer to what it sent.
const redisStall = 5 * time.Second

// DialHook wraps every connection go-redis dials (the pub/sub ones
// included, which no other hook sees) in a stallConn.
func (g redisGuard) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		stall := g.stall
		if stall <= 0 {
			stall = redisStall
		}
		return &stallConn{Conn: c, limit: stall}, nil
	}
}

// errStalled fails a read on a connection whose server has not answered
// what was sent to it within the stall limit. It is not a timeout, so
// that go-redis drops the connection and the fan-out's subscriber, which
// pings its quiet subscription and waits again on a timeout, gives it up
// and subscribes anew.
var errStalled = errors.New("redis: no answer within the stall limit; connection dropped")

// stallConn is a connection on which an answer must follow a request
// within limit: while something written waits for its first byte of
// answer, each read's deadline is at most limit after that write. A
// connection that waits for nothing (a quiet subscription) may idle for
// as long as its reader wants. A stalled server (SIGSTOP, a host that
// vanished without a reset) thus fails the connection instead of holding
// it for ever.
type stallConn struct {
	net.Conn
	limit time.Duration

	mu       sync.Mutex
	waiting  time.Time // when a write started waiting for an answer
	deadline time.Time // the read deadline go-redis set
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.waiting.IsZero() {
		c.waiting = time.Now()
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *stallConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	waiting, deadline := c.waiting, c.deadline
	c.mu.Unlock()
	var stallAt time.Time
	if !waiting.IsZero() {
		if at := waiting.Add(c.limit); deadline.IsZero() || at.Before(deadline) {
			stallAt = at
			_ = c.Conn.SetReadDeadline(at)
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.waiting = time.Time{}
		c.mu.Unlock()
	}
	if !stallAt.IsZero() {
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() {
			return 0, errStalled
		}
		_ = c.Conn.SetReadDeadline(deadline)
	}
	return n, err
}

func (g redisGuard) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if blockingCommand(cmd) {
			return next(ctx, cmd)
		}
		err := g.call(ctx, func(ctx context.Context) error { return next(ctx, cmd) })
		if errors.Is(err, breaker.ErrOpen) {
			cmd.SetErr(err)
		}
		return err
	}
}

func (g redisGuard) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := g.call(ctx, func(ctx context.Context) error { return next(ctx, cmds) })
		if errors.Is(err, breaker.ErrOpen) {
			for _, c := range cmds {
				c.SetErr(err)
			}
		}
		return err
	}
}

// call runs fn under the breaker and the deadline, and reports whether
// Redis answered: a reply (an error reply or redis.Nil included) is a
// success; a timeout or a broken connection a failure; a caller that
// went away says nothing.
func (g redisGuard) call(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Value(guardedKey{}) != nil {
		// A command go-redis sends inside a guarded one (the handshake
		// of a new connection): the outer call is bounded and reports.
		return fn(ctx)
	}
	if !g.br.Allow() {
		return breaker.ErrOpen
	}
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, guardedKey{}, true), g.timeout)
	err := fn(cctx)
	cancel()
	var reply goredis.Error
	switch {
	case err == nil, errors.Is(err, goredis.Nil), errors.As(err, &reply):
		g.br.Success()
	case errors.Is(ctx.Err(), context.Canceled):
	default:
		g.br.Failure()
	}
	return err
}

// guardedKey marks the context of a call the guard bounds already.
type guardedKey struct{}

// blockingCommand tells the commands that wait on the server by design.
func blockingCommand(cmd goredis.Cmder) bool {
	switch cmd.Name() {
	case "blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop", "wait", "waitaof":
		return true
	case "xread", "xreadgroup":
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.EqualFold(s, "block") {
				return true
			}
		}
	}
	return false
}
