package postgres

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

const deviceColumns = `id, serial, warehouse_id, label, model, os_version, app_version, enrolled_by,
	enrolled_at, last_seen_at, status, revoked_at, token_hash, enrolled_app_version`

// scanDevice reads one row of deviceColumns.
func scanDevice(row pgx.CollectableRow) (devices.Device, error) {
	var d devices.Device
	var tokenHash *string
	if err := row.Scan(&d.ID, &d.Serial, &d.WarehouseID, &d.Label, &d.Model, &d.OSVersion, &d.AppVersion,
		&d.EnrolledBy, &d.EnrolledAt, &d.LastSeenAt, &d.Status, &d.RevokedAt, &tokenHash, &d.EnrolledAppVersion); err != nil {
		return d, err
	}
	d.TokenHash = emptyIfNull(tokenHash)
	fromDB(&d.EnrolledAt)
	fromDBPtr(&d.LastSeenAt)
	fromDBPtr(&d.RevokedAt)
	return d, nil
}

// deviceRow is d's values in the order of deviceColumns.
func deviceRow(d devices.Device) []any {
	return []any{d.ID, d.Serial, d.WarehouseID, d.Label, d.Model, d.OSVersion, d.AppVersion, d.EnrolledBy,
		utc(d.EnrolledAt), utcPtr(d.LastSeenAt), string(d.Status), utcPtr(d.RevokedAt), nullIfEmpty(d.TokenHash), d.EnrolledAppVersion}
}

// serialLockClass is the first key of the advisory locks that serialise
// enrollments of one serial (the second is a hash of the serial).
const serialLockClass int32 = 0x66676473 // "fgds"

// EnrollDevice inserts d and ev. When an active device has d's serial, it
// is revoked (RevokedAt = d.EnrolledAt) in the same transaction and
// returned. Enrollments of one serial are serialised by an advisory lock,
// so that two at once both succeed, the later replacing the earlier.
func (s *Store) EnrollDevice(ctx context.Context, d devices.Device, ev devices.Event) (*devices.Device, error) {
	var replaced *devices.Device
	err := s.inTx(ctx, "enroll device "+d.Serial, func(tx pgx.Tx) (err error) {
		if replaced, err = enrollTx(ctx, tx, d); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	return replaced, nil
}

// revokeActiveSerialSQL revokes the active device with serial $1
// (status $2, revoked at $3). The status it matches is written in the
// statement, not passed: devices_active_serial_key is a partial index
// (WHERE status = 'active'), and a generic plan (pgx prepares every
// statement; PostgreSQL switches a prepared statement to its generic
// plan after five executions when that looks no dearer, as it does while
// the table is small) cannot prove that predicate from a parameter, so
// it scanned the whole table in every enrollment: the 50,000-device
// setup slowed as 1/n (docs/BENCHMARKS.md, Side findings).
const revokeActiveSerialSQL = `UPDATE devices SET status = $2, revoked_at = $3
		WHERE serial = $1 AND status = '` + string(devices.DeviceActive) + `' RETURNING ` + deviceColumns

// enrollTx inserts d in tx, revoking the active device with its serial
// (returned), under the serial's advisory lock.
func enrollTx(ctx context.Context, tx pgx.Tx, d devices.Device) (*devices.Device, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", serialLockClass, d.Serial); err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, revokeActiveSerialSQL, d.Serial, string(devices.DeviceRevoked), utc(d.EnrolledAt))
	old, err := pgx.CollectRows(rows, scanDevice)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO devices ("+deviceColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
		deviceRow(d)...); err != nil {
		return nil, err
	}
	if len(old) > 0 {
		return &old[0], nil
	}
	return nil, nil
}

// UpdateDevice locks the device, lets fn change it and saves it with
// fn's event. The id cannot change.
func (s *Store) UpdateDevice(ctx context.Context, id string, fn func(*devices.Device) (devices.Event, error)) (devices.Device, error) {
	var out devices.Device
	err := s.inTx(ctx, "update device "+id, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id = $1 FOR UPDATE", id)
		d, err := pgx.CollectExactlyOneRow(rows, scanDevice)
		if err != nil {
			return err
		}
		ev, err := fn(&d)
		if err != nil {
			return callerError{err}
		}
		d.ID = id
		rows, _ = tx.Query(ctx, `UPDATE devices SET serial = $2, warehouse_id = $3, label = $4, model = $5,
			os_version = $6, app_version = $7, enrolled_by = $8, enrolled_at = $9, last_seen_at = $10,
			status = $11, revoked_at = $12, token_hash = $13, enrolled_app_version = $14
			WHERE id = $1 RETURNING `+deviceColumns, deviceRow(d)...)
		if out, err = pgx.CollectExactlyOneRow(rows, scanDevice); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return devices.Device{}, err
	}
	return out, nil
}

// Device returns the device with id, whatever its status.
func (s *Store) Device(ctx context.Context, id string) (devices.Device, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id = $1", id)
	d, err := pgx.CollectExactlyOneRow(rows, scanDevice)
	if err != nil {
		return devices.Device{}, translate("device "+id, err)
	}
	return d, nil
}

// DeviceByTokenHash returns the device whose token has hash, whatever its
// status; "" matches nothing.
func (s *Store) DeviceByTokenHash(ctx context.Context, hash string) (devices.Device, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE token_hash = $1", hash)
	d, err := pgx.CollectExactlyOneRow(rows, scanDevice)
	if err != nil {
		return devices.Device{}, translate("device by token", err)
	}
	return d, nil
}

// Devices lists devices by id, filtered as devices.DeviceFilter documents.
func (s *Store) Devices(ctx context.Context, f devices.DeviceFilter) ([]devices.Device, error) {
	if f.WarehouseIDs != nil && len(f.WarehouseIDs) == 0 {
		return []devices.Device{}, nil
	}
	var w where
	if f.WarehouseIDs != nil {
		w.add("warehouse_id = ANY(%s)", w.arg(f.WarehouseIDs))
	}
	status := f.Status
	if status == "" {
		status = devices.DeviceActive
	}
	w.add("status = %s", w.arg(string(status)))
	if f.AppVersion != "" {
		w.add("app_version = %s", w.arg(f.AppVersion))
	}
	if f.NotSeenSince != nil {
		w.add("(last_seen_at IS NULL OR last_seen_at < %s)", w.arg(utc(*f.NotSeenSince)))
	}
	if f.After != "" {
		w.add("id > %s", w.arg(f.After))
	}
	q := "SELECT " + deviceColumns + " FROM devices" + w.String() + fmt.Sprintf(" ORDER BY id LIMIT %d", limit(f.Page))
	rows, _ := s.pool.Query(ctx, q, w.args...)
	ds, err := pgx.CollectRows(rows, scanDevice)
	if err != nil {
		return nil, translate("list devices", err)
	}
	return ds, nil
}

// TouchDevices applies a batch of last-seen updates in one statement.
// LastSeenAt never moves backwards; an app version is taken only from a
// sighting at least as new as the stored one; unknown ids are ignored.
// Rows are locked in id order, so that batches from several instances
// cannot deadlock.
func (s *Store) TouchDevices(ctx context.Context, seen []devices.DeviceSeen) error {
	if len(seen) == 0 {
		return nil
	}
	// One sighting per device: the latest, with the latest app version
	// seen in the batch.
	latest := make(map[string]devices.DeviceSeen, len(seen))
	for _, x := range seen {
		cur, ok := latest[x.DeviceID]
		switch {
		case !ok:
			latest[x.DeviceID] = x
		case x.At.After(cur.At):
			if x.AppVersion == "" {
				x.AppVersion = cur.AppVersion
			}
			latest[x.DeviceID] = x
		case cur.AppVersion == "" && x.AppVersion != "":
			cur.AppVersion = x.AppVersion
			latest[x.DeviceID] = cur
		}
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ats := make([]time.Time, len(ids))
	versions := make([]string, len(ids))
	for i, id := range ids {
		ats[i] = utc(latest[id].At)
		versions[i] = latest[id].AppVersion
	}
	_, err := s.pool.Exec(ctx, `WITH v AS (
			SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS v(id, at, app_version)
		), locked AS (
			SELECT d.id FROM devices d WHERE d.id = ANY($1::text[]) ORDER BY d.id FOR UPDATE
		)
		UPDATE devices d SET
			last_seen_at = greatest(d.last_seen_at, v.at),
			app_version = CASE WHEN v.app_version <> '' AND (d.last_seen_at IS NULL OR v.at >= d.last_seen_at)
				THEN v.app_version ELSE d.app_version END
		FROM v, locked WHERE d.id = v.id AND locked.id = v.id`,
		ids, ats, versions)
	return translate(fmt.Sprintf("touch %d devices", len(ids)), err)
}
