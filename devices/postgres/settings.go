package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

// Settings returns the organisation settings: the saved ones laid over
// devices.DefaultSettings(), so fields added later take their defaults.
func (s *Store) Settings(ctx context.Context) (devices.Settings, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, "SELECT data FROM settings WHERE id = 1").Scan(&data)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return devices.Settings{}, translate("settings", err)
	}
	return decodeSettings(data)
}

// decodeSettings reads the data column; NULL (or no row) is the defaults.
func decodeSettings(data []byte) (devices.Settings, error) {
	st := devices.DefaultSettings()
	if len(data) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return devices.Settings{}, fmt.Errorf("postgres: settings: %w: %v", devices.ErrUnavailable, err)
	}
	return st, nil
}

// UpdateSettings reads the settings under a row lock, lets fn change
// them, and saves them with fn's event.
func (s *Store) UpdateSettings(ctx context.Context, fn func(*devices.Settings) (devices.Event, error)) (devices.Settings, error) {
	var out devices.Settings
	err := s.inTx(ctx, "update settings", func(tx pgx.Tx) error {
		// The row exists from the first update on; make sure it does so
		// that FOR UPDATE has something to lock.
		if _, err := tx.Exec(ctx, "INSERT INTO settings (id) VALUES (1) ON CONFLICT (id) DO NOTHING"); err != nil {
			return err
		}
		var data []byte
		if err := tx.QueryRow(ctx, "SELECT data FROM settings WHERE id = 1 FOR UPDATE").Scan(&data); err != nil {
			return err
		}
		st, err := decodeSettings(data)
		if err != nil {
			return callerError{err}
		}
		ev, err := fn(&st)
		if err != nil {
			return callerError{err}
		}
		b, err := json.Marshal(st)
		if err != nil {
			return callerError{fmt.Errorf("postgres: settings: %w: %v", devices.ErrUnavailable, err)}
		}
		if _, err := tx.Exec(ctx, "UPDATE settings SET data = $1, updated_at = now() WHERE id = 1", b); err != nil {
			return err
		}
		if err := insertEvents(ctx, tx, ev); err != nil {
			return err
		}
		out = st
		return nil
	})
	if err != nil {
		return devices.Settings{}, err
	}
	return out, nil
}

var _ devices.WarehouseSettingsReader = (*Store)(nil)

// WarehouseSettings reads the organisation's settings and the
// warehouse's overrides in one statement (every login reads both).
func (s *Store) WarehouseSettings(ctx context.Context, warehouseID string) (devices.Settings, devices.SettingsOverride, error) {
	var org, wh []byte
	err := s.pool.QueryRow(ctx, "SELECT (SELECT data FROM settings WHERE id = 1), w.settings FROM warehouses w WHERE w.id = $1", warehouseID).Scan(&org, &wh)
	if err != nil {
		return devices.Settings{}, devices.SettingsOverride{}, translate("settings of warehouse "+warehouseID, err)
	}
	st, err := decodeSettings(org)
	if err != nil {
		return devices.Settings{}, devices.SettingsOverride{}, err
	}
	var o devices.SettingsOverride
	if len(wh) > 0 {
		if err := json.Unmarshal(wh, &o); err != nil {
			return devices.Settings{}, devices.SettingsOverride{}, fmt.Errorf("postgres: warehouse %s settings: %w: %v", warehouseID, devices.ErrUnavailable, err)
		}
	}
	return st, o, nil
}
