package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// This file keeps mobile device users.

// userWriteColumns are the columns a user's insert writes; userColumns
// those read (badge_changes is written only by the badge changes).
const userWriteColumns = `id, username, username_key, first_name, last_name, employee_id, warehouse_id, language,
	pin_hash, pin_change_required, status, deleted_at, created_at, updated_at`

const userColumns = userWriteColumns + `, badge_changes`

func scanUser(sc scanner) (devices.User, error) {
	var u devices.User
	var employee sql.NullString
	var deleted sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&u.ID, &u.Username, &u.UsernameKey, &u.FirstName, &u.LastName, &employee, &u.WarehouseID,
		&u.Language, &u.PINHash, &u.PINChangeRequired, &u.Status, &deleted, &created, &updated, &u.BadgeChanges); err != nil {
		return u, err
	}
	u.EmployeeID = employee.String
	u.DeletedAt = fromNullTS(deleted)
	u.CreatedAt, u.UpdatedAt = fromTS(created), fromTS(updated)
	return u, nil
}

// fold is the case-insensitive form the Q search compares.
func fold(s string) string { return strings.ToLower(s) }

// userArgs are the values of every column of users, in the order of
// insertUser: userWriteColumns followed by the *_fold copies.
func userArgs(u devices.User) []any {
	return []any{
		u.ID, u.Username, u.UsernameKey, u.FirstName, u.LastName, nullString(u.EmployeeID), u.WarehouseID, u.Language,
		u.PINHash, u.PINChangeRequired, string(u.Status), nullTS(u.DeletedAt), ts(u.CreatedAt), ts(u.UpdatedAt),
		fold(u.Username), fold(u.FirstName), fold(u.LastName), nullString(fold(u.EmployeeID)),
	}
}

const insertUser = `INSERT INTO users (` + userWriteColumns + `, username_fold, first_fold, last_fold, employee_fold)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// CreateUsers inserts users and evs in one transaction: all or none.
func (s *Store) CreateUsers(ctx context.Context, users []devices.User, evs []devices.Event) error {
	if len(users) == 0 && len(evs) == 0 {
		return nil
	}
	return s.write(ctx, "create users", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertUser)
		if err != nil {
			return translate(ctx, "create users", err)
		}
		defer stmt.Close()
		for _, u := range users {
			if _, err := stmt.ExecContext(ctx, userArgs(u)...); err != nil {
				return translate(ctx, "create user "+u.Username, err)
			}
		}
		return appendEvents(ctx, tx, "create users", evs...)
	})
}

// UpdateUser reads user id, lets fn change it and saves it with fn's event.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*devices.User) (devices.Event, error)) (devices.User, error) {
	var out devices.User
	op := "update user " + id
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err != nil {
			return translate(ctx, op, err)
		}
		ev, err := fn(&u)
		if err != nil {
			return err
		}
		u.ID = id
		args := userArgs(u)
		if _, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, username_key = ?, first_name = ?, last_name = ?,
			employee_id = ?, warehouse_id = ?, language = ?, pin_hash = ?, pin_change_required = ?, status = ?,
			deleted_at = ?, created_at = ?, updated_at = ?,
			username_fold = ?, first_fold = ?, last_fold = ?, employee_fold = ?
			WHERE id = ?`, append(args[1:], id)...); err != nil {
			return translate(ctx, op, err)
		}
		out = u
		return appendEvents(ctx, tx, op, ev)
	})
	return out, err
}

// User returns user id.
func (s *Store) User(ctx context.Context, id string) (devices.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, translate(ctx, "user "+id, err)
}

// UserByUsername returns the user whose UsernameKey is key, deleted or not.
func (s *Store) UserByUsername(ctx context.Context, key string) (devices.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username_key = ?`, key))
	return u, translate(ctx, "user by username", err)
}

// UserByEmployeeID returns the user with employeeID.
func (s *Store) UserByEmployeeID(ctx context.Context, employeeID string) (devices.User, error) {
	if employeeID == "" {
		return devices.User{}, fmt.Errorf("user by employee id: %w", devices.ErrNotFound)
	}
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE employee_id = ?`, employeeID))
	return u, translate(ctx, "user by employee id", err)
}

// UsersHolding returns the users, deleted ones included, holding one of
// the username keys or employee ids, in one statement. The employee id's
// term repeats the partial index's predicate so that SQLite can use
// users_employee_id.
func (s *Store) UsersHolding(ctx context.Context, keys, employeeIDs []string) ([]devices.User, error) {
	emps := make([]string, 0, len(employeeIDs))
	for _, e := range employeeIDs {
		if e != "" {
			emps = append(emps, e)
		}
	}
	if len(keys) == 0 && len(emps) == 0 {
		return []devices.User{}, nil
	}
	if keys == nil {
		keys = []string{}
	}
	op := fmt.Sprintf("users holding %d usernames and %d employee ids", len(keys), len(emps))
	k, _ := jsonMarshal(keys)
	e, _ := jsonMarshal(emps)
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE username_key IN (SELECT value FROM json_each(?))
			OR (employee_id IN (SELECT value FROM json_each(?)) AND employee_id IS NOT NULL AND employee_id <> '')`, string(k), string(e))
	if err != nil {
		return nil, translate(ctx, op, err)
	}
	defer rows.Close()
	us := []devices.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, translate(ctx, op, err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, op, err)
	}
	return us, nil
}

// Users lists users by id.
func (s *Store) Users(ctx context.Context, f devices.UserFilter) ([]devices.User, error) {
	var w where
	if f.WarehouseIDs != nil {
		if len(f.WarehouseIDs) == 0 {
			return nil, nil
		}
		w.in("warehouse_id", f.WarehouseIDs)
	}
	if f.Status == "" {
		w.add("status IN (?, ?)", string(devices.UserActive), string(devices.UserSuspended))
	} else {
		w.add("status = ?", string(f.Status))
	}
	if f.Q != "" {
		p := likePrefix(fold(f.Q))
		w.add(`(username_fold LIKE ? ESCAPE '\' OR username_key LIKE ? ESCAPE '\' OR first_fold LIKE ? ESCAPE '\'
			OR last_fold LIKE ? ESCAPE '\' OR employee_fold LIKE ? ESCAPE '\')`, p, p, p, p, p)
	}
	if f.UpdatedSince != nil {
		w.add("updated_at >= ?", ts(*f.UpdatedSince))
	}
	if f.After != "" {
		w.add("id > ?", f.After)
	}
	return list(ctx, s.r, "users", "SELECT "+userColumns+" FROM users", &w, "id", limit(f.Page), scanUser)
}

// PurgeUsers removes the users deleted before cutoff, each with its
// event, in one transaction.
func (s *Store) PurgeUsers(ctx context.Context, cutoff time.Time, event func(devices.User) devices.Event) (int, error) {
	n := 0
	err := s.write(ctx, "purge users", func(tx *sql.Tx) error {
		n = 0
		gone, err := list(ctx, tx, "purge users", "SELECT "+userColumns+" FROM users",
			&where{conds: []string{"status = ?", "deleted_at < ?"}, args: []any{string(devices.UserDeleted), ts(cutoff)}},
			"id", -1, scanUser)
		if err != nil {
			return err
		}
		for _, u := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
				return translate(ctx, "purge user "+u.ID, err)
			}
			if err := appendEvents(ctx, tx, "purge user "+u.ID, event(u)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
