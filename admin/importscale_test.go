package admin

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/postgres"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	fgredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/throttle"
	thredis "github.com/floorgate/floorgate/throttle/redis"
)

// importBlock is the rows of one import, as devicesim setup sends them.
const importBlock = 1000

// userReads is a devices.Store that counts the user rows its reads of
// users return (a list, a look-up by name or employee id, the holders of
// an import's values).
type userReads struct {
	devices.Store
	rows atomic.Int64
}

func (s *userReads) count(n int, err error) {
	if err == nil {
		s.rows.Add(int64(n))
	}
}

func (s *userReads) Users(ctx context.Context, f devices.UserFilter) ([]devices.User, error) {
	us, err := s.Store.Users(ctx, f)
	s.count(len(us), err)
	return us, err
}

func (s *userReads) UserByUsername(ctx context.Context, key string) (devices.User, error) {
	u, err := s.Store.UserByUsername(ctx, key)
	s.count(1, err)
	return u, err
}

func (s *userReads) UserByEmployeeID(ctx context.Context, employeeID string) (devices.User, error) {
	u, err := s.Store.UserByEmployeeID(ctx, employeeID)
	s.count(1, err)
	return u, err
}

func (s *userReads) UsersHolding(ctx context.Context, keys, employeeIDs []string) ([]devices.User, error) {
	us, err := s.Store.UsersHolding(ctx, keys, employeeIDs)
	s.count(len(us), err)
	return us, err
}

// scaleEnv is an env on PostgreSQL and Redis whose store counts the user
// rows it reads, with the name of its schema, so that the test can read
// the table statistics of its own registry.
func scaleEnv(tb testing.TB) (*env, *userReads, string) {
	tb.Helper()
	if err := testenv.Servers(); err != nil {
		testenv.SkipOrFail(tb, err.Error())
	}
	var schema string
	var reads *userReads
	be := backend{name: "postgres+redis", open: func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		schema = testenv.PostgresSchema(t)
		st, err := postgres.Open(context.Background(), testenv.PostgresURL(), postgres.Options{Schema: schema, MaxConns: 8})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		reads = &userReads{Store: st}
		client := testenv.Redis(t)
		opts := fgredis.Options{Prefix: testenv.RedisPrefix(t, client), Now: now}
		return reads, fgredis.New(client, opts), thredis.New(client, thredis.Options{Prefix: opts.Prefix, Now: opts.Now})
	}}
	return newEnv(tb, be), reads, schema
}

// importBlockCSV is block number k of importBlock users, in devicesim
// setup's columns (warehouse by code, no employee id), half of them in
// each warehouse of the env.
func importBlockCSV(k int) string {
	var b strings.Builder
	b.WriteString("username,first_name,last_name,pin,warehouse_code,pin_change_required\n")
	for i := k * importBlock; i < (k+1)*importBlock; i++ {
		code := "ALP"
		if i%2 == 1 {
			code = "BRV"
		}
		fmt.Fprintf(&b, "b.scale.%06d,Bench,User%d,5829,%s,false\n", i, i, code)
	}
	return b.String()
}

// tableStats are pg_stat_user_tables' counters of one table.
type tableStats struct{ seqScan, seqRead, idxScan, idxFetch int64 }

// readTableStats reads table's counters in schema on conn, from a fresh
// snapshot.
func readTableStats(tb testing.TB, conn *pgx.Conn, schema, table string) tableStats {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		tb.Fatalf("pg_stat_clear_snapshot: %v", err)
	}
	var s tableStats
	if err := conn.QueryRow(ctx, `SELECT seq_scan, seq_tup_read, coalesce(idx_scan, 0), coalesce(idx_tup_fetch, 0)
		FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`, schema, table).
		Scan(&s.seqScan, &s.seqRead, &s.idxScan, &s.idxFetch); err != nil {
		tb.Fatalf("pg_stat_user_tables %s.%s: %v", schema, table, err)
	}
	return s
}

// TestImportReadsItsRowsOnly: what an import reads of the users follows
// the rows of its file, not the users already there. An import of 300
// rows into a registry of 1,500 once read all 1,500 (every user, to check
// the names in use), which made devicesim setup's 50 imports of 1,000
// quadratic (docs/BENCHMARKS.md, Side findings).
func TestImportReadsItsRowsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	reads := &userReads{Store: e.store}
	api := e.apiOver(reads)
	e.srv.Config.Handler = api.Handler()
	for k := range 2 {
		if r, rep := e.importCSV("admin", "?mode=valid_only", importBlockCSV(k)); rep.Created != importBlock {
			t.Fatalf("setup block %d: %d, created %d: %.300s", k, r.status, rep.Created, r.body)
		}
	}
	// 300 new rows, and 2 whose names are taken (one read each).
	var b strings.Builder
	b.WriteString("username,first_name,last_name,pin,warehouse_code,pin_change_required\n")
	for i := range 300 {
		fmt.Fprintf(&b, "fresh.%03d,F,L,5829,ALP,false\n", i)
	}
	b.WriteString("b.scale.000007,F,L,5829,ALP,false\nB.Scale.001999,F,L,5829,BRV,false\n")
	reads.rows.Store(0)
	r, rep := e.importCSV("admin", "?mode=valid_only", b.String())
	if r.status != 200 || rep.Created != 300 || rep.Errors != 2 {
		t.Fatalf("import: %d, created %d, errors %d; want 200, 300, 2: %.300s", r.status, rep.Created, rep.Errors, r.body)
	}
	for _, row := range rep.Report[300:] {
		if got := problemCodes(row); len(got) != 1 || got[0] != ProblemUsernameTaken {
			t.Errorf("line %d (%s): problems %v; want [%s]", row.Line, row.Username, got, ProblemUsernameTaken)
		}
	}
	if got := reads.rows.Load(); got > 2 {
		t.Errorf("an import of 302 rows into a registry of %d users read %d user rows; want the 2 it names that exist", 2*importBlock+2, got)
	}
}

// TestImportScale imports 3 blocks of 1,000 users, or
// FLOORGATE_IMPORT_SCALE blocks (at most 50), through POST
// /admin/v1/users/import on PostgreSQL as devicesim setup does, and logs
// the time of each block, the user rows the store returned during it and
// the users table's scans so far: the reproduction of the
// 50,000-device setup's slowdown (docs/BENCHMARKS.md, Side findings).
// It asserts what does not depend on the machine: every row created, and
// no user row read (the names are all new). The times are for reading.
func TestImportScale(t *testing.T) {
	blocks := 3
	if v, err := strconv.Atoi(os.Getenv("FLOORGATE_IMPORT_SCALE")); err == nil && v > 0 {
		blocks = min(v, 50)
	}
	e, reads, schema := scaleEnv(t)
	conn := testenv.PostgresConn(t)
	deadline := time.Now().Add(10 * time.Minute)
	start := time.Now()
	for k := range blocks {
		if time.Now().After(deadline) {
			t.Fatalf("stopped after %d blocks: over 10 minutes", k)
		}
		reads.rows.Store(0)
		blockStart := time.Now()
		r, rep := e.importCSV("admin", "?mode=valid_only", importBlockCSV(k))
		el := time.Since(blockStart)
		if r.status != 200 || rep.Created != importBlock {
			t.Fatalf("block %d: %d, created %d of %d: %.300s", k, r.status, rep.Created, importBlock, r.body)
		}
		read := reads.rows.Load()
		// PostgreSQL's statistics reach other backends late (up to 10 s
		// after a busy backend's last flush): the counters are a trend.
		st := readTableStats(t, conn, schema, "users")
		t.Logf("users %6d: block %7.1f ms; user rows read %6d; users so far: seq_scan %d seq_tup_read %d idx_scan %d idx_tup_fetch %d",
			(k+1)*importBlock, float64(el.Microseconds())/1000, read, st.seqScan, st.seqRead, st.idxScan, st.idxFetch)
		if read != 0 {
			t.Errorf("block %d read %d user rows; want 0 (every name is new)", k, read)
		}
	}
	t.Logf("%d blocks in %.1f s", blocks, time.Since(start).Seconds())
}

// BenchmarkImport is one import of 1,000 new users (valid_only, warehouse
// by code, as devicesim setup sends them) on PostgreSQL into a registry
// that already holds the sub-benchmark's number of users, imported the
// same way before the timer. Run it with a fixed count
// (-benchtime=5x): the setup is redone for every run.
// docs/BENCHMARKS.md has the figures.
func BenchmarkImport(b *testing.B) {
	for _, held := range []int{0, 20_000} {
		b.Run(fmt.Sprintf("registry=%d", held), func(b *testing.B) {
			e, _, _ := scaleEnv(b)
			for k := range held / importBlock {
				if r, rep := e.importCSV("admin", "?mode=valid_only", importBlockCSV(k)); rep.Created != importBlock {
					b.Fatalf("setup block %d: %d, created %d: %.300s", k, r.status, rep.Created, r.body)
				}
			}
			bodies := make([]string, b.N)
			for i := range bodies {
				bodies[i] = importBlockCSV(held/importBlock + i)
			}
			b.ResetTimer()
			for i := range b.N {
				if r, rep := e.importCSV("admin", "?mode=valid_only", bodies[i]); rep.Created != importBlock {
					b.Fatalf("import %d: %d, created %d: %.300s", i, r.status, rep.Created, r.body)
				}
			}
		})
	}
}
