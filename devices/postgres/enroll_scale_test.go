package postgres

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/testenv"
)

// enrollWorkers is how many enrollments are in flight at once, as in
// devicesim setup's default (-concurrency 8).
const enrollWorkers = 8

// scaleFleet is a registry on a schema of its own with one warehouse and
// enrollment tokens of MaxEnrollmentUses uses, enrolled into from
// enrollWorkers goroutines the way devicesim setup does: every worker on
// the same token, so that the enrollments queue on its row.
type scaleFleet struct {
	s      *Store
	reg    *devices.Registry
	tokens []devices.Token
	next   int // serial number of the next enrollment
}

func newScaleFleet(tb testing.TB, devicesMax int) *scaleFleet {
	tb.Helper()
	s, err := Open(context.Background(), testURL(), Options{Schema: testenv.PostgresSchema(tb), MaxConns: enrollWorkers})
	if err != nil {
		tb.Fatalf("Open() = %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	reg, err := devices.NewRegistry(s, devices.Options{Pepper: []byte("a test pepper of enough bytes"),
		Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		tb.Fatalf("NewRegistry() = %v", err)
	}
	ctx := context.Background()
	now := time.Now()
	w := devices.Warehouse{ID: id.New("wh_", now), Name: "Scale", Code: "SCALE", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateWarehouse(ctx, w, devices.Event{}); err != nil {
		tb.Fatalf("CreateWarehouse() = %v", err)
	}
	f := &scaleFleet{s: s, reg: reg}
	for left := devicesMax; left > 0; left -= devices.MaxEnrollmentUses {
		_, tok, err := reg.CreateEnrollmentToken(ctx, "manager:mgr_scale", devices.EnrollmentTokenInput{
			WarehouseID: w.ID, Uses: min(left, devices.MaxEnrollmentUses), ExpiresInS: 24 * 3600})
		if err != nil {
			tb.Fatalf("CreateEnrollmentToken() = %v", err)
		}
		f.tokens = append(f.tokens, tok)
	}
	return f
}

// enroll makes n more enrollments from enrollWorkers goroutines and calls
// done after each (under a lock, with the count so far). It stops at the
// first error or when ctx ends.
func (f *scaleFleet) enroll(ctx context.Context, n int, done func(count int)) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		count int
		first error
	)
	base := f.next
	for range enrollWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := base + int(next.Add(1)-1)
				if i >= base+n {
					return
				}
				_, _, _, _, err := f.reg.EnrollWithToken(ctx, f.tokens[i/devices.MaxEnrollmentUses], devices.TokenEnrollment{
					Device: devices.EnrollInput{Serial: fmt.Sprintf("SCALE-%06d", i)}, RemoteAddr: "127.0.0.1"})
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("enrollment %d: %w", i, err)
				}
				count++
				if err == nil && done != nil {
					done(count)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	f.next = base + n
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// TestEnrollmentScale enrolls 1,200 devices from 8 goroutines on one
// token (every pooled connection past the five executions after which
// PostgreSQL may keep a generic plan), or FLOORGATE_ENROLL_SCALE devices
// (at most 50,000: a minute or more) with tokens of 10,000 uses, and logs
// the time of each block of 1,000 and the table statistics at the end:
// the reproduction of the 50,000-device setup's slowdown
// (docs/BENCHMARKS.md, Side findings). It asserts the counts (every use
// counted exactly under concurrency, two audit events per enrollment);
// the times are for reading, and TestEnrollmentGenericPlans checks the
// plans.
func TestEnrollmentScale(t *testing.T) {
	n := 1200
	if v, err := strconv.Atoi(os.Getenv("FLOORGATE_ENROLL_SCALE")); err == nil && v > 0 {
		n = min(v, 50_000)
	}
	f := newScaleFleet(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	const block = 1000
	start, blockStart := time.Now(), time.Now()
	err := f.enroll(ctx, n, func(count int) {
		if count%block == 0 {
			el := time.Since(blockStart)
			t.Logf("devices %6d: block %7.1f ms, %4.0f/s; overall %4.0f/s", count, float64(el.Microseconds())/1000,
				block/el.Seconds(), float64(count)/time.Since(start).Seconds())
			blockStart = time.Now()
		}
	})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	var uses, enrolls, useEvents int
	if err := f.s.pool.QueryRow(ctx, `SELECT (SELECT sum(uses) FROM enrollment_tokens),
		count(*) FILTER (WHERE action = 'device.enroll'), count(*) FILTER (WHERE action = 'enrollment_token.use')
		FROM audit_events`).Scan(&uses, &enrolls, &useEvents); err != nil {
		t.Fatalf("count uses and events: %v", err)
	}
	if uses != n || enrolls != n || useEvents != n {
		t.Errorf("token uses %d, device.enroll %d, enrollment_token.use %d; want %d each", uses, enrolls, useEvents, n)
	}
	logTableStats(t, f.s)
}

// logTableStats logs the scans of the tables an enrollment touches
// (PostgreSQL's statistics lag by up to a second or so).
func logTableStats(t *testing.T, s *Store) {
	rows, _ := s.pool.Query(context.Background(), `SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_tup_upd,
		n_tup_hot_upd, n_dead_tup FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname IN ('devices', 'enrollment_tokens', 'audit_events', 'warehouses')
		ORDER BY relname`)
	defer rows.Close()
	for rows.Next() {
		var name string
		var seq, seqRead, idx, upd, hot, dead int64
		if err := rows.Scan(&name, &seq, &seqRead, &idx, &upd, &hot, &dead); err != nil {
			t.Errorf("table stats: %v", err)
			return
		}
		t.Logf("%-17s seq_scan %6d seq_tup_read %10d idx_scan %6d updates %6d (hot %6d) dead %5d", name, seq, seqRead, idx, upd, hot, dead)
	}
}

// BenchmarkEnrollWithToken is one token enrollment (8 in flight on one
// token, as devicesim setup sends them) into a registry that already
// holds the sub-benchmark's number of devices, all enrolled through the
// same pool from empty. Run it with a fixed count (-benchtime=1000x):
// the setup is redone for every run. docs/BENCHMARKS.md has the figures.
func BenchmarkEnrollWithToken(b *testing.B) {
	for _, held := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("registry=%d", held), func(b *testing.B) {
			f := newScaleFleet(b, held+b.N)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if err := f.enroll(ctx, held, nil); err != nil {
				b.Fatalf("setup: %v", err)
			}
			b.ResetTimer()
			if err := f.enroll(ctx, b.N, nil); err != nil {
				b.Fatalf("enroll: %v", err)
			}
		})
	}
}
