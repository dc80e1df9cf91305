package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

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

// str reads a reply value as a string ("" for nil).
func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// atoi reads a decimal, 0 when it is not one.
func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// toInt reads a reply value as an integer.
func toInt(v any) int64 {
	if n, ok := v.(int64); ok {
		return n
	}
	return atoi(str(v))
}

// Times are stored as Unix microseconds: exact in a Lua number and in a
// sorted-set score.
func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func durUS(d time.Duration) int64 { return d.Microseconds() }

// ttlMS is a garbage-collection TTL in milliseconds: d plus an hour's
// margin, at least one.
func ttlMS(d time.Duration) int64 {
	if m := (d + time.Hour).Milliseconds(); m > 0 {
		return m
	}
	return 1
}
