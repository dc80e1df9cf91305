package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/devicestest"
	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/internal/token"
)

// testURL is the shared test database; each test works in a schema of
// its own.
func testURL() string { return testenv.PostgresURL() }

// adminConn connects straight to the test database, outside any Store.
func adminConn(t *testing.T) *pgx.Conn { return testenv.PostgresConn(t) }

// newSchema creates an empty schema (testenv.PostgresSchema), dropped at
// cleanup, and returns its name and a connection whose search_path is
// that schema.
func newSchema(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	schema := testenv.PostgresSchema(t)
	conn := testenv.PostgresConn(t)
	if _, err := conn.Exec(context.Background(), "SET search_path TO "+schema); err != nil {
		t.Fatalf("SET search_path: %v", err)
	}
	return schema, conn
}

// openStore opens a Store on a fresh schema, closed at cleanup (before
// the schema is dropped).
func openStore(t *testing.T) *Store {
	t.Helper()
	schema, _ := newSchema(t)
	s, err := Open(context.Background(), testURL(), Options{Schema: schema, MaxConns: 8})
	if err != nil {
		t.Fatalf("Open(schema %s) = %v; want nil", schema, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	devicestest.Run(t, devicestest.Harness{
		Open: func(t *testing.T) devices.Store { return openStore(t) },
		Tamper: func(t *testing.T, s devices.Store, eventID string) (updateErr, deleteErr error) {
			ps := s.(*Store)
			ctx := context.Background()
			_, updateErr = ps.pool.Exec(ctx, "UPDATE audit_events SET actor = 'someone else' WHERE id = $1", eventID)
			_, deleteErr = ps.pool.Exec(ctx, "DELETE FROM audit_events WHERE id = $1", eventID)
			return updateErr, deleteErr
		},
		Forge: func(t *testing.T, s devices.Store, eventID string, remove bool) {
			// The app's role owns the tables, so it may switch their
			// triggers off: what docs/OPERATIONS.md's owner role prevents.
			change := "UPDATE audit_events SET action = 'forged' WHERE id = $1"
			if remove {
				change = "DELETE FROM audit_events WHERE id = $1"
			}
			ctx := context.Background()
			err := pgx.BeginFunc(ctx, s.(*Store).pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "ALTER TABLE audit_events DISABLE TRIGGER USER"); err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, change, eventID)
				if err != nil {
					return err
				}
				if tag.RowsAffected() != 1 {
					return errors.New("no such row")
				}
				_, err = tx.Exec(ctx, "ALTER TABLE audit_events ENABLE TRIGGER USER")
				return err
			})
			if err != nil {
				t.Fatalf("forge audit row %s: %v", eventID, err)
			}
		},
	})
}

// TestMigrateConcurrently opens five stores on one fresh schema at once:
// all succeed and each migration is recorded once.
func TestMigrateConcurrently(t *testing.T) {
	schema, conn := newSchema(t)
	const n = 5
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), testURL(), Options{Schema: schema, MaxConns: 2})
			if err == nil {
				err = s.Ping(context.Background())
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open() = %v; want nil", err)
		}
	}
	checkMigrations(t, conn)

	// Opening again applies nothing more.
	s, err := Open(context.Background(), testURL(), Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open(migrated schema) = %v; want nil", err)
	}
	s.Close()
	checkMigrations(t, conn)
}

// checkMigrations fails unless schema_migrations holds each embedded
// version exactly once.
func checkMigrations(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := conn.Query(context.Background(), "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version")
	type vc struct{ version, count int }
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vc, error) {
		var x vc
		err := r.Scan(&x.version, &x.count)
		return x, err
	})
	if err != nil {
		t.Fatalf("reading schema_migrations: %v", err)
	}
	if len(got) != len(ms) {
		t.Fatalf("schema_migrations has %d versions %v; want %d", len(got), got, len(ms))
	}
	for i, m := range ms {
		if got[i].version != m.version || got[i].count != 1 {
			t.Errorf("schema_migrations row %d = version %d x%d; want version %d once", i, got[i].version, got[i].count, m.version)
		}
	}
}

// TestMigrateWaitsForLock holds the migration advisory lock of a schema
// in another session: Open on that schema waits for it (seen in
// pg_locks) and finishes once it is released, while Open on another
// schema does not wait.
func TestMigrateWaitsForLock(t *testing.T) {
	schema, conn := newSchema(t)
	ctx := context.Background()
	holder := adminConn(t)
	var migrationLockKey int64
	if err := holder.QueryRow(ctx, "SELECT hashtextextended('floorgate.migrate:' || $1, 0)", schema).Scan(&migrationLockKey); err != nil {
		t.Fatalf("lock key: %v", err)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		t.Fatalf("pg_advisory_lock: %v", err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey); err != nil {
				t.Errorf("pg_advisory_unlock: %v", err)
			}
		}
	}
	defer release()

	done := make(chan error, 1)
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		s, err := Open(openCtx, testURL(), Options{Schema: schema, MaxConns: 1})
		if err == nil {
			s.Close()
		}
		done <- err
	}()

	// Wait (bounded) until a session other than the holder waits for an
	// advisory lock on our key.
	waiting := false
	for i := 0; i < 200 && !waiting; i++ {
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l
			WHERE l.locktype = 'advisory' AND NOT l.granted AND l.pid <> $1
			AND ((l.classid::bigint << 32) | l.objid::bigint) = $2)`,
			holder.PgConn().PID(), migrationLockKey).Scan(&waiting)
		if err != nil {
			t.Fatalf("reading pg_locks: %v", err)
		}
		select {
		case err := <-done:
			t.Fatalf("Open() returned %v while another session held the migration lock", err)
		case <-time.After(25 * time.Millisecond):
		}
	}
	if !waiting {
		t.Fatalf("Open() never waited for the migration lock")
	}
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("schema has %d tables while Open waits for the lock; want 0", tables)
	}
	// Another schema migrates meanwhile: its lock is its own.
	other := openStore(t)
	if err := other.Ping(ctx); err != nil {
		t.Errorf("Open on another schema while this one's lock is held: Ping = %v", err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("Open() after the lock was released = %v; want nil", err)
	}
	checkMigrations(t, conn)
}

// TestErrors checks the translation of driver errors at the edge: no pgx
// type ever comes out.
func TestErrors(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	at := time.Date(2025, 1, 2, 3, 4, 5, 6007, time.UTC)
	w := devices.Warehouse{ID: id.New("wh_", at), Name: "A", Code: "A1", CreatedAt: at, UpdatedAt: at}
	if err := s.CreateWarehouse(ctx, w, devices.Event{}); err != nil {
		t.Fatalf("CreateWarehouse() = %v; want nil", err)
	}
	_, missing := s.Warehouse(ctx, "wh_missing")
	lower := w
	lower.ID, lower.Code = id.New("wh_", at), "a1"
	dup := s.CreateWarehouse(ctx, lower, devices.Event{})
	fk := s.CreateUsers(ctx, []devices.User{{ID: "usr_1", Username: "a", UsernameKey: "a", WarehouseID: "wh_missing", Status: devices.UserActive}}, nil)

	closed := openStore(t)
	closed.Close()
	pingClosed := closed.Ping(ctx)
	_, listClosed := closed.Users(ctx, devices.UserFilter{})

	_, unreachable := Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")

	_, err := Open(ctx, "postgres://floorgate:hunter2-secret@127.0.0.1:notaport/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open(malformed URL) = %v; want an error that does not quote the password", err)
	}

	_, err = Open(ctx, testURL(), Options{Schema: "t_does_not_exist"})
	if err == nil || errors.Is(err, devices.ErrUnavailable) || !strings.Contains(err.Error(), "no schema") {
		t.Errorf("Open(missing schema) = %v; want an error saying the schema is missing", err)
	}

	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Warehouse(missing)", missing, devices.ErrNotFound},
		{"CreateWarehouse(code in other case)", dup, devices.ErrExists},
		{"CreateUsers(missing warehouse)", fk, devices.ErrNotFound},
		{"Ping(closed store)", pingClosed, devices.ErrUnavailable},
		{"Users(closed store)", listClosed, devices.ErrUnavailable},
		{"Open(unreachable)", unreachable, devices.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Errorf("%s = %v; want %v", tc.name, tc.err, tc.want)
			}
			var pgErr *pgconn.PgError
			var connectErr *pgconn.ConnectError
			if errors.As(tc.err, &pgErr) || errors.As(tc.err, &connectErr) || errors.Is(tc.err, pgx.ErrNoRows) {
				t.Errorf("%s = %#v: a pgx error leaks", tc.name, tc.err)
			}
		})
	}

	// A caller's error comes back as it is, and nothing is written.
	boom := errors.New("boom")
	_, err = s.UpdateWarehouse(ctx, w.ID, func(x *devices.Warehouse) (devices.Event, error) {
		x.Name = "changed"
		return devices.Event{}, boom
	})
	if err != boom {
		t.Errorf("UpdateWarehouse(fn fails) = %v; want the fn's error itself", err)
	}

	// Times come back in UTC, truncated to the microsecond.
	got, err := s.Warehouse(ctx, w.ID)
	if err != nil {
		t.Fatalf("Warehouse() = %v", err)
	}
	if want := at.Truncate(time.Microsecond); got.CreatedAt != want || got.Name != "A" {
		t.Errorf("Warehouse() = created %v, name %q; want %v, %q", got.CreatedAt, got.Name, want, "A")
	}

	// Audit rows can't be truncated either.
	if err := s.AppendEvents(ctx, devices.Event{ID: id.New("evt_", at), At: at, Actor: "system", Action: "x.y", Subject: "s"}); err != nil {
		t.Fatalf("AppendEvents() = %v", err)
	}
	if _, err := s.pool.Exec(ctx, "TRUNCATE audit_events"); err == nil {
		t.Errorf("TRUNCATE audit_events succeeded; want an error")
	}
}

// TestEnrollConcurrently enrolls one serial from many goroutines at once:
// every enrollment succeeds, exactly one record stays active and every
// other was replaced exactly once.
func TestEnrollConcurrently(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	w := devices.Warehouse{ID: id.New("wh_", at), Name: "A", Code: "A1", CreatedAt: at, UpdatedAt: at}
	if err := s.CreateWarehouse(ctx, w, devices.Event{}); err != nil {
		t.Fatalf("CreateWarehouse() = %v; want nil", err)
	}
	const n = 10
	var wg sync.WaitGroup
	replaced := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := devices.Device{ID: id.New("dev_", at), Serial: "SN-RACE", WarehouseID: w.ID,
				EnrolledBy: "mgr_x", EnrolledAt: at.Add(time.Duration(i) * time.Second), Status: devices.DeviceActive,
				TokenHash: token.New(devices.DeviceTokenPrefix).Hash()}
			old, err := s.EnrollDevice(ctx, d, devices.Event{})
			if err != nil {
				t.Errorf("EnrollDevice() = %v; want nil", err)
				return
			}
			if old != nil {
				replaced <- old.ID
			}
		}()
	}
	wg.Wait()
	close(replaced)
	seen := map[string]bool{}
	for id := range replaced {
		if seen[id] {
			t.Errorf("device %s replaced twice", id)
		}
		seen[id] = true
	}
	active, err := s.Devices(ctx, devices.DeviceFilter{})
	if err != nil || len(active) != 1 {
		t.Fatalf("Devices(active) = %d, %v; want 1, nil", len(active), err)
	}
	revoked, _ := s.Devices(ctx, devices.DeviceFilter{Status: devices.DeviceRevoked})
	if len(revoked) != n-1 || len(seen) != n-1 {
		t.Errorf("%d revoked, %d replaced; want %d each", len(revoked), len(seen), n-1)
	}
}

// TestCreateUserRace creates one username key from 100 goroutines across
// five warehouses: exactly one succeeds, every other gets ErrExists.
func TestCreateUserRace(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var whs []string
	for i := range 5 {
		w := devices.Warehouse{ID: id.New("wh_", at), Name: "W", Code: "W" + string(rune('0'+i)), CreatedAt: at, UpdatedAt: at}
		if err := s.CreateWarehouse(ctx, w, devices.Event{}); err != nil {
			t.Fatalf("CreateWarehouse() = %v; want nil", err)
		}
		whs = append(whs, w.ID)
	}
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := devices.User{ID: id.New("usr_", at), Username: "alice", UsernameKey: "alice",
				WarehouseID: whs[i%len(whs)], Status: devices.UserActive, CreatedAt: at, UpdatedAt: at}
			ev := devices.Event{ID: id.New("evt_", at), At: at, Actor: "system", Action: "user.create", Subject: devices.UserActor(u.ID)}
			errs <- s.CreateUsers(ctx, []devices.User{u}, []devices.Event{ev})
		}()
	}
	wg.Wait()
	close(errs)
	ok, exists := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, devices.ErrExists):
			exists++
		default:
			t.Errorf("CreateUsers(alice) = %v; want nil or ErrExists", err)
		}
	}
	if ok != 1 || exists != n-1 {
		t.Errorf("%d concurrent CreateUsers(alice): %d succeeded, %d ErrExists; want 1, %d", n, ok, exists, n-1)
	}
	evs, err := s.Events(ctx, devices.EventFilter{Action: "user.create"})
	if err != nil || len(evs) != 1 {
		t.Errorf("Events(user.create) = %d, %v; want 1 event", len(evs), err)
	}
}
