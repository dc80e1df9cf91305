package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/tracelog"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/breaker"
)

// Options tune a Store. The zero value takes the defaults.
type Options struct {
	// Schema, when set, is the only schema on the search_path of every
	// pooled connection: the registry's tables live there. It must exist.
	// Tests use it to give each test its own schema; by default the
	// database's own search_path applies (normally "public").
	Schema string
	// MaxConns caps the pool; 0 keeps pgxpool's default (the larger of 4
	// and the number of CPUs) or the URL's pool_max_conns.
	MaxConns int32
	// CallTimeout bounds every statement and every wait for a pooled
	// connection (a connect included), each on its own, so that a
	// database that stops answering fails a call with ErrUnavailable
	// rather than holding it; 0 means no bound of the store's own (the
	// caller's context decides, as in tests): the binary always sets one
	// (-store-timeout). The migrations at Open are not bounded (they may
	// wait for another instance's).
	CallTimeout time.Duration
	// Breaker, when set, refuses calls at once while the database is
	// known not to answer (docs/OPERATIONS.md); the store reports to it
	// whether each call was answered.
	Breaker *breaker.Breaker
	// Logger, when set, receives pgx's own log of the calls that failed
	// (statement, connect, acquire), at debug level and without the
	// statements' arguments (they may be hashes or token digests).
	Logger *slog.Logger
	// Tracer, when set, also sees every statement (BEGIN and COMMIT
	// included): the benchmarks count round trips with it.
	Tracer pgx.QueryTracer
}

// defaultConnectTimeout bounds each connection attempt when the URL has
// no connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// Store is the PostgreSQL devices.Store. It is safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	guard *guard
}

var _ devices.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, as pgx accepts), applies the pending migrations and returns the
// store. At most one Options may be given. Open fails with an error
// matching devices.ErrUnavailable when the database cannot be reached.
func Open(ctx context.Context, url string, opts ...Options) (*Store, error) {
	if len(opts) > 1 {
		return nil, errors.New("postgres: open: at most one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included: keep it out.
		return nil, errors.New("postgres: open: cannot parse the database URL")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without one, a silent host holds a dial for minutes: fail
		// closed sooner.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if o.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = quoteIdent(o.Schema)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	g := &guard{timeout: o.CallTimeout, br: o.Breaker}
	tracers := []pgx.QueryTracer{g}
	if o.Logger != nil {
		tracers = append(tracers, &tracelog.TraceLog{Logger: pgxLogger(o.Logger), LogLevel: tracelog.LogLevelError})
	}
	if o.Tracer != nil {
		tracers = append(tracers, o.Tracer)
	}
	cfg.ConnConfig.Tracer = g
	if len(tracers) > 1 {
		cfg.ConnConfig.Tracer = multitracer.New(tracers...)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate("open", err)
	}
	s := &Store{pool: pool, guard: g}
	if err := s.migrate(unbounded(ctx)); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.guard.ping(ctx, s.pool); err != nil {
		return translate("ping", err)
	}
	return nil
}

// Close closes the pool, waiting for the connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// quoteIdent quotes name as a PostgreSQL identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// callerError carries an error returned by a caller's update function out
// of a transaction untouched: translate must not rewrite it.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// inTx runs fn in a transaction and commits when it returns nil. Errors
// from the database are translated for op; a callerError comes back as
// the caller's own error.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, fn)
	if err == nil {
		return nil
	}
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	return translate(op, err)
}

// utc normalises a time for storage and comparison: UTC, microseconds
// (what timestamptz keeps), truncated rather than rounded so that a
// round trip equals t.Truncate(time.Microsecond).
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// utcPtr is utc for an optional time.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

// fromDB turns a time read from the database into UTC.
func fromDB(t *time.Time) {
	*t = t.UTC()
}

// fromDBPtr is fromDB for an optional time.
func fromDBPtr(t **time.Time) {
	if *t != nil {
		u := (*t).UTC()
		*t = &u
	}
}

// nullIfEmpty stores "" as NULL, for columns unique only when present.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// emptyIfNull reads such a column back.
func emptyIfNull(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Page limits.
const (
	defaultLimit = 100
	maxLimit     = 500
)

// limit returns the page size p asks for, within bounds.
func limit(p devices.Page) int {
	switch {
	case p.Limit <= 0:
		return defaultLimit
	case p.Limit > maxLimit:
		return maxLimit
	}
	return p.Limit
}

// where builds the WHERE clause and the arguments of a list query.
type where struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("$%d", len(w.args))
}

// add adds a condition.
func (w *where) add(format string, args ...any) {
	w.conds = append(w.conds, fmt.Sprintf(format, args...))
}

// String renders the clause, "" when there is no condition.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likePrefix escapes s for LIKE and appends the wildcard.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// pgxLogger routes pgx's log through log, at debug level, leaving out
// the statements' arguments.
func pgxLogger(log *slog.Logger) tracelog.Logger {
	return tracelog.LoggerFunc(func(ctx context.Context, _ tracelog.LogLevel, msg string, data map[string]any) {
		attrs := make([]slog.Attr, 0, len(data)+1)
		attrs = append(attrs, slog.String("component", "pgx"))
		for k, v := range data {
			if k == "args" {
				continue
			}
			if err, ok := v.(error); ok {
				v = err.Error()
			}
			attrs = append(attrs, slog.Any(k, v))
		}
		log.LogAttrs(ctx, slog.LevelDebug, "postgres: "+msg, attrs...)
	})
}
