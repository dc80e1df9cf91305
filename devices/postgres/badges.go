package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

// Badge returns the user's badge.
func (s *Store) Badge(ctx context.Context, userID string) (devices.Badge, error) {
	b := devices.Badge{UserID: userID}
	err := s.pool.QueryRow(ctx, "SELECT key, set_at, set_by FROM badges WHERE user_id = $1", userID).Scan(&b.Key, &b.SetAt, &b.SetBy)
	if err != nil {
		return devices.Badge{}, translate("badge of "+userID, err)
	}
	fromDB(&b.SetAt)
	return b, nil
}

// UserByBadge returns the holder of the badge with key.
func (s *Store) UserByBadge(ctx context.Context, key string) (devices.User, error) {
	return s.user(ctx, "user by badge", "id = (SELECT user_id FROM badges WHERE key = $1)", key)
}

// lockedUser reads user id FOR UPDATE.
func lockedUser(ctx context.Context, tx pgx.Tx, id string) (devices.User, error) {
	rows, _ := tx.Query(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1 FOR UPDATE", id)
	return pgx.CollectExactlyOneRow(rows, scanUser)
}

// SetBadge locks the user, lets fn accept the change, and upserts b.
func (s *Store) SetBadge(ctx context.Context, b devices.Badge, fn func(devices.User) (devices.Event, error)) (bool, error) {
	var replaced bool
	err := s.inTx(ctx, "set badge of "+b.UserID, func(tx pgx.Tx) error {
		u, err := lockedUser(ctx, tx, b.UserID)
		if err != nil {
			return err
		}
		ev, err := fn(u)
		if err != nil {
			return callerError{err}
		}
		var old string
		err = tx.QueryRow(ctx, "SELECT key FROM badges WHERE user_id = $1", b.UserID).Scan(&old)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			replaced = old != b.Key
		}
		if old != b.Key {
			if err := countBadgeChange(ctx, tx, b.UserID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO badges (user_id, key, set_at, set_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id) DO UPDATE SET key = EXCLUDED.key, set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by`,
			b.UserID, b.Key, utc(b.SetAt), b.SetBy); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	return replaced, err
}

// AddBadges locks the users, lets fn accept each, and inserts the badges
// with one statement.
func (s *Store) AddBadges(ctx context.Context, bs []devices.Badge, fn func(devices.User) (devices.Event, error)) error {
	if len(bs) == 0 {
		return nil
	}
	ids, keys, ats, bys := make([]string, len(bs)), make([]string, len(bs)), make([]time.Time, len(bs)), make([]string, len(bs))
	for i, b := range bs {
		ids[i], keys[i], ats[i], bys[i] = b.UserID, b.Key, utc(b.SetAt), b.SetBy
	}
	return s.inTx(ctx, fmt.Sprintf("add %d badges", len(bs)), func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, "SELECT "+userColumns+" FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
		users, err := pgx.CollectRows(rows, scanUser)
		if err != nil {
			return err
		}
		byID := make(map[string]devices.User, len(users))
		for _, u := range users {
			byID[u.ID] = u
		}
		evs := make([]devices.Event, 0, len(bs))
		for _, b := range bs {
			u, ok := byID[b.UserID]
			if !ok {
				return callerError{fmt.Errorf("add badges: user %s: %w", b.UserID, devices.ErrNotFound)}
			}
			ev, err := fn(u)
			if err != nil {
				return callerError{err}
			}
			evs = append(evs, ev)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO badges (user_id, key, set_at, set_by)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])`, ids, keys, ats, bys); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE users SET badge_changes = badge_changes + 1 WHERE id = ANY($1)", ids); err != nil {
			return err
		}
		return insertEvents(ctx, tx, evs...)
	})
}

// RemoveBadge deletes the user's badge.
func (s *Store) RemoveBadge(ctx context.Context, userID string, fn func(devices.User) (devices.Event, error)) error {
	return s.inTx(ctx, "remove badge of "+userID, func(tx pgx.Tx) error {
		u, err := lockedUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		ev, err := fn(u)
		if err != nil {
			return callerError{err}
		}
		tag, err := tx.Exec(ctx, "DELETE FROM badges WHERE user_id = $1", userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return callerError{fmt.Errorf("badge of %s: %w", userID, devices.ErrNotFound)}
		}
		if err := countBadgeChange(ctx, tx, userID); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
}

// countBadgeChange adds one to the user's count of badge changes.
func countBadgeChange(ctx context.Context, tx pgx.Tx, userID string) error {
	_, err := tx.Exec(ctx, "UPDATE users SET badge_changes = badge_changes + 1 WHERE id = $1", userID)
	return err
}
