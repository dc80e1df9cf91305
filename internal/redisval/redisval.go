// Package redisval is how Floorgate's Redis stores (sessions/redis and
// throttle/redis) read Redis replies and write times: replies of
// pipelined commands and Lua scripts as strings and integers, times as
// Unix microseconds (exact in a Lua number and in a sorted-set score, both
// doubles), and key TTLs that only collect garbage.
//
// It imports the standard library only.
package redisval

import (
	"fmt"
	"strconv"
	"time"
)

// KeyMargin is added to every garbage-collection TTL, so that a key
// outlives the rule that reads it by a comfortable margin even with clock
// skew between instances: expiry itself is decided from stored times.
const KeyMargin = time.Hour

// Str reads a reply value as a string ("" for nil).
func Str(v any) string {
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

// Atoi reads a decimal, 0 when it is not one.
func Atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// Int reads a reply value as an integer (0 when it is not one).
func Int(v any) int64 {
	if n, ok := v.(int64); ok {
		return n
	}
	return Atoi(Str(v))
}

// Micros is t as Unix microseconds.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the UTC time of Unix microseconds.
func FromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// DurMicros is d in microseconds.
func DurMicros(d time.Duration) int64 { return d.Microseconds() }

// TTLMillis is a garbage-collection TTL in milliseconds: d plus KeyMargin,
// at least one.
func TTLMillis(d time.Duration) int64 {
	if m := (d + KeyMargin).Milliseconds(); m > 0 {
		return m
	}
	return 1
}
