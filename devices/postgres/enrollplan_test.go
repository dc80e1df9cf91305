package postgres

import "testing"

// TestEnrollmentGenericPlans: the statements of an enrollment that look
// a row up find it by their index in the generic plan, the one a pooled
// connection keeps for a prepared statement after five executions. The
// revocation of a serial's active device once named its status as a
// parameter, which cannot prove the partial index's WHERE status =
// 'active', and scanned the whole devices table in every enrollment
// (enrollments slowed as 1/n: docs/BENCHMARKS.md, Side findings).
func TestEnrollmentGenericPlans(t *testing.T) {
	// Enough rows that a scan is dearer than the index, as in a
	// registry of a few thousand devices; half of them revoked.
	_, conn := planStore(t,
		`INSERT INTO warehouses (id, name, code, created_at, updated_at) VALUES ('wh_plan', 'Plan', 'PLAN', now(), now())`,
		`INSERT INTO devices (id, serial, warehouse_id, label, model, os_version, app_version, enrolled_by, enrolled_at, status, token_hash)
			SELECT 'dev_' || i, 'SN-' || (i / 2), 'wh_plan', '', '', '', '', 'mgr_x', now(),
				CASE WHEN i % 2 = 0 THEN 'active' ELSE 'revoked' END, 'h' || i
			FROM generate_series(1, 5000) AS i`,
		`INSERT INTO enrollment_tokens (id, warehouse_id, name, max_uses, uses, created_by, created_at, expires_at, hash)
			SELECT 'ent_' || i, 'wh_plan', '', 10, 0, 'manager:mgr_x', now(), now() + interval '1 hour', 'th' || i
			FROM generate_series(1, 2000) AS i`,
		`ANALYZE devices`,
		`ANALYZE enrollment_tokens`,
	)
	checkGenericPlans(t, conn, []planCase{
		{"token by hash", lockedTokenSQL("hash = $1"), `'th7'`, "enrollment_tokens_hash_key"},
		{"token saved", saveTokenSQL, `'ent_7', '', 10, 1, now(), now(), NULL`, "enrollment_tokens_pkey"},
		{"serial revoked", revokeActiveSerialSQL, `'SN-7', 'revoked', now()`, "devices_active_serial_key"},
	})
}
