// Package testenv holds the helpers Floorgate's tests share to reach the
// real servers they run against: the shared PostgreSQL with a fresh
// schema per test, the shared Redis with a fresh key prefix per test, a
// Redis Cluster started for the test binary, and a Redis that does not
// answer. Tests isolate themselves by schema and prefix and never flush
// or drop shared state.
//
// A server that does not answer skips the test with a message naming its
// environment variable, unless CI is set: then the test fails.
//
// It is imported by tests only.
package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// SkipOrFail skips tb with msg, or fails it when CI is set (in CI a
// missing server is a broken build, not a reason to test less).
func SkipOrFail(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// Servers reports whether the shared PostgreSQL and Redis both answer:
// nil, or an error naming the variable of the one that does not. For a
// test that runs on the embedded stores always and on the servers too
// when they answer (it fails under CI when they do not).
func Servers() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		return fmt.Errorf("PostgreSQL at %s does not answer: %w", PostgresURLVar, err)
	}
	conn.Close(ctx)
	addr := os.Getenv(RedisAddrVar)
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("Redis at %s does not answer: %w", RedisAddrVar, err)
	}
	return nil
}
