package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURLVar names the URL of the shared test database.
const PostgresURLVar = "FLOORGATE_TEST_POSTGRES_URL"

// PostgresURL is the URL of the shared test database
// ($FLOORGATE_TEST_POSTGRES_URL, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
func PostgresURL() string {
	if u := os.Getenv(PostgresURLVar); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresConn connects straight to the shared test database, outside
// any store, closed at tb's cleanup. It skips when PostgreSQL does not
// answer (fails under CI).
func PostgresConn(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		SkipOrFail(tb, fmt.Sprintf("PostgreSQL does not answer (set %s to a reachable database): %v", PostgresURLVar, err))
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// PostgresSchema creates an empty schema t_<random> in the shared test
// database, dropped (CASCADE) at tb's cleanup, and returns its name. Tests
// isolate themselves by schema: they never drop shared state.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn := PostgresConn(tb)
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("CREATE SCHEMA %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		// A cleanup registered later (a store's Close) has run by now.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("DROP SCHEMA %s: %v", schema, err)
		}
	})
	return schema
}

// PostgresSchemaURL is the URL of the shared test database with its
// search_path set to a fresh schema (PostgresSchema), for code that takes
// a URL (the binary's -postgres-url).
func PostgresSchemaURL(tb testing.TB) string {
	tb.Helper()
	schema := PostgresSchema(tb)
	u, err := url.Parse(PostgresURL())
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", PostgresURLVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
