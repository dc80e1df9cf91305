package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/floorgate/floorgate/devices"
)

var _ devices.LoginStarter = (*Store)(nil)

// startLoginSQL writes a login's custody record, reads its device and
// user again and appends its success events when devices.LoginReread's
// Changed would find nothing, in one statement: one round trip where
// the custody insert, the two re-reads and the audit insert took four.
//
// The statement's reads see the database as it was when it began, not
// the custody record it writes; a badge change that commits meanwhile
// and then looks for the user's open badge sessions would miss the
// record, and this read the change. So the user is read FOR SHARE: a
// badge change (which locks the user FOR UPDATE) that came first is
// waited for and its new row read, and one that comes later waits until
// this statement has committed, and then finds the record. The device
// needs no lock: a revocation ends the device's sessions in the session
// store after it commits, and this session was made before the
// statement began.
const startLoginSQL = `WITH u AS MATERIALIZED (
		SELECT status, warehouse_id, pin_hash, badge_changes FROM users WHERE id = $3 FOR SHARE
	), d AS MATERIALIZED (
		SELECT status, warehouse_id FROM devices WHERE id = $2
	), c AS (
		INSERT INTO custody (session_id, device_id, user_id, warehouse_id, method, started_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id) DO NOTHING
	), ok AS MATERIALIZED (
		SELECT 1 FROM u, d
		WHERE d.status = $18 AND u.status = $19 AND u.pin_hash = $7
			AND (NOT $8::boolean OR u.badge_changes = $9) AND u.warehouse_id = d.warehouse_id
	), a AS (
		INSERT INTO audit_events (id, at, actor, action, subject, warehouse_id, device_id, details)
		SELECT e.id, e.at, e.actor, e.action, e.subject, e.warehouse_id, e.device_id, e.details::jsonb
		FROM unnest($10::text[], $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
			AS e(id, at, actor, action, subject, warehouse_id, device_id, details)
		WHERE EXISTS (SELECT 1 FROM ok)
		RETURNING 1
	)
	SELECT d.status, d.warehouse_id, u.status, u.warehouse_id, u.pin_hash, u.badge_changes, (SELECT count(*) FROM a)
	FROM (SELECT 1) AS one LEFT JOIN d ON true LEFT JOIN u ON true`

// StartLogin is devices.LoginStarter: startLoginSQL.
func (s *Store) StartLogin(ctx context.Context, in devices.LoginStart) (devices.LoginReread, error) {
	c := in.Custody
	evs, err := eventArrays(in.Success)
	if err != nil {
		var ce callerError
		if errors.As(err, &ce) {
			return devices.LoginReread{}, ce.err
		}
		return devices.LoginReread{}, err
	}
	if evs == nil {
		evs = []any{[]string{}, []time.Time{}, []string{}, []string{}, []string{}, []string{}, []string{}, []*string{}}
	}
	args := append([]any{c.SessionID, c.DeviceID, c.UserID, c.WarehouseID, c.Method, utc(c.StartedAt),
		in.PINHash, in.Badge, in.BadgeChanges}, evs...)
	args = append(args, string(devices.DeviceActive), string(devices.UserActive))
	var (
		devStatus, devWarehouse, userStatus, userWarehouse, pinHash *string
		badgeChanges                                                *int64
		audited                                                     int64
	)
	err = s.pool.QueryRow(ctx, startLoginSQL, args...).Scan(&devStatus, &devWarehouse, &userStatus, &userWarehouse, &pinHash, &badgeChanges, &audited)
	if err != nil {
		return devices.LoginReread{}, translate("start login of "+c.SessionID, err)
	}
	st := devices.LoginReread{
		DeviceStatus:      devices.DeviceStatus(emptyIfNull(devStatus)),
		DeviceWarehouseID: emptyIfNull(devWarehouse),
		UserFound:         userStatus != nil,
		UserStatus:        devices.UserStatus(emptyIfNull(userStatus)),
		UserWarehouseID:   emptyIfNull(userWarehouse),
		PINHash:           emptyIfNull(pinHash),
		Audited:           audited > 0,
	}
	if badgeChanges != nil {
		st.BadgeChanges = *badgeChanges
	}
	return st, nil
}
