package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// This file keeps badges (by key) and custody records.

// Badge returns the user's badge.
func (s *Store) Badge(ctx context.Context, userID string) (devices.Badge, error) {
	b := devices.Badge{UserID: userID}
	var at int64
	err := s.r.QueryRowContext(ctx, "SELECT key, set_at, set_by FROM badges WHERE user_id = ?", userID).Scan(&b.Key, &at, &b.SetBy)
	if err != nil {
		return devices.Badge{}, translate(ctx, "badge of "+userID, err)
	}
	b.SetAt = fromTS(at)
	return b, nil
}

// UserByBadge returns the holder of the badge with key.
func (s *Store) UserByBadge(ctx context.Context, key string) (devices.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = (SELECT user_id FROM badges WHERE key = ?)`, key))
	return u, translate(ctx, "user by badge", err)
}

// badgeChange reads the user in a write transaction and lets fn accept
// the change; change then writes it.
func (s *Store) badgeChange(ctx context.Context, op, userID string, fn func(devices.User) (devices.Event, error), change func(tx *sql.Tx) error) error {
	return s.write(ctx, op, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, userID))
		if err != nil {
			return translate(ctx, op, err)
		}
		ev, err := fn(u)
		if err != nil {
			return err
		}
		if err := change(tx); err != nil {
			return err
		}
		return appendEvents(ctx, tx, op, ev)
	})
}

// SetBadge gives the user b, replacing their badge.
func (s *Store) SetBadge(ctx context.Context, b devices.Badge, fn func(devices.User) (devices.Event, error)) (bool, error) {
	op := "set badge of " + b.UserID
	replaced := false
	err := s.badgeChange(ctx, op, b.UserID, fn, func(tx *sql.Tx) error {
		replaced = false
		var old string
		err := tx.QueryRowContext(ctx, "SELECT key FROM badges WHERE user_id = ?", b.UserID).Scan(&old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return translate(ctx, op, err)
		default:
			replaced = old != b.Key
		}
		if old != b.Key {
			if err := countBadgeChange(ctx, tx, b.UserID); err != nil {
				return translate(ctx, op, err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO badges (user_id, key, set_at, set_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET key = excluded.key, set_at = excluded.set_at, set_by = excluded.set_by`,
			b.UserID, b.Key, ts(b.SetAt), b.SetBy)
		return translate(ctx, op, err)
	})
	return replaced, err
}

// AddBadges inserts first badges in one write transaction.
func (s *Store) AddBadges(ctx context.Context, bs []devices.Badge, fn func(devices.User) (devices.Event, error)) error {
	if len(bs) == 0 {
		return nil
	}
	op := fmt.Sprintf("add %d badges", len(bs))
	return s.write(ctx, op, func(tx *sql.Tx) error {
		read, err := tx.PrepareContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`)
		if err != nil {
			return translate(ctx, op, err)
		}
		defer read.Close()
		ins, err := tx.PrepareContext(ctx, "INSERT INTO badges (user_id, key, set_at, set_by) VALUES (?, ?, ?, ?)")
		if err != nil {
			return translate(ctx, op, err)
		}
		defer ins.Close()
		evs := make([]devices.Event, 0, len(bs))
		for _, b := range bs {
			u, err := scanUser(read.QueryRowContext(ctx, b.UserID))
			if err != nil {
				return translate(ctx, op+": user "+b.UserID, err)
			}
			ev, err := fn(u)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
			if _, err := ins.ExecContext(ctx, b.UserID, b.Key, ts(b.SetAt), b.SetBy); err != nil {
				return translate(ctx, op, err)
			}
			if err := countBadgeChange(ctx, tx, b.UserID); err != nil {
				return translate(ctx, op, err)
			}
		}
		return appendEvents(ctx, tx, op, evs...)
	})
}

// RemoveBadge deletes the user's badge.
func (s *Store) RemoveBadge(ctx context.Context, userID string, fn func(devices.User) (devices.Event, error)) error {
	op := "remove badge of " + userID
	return s.badgeChange(ctx, op, userID, fn, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM badges WHERE user_id = ?", userID)
		if err != nil {
			return translate(ctx, op, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%s: %w", op, devices.ErrNotFound)
		}
		return translate(ctx, op, countBadgeChange(ctx, tx, userID))
	})
}

// countBadgeChange adds one to the user's count of badge changes.
func countBadgeChange(ctx context.Context, tx *sql.Tx, userID string) error {
	_, err := tx.ExecContext(ctx, "UPDATE users SET badge_changes = badge_changes + 1 WHERE id = ?", userID)
	return err
}

const custodyColumns = "session_id, device_id, user_id, warehouse_id, method, started_at, ended_at, end_reason, ended_by"

func scanCustody(sc scanner) (devices.Custody, error) {
	var c devices.Custody
	var started int64
	var ended sql.NullInt64
	var reason, by sql.NullString
	if err := sc.Scan(&c.SessionID, &c.DeviceID, &c.UserID, &c.WarehouseID, &c.Method, &started, &ended, &reason, &by); err != nil {
		return c, err
	}
	c.StartedAt, c.EndedAt = fromTS(started), fromNullTS(ended)
	c.EndReason, c.EndedBy = reason.String, by.String
	return c, nil
}

// StartCustody inserts c without an end.
func (s *Store) StartCustody(ctx context.Context, c devices.Custody) error {
	op := "start custody of " + c.SessionID
	return s.write(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO custody (session_id, device_id, user_id, warehouse_id, method, started_at) VALUES (?, ?, ?, ?, ?, ?)",
			c.SessionID, c.DeviceID, c.UserID, c.WarehouseID, c.Method, ts(c.StartedAt))
		return translate(ctx, op, err)
	})
}

// EndCustody fills in the ends in one transaction.
func (s *Store) EndCustody(ctx context.Context, ends []devices.CustodyEnd) error {
	if len(ends) == 0 {
		return nil
	}
	op := fmt.Sprintf("end custody of %d sessions", len(ends))
	return s.write(ctx, op, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE custody SET ended_at = coalesce(ended_at, ?),
			end_reason = coalesce(end_reason, ?), ended_by = coalesce(ended_by, ?) WHERE session_id = ?`)
		if err != nil {
			return translate(ctx, op, err)
		}
		defer stmt.Close()
		for _, e := range ends {
			if _, err := stmt.ExecContext(ctx, ts(e.At), nullString(e.Reason), nullString(e.By), e.SessionID); err != nil {
				return translate(ctx, op, err)
			}
		}
		return nil
	})
}

// Custody lists records newest first.
func (s *Store) Custody(ctx context.Context, f devices.CustodyFilter) ([]devices.Custody, error) {
	var w where
	if f.WarehouseIDs != nil {
		if len(f.WarehouseIDs) == 0 {
			return []devices.Custody{}, nil
		}
		w.in("warehouse_id", f.WarehouseIDs)
	}
	if f.DeviceID != "" {
		w.add("device_id = ?", f.DeviceID)
	}
	if f.UserID != "" {
		w.add("user_id = ?", f.UserID)
	}
	if f.Method != "" {
		w.add("method = ?", f.Method)
	}
	if !f.To.IsZero() {
		w.add("started_at < ?", ts(f.To))
	}
	if !f.From.IsZero() {
		w.add("(ended_at IS NULL OR ended_at >= ?) AND started_at >= ?", ts(f.From), ts(f.From.Add(-devices.CustodyLookback)))
	}
	if f.OpenAt != nil {
		at := ts(*f.OpenAt)
		w.add("started_at <= ? AND started_at > ? AND (ended_at IS NULL OR ended_at > ?)", at, ts(f.OpenAt.Add(-devices.CustodyLookback)), at)
	}
	if f.After != nil {
		a := ts(f.After.StartedAt)
		w.add("(started_at < ? OR started_at = ? AND session_id < ?)", a, a, f.After.SessionID)
	}
	cs, err := list(ctx, s.r, "list custody", "SELECT "+custodyColumns+" FROM custody", &w,
		"started_at DESC, session_id DESC", limit(devices.Page{Limit: f.Limit}), scanCustody)
	if cs == nil && err == nil {
		cs = []devices.Custody{}
	}
	return cs, err
}

// PurgeCustody deletes the records older than cutoff.
func (s *Store) PurgeCustody(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := s.write(ctx, "purge custody", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM custody WHERE coalesce(ended_at, started_at) < ?", ts(cutoff))
		if err != nil {
			return translate(ctx, "purge custody", err)
		}
		m, err := res.RowsAffected()
		n = int(m)
		return translate(ctx, "purge custody", err)
	})
	return n, err
}
