package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/testenv"
)

// ownerGrants are the grants docs/OPERATIONS.md gives the application's
// role when a separate role owns the tables ("The audit log: an owner
// role and the hash chain"); keep the two the same.
const ownerGrants = `
GRANT USAGE ON SCHEMA %[1]s TO %[2]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %[1]s TO %[2]s;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %[1]s TO %[2]s;
REVOKE UPDATE, DELETE ON audit_events FROM %[2]s;
GRANT UPDATE (seq, hash) ON audit_events TO %[2]s;
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM %[2]s;
REVOKE DELETE ON audit_chain FROM %[2]s;`

// TestOwnerRole: with the tables owned by a role of their own (which
// applied the migrations) and the application's role granted what
// OPERATIONS.md says, the store opens, appends and seals as the
// application's role, and that role can neither switch the audit
// triggers off nor change or remove an audit row.
func TestOwnerRole(t *testing.T) {
	ctx := context.Background()
	super := testenv.PostgresConn(t)
	suffix := strings.ToLower(id.New("", time.Now()))
	schema, owner, app := "t_owner_"+suffix, "fg_owner_"+suffix, "fg_app_"+suffix
	t.Cleanup(func() {
		// After the stores close (registered later).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, stmt := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "DROP ROLE IF EXISTS " + app, "DROP ROLE IF EXISTS " + owner} {
			if _, err := super.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	for _, stmt := range []string{
		"CREATE ROLE " + owner + " LOGIN",
		"CREATE ROLE " + app + " LOGIN",
		"CREATE SCHEMA " + schema + " AUTHORIZATION " + owner,
	} {
		if _, err := super.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	as := func(role string) string {
		u, err := url.Parse(testURL())
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.User(role)
		return u.String()
	}
	open := func(role string) *Store {
		t.Helper()
		s, err := Open(ctx, as(role), Options{Schema: schema, MaxConns: 2})
		if err != nil {
			t.Fatalf("Open() as %s = %v; want nil", role, err)
		}
		return s
	}
	open(owner).Close() // applies the migrations
	if _, err := super.Exec(ctx, "SET search_path TO "+schema); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(strings.TrimSpace(strings.ReplaceAll(ownerGrants, "%[1]s", schema)), "\n") {
		stmt = strings.ReplaceAll(stmt, "%[2]s", app)
		if _, err := super.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	s := open(app)
	defer s.Close()
	now := time.Now()
	ev := devices.Event{ID: id.New("evt_", now), At: now, Actor: devices.ActorSystem, Action: "x.y", Subject: "system"}
	if err := s.AppendEvents(ctx, ev); err != nil {
		t.Fatalf("AppendEvents() as the app's role = %v; want nil", err)
	}
	if n, err := s.SealAudit(ctx, 10); n != 1 || err != nil {
		t.Fatalf("SealAudit() as the app's role = %d, %v; want 1, nil", n, err)
	}

	conn, err := pgx.Connect(ctx, as(app)+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
		"DROP TRIGGER audit_events_no_update_delete ON audit_events",
		"UPDATE audit_events SET actor = 'someone else'",
		"UPDATE audit_events SET seq = seq + 1",
		"DELETE FROM audit_events",
		"TRUNCATE audit_events",
		"DELETE FROM audit_chain",
		"DROP TABLE audit_chain",
	} {
		if _, err := conn.Exec(ctx, stmt); err == nil {
			t.Errorf("%s as the app's role succeeded; want an error", stmt)
		}
	}
}
