package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions/redis"
	thmemory "github.com/floorgate/floorgate/throttle/memory"
)

// BenchmarkIntrospect: POST /v1/introspect through the gateway's handler
// (router, service-key check from the registry's cache, body decoding,
// validation, JSON answer) over 64 live sessions in Redis, 64 requests in
// flight, on the wall clock. No HTTP connection: this is what the
// gateway adds to a request, not the network's share.
//
//	go test -run '^$' -bench Introspect -benchtime 20000x -count 6 ./gateway
func BenchmarkIntrospect(b *testing.B) {
	h := wallHarness(b)
	toks := make([][]byte, 64)
	for i := range toks {
		h.user(fmt.Sprintf("bench%02d", i), h.wh.ID)
		tok, _ := h.mustLogin(h.enroll(fmt.Sprintf("S21-B%03d", i)), fmt.Sprintf("bench%02d", i))
		toks[i] = []byte(`{"token":"` + tok + `"}`)
	}
	handler := h.srv.Handler()
	auth := "Bearer " + h.svcKey
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(32) // 64 in flight on 2 cores, as devicesim introspect
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			req := httptest.NewRequest("POST", "/v1/introspect", bytes.NewReader(toks[i%int64(len(toks))]))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, req)
			if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"active":true`)) {
				b.Fatalf("introspect = %d %s; want active", w.Code, w.Body.Bytes())
			}
		}
	})
}

// wallHarness is a harness on the wall clock: the SQLite registry and
// Redis sessions (under a key prefix of their own).
func wallHarness(b *testing.B) *harness {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "registry.db"))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	b.Cleanup(func() { st.Close() })
	reg, err := devices.NewRegistry(st, devices.Options{
		Pepper: []byte("a test pepper of enough bytes"), Now: time.Now, Hash: testHash, Logger: discard(),
	})
	if err != nil {
		b.Fatalf("NewRegistry: %v", err)
	}
	client := testenv.Redis(b)
	be := backend{
		now:      time.Now,
		reg:      reg,
		store:    redis.New(client, redis.Options{Prefix: testenv.RedisPrefix(b, client), Now: time.Now, Logger: discard()}),
		throttle: thmemory.New(thmemory.Options{Now: time.Now}),
	}
	return newHarnessOn(b, newClock(), be, func(c *Config) { c.Now = time.Now })
}
