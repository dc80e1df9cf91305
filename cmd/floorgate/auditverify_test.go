package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestAuditVerify: a running Floorgate seals its audit rows into the
// chain on its own; `floorgate audit verify` says the chain holds, and
// after a row is changed behind the application's back (its table's
// trigger dropped for the change, as the tables' owner could) it names
// that row and exits with an error.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	env := e2eEnv(t)
	in := startFloorgate(t, env)
	setUpFloor(t, in) // a warehouse, a manager, a user: audited
	adminLogin(t, in, e2eAdminEmail, "Wrong-Password-99")

	db, err := sql.Open("sqlite", filepath.Join(env["FLOORGATE_DATA_DIR"], registryFileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The server's sealer (every second) chains every row; bounded wait.
	var pending, sealed int
	for deadline := time.Now().Add(15 * time.Second); ; {
		if err := db.QueryRow(`SELECT count(*) FILTER (WHERE seq IS NULL), count(seq) FROM audit_events`).Scan(&pending, &sealed); err != nil {
			t.Fatal(err)
		}
		if pending == 0 && sealed > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pending != 0 || sealed < 3 {
		t.Fatalf("audit rows: %d not sealed, %d sealed; want every row sealed by the server", pending, sealed)
	}

	verify := func() (string, error) {
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"floorgate", "audit", "verify", "-log-level", "warn"}, envMap(testEnv(env)), &out, &errs)
		return out.String(), err
	}
	out, err := verify()
	if err != nil || !strings.Contains(out, "audit chain holds:") || !strings.Contains(out, "not sealed yet: 0") {
		t.Fatalf("audit verify = %v\n%s; want the chain to hold", err, out)
	}

	var victim string
	if err := db.QueryRow(`SELECT id FROM audit_events WHERE seq = 2`).Scan(&victim); err != nil {
		t.Fatal(err)
	}
	var trigger string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_no_update'`).Scan(&trigger); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET actor = 'system' WHERE id = ?`, victim); err == nil {
		t.Fatal("UPDATE of an audit row with its trigger in place succeeded")
	}
	for _, stmt := range []string{`DROP TRIGGER audit_events_no_update`, `UPDATE audit_events SET actor = 'system' WHERE id = '` + victim + `'`, trigger} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	out, err = verify()
	if !errors.Is(err, errAuditBroken) || !strings.Contains(out, "BROKEN at row 2: changed") || !strings.Contains(out, victim) {
		t.Fatalf("audit verify after changing row 2 = %v\n%s; want the break at row 2 naming %s", err, out, victim)
	}
}
