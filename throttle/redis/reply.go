package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/throttle"
)

// wrapErr translates a driver error into throttle.ErrUnavailable, the
// one error a Throttle returns (context errors stay matchable too). The
// driver's text is kept for the log, not its type.
func wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("redis %s: %w: %w", op, throttle.ErrUnavailable, err)
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis %s: %w: unexpected nil reply", op, throttle.ErrUnavailable)
	}
	return fmt.Errorf("redis %s: %w: %s", op, throttle.ErrUnavailable, err.Error())
}
