package signin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/clock"
)

// TestPoolShares: enrollment and admin sign-in each hold at most their
// share of the slots and of the hashing time, and neither takes the
// other's; device sign-ins may use every slot and have no budget.
func TestPoolShares(t *testing.T) {
	t.Parallel()
	clk := clock.New(time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC))
	p := NewPoolShares(2, time.Millisecond, Shares{})
	p.now = clk.Now
	ctx := context.Background()
	take := func(what string, c class, want error) func() {
		t.Helper()
		release, err := p.acquire(ctx, c)
		if !errors.Is(err, want) {
			t.Fatalf("%s = %v; want %v", what, err, want)
		}
		return release
	}

	relEnroll := take("enroll on an idle pool", classEnroll, nil)
	take("a second enroll (its share of 2 slots is 1)", classEnroll, ErrBusy)
	relDev := take("a device beside it", classDevice, nil)
	take("admin sign-in with both slots taken", classManager, ErrBusy)
	relDev()
	relMgr := take("admin sign-in beside the enrollment", classManager, nil)
	relMgr()
	clk.Advance(2 * time.Second) // the enrollment hashed for 2 s
	relEnroll()
	take("enroll over its share of hashing time", classEnroll, ErrBusy)
	take("admin sign-in, whose share the enrollment did not touch", classManager, nil)()
	clk.Advance(time.Duration(float64(2*time.Second-shareBurst)/(DefaultShares.Enroll*2)) + time.Second) // paid back
	take("enroll once its time is paid back", classEnroll, nil)()

	for range 3 {
		rel := take("a device, whatever it hashed before", classDevice, nil)
		clk.Advance(10 * time.Second)
		rel()
	}
	r1, r2 := take("device 1 of 2", classDevice, nil), take("device 2 of 2", classDevice, nil)
	take("a third device on 2 slots", classDevice, ErrBusy)
	r1()
	r2()
}
