package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

const enrollmentTokenColumns = "id, warehouse_id, name, max_uses, uses, created_by, created_at, expires_at, last_used_at, revoked_at, hash"

// scanEnrollmentToken reads one row of enrollmentTokenColumns.
func scanEnrollmentToken(row pgx.CollectableRow) (devices.EnrollmentToken, error) {
	var t devices.EnrollmentToken
	if err := row.Scan(&t.ID, &t.WarehouseID, &t.Name, &t.MaxUses, &t.Uses, &t.CreatedBy, &t.CreatedAt, &t.ExpiresAt,
		&t.LastUsedAt, &t.RevokedAt, &t.Hash); err != nil {
		return t, err
	}
	fromDB(&t.CreatedAt)
	fromDB(&t.ExpiresAt)
	fromDBPtr(&t.LastUsedAt)
	fromDBPtr(&t.RevokedAt)
	return t, nil
}

func enrollmentTokenRow(t devices.EnrollmentToken) []any {
	return []any{t.ID, t.WarehouseID, t.Name, t.MaxUses, t.Uses, t.CreatedBy, utc(t.CreatedAt), utc(t.ExpiresAt),
		utcPtr(t.LastUsedAt), utcPtr(t.RevokedAt), t.Hash}
}

// CreateEnrollmentToken inserts t and ev.
func (s *Store) CreateEnrollmentToken(ctx context.Context, t devices.EnrollmentToken, ev devices.Event) error {
	return s.inTx(ctx, "create enrollment token "+t.ID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO enrollment_tokens ("+enrollmentTokenColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			enrollmentTokenRow(t)...); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
}

// lockedTokenSQL reads the token with cond (one argument) FOR UPDATE.
func lockedTokenSQL(cond string) string {
	return "SELECT " + enrollmentTokenColumns + " FROM enrollment_tokens WHERE " + cond + " FOR UPDATE"
}

// lockedToken reads the token with cond (one argument) FOR UPDATE.
func lockedToken(ctx context.Context, tx pgx.Tx, cond string, arg any) (devices.EnrollmentToken, error) {
	rows, _ := tx.Query(ctx, lockedTokenSQL(cond), arg)
	return pgx.CollectExactlyOneRow(rows, scanEnrollmentToken)
}

// saveTokenSQL writes a token back by its id ($1).
const saveTokenSQL = `UPDATE enrollment_tokens SET name = $2, max_uses = $3, uses = $4, expires_at = $5,
		last_used_at = $6, revoked_at = $7 WHERE id = $1 RETURNING ` + enrollmentTokenColumns

// saveToken writes t back; the id, warehouse, hash and creation cannot
// change.
func saveToken(ctx context.Context, tx pgx.Tx, t devices.EnrollmentToken) (devices.EnrollmentToken, error) {
	rows, _ := tx.Query(ctx, saveTokenSQL,
		t.ID, t.Name, t.MaxUses, t.Uses, utc(t.ExpiresAt), utcPtr(t.LastUsedAt), utcPtr(t.RevokedAt))
	return pgx.CollectExactlyOneRow(rows, scanEnrollmentToken)
}

// UpdateEnrollmentToken locks the token, lets fn change it and saves it
// with fn's event.
func (s *Store) UpdateEnrollmentToken(ctx context.Context, id string, fn func(*devices.EnrollmentToken) (devices.Event, error)) (devices.EnrollmentToken, error) {
	var out devices.EnrollmentToken
	err := s.inTx(ctx, "update enrollment token "+id, func(tx pgx.Tx) error {
		t, err := lockedToken(ctx, tx, "id = $1", id)
		if err != nil {
			return err
		}
		ev, err := fn(&t)
		if err != nil {
			return callerError{err}
		}
		t.ID = id
		if out, err = saveToken(ctx, tx, t); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return devices.EnrollmentToken{}, err
	}
	return out, nil
}

// EnrollmentToken returns the token with id.
func (s *Store) EnrollmentToken(ctx context.Context, id string) (devices.EnrollmentToken, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+enrollmentTokenColumns+" FROM enrollment_tokens WHERE id = $1", id)
	t, err := pgx.CollectExactlyOneRow(rows, scanEnrollmentToken)
	if err != nil {
		return devices.EnrollmentToken{}, translate("enrollment token "+id, err)
	}
	return t, nil
}

// EnrollmentTokens lists tokens by id.
func (s *Store) EnrollmentTokens(ctx context.Context, f devices.EnrollmentTokenFilter) ([]devices.EnrollmentToken, error) {
	var w where
	if f.WarehouseIDs != nil {
		w.add("warehouse_id = ANY(%s)", w.arg(f.WarehouseIDs))
	}
	if f.ActiveAt != nil {
		w.add("revoked_at IS NULL AND uses < max_uses AND expires_at > %s", w.arg(utc(*f.ActiveAt)))
	}
	if f.After != "" {
		w.add("id > %s", w.arg(f.After))
	}
	q := "SELECT " + enrollmentTokenColumns + " FROM enrollment_tokens" + w.String() + fmt.Sprintf(" ORDER BY id LIMIT %d", limit(f.Page))
	rows, _ := s.pool.Query(ctx, q, w.args...)
	ts, err := pgx.CollectRows(rows, scanEnrollmentToken)
	if err != nil {
		return nil, translate("list enrollment tokens", err)
	}
	return ts, nil
}

// EnrollWithToken locks the token with hash, lets fn spend it, and
// enrolls fn's device, all in one transaction.
func (s *Store) EnrollWithToken(ctx context.Context, hash string, fn func(*devices.EnrollmentToken) (devices.Device, []devices.Event, error)) (devices.EnrollmentToken, devices.Device, *devices.Device, error) {
	var (
		out      devices.EnrollmentToken
		dev      devices.Device
		replaced *devices.Device
	)
	err := s.inTx(ctx, "enroll with a token", func(tx pgx.Tx) error {
		t, err := lockedToken(ctx, tx, "hash = $1", hash)
		if err != nil {
			return err
		}
		id := t.ID
		d, evs, err := fn(&t)
		if err != nil {
			return callerError{err}
		}
		t.ID = id
		if out, err = saveToken(ctx, tx, t); err != nil {
			return err
		}
		if replaced, err = enrollTx(ctx, tx, d); err != nil {
			return err
		}
		dev = d
		return insertEvents(ctx, tx, evs...)
	})
	if err != nil {
		return devices.EnrollmentToken{}, devices.Device{}, nil, err
	}
	return out, dev, replaced, nil
}
