package postgres

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/testenv"
)

// BenchmarkAppendEvent appends one audit event per operation, as a
// login's success or failure does: serially, and from 16 goroutines at
// once (concurrent logins on one instance, all taking the audit chain's
// head in turn). docs/BENCHMARKS.md has the figures.
func BenchmarkAppendEvent(b *testing.B) {
	for _, tc := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel16", true}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Open(context.Background(), testURL(), Options{Schema: testenv.PostgresSchema(b), MaxConns: 16})
			if err != nil {
				b.Fatalf("Open() = %v", err)
			}
			defer s.Close()
			ctx := context.Background()
			append1 := func() {
				now := time.Now()
				ev := devices.Event{ID: id.New("evt_", now), At: now, Actor: "device:dev_bench", Action: "login.success",
					Subject: "user:usr_bench", WarehouseID: "wh_bench", DeviceID: "dev_bench", Details: map[string]string{"session_id": "ses_x"}}
				if err := s.AppendEvents(ctx, ev); err != nil {
					b.Fatalf("AppendEvents() = %v", err)
				}
			}
			b.ResetTimer()
			if !tc.parallel {
				for b.Loop() {
					append1()
				}
				return
			}
			b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					append1()
				}
			})
		})
	}
}
