package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

// planCase is a statement, arguments to EXECUTE it with, and the index
// its generic plan must use.
type planCase struct {
	name, sql, args, index string
}

// checkGenericPlans prepares each case on conn (plan_cache_mode already
// force_generic_plan) and fails a case whose plan does not use its index
// or scans a table.
func checkGenericPlans(t *testing.T, conn *pgx.Conn, cases []planCase) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "plan_" + strings.ReplaceAll(tc.name, " ", "_")
			if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+tc.sql); err != nil {
				t.Fatalf("PREPARE: %v", err)
			}
			rows, _ := conn.Query(ctx, "EXPLAIN EXECUTE "+name+"("+tc.args+")", pgx.QueryExecModeSimpleProtocol)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("EXPLAIN EXECUTE: %v", err)
			}
			plan := strings.Join(lines, "\n")
			if !strings.Contains(plan, " using "+tc.index) && !strings.Contains(plan, " on "+tc.index) || strings.Contains(plan, "Seq Scan") {
				t.Errorf("generic plan of %s:\n%s\nwant %s used and no Seq Scan", tc.name, plan, tc.index)
			}
		})
	}
}

// planStore opens a store on a schema of its own, runs setup on the
// schema's connection (rows and ANALYZE), then sets plan_cache_mode to
// force_generic_plan on it: the plan a pooled connection keeps for a
// prepared statement after five executions.
func planStore(t *testing.T, setup ...string) (*Store, *pgx.Conn) {
	t.Helper()
	schema, conn := newSchema(t)
	s, err := Open(context.Background(), testURL(), Options{Schema: schema, MaxConns: 2})
	if err != nil {
		t.Fatalf("Open(schema %s) = %v; want nil", schema, err)
	}
	t.Cleanup(func() { s.Close() })
	for _, q := range append(setup, `SET plan_cache_mode = force_generic_plan`) {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	return s, conn
}

// TestUserGenericPlans: the look-ups of users by a unique or partial
// index keep that index in the generic plan (see
// TestEnrollmentGenericPlans), over 20,000 users, 1 in 10 with an
// employee id and 1 in 100 deleted. UsersHolding is an import's check of
// the names its rows would take: it must cost the rows, not the table
// (docs/BENCHMARKS.md, Side findings: "User import slowed as the registry
// grew").
func TestUserGenericPlans(t *testing.T) {
	s, conn := planStore(t,
		`INSERT INTO warehouses (id, name, code, created_at, updated_at) VALUES ('wh_plan', 'Plan', 'PLAN', now(), now())`,
		`INSERT INTO users (id, username, username_key, first_name, last_name, employee_id, warehouse_id, language,
			pin_hash, pin_change_required, status, deleted_at, created_at, updated_at)
			SELECT 'usr_' || i, 'u' || i, 'u' || i, 'F', 'L', CASE WHEN i % 10 = 0 THEN 'E' || i END, 'wh_plan', '',
				'h', false, CASE WHEN i % 100 = 0 THEN 'deleted' ELSE 'active' END,
				CASE WHEN i % 100 = 0 THEN now() END, now(), now()
			FROM generate_series(1, 20000) AS i`,
		`ANALYZE users`,
	)
	ctx := context.Background()
	byKey := "SELECT " + userColumns + " FROM users WHERE username_key = $1"
	byEmployee := "SELECT " + userColumns + " FROM users WHERE employee_id = $1"
	checkGenericPlans(t, conn, []planCase{
		{"holders by name", usersHoldingSQL, `ARRAY['u7', 'u8'], '{}'`, "users_username_key_key"},
		{"holders by employee id", usersHoldingSQL, `'{}', ARRAY['E70', 'E80']`, "users_employee_id_key"},
		{"user by username", byKey, `'u7'`, "users_username_key_key"},
		{"user by employee id", byEmployee, `'E70'`, "users_employee_id_key"},
	})
	// The store answers as the plans promise: each holder once, the
	// deleted one included, "" matching nobody.
	us, err := s.UsersHolding(ctx, []string{"u100", "u7", "nobody"}, []string{"E100", "E20", ""})
	if err != nil {
		t.Fatalf("UsersHolding = %v", err)
	}
	got := map[string]int{}
	for _, u := range us {
		got[u.ID]++
	}
	if len(us) != 3 || got["usr_100"] != 1 || got["usr_7"] != 1 || got["usr_20"] != 1 {
		t.Errorf("UsersHolding(u100 u7 nobody; E100 E20 \"\") = %v; want usr_100 (deleted, by both), usr_7, usr_20 once each", got)
	}
}

// TestPartialIndexGenericPlans: the statements written for the other
// partial indexes keep them in the generic plan: the list and the purge
// of deleted users (users_purge_idx, WHERE status = 'deleted'; the list
// once passed the status as a parameter and walked every user's key to
// find the deleted few) and the audit
// sealer's select (audit_events_unsealed_idx, WHERE seq IS NULL), over
// 20,000 users (1 in 100 deleted) and 20,000 sealed events with 100
// not yet sealed. (custody_open_idx, WHERE ended_at IS NULL, has no
// statement of its own: the custody list's "ended_at IS NULL OR ..."
// cannot use it under any plan.)
func TestPartialIndexGenericPlans(t *testing.T) {
	_, conn := planStore(t,
		`INSERT INTO warehouses (id, name, code, created_at, updated_at) VALUES ('wh_plan', 'Plan', 'PLAN', now(), now())`,
		`INSERT INTO users (id, username, username_key, first_name, last_name, employee_id, warehouse_id, language,
			pin_hash, pin_change_required, status, deleted_at, created_at, updated_at)
			SELECT 'usr_' || i, 'u' || i, 'u' || i, 'F', 'L', NULL, 'wh_plan', '',
				'h', false, CASE WHEN i % 100 = 0 THEN 'deleted' ELSE 'active' END,
				CASE WHEN i % 100 = 0 THEN now() END, now(), now()
			FROM generate_series(1, 20000) AS i`,
		`INSERT INTO audit_events (id, at, actor, action, subject, warehouse_id, device_id, seq, hash)
			SELECT 'evt_' || lpad(i::text, 6, '0'), now(), 'system', 'user.create', 'user:usr_' || i, 'wh_plan', '',
				CASE WHEN i <= 20000 THEN i END, CASE WHEN i <= 20000 THEN '\x00'::bytea END
			FROM generate_series(1, 20100) AS i`,
		`ANALYZE users`,
		`ANALYZE audit_events`,
	)
	deleted, _ := usersQuery(devices.UserFilter{Status: devices.UserDeleted, Page: devices.Page{Limit: 500, After: "usr_0"}})
	checkGenericPlans(t, conn, []planCase{
		{"deleted users listed", deleted, `'usr_0'`, "users_purge_idx"},
		{"users purged", `DELETE FROM users WHERE status = 'deleted' AND deleted_at < $1 RETURNING ` + userColumns,
			`now() - interval '30 days'`, "users_purge_idx"},
		{"events to seal", "SELECT " + eventColumns + " FROM audit_events WHERE seq IS NULL ORDER BY id LIMIT $1",
			`500`, "audit_events_unsealed_idx"},
	})
}
