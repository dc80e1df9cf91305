package admin

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/postgres"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	fgredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/throttle"
	thredis "github.com/floorgate/floorgate/throttle/redis"
)

// serverBackend is PostgreSQL (a fresh schema) with Redis (a fresh key
// prefix), when both answer.
func serverBackend(t *testing.T) (backend, bool) {
	if err := testenv.Servers(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Logf("%v: server backend skipped", err)
		return backend{}, false
	}
	return backend{name: "postgres+redis", open: func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		st, err := postgres.Open(context.Background(), testenv.PostgresURL(), postgres.Options{Schema: testenv.PostgresSchema(t), MaxConns: 8})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		client := testenv.Redis(t)
		opts := fgredis.Options{Prefix: testenv.RedisPrefix(t, client), Now: now}
		return st, fgredis.New(client, opts), thredis.New(client, thredis.Options{Prefix: opts.Prefix, Now: opts.Now})
	}}, true
}
