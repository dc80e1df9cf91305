package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floorgate/floorgate/devices"
)

// translate turns a driver error into the devices sentinels, so that no
// pgx type ever reaches a caller: no row is devices.ErrNotFound, a unique
// violation devices.ErrExists, a reference to a missing warehouse or
// manager devices.ErrNotFound, a value the schema refuses (a data
// exception, a check violation) devices.ErrInvalid, and everything else
// (a database that cannot be reached, is shutting down or out of
// connections, a context that ended, an error we do not know)
// devices.ErrUnavailable: callers fail closed. The driver's message is
// kept as text, never wrapped.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, devices.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("postgres: %s: %w (%s)", op, devices.ErrExists, pgErr.ConstraintName)
		case pgErr.Code == "23503": // foreign_key_violation: it points at nothing
			return fmt.Errorf("postgres: %s: %w (%s)", op, devices.ErrNotFound, pgErr.ConstraintName)
		case strings.HasPrefix(pgErr.Code, "08"), // connection_exception
			pgErr.Code == "53300", // too_many_connections
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03": // cannot_connect_now
			return fmt.Errorf("postgres: %s: %w: %s", op, devices.ErrUnavailable, pgErr.Message)
		case strings.HasPrefix(pgErr.Code, "22"), // data_exception
			pgErr.Code == "23514", // check_violation
			pgErr.Code == "23502": // not_null_violation
			return fmt.Errorf("postgres: %s: %w: %s", op, devices.ErrInvalid, pgErr.Message)
		}
		return fmt.Errorf("postgres: %s: %w: %s", op, devices.ErrUnavailable, err.Error())
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("postgres: %s: %w: %w", op, devices.ErrUnavailable, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return fmt.Errorf("postgres: %s: %w: %w", op, devices.ErrUnavailable, context.DeadlineExceeded)
	}
	return fmt.Errorf("postgres: %s: %w: %s", op, devices.ErrUnavailable, err.Error())
}
