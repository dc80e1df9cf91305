package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/devicestest"
	"github.com/floorgate/floorgate/internal/id"
)

// openTemp opens a store on a fresh file in t's temporary directory.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "data", "registry.db"))
	if err != nil {
		t.Fatalf("Open() = %v; want nil", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v; want nil", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	devicestest.Run(t, devicestest.Harness{
		Open: func(t *testing.T) devices.Store { return openTemp(t) },
		Tamper: func(t *testing.T, s devices.Store, eventID string) (updateErr, deleteErr error) {
			db, err := sql.Open("sqlite", s.(*Store).path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatalf("sql.Open() = %v", err)
			}
			defer db.Close()
			_, updateErr = db.Exec(`UPDATE audit_events SET action = 'tampered', details = '{}' WHERE id = ?`, eventID)
			_, deleteErr = db.Exec(`DELETE FROM audit_events WHERE id = ?`, eventID)
			return updateErr, deleteErr
		},
		Forge: func(t *testing.T, s devices.Store, eventID string, remove bool) {
			db, err := sql.Open("sqlite", s.(*Store).path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatalf("sql.Open() = %v", err)
			}
			defer db.Close()
			trigger := "audit_events_no_update"
			change := `UPDATE audit_events SET action = 'forged' WHERE id = ?`
			if remove {
				trigger = "audit_events_no_delete"
				change = `DELETE FROM audit_events WHERE id = ?`
			}
			var body string
			if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?`, trigger).Scan(&body); err != nil {
				t.Fatalf("read trigger %s: %v", trigger, err)
			}
			tx, err := db.Begin()
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			defer tx.Rollback()
			for _, stmt := range []string{"DROP TRIGGER " + trigger, change, body} {
				args := []any{}
				if stmt == change {
					args = append(args, eventID)
				}
				res, err := tx.Exec(stmt, args...)
				if err != nil {
					t.Fatalf("forge audit row %s: %s: %v", eventID, stmt, err)
				}
				if n, _ := res.RowsAffected(); stmt == change && n != 1 {
					t.Fatalf("forge audit row %s: %d rows changed", eventID, n)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("forge audit row %s: commit: %v", eventID, err)
			}
		},
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open() = %v; want nil", err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	w := devices.Warehouse{ID: id.New("wh_", at), Name: "North", Code: "N1", CreatedAt: at, UpdatedAt: at}
	ev := devices.Event{ID: id.New("evt_", at), At: at, Actor: devices.ActorSystem, Action: "warehouse.create", Subject: devices.WarehouseSubject(w.ID)}
	if err := s.CreateWarehouse(ctx, w, ev); err != nil {
		t.Fatalf("CreateWarehouse() = %v; want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}

	for i := range 2 {
		s, err = Open(ctx, path)
		if err != nil {
			t.Fatalf("Open(again %d) = %v; want nil", i, err)
		}
		got, err := s.Warehouse(ctx, w.ID)
		if err != nil || got.Code != "N1" || !got.CreatedAt.Equal(at) {
			t.Errorf("Warehouse() after reopening = %+v, %v; want %+v", got, err, w)
		}
		evs, err := s.Events(ctx, devices.EventFilter{})
		if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
			t.Errorf("Events() after reopening = %v, %v; want [%s]", evs, err, ev.ID)
		}
		var versions int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&versions); err != nil {
			t.Fatalf("count schema_migrations: %v", err)
		}
		ms, _ := migrations()
		if versions != len(ms) {
			t.Errorf("schema_migrations has %d rows after reopening; want %d", versions, len(ms))
		}
		if err := s.migrate(ctx); err != nil {
			t.Errorf("migrate() again = %v; want nil", err)
		}
		var mode string
		if err := s.r.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close() = %v; want nil", err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open() = %v; want nil", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future.sql', 0)`); err != nil {
		t.Fatalf("insert future migration: %v", err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Errorf("Open(file from a newer binary) = nil error; want an error")
	}
}

func TestErrorsDoNotLeakDriverTypes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("Open() = %v; want nil", err)
	}
	_, err = s.Warehouse(ctx, "wh_missing")
	if !errors.Is(err, devices.ErrNotFound) {
		t.Fatalf("Warehouse(missing) = %v; want ErrNotFound", err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		t.Errorf("Warehouse(missing) = %v; wraps sql.ErrNoRows", err)
	}
	s.Close()
	err = s.Ping(ctx)
	if !errors.Is(err, devices.ErrUnavailable) {
		t.Errorf("Ping() after Close = %v; want ErrUnavailable", err)
	}
}

func TestFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open() = %v; want nil", err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("registry file mode = %v; want 0600", mode)
	}
}

func TestPanicInFnReleasesWriter(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("UpdateSettings(fn panics) did not panic")
			}
		}()
		s.UpdateSettings(ctx, func(*devices.Settings) (devices.Event, error) { panic("boom") })
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.UpdateSettings(ctx, func(st *devices.Settings) (devices.Event, error) {
		st.SessionCap = 4
		return devices.Event{}, nil
	}); err != nil {
		t.Errorf("UpdateSettings() after a panic = %v; want nil", err)
	}
}

// TestTwoProcesses opens the file twice, as two processes would, and
// checks that writers from both wait for each other instead of failing
// with SQLITE_BUSY, and lose no update.
func TestTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open(%d) = %v; want nil", i, err)
		}
		defer s.Close()
		stores[i] = s
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := stores[i%2].UpdateSettings(ctx, func(st *devices.Settings) (devices.Event, error) {
				st.IdleTimeoutS++
				return devices.Event{}, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UpdateSettings() from two stores = %v; want nil", err)
		}
	}
	got, err := stores[1].Settings(ctx)
	if want := devices.DefaultSettings().IdleTimeoutS + 2*n; err != nil || got.IdleTimeoutS != want {
		t.Errorf("Settings().IdleTimeoutS = %d, %v; want %d", got.IdleTimeoutS, err, want)
	}
}
