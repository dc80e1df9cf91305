package breaker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/breaker"
	"github.com/floorgate/floorgate/internal/clock"
)

func TestOpensAfterThresholdAndProbes(t *testing.T) {
	clk := clock.NewNow()
	var changes []bool
	b := breaker.New(breaker.Options{Threshold: 2, Cooldown: time.Second, Now: clk.Now,
		OnChange: func(open bool) { changes = append(changes, open) }})

	if !b.Allow() {
		t.Fatal("a new breaker refuses")
	}
	b.Failure()
	if b.Open() || !b.Allow() {
		t.Fatal("one failure opened the breaker (threshold 2)")
	}
	b.Success()
	b.Failure()
	if b.Open() {
		t.Fatal("a success did not reset the count of failures in a row")
	}
	b.Failure()
	if !b.Open() {
		t.Fatal("two failures in a row did not open the breaker")
	}
	for range 3 {
		if b.Allow() {
			t.Fatal("an open breaker let a call through before its cooldown")
		}
	}
	if got := b.Refused(); got != 3 {
		t.Fatalf("Refused = %d, want 3", got)
	}

	clk.Advance(time.Second)
	if !b.Allow() {
		t.Fatal("no probe after the cooldown")
	}
	if b.Allow() {
		t.Fatal("a second call went through while the probe is out")
	}
	b.Failure() // the probe failed: another cooldown
	clk.Advance(999 * time.Millisecond)
	if b.Allow() {
		t.Fatal("a call went through before the cooldown after a failed probe")
	}
	clk.Advance(time.Millisecond)
	if !b.Allow() {
		t.Fatal("no probe after the second cooldown")
	}
	b.Success()
	if b.Open() || !b.Allow() || !b.Allow() {
		t.Fatal("a successful probe did not close the breaker")
	}
	if want := []bool{true, false}; len(changes) != 2 || changes[0] != want[0] || changes[1] != want[1] {
		t.Fatalf("OnChange calls = %v, want %v", changes, want)
	}
	if b.Openings() != 1 {
		t.Fatalf("Openings = %d, want 1", b.Openings())
	}
}

// A probe whose caller never reports (it went away) does not keep the
// breaker shut: the next cooldown lets another one through.
func TestLostProbe(t *testing.T) {
	clk := clock.NewNow()
	b := breaker.New(breaker.Options{Threshold: 1, Cooldown: time.Second, Now: clk.Now})
	b.Failure()
	clk.Advance(time.Second)
	if !b.Allow() {
		t.Fatal("no probe")
	}
	clk.Advance(time.Second)
	if !b.Allow() {
		t.Fatal("a lost probe kept the breaker shut")
	}
}

func TestDefaultsAndConcurrency(t *testing.T) {
	b := breaker.New(breaker.Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				if b.Allow() {
					if i%2 == 0 {
						b.Failure()
					} else {
						b.Success()
					}
				}
				_ = b.Open()
			}
		})
	}
	wg.Wait()
	b.Success()
	if b.Open() {
		t.Fatal("a success left the breaker open")
	}
}
