package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/floorgate/floorgate/devices"
)

const managerLinkColumns = "id, manager_id, kind, created_by, created_at, expires_at, used_at, revoked_at, hash"

// maxManagerLinks bounds the links one ManagerLinks call reads: a
// manager gets one per invitation or reset, so a few at most.
const maxManagerLinks = 1000

func scanManagerLink(sc scanner) (devices.ManagerLink, error) {
	var l devices.ManagerLink
	var created, expires int64
	var used, revoked sql.NullInt64
	if err := sc.Scan(&l.ID, &l.ManagerID, &l.Kind, &l.CreatedBy, &created, &expires, &used, &revoked, &l.Hash); err != nil {
		return l, err
	}
	l.CreatedAt, l.ExpiresAt = fromTS(created), fromTS(expires)
	l.UsedAt, l.RevokedAt = fromNullTS(used), fromNullTS(revoked)
	return l, nil
}

// revokeLiveLinks revokes the manager's links that are neither used nor
// revoked, of kind ("" for every kind) and other than except.
func revokeLiveLinks(ctx context.Context, tx *sql.Tx, op, managerID, kind, except string, at time.Time) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE manager_links SET revoked_at = ?
		WHERE manager_id = ? AND (? = '' OR kind = ?) AND id <> ? AND used_at IS NULL AND revoked_at IS NULL`,
		ts(at), managerID, kind, kind, except)
	if err != nil {
		return 0, translate(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate(ctx, op, err)
	}
	return int(n), nil
}

// CreateManagerLink revokes the manager's live links of l's kind, then
// inserts l and ev.
func (s *Store) CreateManagerLink(ctx context.Context, l devices.ManagerLink, ev devices.Event) error {
	op := "create manager link " + l.ID
	return s.write(ctx, op, func(tx *sql.Tx) error {
		if _, err := revokeLiveLinks(ctx, tx, op, l.ManagerID, l.Kind, "", l.CreatedAt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO manager_links (`+managerLinkColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.ManagerID, l.Kind, l.CreatedBy, ts(l.CreatedAt), ts(l.ExpiresAt), nullTS(l.UsedAt), nullTS(l.RevokedAt), l.Hash); err != nil {
			return translate(ctx, op, err)
		}
		return appendEvents(ctx, tx, op, ev)
	})
}

// ManagerLinkByHash returns the link with hash.
func (s *Store) ManagerLinkByHash(ctx context.Context, hash string) (devices.ManagerLink, error) {
	l, err := scanManagerLink(s.r.QueryRowContext(ctx, `SELECT `+managerLinkColumns+` FROM manager_links WHERE hash = ?`, hash))
	if err != nil {
		return devices.ManagerLink{}, translate(ctx, "manager link", err)
	}
	return l, nil
}

// ManagerLinks lists a manager's links by id.
func (s *Store) ManagerLinks(ctx context.Context, managerID string) ([]devices.ManagerLink, error) {
	var w where
	w.add("manager_id = ?", managerID)
	return list(ctx, s.r, "manager links", `SELECT `+managerLinkColumns+` FROM manager_links`, &w, "id", maxManagerLinks, scanManagerLink)
}

// RevokeManagerLinks revokes the manager's live links of kind, and
// appends ev when there were some.
func (s *Store) RevokeManagerLinks(ctx context.Context, managerID, kind string, at time.Time, ev devices.Event) (int, error) {
	op := "revoke manager links"
	var n int
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		var err error
		if n, err = revokeLiveLinks(ctx, tx, op, managerID, kind, "", at); err != nil || n == 0 {
			return err
		}
		return appendEvents(ctx, tx, op, ev)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// UseManagerLink reads the link and its manager, lets fn change both,
// and saves them, revoking the manager's other live links and deleting
// their tokens, in one write transaction (SQLite has one writer, so uses
// of a link are serialised).
func (s *Store) UseManagerLink(ctx context.Context, hash string, fn func(*devices.ManagerLink, *devices.Manager) ([]devices.Event, error)) (devices.ManagerLink, devices.Manager, error) {
	var (
		outL devices.ManagerLink
		outM devices.Manager
	)
	op := "use manager link"
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		l, err := scanManagerLink(tx.QueryRowContext(ctx, `SELECT `+managerLinkColumns+` FROM manager_links WHERE hash = ?`, hash))
		if err != nil {
			return translate(ctx, op, err)
		}
		m, err := managerBy(ctx, tx, op, "id = ?", l.ManagerID)
		if err != nil {
			return err
		}
		id, managerID := l.ID, m.ID
		evs, err := fn(&l, &m)
		if err != nil {
			return err
		}
		l.ID, m.ID = id, managerID
		if _, err := tx.ExecContext(ctx, `UPDATE manager_links SET used_at = ?, revoked_at = ? WHERE id = ?`, nullTS(l.UsedAt), nullTS(l.RevokedAt), id); err != nil {
			return translate(ctx, op, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE managers SET password_hash = ?, status = ?, updated_at = ? WHERE id = ?`,
			m.PasswordHash, string(m.Status), ts(m.UpdatedAt), managerID); err != nil {
			return translate(ctx, op, err)
		}
		if l.UsedAt != nil {
			if _, err := revokeLiveLinks(ctx, tx, op, managerID, "", id, *l.UsedAt); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM manager_tokens WHERE manager_id = ?`, managerID); err != nil {
			return translate(ctx, op, err)
		}
		if outL, err = scanManagerLink(tx.QueryRowContext(ctx, `SELECT `+managerLinkColumns+` FROM manager_links WHERE id = ?`, id)); err != nil {
			return translate(ctx, op, err)
		}
		if outM, err = managerBy(ctx, tx, op, "id = ?", managerID); err != nil {
			return err
		}
		return appendEvents(ctx, tx, op, evs...)
	})
	if err != nil {
		return devices.ManagerLink{}, devices.Manager{}, err
	}
	return outL, outM, nil
}
