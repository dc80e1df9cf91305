package admin

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/postgres"
	"github.com/floorgate/floorgate/sessions"
	fgredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/throttle"
	thredis "github.com/floorgate/floorgate/throttle/redis"
)

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// serverBackend is PostgreSQL (a random schema) with Redis (a random key
// prefix), when both answer.
func serverBackend(t *testing.T) (backend, bool) {
	pgURL := getenv("FLOORGATE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	redisAddr := getenv("FLOORGATE_TEST_REDIS_ADDR", "127.0.0.1:6379")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at FLOORGATE_TEST_POSTGRES_URL is unreachable: %v", err)
		}
		t.Logf("PostgreSQL at FLOORGATE_TEST_POSTGRES_URL is unreachable (%v): server backend skipped", err)
		return backend{}, false
	}
	conn.Close(ctx)
	rc := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	err = rc.Ping(ctx).Err()
	rc.Close()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at FLOORGATE_TEST_REDIS_ADDR is unreachable: %v", err)
		}
		t.Logf("Redis at FLOORGATE_TEST_REDIS_ADDR is unreachable (%v): server backend skipped", err)
		return backend{}, false
	}
	return backend{name: "postgres+redis", open: func(t *testing.T, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		ctx := context.Background()
		schema := "t_admin_" + randomName()
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			skipOrFail(t, "PostgreSQL at FLOORGATE_TEST_POSTGRES_URL: "+err.Error())
		}
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		conn.Close(ctx)
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), pgURL)
			if err != nil {
				return
			}
			defer c.Close(context.Background())
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		})
		st, err := postgres.Open(ctx, pgURL, postgres.Options{Schema: schema, MaxConns: 8})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		prefix := "t_admin_" + randomName() + ":"
		client := goredis.NewClient(&goredis.Options{Addr: redisAddr})
		t.Cleanup(func() {
			c := context.Background()
			var cursor uint64
			for range 10000 {
				keys, next, err := client.Scan(c, cursor, prefix+"*", 1000).Result()
				if err != nil {
					break
				}
				if len(keys) > 0 {
					client.Del(c, keys...)
				}
				cursor = next
				if cursor == 0 {
					break
				}
			}
			client.Close()
		})
		opts := fgredis.Options{Prefix: prefix, Now: now}
		return st, fgredis.New(client, opts), thredis.New(client, thredis.Options{Prefix: opts.Prefix, Now: opts.Now})
	}}, true
}
