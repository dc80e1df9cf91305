package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/throttle"
)

// Forgotten counters: a subject idle past Forget starts over, a hard lock
// is never forgotten.
func TestThrottleForget(t *testing.T) {
	ctx := context.Background()
	clock := clock.NewNow()
	th := New(Options{Now: clock.Now, Forget: time.Hour})
	l := throttle.Limits{PairFreeFailures: 3, PairMaxDelay: time.Minute, UserFailures: 1000, UserWindow: time.Minute, UserLock: time.Hour, UserHardFailures: 3}
	for i := range 2 {
		th.Fail(ctx, throttle.Attempt{Subject: "idle", Source: fmt.Sprint("s", i)}, l)
	}
	for i := range 3 {
		th.Fail(ctx, throttle.Attempt{Subject: "hard", Source: fmt.Sprint("s", i)}, l)
	}
	clock.Advance(2 * time.Hour)
	th.mu.Lock()
	th.forgetLocked(clock.Now())
	th.mu.Unlock()
	if d, _ := th.Fail(ctx, throttle.Attempt{Subject: "idle", Source: "x"}, l); d.Verdict != throttle.Allow {
		t.Errorf("Fail(idle subject after Forget) = %s; want allow (count started over)", d.Verdict)
	}
	if d, _ := th.Check(ctx, throttle.Attempt{Subject: "hard", Source: "x"}, l); d.Verdict != throttle.UserLocked {
		t.Errorf("Check(hard-locked after Forget) = %s; want user_locked", d.Verdict)
	}
}
