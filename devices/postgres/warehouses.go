package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

const warehouseColumns = "id, name, code, settings, created_at, updated_at"

// scanWarehouse reads one row of warehouseColumns.
func scanWarehouse(row pgx.CollectableRow) (devices.Warehouse, error) {
	var w devices.Warehouse
	var settings []byte
	if err := row.Scan(&w.ID, &w.Name, &w.Code, &settings, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return w, err
	}
	if len(settings) > 0 {
		if err := json.Unmarshal(settings, &w.Settings); err != nil {
			return w, fmt.Errorf("warehouse %s settings: %w", w.ID, err)
		}
	}
	fromDB(&w.CreatedAt)
	fromDB(&w.UpdatedAt)
	return w, nil
}

// warehouseArgs are w's values in the order of warehouseColumns.
func warehouseArgs(w devices.Warehouse) ([]any, error) {
	settings, err := json.Marshal(w.Settings)
	if err != nil {
		return nil, fmt.Errorf("postgres: warehouse settings: %w: %v", devices.ErrUnavailable, err)
	}
	return []any{w.ID, w.Name, w.Code, settings, utc(w.CreatedAt), utc(w.UpdatedAt)}, nil
}

// CreateWarehouse inserts w and ev. A code taken already (compared
// case-insensitively) is devices.ErrExists.
func (s *Store) CreateWarehouse(ctx context.Context, w devices.Warehouse, ev devices.Event) error {
	args, err := warehouseArgs(w)
	if err != nil {
		return err
	}
	return s.inTx(ctx, "create warehouse "+w.Code, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO warehouses ("+warehouseColumns+") VALUES ($1, $2, $3, $4, $5, $6)", args...); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
}

// UpdateWarehouse locks the warehouse, lets fn change it and saves it
// with fn's event. The id cannot change.
func (s *Store) UpdateWarehouse(ctx context.Context, id string, fn func(*devices.Warehouse) (devices.Event, error)) (devices.Warehouse, error) {
	var out devices.Warehouse
	err := s.inTx(ctx, "update warehouse "+id, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, "SELECT "+warehouseColumns+" FROM warehouses WHERE id = $1 FOR UPDATE", id)
		w, err := pgx.CollectExactlyOneRow(rows, scanWarehouse)
		if err != nil {
			return err
		}
		ev, err := fn(&w)
		if err != nil {
			return callerError{err}
		}
		w.ID = id
		args, err := warehouseArgs(w)
		if err != nil {
			return callerError{err}
		}
		rows, _ = tx.Query(ctx, `UPDATE warehouses SET name = $2, code = $3, settings = $4, created_at = $5, updated_at = $6
			WHERE id = $1 RETURNING `+warehouseColumns, args...)
		if out, err = pgx.CollectExactlyOneRow(rows, scanWarehouse); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return devices.Warehouse{}, err
	}
	return out, nil
}

// Warehouse returns the warehouse with id.
func (s *Store) Warehouse(ctx context.Context, id string) (devices.Warehouse, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+warehouseColumns+" FROM warehouses WHERE id = $1", id)
	w, err := pgx.CollectExactlyOneRow(rows, scanWarehouse)
	if err != nil {
		return devices.Warehouse{}, translate("warehouse "+id, err)
	}
	return w, nil
}

// WarehouseByCode returns the warehouse with code, compared
// case-insensitively.
func (s *Store) WarehouseByCode(ctx context.Context, code string) (devices.Warehouse, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+warehouseColumns+" FROM warehouses WHERE upper(code) = upper($1)", code)
	w, err := pgx.CollectExactlyOneRow(rows, scanWarehouse)
	if err != nil {
		return devices.Warehouse{}, translate("warehouse by code "+code, err)
	}
	return w, nil
}

// Warehouses lists warehouses by id.
func (s *Store) Warehouses(ctx context.Context, f devices.WarehouseFilter) ([]devices.Warehouse, error) {
	if f.IDs != nil && len(f.IDs) == 0 {
		return []devices.Warehouse{}, nil
	}
	var w where
	if f.IDs != nil {
		w.add("id = ANY(%s)", w.arg(f.IDs))
	}
	if f.After != "" {
		w.add("id > %s", w.arg(f.After))
	}
	q := "SELECT " + warehouseColumns + " FROM warehouses" + w.String() +
		fmt.Sprintf(" ORDER BY id LIMIT %d", limit(f.Page))
	rows, _ := s.pool.Query(ctx, q, w.args...)
	ws, err := pgx.CollectRows(rows, scanWarehouse)
	if err != nil {
		return nil, translate("list warehouses", err)
	}
	return ws, nil
}
