package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/floorgate/floorgate/devices"
)

// translate turns a driver error into the devices sentinels, so that no
// pgx type ever reaches a caller: no row is devices.ErrNotFound, a unique
// violation devices.ErrExists, a reference to a missing warehouse or
// manager devices.ErrNotFound, a database that cannot be reached (or is
// shutting down, or is out of connections) devices.ErrUnavailable. The
// driver's message is kept as text, never wrapped.
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
		}
		return fmt.Errorf("postgres: %s: %s", op, err.Error())
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("postgres: %s: %w", op, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return fmt.Errorf("postgres: %s: %w: %w", op, devices.ErrUnavailable, context.DeadlineExceeded)
	case unreachable(err):
		return fmt.Errorf("postgres: %s: %w: %s", op, devices.ErrUnavailable, err.Error())
	}
	return fmt.Errorf("postgres: %s: %s", op, err.Error())
}

// unreachable reports whether err says that the database could not be
// reached or the connection broke.
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		pgconn.SafeToRetry(err)
}
