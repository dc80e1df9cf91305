package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// This file keeps the organisation's records: settings, warehouses,
// managers with their roles, and manager tokens.

// Settings returns the saved settings, DefaultSettings() when none were.
func (s *Store) Settings(ctx context.Context) (devices.Settings, error) {
	return loadSettings(ctx, s.r)
}

func loadSettings(ctx context.Context, q queryer) (devices.Settings, error) {
	var data string
	err := q.QueryRowContext(ctx, `SELECT data FROM settings WHERE id = 1`).Scan(&data)
	if err == sql.ErrNoRows {
		return devices.DefaultSettings(), nil
	}
	if err != nil {
		return devices.Settings{}, translate(ctx, "settings", err)
	}
	// Fields added since the row was saved keep their defaults.
	st := devices.DefaultSettings()
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		return devices.Settings{}, fmt.Errorf("settings: %w: decode: %v", devices.ErrUnavailable, err)
	}
	return st, nil
}

// UpdateSettings reads the settings, lets fn change them and saves them
// with fn's event.
func (s *Store) UpdateSettings(ctx context.Context, fn func(*devices.Settings) (devices.Event, error)) (devices.Settings, error) {
	var out devices.Settings
	err := s.write(ctx, "update settings", func(tx *sql.Tx) error {
		st, err := loadSettings(ctx, tx)
		if err != nil {
			return err
		}
		ev, err := fn(&st)
		if err != nil {
			return err
		}
		b, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("update settings: %w: encode: %v", devices.ErrUnavailable, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (id, data) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET data = excluded.data`, string(b)); err != nil {
			return translate(ctx, "update settings", err)
		}
		out = st
		return appendEvents(ctx, tx, "update settings", ev)
	})
	return out, err
}

const warehouseColumns = `id, name, code, settings, created_at, updated_at`

func scanWarehouse(sc scanner) (devices.Warehouse, error) {
	var w devices.Warehouse
	var settings string
	var created, updated int64
	if err := sc.Scan(&w.ID, &w.Name, &w.Code, &settings, &created, &updated); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(settings), &w.Settings); err != nil {
		return w, fmt.Errorf("warehouse %s: %w: decode settings: %v", w.ID, devices.ErrUnavailable, err)
	}
	w.CreatedAt, w.UpdatedAt = fromTS(created), fromTS(updated)
	return w, nil
}

func warehouseSettings(w devices.Warehouse) (string, error) {
	b, err := json.Marshal(w.Settings)
	if err != nil {
		return "", fmt.Errorf("warehouse %s: %w: encode settings: %v", w.ID, devices.ErrUnavailable, err)
	}
	return string(b), nil
}

// CreateWarehouse inserts w and ev.
func (s *Store) CreateWarehouse(ctx context.Context, w devices.Warehouse, ev devices.Event) error {
	settings, err := warehouseSettings(w)
	if err != nil {
		return err
	}
	op := "create warehouse " + w.Code
	return s.write(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO warehouses (`+warehouseColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			w.ID, w.Name, w.Code, settings, ts(w.CreatedAt), ts(w.UpdatedAt)); err != nil {
			return translate(ctx, op, err)
		}
		return appendEvents(ctx, tx, op, ev)
	})
}

// UpdateWarehouse reads warehouse id, lets fn change it and saves it with
// fn's event.
func (s *Store) UpdateWarehouse(ctx context.Context, id string, fn func(*devices.Warehouse) (devices.Event, error)) (devices.Warehouse, error) {
	var out devices.Warehouse
	op := "update warehouse " + id
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		w, err := scanWarehouse(tx.QueryRowContext(ctx, `SELECT `+warehouseColumns+` FROM warehouses WHERE id = ?`, id))
		if err != nil {
			return translate(ctx, op, err)
		}
		ev, err := fn(&w)
		if err != nil {
			return err
		}
		w.ID = id
		settings, err := warehouseSettings(w)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE warehouses SET name = ?, code = ?, settings = ?, created_at = ?, updated_at = ? WHERE id = ?`,
			w.Name, w.Code, settings, ts(w.CreatedAt), ts(w.UpdatedAt), id); err != nil {
			return translate(ctx, op, err)
		}
		out = w
		return appendEvents(ctx, tx, op, ev)
	})
	return out, err
}

// Warehouse returns warehouse id.
func (s *Store) Warehouse(ctx context.Context, id string) (devices.Warehouse, error) {
	w, err := scanWarehouse(s.r.QueryRowContext(ctx, `SELECT `+warehouseColumns+` FROM warehouses WHERE id = ?`, id))
	return w, translate(ctx, "warehouse "+id, err)
}

// WarehouseByCode returns the warehouse with code (exactly as stored).
func (s *Store) WarehouseByCode(ctx context.Context, code string) (devices.Warehouse, error) {
	w, err := scanWarehouse(s.r.QueryRowContext(ctx, `SELECT `+warehouseColumns+` FROM warehouses WHERE code = ?`, code))
	return w, translate(ctx, "warehouse by code "+code, err)
}

// Warehouses lists warehouses by id.
func (s *Store) Warehouses(ctx context.Context, f devices.WarehouseFilter) ([]devices.Warehouse, error) {
	var w where
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return nil, nil
		}
		w.in("id", f.IDs)
	}
	if f.After != "" {
		w.add("id > ?", f.After)
	}
	return list(ctx, s.r, "warehouses", "SELECT "+warehouseColumns+" FROM warehouses", &w, "id", limit(f.Page), scanWarehouse)
}

const managerColumns = `id, email, first_name, last_name, password_hash, status, created_at, updated_at`

func scanManager(sc scanner) (devices.Manager, error) {
	var m devices.Manager
	var created, updated int64
	if err := sc.Scan(&m.ID, &m.Email, &m.FirstName, &m.LastName, &m.PasswordHash, &m.Status, &created, &updated); err != nil {
		return m, err
	}
	m.CreatedAt, m.UpdatedAt = fromTS(created), fromTS(updated)
	return m, nil
}

// loadRoles fills in the roles of ms.
func loadRoles(ctx context.Context, q queryer, op string, ms []devices.Manager) error {
	if len(ms) == 0 {
		return nil
	}
	idx := make(map[string]int, len(ms))
	ids := make([]string, len(ms))
	for i, m := range ms {
		idx[m.ID] = i
		ids[i] = m.ID
	}
	b, _ := json.Marshal(ids)
	rows, err := q.QueryContext(ctx, `SELECT manager_id, role, coalesce(warehouse_id, '') FROM manager_roles
		WHERE manager_id IN (SELECT value FROM json_each(?)) ORDER BY manager_id, role, warehouse_id`, string(b))
	if err != nil {
		return translate(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var r devices.Role
		if err := rows.Scan(&id, &r.Role, &r.WarehouseID); err != nil {
			return translate(ctx, op, err)
		}
		if i, ok := idx[id]; ok {
			ms[i].Roles = append(ms[i].Roles, r)
		}
	}
	return translate(ctx, op, rows.Err())
}

// managerBy returns the one manager matching cond, with its roles.
func managerBy(ctx context.Context, q queryer, op, cond string, arg any) (devices.Manager, error) {
	m, err := scanManager(q.QueryRowContext(ctx, `SELECT `+managerColumns+` FROM managers WHERE `+cond, arg))
	if err != nil {
		return m, translate(ctx, op, err)
	}
	ms := []devices.Manager{m}
	if err := loadRoles(ctx, q, op, ms); err != nil {
		return devices.Manager{}, err
	}
	return ms[0], nil
}

// writeRoles replaces the roles of manager id.
func writeRoles(ctx context.Context, tx *sql.Tx, op, id string, roles []devices.Role) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM manager_roles WHERE manager_id = ?`, id); err != nil {
		return translate(ctx, op, err)
	}
	for _, r := range roles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO manager_roles (manager_id, role, warehouse_id) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, id, string(r.Role), nullString(r.WarehouseID)); err != nil {
			return translate(ctx, op, err)
		}
	}
	return nil
}

// CreateManager inserts m, its roles and ev.
func (s *Store) CreateManager(ctx context.Context, m devices.Manager, ev devices.Event) error {
	key, err := devices.EmailKey(m.Email)
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	op := "create manager " + m.ID
	return s.write(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO managers
			(id, email, email_key, first_name, last_name, password_hash, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.Email, key, m.FirstName, m.LastName, m.PasswordHash, string(m.Status), ts(m.CreatedAt), ts(m.UpdatedAt)); err != nil {
			return translate(ctx, op, err)
		}
		if err := writeRoles(ctx, tx, op, m.ID, m.Roles); err != nil {
			return err
		}
		return appendEvents(ctx, tx, op, ev)
	})
}

// UpdateManager reads manager id with its roles, lets fn change them and
// saves both with fn's event.
func (s *Store) UpdateManager(ctx context.Context, id string, fn func(*devices.Manager) (devices.Event, error)) (devices.Manager, error) {
	var out devices.Manager
	op := "update manager " + id
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		m, err := managerBy(ctx, tx, op, "id = ?", id)
		if err != nil {
			return err
		}
		ev, err := fn(&m)
		if err != nil {
			return err
		}
		m.ID = id
		key, err := devices.EmailKey(m.Email)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE managers SET email = ?, email_key = ?, first_name = ?, last_name = ?,
			password_hash = ?, status = ?, created_at = ?, updated_at = ? WHERE id = ?`,
			m.Email, key, m.FirstName, m.LastName, m.PasswordHash, string(m.Status), ts(m.CreatedAt), ts(m.UpdatedAt), id); err != nil {
			return translate(ctx, op, err)
		}
		if err := writeRoles(ctx, tx, op, id, m.Roles); err != nil {
			return err
		}
		out = m
		return appendEvents(ctx, tx, op, ev)
	})
	return out, err
}

// DeleteManager removes manager id, its roles and tokens, and appends ev.
func (s *Store) DeleteManager(ctx context.Context, id string, ev devices.Event) error {
	op := "delete manager " + id
	return s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM managers WHERE id = ?`, id)
		if err != nil {
			return translate(ctx, op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return translate(ctx, op, err)
		} else if n == 0 {
			return fmt.Errorf("%s: %w", op, devices.ErrNotFound)
		}
		return appendEvents(ctx, tx, op, ev)
	})
}

// Manager returns manager id with its roles.
func (s *Store) Manager(ctx context.Context, id string) (devices.Manager, error) {
	var m devices.Manager
	err := s.read(ctx, "manager "+id, func(tx *sql.Tx) (err error) {
		m, err = managerBy(ctx, tx, "manager "+id, "id = ?", id)
		return err
	})
	return m, err
}

// ManagerByEmail returns the manager whose EmailKey is emailKey.
func (s *Store) ManagerByEmail(ctx context.Context, emailKey string) (devices.Manager, error) {
	var m devices.Manager
	err := s.read(ctx, "manager by email", func(tx *sql.Tx) (err error) {
		m, err = managerBy(ctx, tx, "manager by email", "email_key = ?", emailKey)
		return err
	})
	return m, err
}

// Managers lists managers by id. With WarehouseIDs set, only per-warehouse
// roles on those warehouses count: the organisation-wide admin role
// matches no warehouse.
func (s *Store) Managers(ctx context.Context, f devices.ManagerFilter) ([]devices.Manager, error) {
	var w where
	if f.Role != "" || f.WarehouseIDs != nil {
		if f.WarehouseIDs != nil && len(f.WarehouseIDs) == 0 {
			return nil, nil
		}
		var rw where
		if f.Role != "" {
			rw.add("role = ?", string(f.Role))
		}
		if f.WarehouseIDs != nil {
			rw.in("warehouse_id", f.WarehouseIDs)
		}
		w.add("id IN (SELECT manager_id FROM manager_roles"+rw.String()+")", rw.args...)
	}
	if f.After != "" {
		w.add("id > ?", f.After)
	}
	var ms []devices.Manager
	err := s.read(ctx, "managers", func(tx *sql.Tx) (err error) {
		ms, err = list(ctx, tx, "managers", "SELECT "+managerColumns+" FROM managers", &w, "id", limit(f.Page), scanManager)
		if err != nil {
			return err
		}
		return loadRoles(ctx, tx, "managers", ms)
	})
	return ms, err
}

const managerTokenColumns = `hash, manager_id, created_at, last_used_at, expires_at`

// CreateManagerToken inserts t.
func (s *Store) CreateManagerToken(ctx context.Context, t devices.ManagerToken) error {
	return s.write(ctx, "create manager token", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO manager_tokens (`+managerTokenColumns+`) VALUES (?, ?, ?, ?, ?)`,
			t.Hash, t.ManagerID, ts(t.CreatedAt), ts(t.LastUsedAt), ts(t.ExpiresAt))
		return translate(ctx, "create manager token", err)
	})
}

// ManagerToken returns the token with hash.
func (s *Store) ManagerToken(ctx context.Context, hash string) (devices.ManagerToken, error) {
	var t devices.ManagerToken
	var created, used, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT `+managerTokenColumns+` FROM manager_tokens WHERE hash = ?`, hash).
		Scan(&t.Hash, &t.ManagerID, &created, &used, &expires)
	if err != nil {
		return devices.ManagerToken{}, translate(ctx, "manager token", err)
	}
	t.CreatedAt, t.LastUsedAt, t.ExpiresAt = fromTS(created), fromTS(used), fromTS(expires)
	return t, nil
}

// ManagerTokensOf lists a manager's tokens, newest first.
func (s *Store) ManagerTokensOf(ctx context.Context, managerID string) ([]devices.ManagerToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+managerTokenColumns+` FROM manager_tokens WHERE manager_id = ?
		ORDER BY created_at DESC, hash LIMIT 1000`, managerID)
	if err != nil {
		return nil, translate(ctx, "manager tokens", err)
	}
	defer rows.Close()
	out := []devices.ManagerToken{}
	for rows.Next() {
		var t devices.ManagerToken
		var created, used, expires int64
		if err := rows.Scan(&t.Hash, &t.ManagerID, &created, &used, &expires); err != nil {
			return nil, translate(ctx, "manager tokens", err)
		}
		t.CreatedAt, t.LastUsedAt, t.ExpiresAt = fromTS(created), fromTS(used), fromTS(expires)
		out = append(out, t)
	}
	return out, translate(ctx, "manager tokens", rows.Err())
}

// TouchManagerToken sets the token's last use.
func (s *Store) TouchManagerToken(ctx context.Context, hash string, at time.Time) error {
	return s.write(ctx, "touch manager token", func(tx *sql.Tx) error {
		return execOne(ctx, tx, "touch manager token", `UPDATE manager_tokens SET last_used_at = ? WHERE hash = ?`, ts(at), hash)
	})
}

// DeleteManagerTokens removes one token of managerID (hash != "") or all
// of them (hash == "").
func (s *Store) DeleteManagerTokens(ctx context.Context, managerID, hash string) error {
	return s.write(ctx, "delete manager tokens", func(tx *sql.Tx) error {
		var err error
		if hash == "" {
			_, err = tx.ExecContext(ctx, `DELETE FROM manager_tokens WHERE manager_id = ?`, managerID)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM manager_tokens WHERE manager_id = ? AND hash = ?`, managerID, hash)
		}
		return translate(ctx, "delete manager tokens", err)
	})
}

// DeleteOtherManagerTokens removes every token of managerID but the one
// with keepHash.
func (s *Store) DeleteOtherManagerTokens(ctx context.Context, managerID, keepHash string) error {
	return s.write(ctx, "delete other manager tokens", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM manager_tokens WHERE manager_id = ? AND hash <> ?`, managerID, keepHash)
		return translate(ctx, "delete other manager tokens", err)
	})
}

// execOne runs an UPDATE or DELETE that must touch one row, ErrNotFound
// when it touched none.
func execOne(ctx context.Context, tx *sql.Tx, op, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return translate(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, devices.ErrNotFound)
	}
	return nil
}
