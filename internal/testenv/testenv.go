// Package testenv holds the helpers Floorgate's tests share to reach the
// real servers they run against: the shared Redis with a fresh key
// prefix per test, a Redis Cluster started for the test binary, and a
// Redis that does not answer. Tests isolate themselves by prefix and
// never flush or drop shared state.
//
// A server that does not answer skips the test with a message naming its
// environment variable, unless CI is set: then the test fails.
//
// It is imported by tests only.
package testenv

import (
	"os"
	"testing"
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
