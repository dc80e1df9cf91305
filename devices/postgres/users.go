package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

const userColumns = `id, username, username_key, first_name, last_name, employee_id, warehouse_id, language,
	pin_hash, pin_change_required, status, deleted_at, created_at, updated_at, badge_changes`

// scanUser reads one row of userColumns.
func scanUser(row pgx.CollectableRow) (devices.User, error) {
	var u devices.User
	var employeeID *string
	if err := row.Scan(&u.ID, &u.Username, &u.UsernameKey, &u.FirstName, &u.LastName, &employeeID,
		&u.WarehouseID, &u.Language, &u.PINHash, &u.PINChangeRequired, &u.Status, &u.DeletedAt,
		&u.CreatedAt, &u.UpdatedAt, &u.BadgeChanges); err != nil {
		return u, err
	}
	u.EmployeeID = emptyIfNull(employeeID)
	fromDBPtr(&u.DeletedAt)
	fromDB(&u.CreatedAt)
	fromDB(&u.UpdatedAt)
	return u, nil
}

// userRow is u's values in the order of userColumnNames (userColumns
// but badge_changes, which only the badge changes write).
func userRow(u devices.User) []any {
	return []any{u.ID, u.Username, u.UsernameKey, u.FirstName, u.LastName, nullIfEmpty(u.EmployeeID),
		u.WarehouseID, u.Language, u.PINHash, u.PINChangeRequired, string(u.Status), utcPtr(u.DeletedAt),
		utc(u.CreatedAt), utc(u.UpdatedAt)}
}

var userColumnNames = []string{"id", "username", "username_key", "first_name", "last_name", "employee_id",
	"warehouse_id", "language", "pin_hash", "pin_change_required", "status", "deleted_at", "created_at", "updated_at"}

// CreateUsers inserts users and evs in one transaction (COPY): any
// conflict (username key, employee id, id) is devices.ErrExists, a
// missing warehouse devices.ErrNotFound, and nothing is written.
func (s *Store) CreateUsers(ctx context.Context, users []devices.User, evs []devices.Event) error {
	if len(users) == 0 && len(evs) == 0 {
		return nil
	}
	op := fmt.Sprintf("create %d users", len(users))
	if len(users) == 1 {
		op = "create user " + users[0].Username
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		if len(users) > 0 {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"users"}, userColumnNames,
				pgx.CopyFromSlice(len(users), func(i int) ([]any, error) { return userRow(users[i]), nil }))
			if err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, evs...)
	})
}

// UpdateUser locks the user, lets fn change it and saves it with fn's
// event. The id cannot change.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*devices.User) (devices.Event, error)) (devices.User, error) {
	var out devices.User
	err := s.inTx(ctx, "update user "+id, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1 FOR UPDATE", id)
		u, err := pgx.CollectExactlyOneRow(rows, scanUser)
		if err != nil {
			return err
		}
		ev, err := fn(&u)
		if err != nil {
			return callerError{err}
		}
		u.ID = id
		rows, _ = tx.Query(ctx, `UPDATE users SET username = $2, username_key = $3, first_name = $4, last_name = $5,
			employee_id = $6, warehouse_id = $7, language = $8, pin_hash = $9, pin_change_required = $10,
			status = $11, deleted_at = $12, created_at = $13, updated_at = $14
			WHERE id = $1 RETURNING `+userColumns, userRow(u)...)
		if out, err = pgx.CollectExactlyOneRow(rows, scanUser); err != nil {
			return err
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return devices.User{}, err
	}
	return out, nil
}

// user returns the one user matching cond (on argument $1).
func (s *Store) user(ctx context.Context, op, cond string, arg any) (devices.User, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+userColumns+" FROM users WHERE "+cond, arg)
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if err != nil {
		return devices.User{}, translate(op, err)
	}
	return u, nil
}

// User returns the user with id, whatever its status.
func (s *Store) User(ctx context.Context, id string) (devices.User, error) {
	return s.user(ctx, "user "+id, "id = $1", id)
}

// UserByUsername returns the user whose username key is key, deleted
// users included.
func (s *Store) UserByUsername(ctx context.Context, key string) (devices.User, error) {
	return s.user(ctx, "user by username", "username_key = $1", key)
}

// UserByEmployeeID returns the user with that employee id; "" matches
// nobody.
func (s *Store) UserByEmployeeID(ctx context.Context, employeeID string) (devices.User, error) {
	return s.user(ctx, "user by employee id", "employee_id = $1", employeeID)
}

// usersHoldingSQL finds the holders of username keys ($1) and employee
// ids ($2) through their unique indexes, the partial
// users_employee_id_key (WHERE employee_id IS NOT NULL) included: a
// generic plan proves that predicate from "employee_id = ANY($2)", the
// operator being strict (TestUserGenericPlans).
const usersHoldingSQL = "SELECT " + userColumns + ` FROM users
	WHERE username_key = ANY($1::text[]) OR employee_id = ANY($2::text[])`

// UsersHolding returns the users, deleted ones included, holding one of
// the username keys or employee ids, in one statement.
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
	rows, _ := s.pool.Query(ctx, usersHoldingSQL, keys, emps)
	us, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, translate(fmt.Sprintf("users holding %d usernames and %d employee ids", len(keys), len(emps)), err)
	}
	return us, nil
}

// Users lists users by id (creation order), filtered as
// devices.UserFilter documents. Q is a case-insensitive prefix (ILIKE,
// so non-ASCII letters fold as the database's locale folds them) of the
// username, its key, the first or last name or the employee id; % and _
// in Q are literal.
func (s *Store) Users(ctx context.Context, f devices.UserFilter) ([]devices.User, error) {
	if f.WarehouseIDs != nil && len(f.WarehouseIDs) == 0 {
		return []devices.User{}, nil
	}
	q, args := usersQuery(f)
	rows, _ := s.pool.Query(ctx, q, args...)
	us, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, translate("list users", err)
	}
	return us, nil
}

// usersQuery is Users' statement and arguments for f. A known status is
// written in the text, never passed as a parameter: the generic plan of
// the deleted users' list can then use the partial users_purge_idx
// (WHERE status = 'deleted') instead of walking every user's key
// (TestPartialIndexGenericPlans).
func usersQuery(f devices.UserFilter) (string, []any) {
	var w where
	if f.WarehouseIDs != nil {
		w.add("warehouse_id = ANY(%s)", w.arg(f.WarehouseIDs))
	}
	switch f.Status {
	case "":
		w.add("status IN ('active', 'suspended')")
	case devices.UserActive, devices.UserSuspended, devices.UserDeleted:
		w.add("status = '%s'", string(f.Status)) // one of three constants
	default:
		w.add("status = %s", w.arg(string(f.Status)))
	}
	if f.Q != "" {
		p := w.arg(likePrefix(f.Q))
		w.add("(username ILIKE %[1]s OR username_key ILIKE %[1]s OR first_name ILIKE %[1]s OR last_name ILIKE %[1]s OR employee_id ILIKE %[1]s)", p)
	}
	if f.UpdatedSince != nil {
		w.add("updated_at >= %s", w.arg(utc(*f.UpdatedSince)))
	}
	if f.After != "" {
		w.add("id > %s", w.arg(f.After))
	}
	return "SELECT " + userColumns + " FROM users" + w.String() + fmt.Sprintf(" ORDER BY id LIMIT %d", limit(f.Page)), w.args
}

// PurgeUsers deletes, in one transaction, every user deleted strictly
// before cutoff, appending event(u) for each. The rows are gone (and with
// them the personal data, the PIN hash and the reserved username); the
// audit log keeps only their ids. Concurrent purges each remove a user at
// most once: DELETE skips rows another transaction removed.
func (s *Store) PurgeUsers(ctx context.Context, cutoff time.Time, event func(devices.User) devices.Event) (int, error) {
	var n int
	err := s.inTx(ctx, "purge users", func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `DELETE FROM users WHERE status = 'deleted' AND deleted_at < $1
			RETURNING `+userColumns, utc(cutoff))
		purged, err := pgx.CollectRows(rows, scanUser)
		if err != nil {
			return err
		}
		evs := make([]devices.Event, 0, len(purged))
		for _, u := range purged {
			evs = append(evs, event(u))
		}
		n = len(purged)
		return insertEvents(ctx, tx, evs...)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
