package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

const custodyColumns = "session_id, device_id, user_id, warehouse_id, method, started_at, ended_at, end_reason, ended_by"

func scanCustody(row pgx.CollectableRow) (devices.Custody, error) {
	var c devices.Custody
	var reason, by *string
	if err := row.Scan(&c.SessionID, &c.DeviceID, &c.UserID, &c.WarehouseID, &c.Method, &c.StartedAt, &c.EndedAt, &reason, &by); err != nil {
		return c, err
	}
	fromDB(&c.StartedAt)
	fromDBPtr(&c.EndedAt)
	c.EndReason, c.EndedBy = emptyIfNull(reason), emptyIfNull(by)
	return c, nil
}

// StartCustody inserts c without an end.
func (s *Store) StartCustody(ctx context.Context, c devices.Custody) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO custody (session_id, device_id, user_id, warehouse_id, method, started_at) VALUES ($1, $2, $3, $4, $5, $6)",
		c.SessionID, c.DeviceID, c.UserID, c.WarehouseID, c.Method, utc(c.StartedAt))
	return translate("start custody of "+c.SessionID, err)
}

// EndCustody fills in the ends in one statement. Several writers may end
// the same sessions at once (every instance's custody flusher notes each
// session end it hears, and the admin API writes the ends it caused with
// its actor; a warehouse logout's ends have the admin API as their one
// writer, unless the sweep's recovery publishes them), each in its own order: an
// UPDATE locks rows in the order its plan meets them, so two of them
// could each hold a row the other waits for, a deadlock that PostgreSQL
// breaks only after deadlock_timeout (1 s), past the store's deadline.
// The rows are therefore locked first, in session id order (the same
// order for every writer, so one waits for the other and never the
// other way round), and only those with something left to fill in: a
// flusher that comes after the admin's write neither waits nor writes.
func (s *Store) EndCustody(ctx context.Context, ends []devices.CustodyEnd) error {
	if len(ends) == 0 {
		return nil
	}
	ids := make([]string, len(ends))
	ats := make([]time.Time, len(ends))
	reasons := make([]string, len(ends))
	bys := make([]*string, len(ends))
	for i, e := range ends {
		ids[i], ats[i], reasons[i], bys[i] = e.SessionID, utc(e.At), e.Reason, nullIfEmpty(e.By)
	}
	_, err := s.pool.Exec(ctx, `WITH e AS (
			SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]) AS e(id, at, reason, by)
		), locked AS MATERIALIZED (
			SELECT c.session_id FROM custody c JOIN e ON c.session_id = e.id
			WHERE c.ended_at IS NULL
				OR (c.end_reason IS NULL AND e.reason <> '')
				OR (c.ended_by IS NULL AND e.by IS NOT NULL)
			ORDER BY c.session_id
			FOR UPDATE OF c
		)
		UPDATE custody c SET
			ended_at = coalesce(c.ended_at, e.at),
			end_reason = coalesce(c.end_reason, nullif(e.reason, '')),
			ended_by = coalesce(c.ended_by, e.by)
		FROM locked, e
		WHERE c.session_id = locked.session_id AND e.id = locked.session_id`, ids, ats, reasons, bys)
	return translate(fmt.Sprintf("end custody of %d sessions", len(ends)), err)
}

// Custody lists records newest first.
func (s *Store) Custody(ctx context.Context, f devices.CustodyFilter) ([]devices.Custody, error) {
	if f.WarehouseIDs != nil && len(f.WarehouseIDs) == 0 {
		return []devices.Custody{}, nil
	}
	var w where
	switch {
	case len(f.WarehouseIDs) == 1:
		// Equality, not ANY: the index then yields the rows in order,
		// and a page reads only its own rows.
		w.add("warehouse_id = %s", w.arg(f.WarehouseIDs[0]))
	case f.WarehouseIDs != nil:
		w.add("warehouse_id = ANY(%s)", w.arg(f.WarehouseIDs))
	}
	if f.DeviceID != "" {
		w.add("device_id = %s", w.arg(f.DeviceID))
	}
	if f.UserID != "" {
		w.add("user_id = %s", w.arg(f.UserID))
	}
	if f.Method != "" {
		w.add("method = %s", w.arg(f.Method))
	}
	if !f.To.IsZero() {
		w.add("started_at < %s", w.arg(utc(f.To)))
	}
	if !f.From.IsZero() {
		// A session lives at most CustodyLookback: one that began
		// earlier cannot reach From, and the bound keeps the scan short.
		w.add("(ended_at IS NULL OR ended_at >= %[1]s) AND started_at >= %[2]s", w.arg(utc(f.From)), w.arg(utc(f.From.Add(-devices.CustodyLookback))))
	}
	if f.OpenAt != nil {
		at := utc(*f.OpenAt)
		w.add("started_at <= %[1]s AND started_at > %[2]s AND (ended_at IS NULL OR ended_at > %[1]s)", w.arg(at), w.arg(at.Add(-devices.CustodyLookback)))
	}
	if f.After != nil {
		w.add("(started_at, session_id) < (%s, %s)", w.arg(utc(f.After.StartedAt)), w.arg(f.After.SessionID))
	}
	q := "SELECT " + custodyColumns + " FROM custody" + w.String() +
		fmt.Sprintf(" ORDER BY started_at DESC, session_id DESC LIMIT %d", limit(devices.Page{Limit: f.Limit}))
	rows, _ := s.pool.Query(ctx, q, w.args...)
	cs, err := pgx.CollectRows(rows, scanCustody)
	if err != nil {
		return nil, translate("list custody", err)
	}
	return cs, nil
}

// PurgeCustody deletes the records older than cutoff.
func (s *Store) PurgeCustody(ctx context.Context, cutoff time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM custody WHERE coalesce(ended_at, started_at) < $1", utc(cutoff))
	if err != nil {
		return 0, translate("purge custody", err)
	}
	return int(tag.RowsAffected()), nil
}
