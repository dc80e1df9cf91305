package admin

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/postgres"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	fgredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/throttle"
	thredis "github.com/floorgate/floorgate/throttle/redis"
)

// BenchmarkEnd is one forced logout on PostgreSQL and Redis, by an admin
// and by a user manager of the session's warehouse: DELETE
// /admin/v1/sessions/{id} until the session's KindEnded event reaches a
// second watcher of the fan-out (what another instance would push to its
// device); ns-to-event/op is the time from the call to that event alone
// (the answer may come later: the audit follows the end). The session is created outside the timer. It reports the
// PostgreSQL statements and Redis round trips of the call itself (the
// audit and custody writes after the end included).
func BenchmarkEnd(b *testing.B) {
	for _, role := range []string{"admin", "um_a"} {
		b.Run("caller="+role, func(b *testing.B) { benchmarkEnd(b, role) })
	}
}

func benchmarkEnd(b *testing.B, role string) {
	if err := testenv.Servers(); err != nil {
		b.Skip(err)
	}
	stmts := &pgStatements{}
	trips := &redisTrips{}
	client := testenv.Redis(b)
	prefix := testenv.RedisPrefix(b, client)
	be := backend{name: "postgres+redis", open: func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		st, err := postgres.Open(context.Background(), testenv.PostgresURL(), postgres.Options{Schema: testenv.PostgresSchema(t), MaxConns: 8, Tracer: stmts})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		// Its own client, so that the hook counts this store's trips
		// only (not the watcher's).
		c := goredis.NewClient(&goredis.Options{Addr: client.(*goredis.Client).Options().Addr})
		b.Cleanup(func() { _ = c.Close() })
		c.AddHook(trips)
		opts := fgredis.Options{Prefix: prefix, Now: now}
		return st, fgredis.New(c, opts), thredis.New(c, thredis.Options{Prefix: opts.Prefix, Now: opts.Now})
	}}
	e := newEnv(b, be)
	// The clock stands still: sessions do not expire under the bench.
	other := fgredis.New(client, fgredis.Options{Prefix: prefix, Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{}, 1)
	type heard struct {
		id string
		at time.Time
	}
	ended := make(chan heard, 16)
	go func() {
		_ = other.Watch(ctx, func(bool) {
			select {
			case ready <- struct{}{}:
			default:
			}
		}, func(ev sessions.Event) {
			if ev.Kind == sessions.KindEnded && ev.Command != nil {
				ended <- heard{ev.Command.SessionID, time.Now()}
			}
		})
	}()
	<-ready
	benchEndWiring(b, e)
	tok := e.tokens[role]
	hc := &http.Client{}
	// end returns how long the event took to arrive after the call began.
	end := func(id string) time.Duration {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+BasePath+"/sessions/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("DELETE /sessions/%s = %d, want 200", id, resp.StatusCode)
		}
		for got := range ended {
			if got.id == id {
				return got.at.Sub(start)
			}
		}
		return 0
	}
	// The first call warms the connections and the caches.
	end(e.mkSession(e.userA, e.devA).Session.ID)
	var nStmts, nTrips int64
	var toEvent time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := e.mkSession(e.userA, e.devA).Session.ID
		s0, t0 := stmts.n.Load(), trips.n.Load()
		b.StartTimer()
		toEvent += end(id)
		b.StopTimer()
		nStmts += stmts.n.Load() - s0
		nTrips += trips.n.Load() - t0
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(toEvent.Nanoseconds())/float64(b.N), "ns-to-event/op")
	b.ReportMetric(float64(nStmts)/float64(b.N), "pg-stmts/op")
	b.ReportMetric(float64(nTrips)/float64(b.N), "redis-trips/op")
}

// pgStatements counts the PostgreSQL statements sent (each one round trip).
type pgStatements struct{ n atomic.Int64 }

func (s *pgStatements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	s.n.Add(1)
	return ctx
}

func (s *pgStatements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// redisTrips counts the commands and pipelines a Redis client sends.
type redisTrips struct{ n atomic.Int64 }

func (r *redisTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *redisTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *redisTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchEndWiring runs the instance's fan-out watcher for its API, as
// cmd/floorgate does: the manager-token cache is on once it has
// subscribed. The clock stands still, so after the first call every
// token check is answered from memory (on a real clock, one call per
// token per -manager-token-cache reads the registry).
func benchEndWiring(tb testing.TB, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.sess.Watch(ctx, func(reset bool) {
			e.api.Subscribed(reset)
			select {
			case ready <- struct{}{}:
			default:
			}
		}, e.api.Watched)
	}()
	tb.Cleanup(func() { cancel(); <-done })
	<-ready
}
