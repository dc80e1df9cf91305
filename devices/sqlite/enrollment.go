package sqlite

import (
	"context"
	"database/sql"

	"github.com/floorgate/floorgate/devices"
)

const enrollmentTokenColumns = "id, warehouse_id, name, max_uses, uses, created_by, created_at, expires_at, last_used_at, revoked_at, hash"

func scanEnrollmentToken(sc scanner) (devices.EnrollmentToken, error) {
	var t devices.EnrollmentToken
	var created, expires int64
	var used, revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.WarehouseID, &t.Name, &t.MaxUses, &t.Uses, &t.CreatedBy, &created, &expires,
		&used, &revoked, &t.Hash); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt = fromTS(created), fromTS(expires)
	t.LastUsedAt, t.RevokedAt = fromNullTS(used), fromNullTS(revoked)
	return t, nil
}

// CreateEnrollmentToken inserts t and ev.
func (s *Store) CreateEnrollmentToken(ctx context.Context, t devices.EnrollmentToken, ev devices.Event) error {
	op := "create enrollment token " + t.ID
	return s.write(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO enrollment_tokens (`+enrollmentTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.WarehouseID, t.Name, t.MaxUses, t.Uses, t.CreatedBy, ts(t.CreatedAt), ts(t.ExpiresAt),
			nullTS(t.LastUsedAt), nullTS(t.RevokedAt), t.Hash); err != nil {
			return translate(ctx, op, err)
		}
		return appendEvents(ctx, tx, op, ev)
	})
}

// saveToken writes t back; the id, warehouse, hash and creation cannot
// change.
func saveToken(ctx context.Context, tx *sql.Tx, op string, t devices.EnrollmentToken) (devices.EnrollmentToken, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE enrollment_tokens SET name = ?, max_uses = ?, uses = ?, expires_at = ?,
		last_used_at = ?, revoked_at = ? WHERE id = ?`,
		t.Name, t.MaxUses, t.Uses, ts(t.ExpiresAt), nullTS(t.LastUsedAt), nullTS(t.RevokedAt), t.ID); err != nil {
		return devices.EnrollmentToken{}, translate(ctx, op, err)
	}
	out, err := scanEnrollmentToken(tx.QueryRowContext(ctx, `SELECT `+enrollmentTokenColumns+` FROM enrollment_tokens WHERE id = ?`, t.ID))
	if err != nil {
		return devices.EnrollmentToken{}, translate(ctx, op, err)
	}
	return out, nil
}

// UpdateEnrollmentToken reads the token, lets fn change it and saves it
// with fn's event.
func (s *Store) UpdateEnrollmentToken(ctx context.Context, id string, fn func(*devices.EnrollmentToken) (devices.Event, error)) (devices.EnrollmentToken, error) {
	var out devices.EnrollmentToken
	op := "update enrollment token " + id
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		t, err := scanEnrollmentToken(tx.QueryRowContext(ctx, `SELECT `+enrollmentTokenColumns+` FROM enrollment_tokens WHERE id = ?`, id))
		if err != nil {
			return translate(ctx, op, err)
		}
		ev, err := fn(&t)
		if err != nil {
			return err
		}
		t.ID = id
		if out, err = saveToken(ctx, tx, op, t); err != nil {
			return err
		}
		return appendEvents(ctx, tx, op, ev)
	})
	if err != nil {
		return devices.EnrollmentToken{}, err
	}
	return out, nil
}

// EnrollmentToken returns the token with id.
func (s *Store) EnrollmentToken(ctx context.Context, id string) (devices.EnrollmentToken, error) {
	t, err := scanEnrollmentToken(s.r.QueryRowContext(ctx, `SELECT `+enrollmentTokenColumns+` FROM enrollment_tokens WHERE id = ?`, id))
	if err != nil {
		return devices.EnrollmentToken{}, translate(ctx, "enrollment token "+id, err)
	}
	return t, nil
}

// EnrollmentTokens lists tokens by id.
func (s *Store) EnrollmentTokens(ctx context.Context, f devices.EnrollmentTokenFilter) ([]devices.EnrollmentToken, error) {
	var w where
	if f.WarehouseIDs != nil {
		w.in("warehouse_id", f.WarehouseIDs)
	}
	if f.ActiveAt != nil {
		w.add("revoked_at IS NULL AND uses < max_uses AND expires_at > ?", ts(*f.ActiveAt))
	}
	if f.After != "" {
		w.add("id > ?", f.After)
	}
	return list(ctx, s.r, "list enrollment tokens", `SELECT `+enrollmentTokenColumns+` FROM enrollment_tokens`, &w, "id", limit(f.Page), scanEnrollmentToken)
}

// EnrollWithToken reads the token with hash, lets fn spend it, and
// enrolls fn's device, all in one write transaction (SQLite has one
// writer, so uses of a token are serialised).
func (s *Store) EnrollWithToken(ctx context.Context, hash string, fn func(*devices.EnrollmentToken) (devices.Device, []devices.Event, error)) (devices.EnrollmentToken, devices.Device, *devices.Device, error) {
	var (
		out      devices.EnrollmentToken
		dev      devices.Device
		replaced *devices.Device
	)
	op := "enroll with a token"
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		t, err := scanEnrollmentToken(tx.QueryRowContext(ctx, `SELECT `+enrollmentTokenColumns+` FROM enrollment_tokens WHERE hash = ?`, hash))
		if err != nil {
			return translate(ctx, op, err)
		}
		id := t.ID
		d, evs, err := fn(&t)
		if err != nil {
			return err
		}
		t.ID = id
		if out, err = saveToken(ctx, tx, op, t); err != nil {
			return err
		}
		if replaced, err = enrollTx(ctx, tx, op, d); err != nil {
			return err
		}
		dev = d
		return appendEvents(ctx, tx, op, evs...)
	})
	if err != nil {
		return devices.EnrollmentToken{}, devices.Device{}, nil, err
	}
	return out, dev, replaced, nil
}
