package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

// managerSelect reads managers with their roles (two parallel arrays in
// the same order; the admin role has warehouse "").
const managerSelect = `SELECT m.id, m.email, m.first_name, m.last_name, m.password_hash, m.status, m.created_at, m.updated_at,
	ARRAY(SELECT r.role FROM manager_roles r WHERE r.manager_id = m.id ORDER BY r.role, r.warehouse_id NULLS FIRST),
	ARRAY(SELECT coalesce(r.warehouse_id, '') FROM manager_roles r WHERE r.manager_id = m.id ORDER BY r.role, r.warehouse_id NULLS FIRST)
	FROM managers m`

// scanManager reads one row of managerSelect.
func scanManager(row pgx.CollectableRow) (devices.Manager, error) {
	var m devices.Manager
	var roles, warehouses []string
	if err := row.Scan(&m.ID, &m.Email, &m.FirstName, &m.LastName, &m.PasswordHash, &m.Status,
		&m.CreatedAt, &m.UpdatedAt, &roles, &warehouses); err != nil {
		return m, err
	}
	if len(roles) != len(warehouses) {
		return m, fmt.Errorf("manager %s: %d roles but %d warehouses", m.ID, len(roles), len(warehouses))
	}
	for i := range roles {
		m.Roles = append(m.Roles, devices.Role{Role: devices.RoleName(roles[i]), WarehouseID: warehouses[i]})
	}
	fromDB(&m.CreatedAt)
	fromDB(&m.UpdatedAt)
	return m, nil
}

// emailKey is the unique key of an email: devices.EmailKey, or for an
// address it refuses (the Registry validates before the store sees one)
// the same trimmed lower case.
func emailKey(email string) string {
	if k, err := devices.EmailKey(email); err == nil {
		return k
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// writeRoles replaces the roles of manager id with roles (duplicates
// dropped). A role on a missing warehouse is devices.ErrNotFound.
func writeRoles(ctx context.Context, tx pgx.Tx, id string, roles []devices.Role) error {
	if _, err := tx.Exec(ctx, "DELETE FROM manager_roles WHERE manager_id = $1", id); err != nil {
		return err
	}
	var names []string
	var warehouses []*string
	seen := map[devices.Role]bool{}
	for _, r := range roles {
		if seen[r] {
			continue
		}
		seen[r] = true
		names = append(names, string(r.Role))
		warehouses = append(warehouses, nullIfEmpty(r.WarehouseID))
	}
	if len(names) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO manager_roles (manager_id, role, warehouse_id)
		SELECT $1, role, warehouse_id FROM unnest($2::text[], $3::text[]) AS r(role, warehouse_id)`,
		id, names, warehouses)
	return err
}

// CreateManager inserts m with its roles and ev. An email taken already
// (by EmailKey) is devices.ErrExists; a role on a missing warehouse
// devices.ErrNotFound.
func (s *Store) CreateManager(ctx context.Context, m devices.Manager, ev devices.Event) error {
	return s.inTx(ctx, "create manager "+m.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO managers
			(id, email, email_key, first_name, last_name, password_hash, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			m.ID, m.Email, emailKey(m.Email), m.FirstName, m.LastName, m.PasswordHash, string(m.Status),
			utc(m.CreatedAt), utc(m.UpdatedAt))
		if err != nil {
			return err
		}
		if err := writeRoles(ctx, tx, m.ID, m.Roles); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
}

// UpdateManager locks the manager, lets fn change it (roles included)
// and saves it with fn's event. The id cannot change.
func (s *Store) UpdateManager(ctx context.Context, id string, fn func(*devices.Manager) (devices.Event, error)) (devices.Manager, error) {
	var out devices.Manager
	err := s.inTx(ctx, "update manager "+id, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, managerSelect+" WHERE m.id = $1 FOR UPDATE OF m", id)
		m, err := pgx.CollectExactlyOneRow(rows, scanManager)
		if err != nil {
			return err
		}
		ev, err := fn(&m)
		if err != nil {
			return callerError{err}
		}
		_, err = tx.Exec(ctx, `UPDATE managers SET email = $2, email_key = $3, first_name = $4, last_name = $5,
			password_hash = $6, status = $7, created_at = $8, updated_at = $9 WHERE id = $1`,
			id, m.Email, emailKey(m.Email), m.FirstName, m.LastName, m.PasswordHash, string(m.Status),
			utc(m.CreatedAt), utc(m.UpdatedAt))
		if err != nil {
			return err
		}
		if err := writeRoles(ctx, tx, id, m.Roles); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, managerSelect+" WHERE m.id = $1", id)
		if out, err = pgx.CollectExactlyOneRow(rows, scanManager); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return devices.Manager{}, err
	}
	return out, nil
}

// DeleteManager removes the manager, its roles and its tokens, and
// appends ev. Audit rows stay.
func (s *Store) DeleteManager(ctx context.Context, id string, ev devices.Event) error {
	return s.inTx(ctx, "delete manager "+id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM managers WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return insertEvents(ctx, tx, ev)
	})
}

// Manager returns the manager with id.
func (s *Store) Manager(ctx context.Context, id string) (devices.Manager, error) {
	rows, _ := s.pool.Query(ctx, managerSelect+" WHERE m.id = $1", id)
	m, err := pgx.CollectExactlyOneRow(rows, scanManager)
	if err != nil {
		return devices.Manager{}, translate("manager "+id, err)
	}
	return m, nil
}

// ManagerByEmail returns the manager whose email has key emailKey.
func (s *Store) ManagerByEmail(ctx context.Context, key string) (devices.Manager, error) {
	rows, _ := s.pool.Query(ctx, managerSelect+" WHERE m.email_key = $1", key)
	m, err := pgx.CollectExactlyOneRow(rows, scanManager)
	if err != nil {
		return devices.Manager{}, translate("manager by email", err)
	}
	return m, nil
}

// Managers lists managers by id. Role keeps holders of that role;
// WarehouseIDs (not nil) keeps holders of a per-warehouse role (of Role,
// when set) on one of them.
func (s *Store) Managers(ctx context.Context, f devices.ManagerFilter) ([]devices.Manager, error) {
	if f.WarehouseIDs != nil && len(f.WarehouseIDs) == 0 {
		return []devices.Manager{}, nil
	}
	var w where
	if f.Role != "" || f.WarehouseIDs != nil {
		var rw []string
		if f.Role != "" {
			rw = append(rw, "r.role = "+w.arg(string(f.Role)))
		}
		if f.WarehouseIDs != nil {
			rw = append(rw, "r.warehouse_id = ANY("+w.arg(f.WarehouseIDs)+")")
		}
		w.add("EXISTS (SELECT 1 FROM manager_roles r WHERE r.manager_id = m.id AND %s)", strings.Join(rw, " AND "))
	}
	if f.After != "" {
		w.add("m.id > %s", w.arg(f.After))
	}
	q := managerSelect + w.String() + fmt.Sprintf(" ORDER BY m.id LIMIT %d", limit(f.Page))
	rows, _ := s.pool.Query(ctx, q, w.args...)
	ms, err := pgx.CollectRows(rows, scanManager)
	if err != nil {
		return nil, translate("list managers", err)
	}
	return ms, nil
}

// CreateManagerToken inserts t. A token of a missing manager is
// devices.ErrNotFound.
func (s *Store) CreateManagerToken(ctx context.Context, t devices.ManagerToken) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO manager_tokens (hash, manager_id, created_at, last_used_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.ManagerID, utc(t.CreatedAt), utc(t.LastUsedAt), utc(t.ExpiresAt))
	return translate("create manager token", err)
}

// ManagerToken returns the token with hash, expired or not.
func (s *Store) ManagerToken(ctx context.Context, hash string) (devices.ManagerToken, error) {
	var t devices.ManagerToken
	err := s.pool.QueryRow(ctx, `SELECT hash, manager_id, created_at, last_used_at, expires_at
		FROM manager_tokens WHERE hash = $1`, hash).
		Scan(&t.Hash, &t.ManagerID, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt)
	if err != nil {
		return devices.ManagerToken{}, translate("manager token", err)
	}
	fromDB(&t.CreatedAt)
	fromDB(&t.LastUsedAt)
	fromDB(&t.ExpiresAt)
	return t, nil
}

// ManagerTokensOf lists a manager's tokens, newest first.
func (s *Store) ManagerTokensOf(ctx context.Context, managerID string) ([]devices.ManagerToken, error) {
	rows, _ := s.pool.Query(ctx, `SELECT hash, manager_id, created_at, last_used_at, expires_at
		FROM manager_tokens WHERE manager_id = $1 ORDER BY created_at DESC, hash LIMIT 1000`, managerID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (devices.ManagerToken, error) {
		var t devices.ManagerToken
		err := row.Scan(&t.Hash, &t.ManagerID, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt)
		fromDB(&t.CreatedAt)
		fromDB(&t.LastUsedAt)
		fromDB(&t.ExpiresAt)
		return t, err
	})
	if err != nil {
		return nil, translate("manager tokens", err)
	}
	if out == nil {
		out = []devices.ManagerToken{}
	}
	return out, nil
}

// TouchManagerToken moves the token's last use to at (never backwards).
func (s *Store) TouchManagerToken(ctx context.Context, hash string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, "UPDATE manager_tokens SET last_used_at = greatest(last_used_at, $2) WHERE hash = $1", hash, utc(at))
	if err != nil {
		return translate("touch manager token", err)
	}
	if tag.RowsAffected() == 0 {
		return translate("touch manager token", pgx.ErrNoRows)
	}
	return nil
}

// DeleteManagerTokens removes the manager's token with hash, or all of
// its tokens when hash is "". Deleting nothing is not an error.
func (s *Store) DeleteManagerTokens(ctx context.Context, managerID, hash string) error {
	var err error
	if hash == "" {
		_, err = s.pool.Exec(ctx, "DELETE FROM manager_tokens WHERE manager_id = $1", managerID)
	} else {
		_, err = s.pool.Exec(ctx, "DELETE FROM manager_tokens WHERE manager_id = $1 AND hash = $2", managerID, hash)
	}
	return translate("delete manager tokens", err)
}

// DeleteOtherManagerTokens removes every token of the manager but the
// one with keepHash.
func (s *Store) DeleteOtherManagerTokens(ctx context.Context, managerID, keepHash string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM manager_tokens WHERE manager_id = $1 AND hash <> $2", managerID, keepHash)
	return translate("delete other manager tokens", err)
}
