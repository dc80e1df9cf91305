package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// This file keeps devices and service keys.

const deviceColumns = `id, serial, warehouse_id, label, model, os_version, app_version, enrolled_by, enrolled_at,
	last_seen_at, status, revoked_at, token_hash, enrolled_app_version`

func scanDevice(sc scanner) (devices.Device, error) {
	var d devices.Device
	var enrolled int64
	var seen, revoked sql.NullInt64
	if err := sc.Scan(&d.ID, &d.Serial, &d.WarehouseID, &d.Label, &d.Model, &d.OSVersion, &d.AppVersion, &d.EnrolledBy,
		&enrolled, &seen, &d.Status, &revoked, &d.TokenHash, &d.EnrolledAppVersion); err != nil {
		return d, err
	}
	d.EnrolledAt = fromTS(enrolled)
	d.LastSeenAt, d.RevokedAt = fromNullTS(seen), fromNullTS(revoked)
	return d, nil
}

// EnrollDevice inserts d, revoking in the same transaction the active
// device with the same serial, which it returns.
func (s *Store) EnrollDevice(ctx context.Context, d devices.Device, ev devices.Event) (*devices.Device, error) {
	var replaced *devices.Device
	op := "enroll device " + d.Serial
	err := s.write(ctx, op, func(tx *sql.Tx) (err error) {
		if replaced, err = enrollTx(ctx, tx, op, d); err != nil {
			return err
		}
		return appendEvents(ctx, tx, op, ev)
	})
	if err != nil {
		return nil, err
	}
	return replaced, nil
}

// enrollTx inserts d in tx, revoking the active device with its serial
// (returned).
func enrollTx(ctx context.Context, tx *sql.Tx, op string, d devices.Device) (*devices.Device, error) {
	var replaced *devices.Device
	old, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE serial = ? AND status = ?`,
		d.Serial, string(devices.DeviceActive)))
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return nil, translate(ctx, op, err)
	default:
		old.Status = devices.DeviceRevoked
		at := d.EnrolledAt
		old.RevokedAt = &at
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = ?, revoked_at = ? WHERE id = ?`,
			string(old.Status), ts(at), old.ID); err != nil {
			return nil, translate(ctx, op, err)
		}
		replaced = &old
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (`+deviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.Serial, d.WarehouseID, d.Label, d.Model, d.OSVersion, d.AppVersion, d.EnrolledBy, ts(d.EnrolledAt),
		nullTS(d.LastSeenAt), string(d.Status), nullTS(d.RevokedAt), d.TokenHash, d.EnrolledAppVersion); err != nil {
		return nil, translate(ctx, op, err)
	}
	return replaced, nil
}

// UpdateDevice reads device id, lets fn change it and saves it with fn's
// event.
func (s *Store) UpdateDevice(ctx context.Context, id string, fn func(*devices.Device) (devices.Event, error)) (devices.Device, error) {
	var out devices.Device
	op := "update device " + id
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		d, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id))
		if err != nil {
			return translate(ctx, op, err)
		}
		ev, err := fn(&d)
		if err != nil {
			return err
		}
		d.ID = id
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET serial = ?, warehouse_id = ?, label = ?, model = ?, os_version = ?,
			app_version = ?, enrolled_by = ?, enrolled_at = ?, last_seen_at = ?, status = ?, revoked_at = ?, token_hash = ?,
			enrolled_app_version = ?
			WHERE id = ?`,
			d.Serial, d.WarehouseID, d.Label, d.Model, d.OSVersion, d.AppVersion, d.EnrolledBy, ts(d.EnrolledAt),
			nullTS(d.LastSeenAt), string(d.Status), nullTS(d.RevokedAt), d.TokenHash, d.EnrolledAppVersion, id); err != nil {
			return translate(ctx, op, err)
		}
		out = d
		return appendEvents(ctx, tx, op, ev)
	})
	return out, err
}

// Device returns device id.
func (s *Store) Device(ctx context.Context, id string) (devices.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id))
	return d, translate(ctx, "device "+id, err)
}

// DeviceByTokenHash returns the device whose token hashes to hash.
func (s *Store) DeviceByTokenHash(ctx context.Context, hash string) (devices.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE token_hash = ?`, hash))
	return d, translate(ctx, "device by token", err)
}

// Devices lists devices by id.
func (s *Store) Devices(ctx context.Context, f devices.DeviceFilter) ([]devices.Device, error) {
	var w where
	if f.WarehouseIDs != nil {
		if len(f.WarehouseIDs) == 0 {
			return nil, nil
		}
		w.in("warehouse_id", f.WarehouseIDs)
	}
	status := f.Status
	if status == "" {
		status = devices.DeviceActive
	}
	w.add("status = ?", string(status))
	if f.AppVersion != "" {
		w.add("app_version = ?", f.AppVersion)
	}
	if f.NotSeenSince != nil {
		w.add("(last_seen_at IS NULL OR last_seen_at < ?)", ts(*f.NotSeenSince))
	}
	if f.After != "" {
		w.add("id > ?", f.After)
	}
	return list(ctx, s.r, "devices", "SELECT "+deviceColumns+" FROM devices", &w, "id", limit(f.Page), scanDevice)
}

// TouchDevices applies seen in one transaction. A sighting older than the
// device's last one changes nothing; unknown devices are skipped.
func (s *Store) TouchDevices(ctx context.Context, seen []devices.DeviceSeen) error {
	if len(seen) == 0 {
		return nil
	}
	return s.write(ctx, "touch devices", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE devices
			SET last_seen_at = ?1, app_version = CASE WHEN ?2 = '' THEN app_version ELSE ?2 END
			WHERE id = ?3 AND (last_seen_at IS NULL OR last_seen_at <= ?1)`)
		if err != nil {
			return translate(ctx, "touch devices", err)
		}
		defer stmt.Close()
		for _, x := range seen {
			if _, err := stmt.ExecContext(ctx, ts(x.At), x.AppVersion, x.DeviceID); err != nil {
				return translate(ctx, "touch device "+x.DeviceID, err)
			}
		}
		return nil
	})
}

const serviceKeyColumns = `id, name, scope, hash, created_by, created_at, last_used_at, revoked_at`

func scanServiceKey(sc scanner) (devices.ServiceKey, error) {
	var k devices.ServiceKey
	var created int64
	var used, revoked sql.NullInt64
	if err := sc.Scan(&k.ID, &k.Name, &k.Scope, &k.Hash, &k.CreatedBy, &created, &used, &revoked); err != nil {
		return k, err
	}
	k.CreatedAt = fromTS(created)
	k.LastUsedAt, k.RevokedAt = fromNullTS(used), fromNullTS(revoked)
	return k, nil
}

// CreateServiceKey inserts k and ev.
func (s *Store) CreateServiceKey(ctx context.Context, k devices.ServiceKey, ev devices.Event) error {
	op := "create service key " + k.ID
	return s.write(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO service_keys (`+serviceKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, string(k.Scope), k.Hash, k.CreatedBy, ts(k.CreatedAt), nullTS(k.LastUsedAt), nullTS(k.RevokedAt)); err != nil {
			return translate(ctx, op, err)
		}
		return appendEvents(ctx, tx, op, ev)
	})
}

// UpdateServiceKey reads key id, lets fn change it and saves it with fn's
// event.
func (s *Store) UpdateServiceKey(ctx context.Context, id string, fn func(*devices.ServiceKey) (devices.Event, error)) (devices.ServiceKey, error) {
	var out devices.ServiceKey
	op := "update service key " + id
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		k, err := scanServiceKey(tx.QueryRowContext(ctx, `SELECT `+serviceKeyColumns+` FROM service_keys WHERE id = ?`, id))
		if err != nil {
			return translate(ctx, op, err)
		}
		ev, err := fn(&k)
		if err != nil {
			return err
		}
		k.ID = id
		if _, err := tx.ExecContext(ctx, `UPDATE service_keys SET name = ?, scope = ?, hash = ?, created_by = ?, created_at = ?,
			last_used_at = ?, revoked_at = ? WHERE id = ?`,
			k.Name, string(k.Scope), k.Hash, k.CreatedBy, ts(k.CreatedAt), nullTS(k.LastUsedAt), nullTS(k.RevokedAt), id); err != nil {
			return translate(ctx, op, err)
		}
		out = k
		return appendEvents(ctx, tx, op, ev)
	})
	return out, err
}

// ServiceKey returns key id.
func (s *Store) ServiceKey(ctx context.Context, id string) (devices.ServiceKey, error) {
	k, err := scanServiceKey(s.r.QueryRowContext(ctx, `SELECT `+serviceKeyColumns+` FROM service_keys WHERE id = ?`, id))
	return k, translate(ctx, "service key "+id, err)
}

// ServiceKeyByHash returns the key that hashes to hash.
func (s *Store) ServiceKeyByHash(ctx context.Context, hash string) (devices.ServiceKey, error) {
	k, err := scanServiceKey(s.r.QueryRowContext(ctx, `SELECT `+serviceKeyColumns+` FROM service_keys WHERE hash = ?`, hash))
	return k, translate(ctx, "service key by hash", err)
}

// ServiceKeys lists keys by id.
func (s *Store) ServiceKeys(ctx context.Context, p devices.Page) ([]devices.ServiceKey, error) {
	var w where
	if p.After != "" {
		w.add("id > ?", p.After)
	}
	return list(ctx, s.r, "service keys", "SELECT "+serviceKeyColumns+" FROM service_keys", &w, "id", limit(p), scanServiceKey)
}

// TouchServiceKey sets the key's last use.
func (s *Store) TouchServiceKey(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, "touch service key", func(tx *sql.Tx) error {
		return execOne(ctx, tx, "touch service key "+id, `UPDATE service_keys SET last_used_at = ? WHERE id = ?`, ts(at), id)
	})
}
