package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

const managerLinkColumns = "id, manager_id, kind, created_by, created_at, expires_at, used_at, revoked_at, hash"

// scanManagerLink reads one row of managerLinkColumns.
func scanManagerLink(row pgx.CollectableRow) (devices.ManagerLink, error) {
	var l devices.ManagerLink
	if err := row.Scan(&l.ID, &l.ManagerID, &l.Kind, &l.CreatedBy, &l.CreatedAt, &l.ExpiresAt, &l.UsedAt, &l.RevokedAt, &l.Hash); err != nil {
		return l, err
	}
	fromDB(&l.CreatedAt)
	fromDB(&l.ExpiresAt)
	fromDBPtr(&l.UsedAt)
	fromDBPtr(&l.RevokedAt)
	return l, nil
}

// CreateManagerLink revokes the manager's live links of l's kind, then
// inserts l and ev.
func (s *Store) CreateManagerLink(ctx context.Context, l devices.ManagerLink, ev devices.Event) error {
	return s.inTx(ctx, "create manager link "+l.ID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE manager_links SET revoked_at = $3
			WHERE manager_id = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL`, l.ManagerID, l.Kind, utc(l.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO manager_links ("+managerLinkColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			l.ID, l.ManagerID, l.Kind, l.CreatedBy, utc(l.CreatedAt), utc(l.ExpiresAt), utcPtr(l.UsedAt), utcPtr(l.RevokedAt), l.Hash); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
}

// ManagerLinkByHash returns the link with hash.
func (s *Store) ManagerLinkByHash(ctx context.Context, hash string) (devices.ManagerLink, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+managerLinkColumns+" FROM manager_links WHERE hash = $1", hash)
	l, err := pgx.CollectExactlyOneRow(rows, scanManagerLink)
	if err != nil {
		return devices.ManagerLink{}, translate("manager link", err)
	}
	return l, nil
}

// ManagerLinks lists a manager's links by id.
func (s *Store) ManagerLinks(ctx context.Context, managerID string) ([]devices.ManagerLink, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+managerLinkColumns+" FROM manager_links WHERE manager_id = $1 ORDER BY id", managerID)
	ls, err := pgx.CollectRows(rows, scanManagerLink)
	if err != nil {
		return nil, translate("manager links", err)
	}
	return ls, nil
}

// RevokeManagerLinks revokes the manager's live links of kind, and
// appends ev when there were some.
func (s *Store) RevokeManagerLinks(ctx context.Context, managerID, kind string, at time.Time, ev devices.Event) (int, error) {
	var n int
	err := s.inTx(ctx, "revoke manager links", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE manager_links SET revoked_at = $3
			WHERE manager_id = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL`, managerID, kind, utc(at))
		if err != nil {
			return err
		}
		if n = int(tag.RowsAffected()); n == 0 {
			return nil
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// UseManagerLink locks the link and its manager, lets fn change both,
// and saves them, revoking the manager's other live links and deleting
// their tokens, in one transaction.
func (s *Store) UseManagerLink(ctx context.Context, hash string, fn func(*devices.ManagerLink, *devices.Manager) ([]devices.Event, error)) (devices.ManagerLink, devices.Manager, error) {
	var (
		outL devices.ManagerLink
		outM devices.Manager
	)
	err := s.inTx(ctx, "use manager link", func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, "SELECT "+managerLinkColumns+" FROM manager_links WHERE hash = $1 FOR UPDATE", hash)
		l, err := pgx.CollectExactlyOneRow(rows, scanManagerLink)
		if err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, managerSelect+" WHERE m.id = $1 FOR UPDATE OF m", l.ManagerID)
		m, err := pgx.CollectExactlyOneRow(rows, scanManager)
		if err != nil {
			return err
		}
		id, managerID := l.ID, m.ID
		evs, err := fn(&l, &m)
		if err != nil {
			return callerError{err}
		}
		l.ID, m.ID = id, managerID
		if _, err := tx.Exec(ctx, "UPDATE manager_links SET used_at = $2, revoked_at = $3 WHERE id = $1", id, utcPtr(l.UsedAt), utcPtr(l.RevokedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE managers SET password_hash = $2, status = $3, updated_at = $4 WHERE id = $1",
			managerID, m.PasswordHash, string(m.Status), utc(m.UpdatedAt)); err != nil {
			return err
		}
		if l.UsedAt != nil {
			if _, err := tx.Exec(ctx, `UPDATE manager_links SET revoked_at = $3
				WHERE manager_id = $1 AND id <> $2 AND used_at IS NULL AND revoked_at IS NULL`, managerID, id, utc(*l.UsedAt)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM manager_tokens WHERE manager_id = $1", managerID); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, "SELECT "+managerLinkColumns+" FROM manager_links WHERE id = $1", id)
		if outL, err = pgx.CollectExactlyOneRow(rows, scanManagerLink); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, managerSelect+" WHERE m.id = $1", managerID)
		if outM, err = pgx.CollectExactlyOneRow(rows, scanManager); err != nil {
			return err
		}
		return insertEvents(ctx, tx, evs...)
	})
	if err != nil {
		return devices.ManagerLink{}, devices.Manager{}, err
	}
	return outL, outM, nil
}
