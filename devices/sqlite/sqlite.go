package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/floorgate/floorgate/devices"
)

// Store is the SQLite devices.Store. It is safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // one connection, BEGIN IMMEDIATE
	r    *sql.DB // query_only pool
}

var _ devices.Store = (*Store)(nil)

// busyTimeout is how long a connection waits for a lock held by another
// process on the same file before giving up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Open opens (creating it and its directory when needed) the registry
// file at path, brings its schema up to date and returns the Store.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %q: the path must be non-empty and hold no '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	// Create the file readable by its owner only; SQLite gives the -wal
	// and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	f.Close()
	common := "_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{path: path, w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	n := max(2, min(runtime.GOMAXPROCS(0), 8))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// Ping checks that the file can be read and written.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return translate(ctx, "ping", err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return translate(ctx, "ping", err)
	}
	return nil
}

// Close closes the file. The WAL is checkpointed when the last
// connection closes.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %v", s.path, err)
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered file of migrations/.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: the name must start with a positive number and '_'", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// migrate applies, in one write transaction, every embedded migration the
// file has not seen. A file migrated by a newer binary is refused.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return s.write(ctx, "migrate", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return translate(ctx, "migrate", err)
		}
		// Migrations are applied by version, not up to the highest one
		// seen: branches of one release number theirs apart, and one
		// merged later may bring a lower number.
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return translate(ctx, "migrate", err)
		}
		done := map[int]bool{}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return translate(ctx, "migrate", err)
			}
			done[v] = true
		}
		if err := rows.Close(); err != nil {
			return translate(ctx, "migrate", err)
		}
		known := map[int]bool{}
		for _, m := range ms {
			known[m.version] = true
		}
		for v := range done {
			if !known[v] {
				return fmt.Errorf("migrate: the file has schema version %d, which this binary does not know (a newer binary migrated it)", v)
			}
		}
		for _, m := range ms {
			if done[m.version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return translate(ctx, "migrate "+m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().UTC().UnixNano()); err != nil {
				return translate(ctx, "migrate "+m.name, err)
			}
		}
		return nil
	})
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the single
// writer connection) and commits when fn returns nil. fn's error is
// returned as it is: fn translates its own database errors.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return translate(ctx, op, err)
	}
	// The writer has one connection: a panic in fn must not leave it
	// inside a transaction.
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return translate(ctx, op, err)
	}
	return nil
}

// read runs fn in a read transaction, so that several queries see one
// snapshot.
func (s *Store) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return translate(ctx, op, err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// translate turns a driver error into the devices sentinels, with op for
// context and the driver's message as text: no row is ErrNotFound, a
// unique violation ErrExists, a missing reference ErrNotFound, a value
// the schema refuses ErrInvalid, and everything else (a database that is
// busy, closed or unreadable, a context that ended, an error we do not
// know) ErrUnavailable: callers fail closed.
func translate(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, devices.ErrNotFound)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w: %w", op, devices.ErrUnavailable, ctxErr)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: %w", op, devices.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch code {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", op, devices.ErrExists)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: a referenced record: %w", op, devices.ErrNotFound)
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return fmt.Errorf("%s: %w: %s", op, devices.ErrInvalid, se.Error())
		}
		switch code & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%s: %w: %s", op, devices.ErrUnavailable, se.Error())
		}
		return fmt.Errorf("%s: %w: %s", op, devices.ErrUnavailable, se.Error())
	}
	return fmt.Errorf("%s: %w: %s", op, devices.ErrUnavailable, err.Error())
}

// Times are INTEGER unix nanoseconds; the zero time is 0.

func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func nullTS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ts(*t), Valid: true}
}

func fromNullTS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromTS(n.Int64)
	return &t
}

// nullString stores "" as NULL.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// limit applies Page's rule: 0 means 100, at most 500.
func limit(p devices.Page) int {
	switch {
	case p.Limit <= 0:
		return 100
	case p.Limit > 500:
		return 500
	}
	return p.Limit
}

// where builds a WHERE clause from conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (list)" with list passed as one JSON array.
func (w *where) in(col string, list []string) {
	b, _ := jsonMarshal(list)
	w.add(col+" IN (SELECT value FROM json_each(?))", string(b))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// list runs a keyset query: sel + where + order + limit, scanning each
// row with scan.
func list[T any](ctx context.Context, q queryer, op, sel string, w *where, order string, n int, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, sel+w.String()+" ORDER BY "+order+" LIMIT ?", append(w.args, n)...)
	if err != nil {
		return nil, translate(ctx, op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, translate(ctx, op, err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, op, err)
	}
	return out, nil
}

// likePrefix returns a LIKE pattern matching values that start with s,
// with s's own wildcards escaped (ESCAPE '\').
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}
