package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/floorgate/floorgate/internal/breaker"
)

// guard is the pgx tracer that bounds every call to the database: each
// wait for a pooled connection (a connect included), each statement
// (BEGIN and COMMIT too), batch, copy and prepare runs under a deadline
// of its own. pgx runs the rest of a call with the context a tracer's
// Start returns, which is what makes a tracer the one place that covers
// every call, those in transactions included.
//
// The breaker is asked at the one step every call starts with, taking a
// pooled connection: while the database is known not to answer, that
// fails at once. Statements report whether the server answered; a
// connection handed out from the pool says nothing either way, so only
// a failure to get one is reported.
type guard struct {
	timeout time.Duration    // 0: no deadline of the guard's
	br      *breaker.Breaker // nil: no breaker
}

// callKey holds the *call a Start made in the context it returned.
type callKey struct{}

// call is one bounded call: what its End releases and reports.
type call struct {
	parent  context.Context
	cancel  context.CancelFunc
	refused bool
	acquire bool
}

// unboundedKey marks a context whose calls have no deadline of the
// guard's: the migrations, which may wait for another instance's.
type unboundedKey struct{}

// unbounded returns ctx with the guard's deadlines lifted.
func unbounded(ctx context.Context) context.Context {
	return context.WithValue(ctx, unboundedKey{}, true)
}

// start bounds a call; acquire says it takes a pooled connection, the
// step the breaker gates.
func (g *guard) start(ctx context.Context, acquire bool) context.Context {
	if ctx.Value(unboundedKey{}) != nil {
		// Shadow any outer call, so that this End reports nothing.
		return context.WithValue(ctx, callKey{}, (*call)(nil))
	}
	if acquire && g.br != nil && !g.br.Allow() {
		// An ended context fails the call before anything is sent.
		cctx, cancel := context.WithCancelCause(ctx)
		cancel(breaker.ErrOpen)
		return context.WithValue(cctx, callKey{}, &call{parent: ctx, cancel: func() {}, refused: true})
	}
	var cctx context.Context
	var cancel context.CancelFunc
	if g.timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, g.timeout)
	} else {
		cctx, cancel = context.WithCancel(ctx)
	}
	return context.WithValue(cctx, callKey{}, &call{parent: ctx, cancel: cancel, acquire: acquire})
}

func (g *guard) end(ctx context.Context, err error) {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		return
	}
	c.cancel()
	if c.refused || g.br == nil {
		return
	}
	var pgErr *pgconn.PgError
	switch {
	case err == nil && c.acquire:
		// A pooled connection may be handed out without a word from the
		// server: the statement run on it reports.
	case err == nil, errors.Is(err, pgx.ErrNoRows), errors.As(err, &pgErr):
		// The server answered (an error of ours or a refusal included).
		g.br.Success()
	case errors.Is(c.parent.Err(), context.Canceled):
		// The caller went away: that says nothing about the database.
	default:
		g.br.Failure()
	}
}

func (g *guard) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return g.start(ctx, false)
}

func (g *guard) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	g.end(ctx, d.Err)
}

func (g *guard) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return g.start(ctx, false)
}

func (g *guard) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (g *guard) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	g.end(ctx, d.Err)
}

func (g *guard) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	return g.start(ctx, false)
}

func (g *guard) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromEndData) {
	g.end(ctx, d.Err)
}

func (g *guard) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	return g.start(ctx, false)
}

func (g *guard) TracePrepareEnd(ctx context.Context, _ *pgx.Conn, d pgx.TracePrepareEndData) {
	g.end(ctx, d.Err)
}

func (g *guard) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	return g.start(ctx, true)
}

func (g *guard) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, d pgxpool.TraceAcquireEndData) {
	g.end(ctx, d.Err)
}

// ping runs the pool's Ping under the guard: pgx sends a ping without a
// tracer, so its round trip is bounded and reported here (the pool's
// Acquire inside it is gated as any other).
func (g *guard) ping(ctx context.Context, pool *pgxpool.Pool) error {
	ctx = g.start(ctx, false)
	err := pool.Ping(ctx)
	g.end(ctx, err)
	return err
}
