package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/memory"
	"github.com/floorgate/floorgate/sessions/sessionstest"
)

func TestConformance(t *testing.T) {
	sessionstest.Run(t, sessionstest.Harness{
		New: func(t *testing.T, clock func() time.Time) sessions.Store {
			return memory.New(memory.Options{Now: clock})
		},
	})
}

// TestConformanceShared runs the suite with the one Store standing in for
// three instances, so that the concurrent paths (sweeps on every peer,
// creates through every peer) run against one lock.
func TestConformanceShared(t *testing.T) {
	sessionstest.Run(t, sessionstest.Harness{
		Peers: func(t *testing.T, clock func() time.Time, n int) []sessions.Store {
			st := memory.New(memory.Options{Now: clock})
			peers := make([]sessions.Store, n)
			for i := range peers {
				peers[i] = st
			}
			return peers
		},
	})
}

var benchPolicy = sessions.Policy{Cap: 3, Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	st := memory.New(memory.Options{})
	users := make([]string, 1000)
	devices := make([]string, 3000)
	for i := range users {
		users[i] = "u" + itoa(i)
	}
	for i := range devices {
		devices[i] = "d" + itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n := sessions.NewSession{UserID: users[i%len(users)], Username: "x", DeviceID: devices[i%len(devices)], WarehouseID: "w1"}
		if _, err := st.Create(ctx, n, benchPolicy); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkValidate(b *testing.B) {
	ctx := context.Background()
	st := memory.New(memory.Options{})
	toks := make([]sessions.Token, 1000)
	for i := range toks {
		c, err := st.Create(ctx, sessions.NewSession{UserID: "u" + itoa(i), DeviceID: "d" + itoa(i), WarehouseID: "w1"}, benchPolicy)
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = c.Token
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := st.Validate(ctx, toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}
