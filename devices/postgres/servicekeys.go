package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

const serviceKeyColumns = "id, name, scope, hash, created_by, created_at, last_used_at, revoked_at"

// scanServiceKey reads one row of serviceKeyColumns.
func scanServiceKey(row pgx.CollectableRow) (devices.ServiceKey, error) {
	var k devices.ServiceKey
	var hash *string
	if err := row.Scan(&k.ID, &k.Name, &k.Scope, &hash, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt); err != nil {
		return k, err
	}
	k.Hash = emptyIfNull(hash)
	fromDB(&k.CreatedAt)
	fromDBPtr(&k.LastUsedAt)
	fromDBPtr(&k.RevokedAt)
	return k, nil
}

// serviceKeyRow is k's values in the order of serviceKeyColumns.
func serviceKeyRow(k devices.ServiceKey) []any {
	return []any{k.ID, k.Name, string(k.Scope), nullIfEmpty(k.Hash), k.CreatedBy, utc(k.CreatedAt),
		utcPtr(k.LastUsedAt), utcPtr(k.RevokedAt)}
}

// CreateServiceKey inserts k and ev.
func (s *Store) CreateServiceKey(ctx context.Context, k devices.ServiceKey, ev devices.Event) error {
	return s.inTx(ctx, "create service key "+k.ID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO service_keys ("+serviceKeyColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			serviceKeyRow(k)...); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
}

// UpdateServiceKey locks the key, lets fn change it and saves it with
// fn's event. The id cannot change.
func (s *Store) UpdateServiceKey(ctx context.Context, id string, fn func(*devices.ServiceKey) (devices.Event, error)) (devices.ServiceKey, error) {
	var out devices.ServiceKey
	err := s.inTx(ctx, "update service key "+id, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, "SELECT "+serviceKeyColumns+" FROM service_keys WHERE id = $1 FOR UPDATE", id)
		k, err := pgx.CollectExactlyOneRow(rows, scanServiceKey)
		if err != nil {
			return err
		}
		ev, err := fn(&k)
		if err != nil {
			return callerError{err}
		}
		k.ID = id
		rows, _ = tx.Query(ctx, `UPDATE service_keys SET name = $2, scope = $3, hash = $4, created_by = $5,
			created_at = $6, last_used_at = $7, revoked_at = $8
			WHERE id = $1 RETURNING `+serviceKeyColumns, serviceKeyRow(k)...)
		if out, err = pgx.CollectExactlyOneRow(rows, scanServiceKey); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return devices.ServiceKey{}, err
	}
	return out, nil
}

// ServiceKey returns the key with id, revoked or not.
func (s *Store) ServiceKey(ctx context.Context, id string) (devices.ServiceKey, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+serviceKeyColumns+" FROM service_keys WHERE id = $1", id)
	k, err := pgx.CollectExactlyOneRow(rows, scanServiceKey)
	if err != nil {
		return devices.ServiceKey{}, translate("service key "+id, err)
	}
	return k, nil
}

// ServiceKeyByHash returns the key with hash, revoked or not; "" matches
// nothing.
func (s *Store) ServiceKeyByHash(ctx context.Context, hash string) (devices.ServiceKey, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+serviceKeyColumns+" FROM service_keys WHERE hash = $1", hash)
	k, err := pgx.CollectExactlyOneRow(rows, scanServiceKey)
	if err != nil {
		return devices.ServiceKey{}, translate("service key by hash", err)
	}
	return k, nil
}

// ServiceKeys lists every key, revoked ones included, by id.
func (s *Store) ServiceKeys(ctx context.Context, p devices.Page) ([]devices.ServiceKey, error) {
	var w where
	if p.After != "" {
		w.add("id > %s", w.arg(p.After))
	}
	q := "SELECT " + serviceKeyColumns + " FROM service_keys" + w.String() + fmt.Sprintf(" ORDER BY id LIMIT %d", limit(p))
	rows, _ := s.pool.Query(ctx, q, w.args...)
	ks, err := pgx.CollectRows(rows, scanServiceKey)
	if err != nil {
		return nil, translate("list service keys", err)
	}
	return ks, nil
}

// TouchServiceKey moves the key's last use to at (never backwards).
func (s *Store) TouchServiceKey(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, "UPDATE service_keys SET last_used_at = greatest(last_used_at, $2) WHERE id = $1", id, utc(at))
	if err != nil {
		return translate("touch service key "+id, err)
	}
	if tag.RowsAffected() == 0 {
		return translate("touch service key "+id, pgx.ErrNoRows)
	}
	return nil
}
