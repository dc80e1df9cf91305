// Package throttletest is the conformance suite every throttle.Throttle
// backend runs: written once, checked against Redis (standalone and
// Cluster) and the in-process throttle alike.
package throttletest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/throttle"
)

// Harness tells the suite how to reach one backend.
type Harness struct {
	// New returns a Throttle over a fresh, empty namespace that reads
	// time from clock; its keys are removed at t's cleanup.
	New func(t *testing.T, clock func() time.Time) throttle.Throttle
	// Down returns a Throttle whose server does not answer (nothing
	// listens at its address), for the error contract. Nil for an
	// in-process backend, which has no server to lose.
	Down func(t *testing.T) throttle.Throttle
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("throttletest: Harness.New is required")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"PairDelays", testPairDelays},
		{"UserLock", testUserLock},
		{"UserWindowSlides", testUserWindowSlides},
		{"HardLock", testHardLock},
		{"SucceedResetsConsecutive", testSucceedResetsConsecutive},
		{"Quarantine", testQuarantine},
		{"DeviceWindow", testDeviceWindow},
		{"ZeroTurnsRulesOff", testZeroTurnsRulesOff},
		{"Spray", testSpray},
		{"SprayTightens", testSprayTightens},
		{"ConcurrentFails", testConcurrentFails},
		{"Claims", testClaims},
		{"Rates", testRates},
		{"LockGrowsNeverPermanent", testLockGrows},
		{"LockSparesCleanSources", testLockSparesCleanSources},
		{"Unavailable", testUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h) })
	}
}

// testUnavailable checks the error contract: every method of a throttle
// whose server does not answer returns an error matching
// throttle.ErrUnavailable, so that callers fail closed on one sentinel.
func testUnavailable(t *testing.T, h Harness) {
	if h.Down == nil {
		t.Log("in-process backend: no server to lose")
		return
	}
	th := h.Down(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := throttle.Attempt{Subject: "u:jsmith", Source: "d:dev1", WarehouseID: "wh1"}
	_, errCheck := th.Check(ctx, a, testLimits)
	_, errFail := th.Fail(ctx, a, testLimits)
	_, errQuarantined := th.Quarantined(ctx, a.Source)
	_, errClaim := th.Claim(ctx, []string{a.Subject}, "x", time.Second)
	_, _, errTake := th.Take(ctx, "ip:192.0.2.1", throttle.Rate{Burst: 1, PerMinute: 1})
	for name, err := range map[string]error{
		"Claim":         errClaim,
		"Take":          errTake,
		"Release":       th.Release(ctx, []string{a.Subject}, "x"),
		"Check":         errCheck,
		"Fail":          errFail,
		"Succeed":       th.Succeed(ctx, a),
		"UnlockSubject": th.UnlockSubject(ctx, a.Subject),
		"UnlockSource":  th.UnlockSource(ctx, a.Source),
		"Quarantined":   errQuarantined,
	} {
		if !errors.Is(err, throttle.ErrUnavailable) {
			t.Errorf("%s on a throttle whose server is down = %v; want ErrUnavailable", name, err)
		}
	}
}

// testLimits are small limits so that every rule is reached quickly.
var testLimits = throttle.Limits{
	PairFreeFailures: 3,
	PairMaxDelay:     8 * time.Second,
	UserFailures:     10,
	UserWindow:       30 * time.Minute,
	UserLock:         time.Hour,
	UserHardFailures: 25,
	DeviceFailures:   20,
	DeviceWindow:     15 * time.Minute,
	SprayUsers:       5,
	SprayWindow:      10 * time.Minute,
}

type throttleEnv struct {
	clock *clock.Clock
	th    throttle.Throttle
}

func newThrottleEnv(t *testing.T, h Harness) *throttleEnv {
	t.Helper()
	c := clock.NewNow()
	return &throttleEnv{clock: c, th: h.New(t, c.Now)}
}

func (e *throttleEnv) fail(t *testing.T, a throttle.Attempt, l throttle.Limits) throttle.Decision {
	t.Helper()
	d, err := e.th.Fail(context.Background(), a, l)
	if err != nil {
		t.Fatalf("Fail(%+v) = %v", a, err)
	}
	return d
}

func (e *throttleEnv) check(t *testing.T, a throttle.Attempt, l throttle.Limits) throttle.Decision {
	t.Helper()
	d, err := e.th.Check(context.Background(), a, l)
	if err != nil {
		t.Fatalf("Check(%+v) = %v", a, err)
	}
	return d
}

// expect compares a decision's verdict and wait (Spray is checked by the
// spray test alone).
func expect(t *testing.T, what string, got throttle.Decision, v throttle.Verdict, retry time.Duration) {
	t.Helper()
	if got.Verdict != v || got.RetryAfter != retry {
		t.Errorf("%s = %s after %v; want %s after %v", what, got.Verdict, got.RetryAfter, v, retry)
	}
}

// runThrottle checks the Throttle contract.
func testPairDelays(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	l := testLimits
	l.UserFailures = 100 // the pair alone
	a := throttle.Attempt{Subject: "jsmith", Source: "d1"}
	expect(t, "Check(fresh)", e.check(t, a, l), throttle.Allow, 0)
	for i := 1; i <= l.PairFreeFailures; i++ {
		expect(t, fmt.Sprintf("Fail(#%d)", i), e.fail(t, a, l), throttle.Allow, 0)
	}
	// Delays double from 1s and stop at PairMaxDelay.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		n := l.PairFreeFailures + 1 + i
		expect(t, fmt.Sprintf("Fail(#%d)", n), e.fail(t, a, l), throttle.Delay, want)
		expect(t, fmt.Sprintf("Check after failure #%d", n), e.check(t, a, l), throttle.Delay, want)
		e.clock.Advance(want / 2)
		expect(t, fmt.Sprintf("Check halfway after failure #%d", n), e.check(t, a, l), throttle.Delay, want-want/2)
		e.clock.Advance(want - want/2)
		expect(t, fmt.Sprintf("Check once the delay passed after failure #%d", n), e.check(t, a, l), throttle.Allow, 0)
	}
	// Checks count nothing.
	for range 50 {
		e.check(t, a, l)
	}
	// The delay is per (subject, source).
	expect(t, "Check(same subject, other source)", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "d2"}, l), throttle.Allow, 0)
	expect(t, "Check(other subject, same source)", e.check(t, throttle.Attempt{Subject: "other", Source: "d1"}, l), throttle.Allow, 0)
	expect(t, "Fail(#9)", e.fail(t, a, l), throttle.Delay, 8*time.Second)

	// Success clears the pair: the free failures start over.
	if err := e.th.Succeed(context.Background(), a); err != nil {
		t.Fatalf("Succeed() = %v", err)
	}
	expect(t, "Check after Succeed", e.check(t, a, l), throttle.Allow, 0)
	expect(t, "Fail after Succeed", e.fail(t, a, l), throttle.Allow, 0)

	// UnlockSubject clears it too.
	b := throttle.Attempt{Subject: "bob", Source: "d1"}
	for range l.PairFreeFailures + 2 {
		e.fail(t, b, l)
	}
	expect(t, "Check(bob)", e.check(t, b, l), throttle.Delay, 2*time.Second)
	if err := e.th.UnlockSubject(context.Background(), "bob"); err != nil {
		t.Fatalf("UnlockSubject() = %v", err)
	}
	expect(t, "Check(bob) after UnlockSubject", e.check(t, b, l), throttle.Allow, 0)
}

func testUserLock(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	l := testLimits
	at := func(i int) throttle.Attempt {
		return throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", i)}
	}
	for i := 1; i < l.UserFailures; i++ {
		expect(t, fmt.Sprintf("Fail(#%d)", i), e.fail(t, at(i), l), throttle.Allow, 0)
		e.clock.Advance(time.Second)
	}
	expect(t, "Fail(#10)", e.fail(t, at(l.UserFailures), l), throttle.UserLocked, l.UserLock)
	expect(t, "Check(locked, new device)", e.check(t, at(99), l), throttle.UserLocked, l.UserLock)
	expect(t, "Check(other subject)", e.check(t, throttle.Attempt{Subject: "other", Source: "d1"}, l), throttle.Allow, 0)
	e.clock.Advance(l.UserLock - time.Second)
	expect(t, "Check 1s before the lock ends", e.check(t, at(99), l), throttle.UserLocked, time.Second)
	e.clock.Advance(time.Second)
	expect(t, "Check when the lock ends", e.check(t, at(99), l), throttle.Allow, 0)
	expect(t, "Fail after the lock", e.fail(t, at(98), l), throttle.Allow, 0)

	// UnlockSubject lifts a lock at once.
	for i := 1; i <= l.UserFailures; i++ {
		e.fail(t, throttle.Attempt{Subject: "ann", Source: fmt.Sprintf("d%d", i)}, l)
	}
	expect(t, "Check(ann)", e.check(t, throttle.Attempt{Subject: "ann", Source: "dx"}, l), throttle.UserLocked, l.UserLock)
	if err := e.th.UnlockSubject(context.Background(), "ann"); err != nil {
		t.Fatalf("UnlockSubject() = %v", err)
	}
	expect(t, "Check(ann) after UnlockSubject", e.check(t, throttle.Attempt{Subject: "ann", Source: "dx"}, l), throttle.Allow, 0)
	expect(t, "Fail(ann) after UnlockSubject", e.fail(t, throttle.Attempt{Subject: "ann", Source: "dy"}, l), throttle.Allow, 0)
}

func testUserWindowSlides(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	l := testLimits
	n := 0
	fail := func(want throttle.Verdict, retry time.Duration) {
		t.Helper()
		n++
		expect(t, fmt.Sprintf("Fail(#%d)", n), e.fail(t, throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", n)}, l), want, retry)
	}
	for range l.UserFailures - 1 {
		fail(throttle.Allow, 0)
	}
	// The nine failures leave the window: nine more are allowed.
	e.clock.Advance(l.UserWindow + time.Minute)
	for range l.UserFailures - 1 {
		fail(throttle.Allow, 0)
	}
	// Twenty minutes on, those nine are still within the window: the next
	// failure is the tenth.
	e.clock.Advance(20 * time.Minute)
	fail(throttle.UserLocked, l.UserLock)
}

func testHardLock(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newThrottleEnv(t, h)
	l := testLimits
	n := 0
	// Batches below the window limit, spaced beyond the window, reach the
	// consecutive limit without a timed lock.
	for n < l.UserHardFailures-1 {
		for range l.UserFailures - 1 {
			if n == l.UserHardFailures-1 {
				break
			}
			n++
			expect(t, fmt.Sprintf("Fail(#%d)", n), e.fail(t, throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", n)}, l), throttle.Allow, 0)
		}
		e.clock.Advance(l.UserWindow + time.Minute)
	}
	expect(t, "Fail(last consecutive)", e.fail(t, throttle.Attempt{Subject: "jsmith", Source: "dlast"}, l), throttle.UserLocked, 0)
	e.clock.Advance(48 * time.Hour)
	expect(t, "Check(hard-locked, 48h on)", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "dnew"}, l), throttle.UserLocked, 0)
	if err := e.th.UnlockSubject(ctx, "jsmith"); err != nil {
		t.Fatalf("UnlockSubject() = %v", err)
	}
	expect(t, "Check after UnlockSubject", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "dnew"}, l), throttle.Allow, 0)
	expect(t, "Fail after UnlockSubject", e.fail(t, throttle.Attempt{Subject: "jsmith", Source: "dnew"}, l), throttle.Allow, 0)
}

func testSucceedResetsConsecutive(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newThrottleEnv(t, h)
	l := testLimits
	n := 0
	fails := func(k int) {
		t.Helper()
		for range k {
			n++
			expect(t, fmt.Sprintf("Fail(#%d)", n), e.fail(t, throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", n)}, l), throttle.Allow, 0)
		}
		e.clock.Advance(l.UserWindow + time.Minute)
	}
	for left := l.UserHardFailures - 1; left > 0; left -= l.UserFailures - 1 {
		fails(min(left, l.UserFailures-1))
	}
	if err := e.th.Succeed(ctx, throttle.Attempt{Subject: "jsmith", Source: "dok"}); err != nil {
		t.Fatalf("Succeed() = %v", err)
	}
	fails(l.UserFailures - 1) // would have passed the consecutive limit
	expect(t, "Check after Succeed and more failures", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "dnew"}, l), throttle.Allow, 0)
}

func testQuarantine(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newThrottleEnv(t, h)
	l := testLimits
	at := func(i int) throttle.Attempt { return throttle.Attempt{Subject: fmt.Sprintf("user%d", i), Source: "dq"} }
	for i := 1; i < l.DeviceFailures; i++ {
		expect(t, fmt.Sprintf("Fail(#%d)", i), e.fail(t, at(i), l), throttle.Allow, 0)
	}
	if q, err := e.th.Quarantined(ctx, "dq"); err != nil || q {
		t.Errorf("Quarantined(dq) = %v, %v before the limit; want false", q, err)
	}
	expect(t, "Fail(#20)", e.fail(t, at(l.DeviceFailures), l), throttle.Quarantined, 0)
	if q, err := e.th.Quarantined(ctx, "dq"); err != nil || !q {
		t.Errorf("Quarantined(dq) = %v, %v; want true", q, err)
	}
	expect(t, "Check(new subject, quarantined source)", e.check(t, at(100), l), throttle.Quarantined, 0)
	expect(t, "Check(subject elsewhere)", e.check(t, throttle.Attempt{Subject: "user1", Source: "dother"}, l), throttle.Allow, 0)
	if q, err := e.th.Quarantined(ctx, "dother"); err != nil || q {
		t.Errorf("Quarantined(dother) = %v, %v; want false", q, err)
	}
	e.clock.Advance(48 * time.Hour)
	expect(t, "Check(quarantined, 48h on)", e.check(t, at(101), l), throttle.Quarantined, 0)
	if err := e.th.UnlockSource(ctx, "dq"); err != nil {
		t.Fatalf("UnlockSource() = %v", err)
	}
	if q, err := e.th.Quarantined(ctx, "dq"); err != nil || q {
		t.Errorf("Quarantined(dq) after UnlockSource = %v, %v; want false", q, err)
	}
	expect(t, "Check after UnlockSource", e.check(t, at(102), l), throttle.Allow, 0)
	expect(t, "Fail after UnlockSource", e.fail(t, at(103), l), throttle.Allow, 0)
}

func testDeviceWindow(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newThrottleEnv(t, h)
	l := testLimits
	at := func(i int) throttle.Attempt { return throttle.Attempt{Subject: fmt.Sprintf("user%d", i), Source: "dq"} }
	for i := 1; i < l.DeviceFailures; i++ {
		e.fail(t, at(i), l)
	}
	e.clock.Advance(l.DeviceWindow + time.Minute)
	expect(t, "Fail after the window", e.fail(t, at(100), l), throttle.Allow, 0)
	if q, err := e.th.Quarantined(ctx, "dq"); err != nil || q {
		t.Errorf("Quarantined(dq) = %v, %v; want false", q, err)
	}
}

// testZeroTurnsRulesOff: a zero DeviceFailures or SprayUsers turns that
// rule off (callers throttling by client address rely on it: an address
// is never quarantined), while the per-subject rules still hold.
func testZeroTurnsRulesOff(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newThrottleEnv(t, h)
	l := testLimits
	l.DeviceFailures, l.DeviceWindow = 0, 0
	l.SprayUsers, l.SprayWindow = 0, 0
	for i := 1; i <= 3*testLimits.DeviceFailures; i++ {
		a := throttle.Attempt{Subject: fmt.Sprintf("user%d", i), Source: "ip:10.0.0.1", WarehouseID: "wh"}
		d := e.fail(t, a, l)
		if d.Verdict == throttle.Quarantined || d.Spray {
			t.Fatalf("Fail(#%d) with the source rule off = %+v; want no quarantine and no spray", i, d)
		}
	}
	if q, err := e.th.Quarantined(ctx, "ip:10.0.0.1"); err != nil || q {
		t.Errorf("Quarantined(ip:10.0.0.1) = %v, %v; want false", q, err)
	}
	expect(t, "Check(new subject, same address)", e.check(t, throttle.Attempt{Subject: "fresh", Source: "ip:10.0.0.1"}, l), throttle.Allow, 0)
	// The subject's own lock is unaffected.
	one := throttle.Attempt{Subject: "target", Source: "ip:10.0.0.1"}
	var d throttle.Decision
	for i := 0; i < l.UserFailures; i++ {
		d = e.fail(t, throttle.Attempt{Subject: "target", Source: fmt.Sprintf("ip:10.0.1.%d", i)}, l)
	}
	if d.Verdict != throttle.UserLocked {
		t.Errorf("Fail(#%d of one subject) = %+v; want %s", l.UserFailures, d, throttle.UserLocked)
	}
	if got := e.check(t, one, l); got.Verdict != throttle.UserLocked {
		t.Errorf("Check(locked subject) = %+v; want %s", got, throttle.UserLocked)
	}
}

func testSpray(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	l := testLimits
	n := 0
	fail := func(subject, warehouse string) throttle.Decision {
		t.Helper()
		n++
		return e.fail(t, throttle.Attempt{Subject: subject, Source: fmt.Sprintf("d%d", n), WarehouseID: warehouse}, l)
	}
	spray := func(what string, d throttle.Decision, want bool) {
		t.Helper()
		if d.Spray != want {
			t.Errorf("%s: Spray = %v; want %v", what, d.Spray, want)
		}
	}
	for i := 1; i < l.SprayUsers; i++ {
		spray(fmt.Sprintf("distinct #%d", i), fail(fmt.Sprintf("a%d", i), "w1"), false)
	}
	// The same subjects again are not new ones.
	for i := 1; i < l.SprayUsers; i++ {
		spray(fmt.Sprintf("repeat #%d", i), fail(fmt.Sprintf("a%d", i), "w1"), false)
	}
	// Other warehouses count apart, and "" counts nowhere.
	spray("other warehouse", fail("b1", "w2"), false)
	spray("no warehouse", fail("c1", ""), false)
	spray(fmt.Sprintf("distinct #%d", l.SprayUsers), fail("a-last", "w1"), true)
	// Once per window.
	for i := range 5 {
		spray(fmt.Sprintf("more after the alarm #%d", i), fail(fmt.Sprintf("z%d", i), "w1"), false)
	}
	if d := e.check(t, throttle.Attempt{Subject: "a1", Source: "dx", WarehouseID: "w1"}, l); d.Spray {
		t.Errorf("Check() Spray = true; want false (only a failure raises it)")
	}
	e.clock.Advance(2*l.SprayWindow + time.Minute)
	for i := 1; i < l.SprayUsers; i++ {
		spray(fmt.Sprintf("next window, distinct #%d", i), fail(fmt.Sprintf("n%d", i), "w1"), false)
	}
	spray("next window, the limit", fail("n-last", "w1"), true)
}

// testSprayTightens: while a warehouse's spray alarm holds (SprayHold),
// every attempt from that warehouse is decided under Tighten's limits:
// the pair's free failures, the user's and the source's counts halve,
// a lock lasts twice as long; other warehouses are untouched; the alarm
// is raised once per hold; after it, the limits are the usual ones.
func testSprayTightens(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	l := testLimits
	l.UserHardFailures = 0
	l.SprayHold = time.Hour
	tight := func(what string, d throttle.Decision, want bool) {
		t.Helper()
		if d.Tightened != want {
			t.Errorf("%s: Tightened = %v; want %v", what, d.Tightened, want)
		}
	}
	pair := throttle.Attempt{Subject: "u1", Source: "dA", WarehouseID: "w1"}
	other := throttle.Attempt{Subject: "u1", Source: "dB", WarehouseID: "w2"}
	for range 2 {
		e.fail(t, pair, l)
		e.fail(t, other, l)
	}
	d := e.check(t, pair, l)
	expect(t, "two failures of a pair before the alarm", d, throttle.Allow, 0)
	tight("before the alarm", d, false)

	raised := 0
	for i := range l.SprayUsers {
		d := e.fail(t, throttle.Attempt{Subject: fmt.Sprintf("s%d", i), Source: fmt.Sprintf("dS%d", i), WarehouseID: "w1"}, l)
		if d.Spray {
			raised++
			tight("the failure that raises the alarm", d, true)
		}
	}
	if raised != 1 {
		t.Fatalf("alarms raised by %d distinct subjects = %d; want 1", l.SprayUsers, raised)
	}
	// The pair's free failures halve (3 -> 1): its two failures delay it.
	d = e.check(t, pair, l)
	expect(t, "two failures of a pair under the alarm", d, throttle.Delay, time.Second)
	tight("under the alarm", d, true)
	d = e.check(t, other, l)
	expect(t, "another warehouse's pair", d, throttle.Allow, 0)
	tight("another warehouse", d, false)

	// A source is quarantined at half its count (20 -> 10).
	for i := range l.DeviceFailures / 2 {
		d := e.fail(t, throttle.Attempt{Subject: fmt.Sprintf("q%d", i), Source: "dQ", WarehouseID: "w1"}, l)
		if d.Spray {
			t.Errorf("failure %d under the alarm raised it again", i)
		}
		if want := i == l.DeviceFailures/2-1; (d.Verdict == throttle.Quarantined) != want {
			t.Fatalf("failure %d of a source under the alarm = %s; quarantined want %v", i+1, d.Verdict, want)
		}
	}
	// A user is locked at half the count (10 -> 5), twice as long.
	for i := range l.UserFailures / 2 {
		d = e.fail(t, throttle.Attempt{Subject: "lk", Source: fmt.Sprintf("dL%d", i), WarehouseID: "w1"}, l)
	}
	expect(t, "the fifth failure of a user under the alarm", d, throttle.UserLocked, 2*l.UserLock)

	// Past the window but within the hold: still tight, no second alarm.
	e.clock.Advance(2 * l.SprayWindow)
	for i := range l.SprayUsers {
		d := e.fail(t, throttle.Attempt{Subject: fmt.Sprintf("t%d", i), Source: fmt.Sprintf("dT%d", i), WarehouseID: "w1"}, l)
		if d.Spray {
			t.Errorf("a second spray within the hold raised the alarm again")
		}
		tight("within the hold", d, true)
	}

	// After the hold, the usual limits, and a new spray raises it again.
	e.clock.Advance(l.SprayHold)
	p2 := throttle.Attempt{Subject: "u2", Source: "dC", WarehouseID: "w1"}
	for range 2 {
		e.fail(t, p2, l)
	}
	d = e.check(t, p2, l)
	expect(t, "two failures of a pair after the hold", d, throttle.Allow, 0)
	tight("after the hold", d, false)
	raised = 0
	for i := range l.SprayUsers {
		if e.fail(t, throttle.Attempt{Subject: fmt.Sprintf("v%d", i), Source: fmt.Sprintf("dV%d", i), WarehouseID: "w1"}, l).Spray {
			raised++
		}
	}
	if raised != 1 {
		t.Errorf("alarms raised by a spray after the hold = %d; want 1", raised)
	}
}

// testRates: Take's token buckets: Burst takes at once, then one per
// refill interval; a refusal spends nothing, says the wait (at least a
// second) and whether it is the first since a take; keys count apart;
// parallel takes (as from several instances) never spend more than the
// bucket holds.
func testRates(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	ctx := context.Background()
	r := throttle.Rate{Burst: 3, PerMinute: 30} // one every 2 s
	take := func(what, key string, wantWait time.Duration, wantFirst bool) {
		t.Helper()
		wait, first, err := e.th.Take(ctx, key, r)
		if err != nil {
			t.Fatalf("%s: Take = %v", what, err)
		}
		if wait != wantWait || first != wantFirst {
			t.Errorf("%s: Take = wait %v, first %v; want %v, %v", what, wait, first, wantWait, wantFirst)
		}
	}
	for i := range r.Burst {
		take(fmt.Sprintf("take %d of the burst", i+1), "ip:a", 0, false)
	}
	take("past the burst", "ip:a", 2*time.Second, true)
	take("past the burst again", "ip:a", 2*time.Second, false)
	take("another key", "ip:b", 0, false)
	e.clock.Advance(time.Second)
	take("half a refill on", "ip:a", time.Second, false)
	e.clock.Advance(time.Second)
	take("a refill on", "ip:a", 0, false)
	take("after the refill", "ip:a", 2*time.Second, true)
	// A slow rate still says at least a second.
	slow := throttle.Rate{Burst: 1, PerMinute: 6000}
	if _, _, err := e.th.Take(ctx, "ip:c", slow); err != nil {
		t.Fatalf("Take = %v", err)
	}
	if wait, _, err := e.th.Take(ctx, "ip:c", slow); err != nil || wait != time.Second {
		t.Errorf("Take past a fast bucket = %v, %v; want a wait of 1s", wait, err)
	}
	e.clock.Advance(time.Hour)

	const racers, burst = 20, 7
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait, _, err := e.th.Take(ctx, "ip:race", throttle.Rate{Burst: burst, PerMinute: 1})
			if err != nil {
				t.Errorf("Take = %v", err)
				return
			}
			if wait == 0 {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if taken != burst {
		t.Errorf("%d parallel takes of a bucket of %d: %d taken; want %d", racers, burst, taken, burst)
	}
}

func testConcurrentFails(t *testing.T, h Harness) {
	const n = 50
	ctx := context.Background()
	run := func(t *testing.T, e *throttleEnv, l throttle.Limits, at func(i int) throttle.Attempt) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.th.Fail(ctx, at(i), l); err != nil {
					t.Errorf("Fail(%d) = %v", i, err)
				}
			}()
		}
		wg.Wait()
	}
	t.Run("window", func(t *testing.T) {
		e := newThrottleEnv(t, h)
		l := testLimits
		l.UserFailures, l.UserHardFailures = n+1, 1000
		run(t, e, l, func(i int) throttle.Attempt {
			return throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", i)}
		})
		expect(t, "Check after 50 parallel failures", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "dx"}, l), throttle.Allow, 0)
		expect(t, "Fail(#51)", e.fail(t, throttle.Attempt{Subject: "jsmith", Source: "dx"}, l), throttle.UserLocked, l.UserLock)
	})
	t.Run("consecutive", func(t *testing.T) {
		e := newThrottleEnv(t, h)
		l := testLimits
		l.UserFailures, l.UserHardFailures = 1000, n
		run(t, e, l, func(i int) throttle.Attempt {
			return throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", i)}
		})
		expect(t, "Check after 50 parallel failures", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "dx"}, l), throttle.UserLocked, 0)
	})
	t.Run("source", func(t *testing.T) {
		e := newThrottleEnv(t, h)
		l := testLimits
		l.DeviceFailures = n
		run(t, e, l, func(i int) throttle.Attempt { return throttle.Attempt{Subject: fmt.Sprintf("u%d", i), Source: "dq"} })
		if q, err := e.th.Quarantined(ctx, "dq"); err != nil || !q {
			t.Errorf("Quarantined(dq) after 50 parallel failures = %v, %v; want true", q, err)
		}
	})
	t.Run("pair", func(t *testing.T) {
		e := newThrottleEnv(t, h)
		l := testLimits
		l.UserFailures, l.UserHardFailures, l.DeviceFailures = 1000, 1000, 1000
		l.PairFreeFailures, l.PairMaxDelay = n-10, time.Hour
		// 50 failures of one pair, 10 beyond the free ones: 1s<<9.
		run(t, e, l, func(int) throttle.Attempt { return throttle.Attempt{Subject: "jsmith", Source: "d1"} })
		expect(t, "Check after 50 parallel pair failures", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "d1"}, l), throttle.Delay, 512*time.Second)
	})
}

// testClaims: a lease is held by one attempt at a time across every
// caller of the store, all keys or none; only its holder releases it;
// and a lease never released (its holder crashed) ends after its ttl.
func testClaims(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	ctx := context.Background()
	claim := func(what string, keys []string, id string, ttl time.Duration, want bool) {
		t.Helper()
		ok, err := e.th.Claim(ctx, keys, id, ttl)
		if err != nil || ok != want {
			t.Fatalf("%s: Claim(%v, %s) = %v, %v; want %v", what, keys, id, ok, err, want)
		}
	}
	release := func(keys []string, id string) {
		t.Helper()
		if err := e.th.Release(ctx, keys, id); err != nil {
			t.Fatalf("Release(%v, %s) = %v", keys, id, err)
		}
	}
	claim("idle", []string{"u:kim", "d:1"}, "a", time.Minute, true)
	claim("the same user", []string{"u:kim", "d:2"}, "b", time.Minute, false)
	claim("the same device", []string{"u:lee", "d:1"}, "b", time.Minute, false)
	claim("a refused claim leaves nothing held", []string{"u:lee", "d:2"}, "c", time.Minute, true)
	release([]string{"u:kim", "d:1"}, "b") // not b's
	claim("released by another id", []string{"u:kim"}, "d", time.Minute, false)
	release([]string{"u:kim", "d:1"}, "a")
	claim("released by its holder", []string{"u:kim", "d:1"}, "e", time.Minute, true)

	// A lease never released ends after its ttl (the memory backend
	// reads the injected clock, Redis its own: both are moved, and the
	// claim is tried again for at most 5 s).
	const ttl = 50 * time.Millisecond
	claim("short lease", []string{"u:crash"}, "f", ttl, true)
	e.clock.Advance(2 * ttl)
	got := false
	for range 100 {
		ok, err := e.th.Claim(ctx, []string{"u:crash"}, "g", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got = ok; got {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !got {
		t.Fatal("a lease never released still held long after its ttl")
	}
	release([]string{"u:crash"}, "f") // the expired holder releases late
	claim("the new holder keeps it", []string{"u:crash"}, "h", time.Minute, false)
}

// testLockGrows: with UserLockMax, each timed lock lasts twice the one
// before, up to the maximum, and always ends; a success starts it over.
func testLockGrows(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	l := testLimits
	l.UserHardFailures = 0
	l.UserLock, l.UserLockMax = time.Minute, 4*time.Minute
	n := 0
	lockOnce := func(want time.Duration) {
		t.Helper()
		var d throttle.Decision
		for range l.UserFailures {
			n++
			d = e.fail(t, throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", n)}, l)
		}
		expect(t, fmt.Sprintf("Fail(#%d)", n), d, throttle.UserLocked, want)
		e.clock.Advance(want)
		expect(t, "Check once the lock ended", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "dnew"}, l), throttle.Allow, 0)
	}
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		lockOnce(want)
	}
	if err := e.th.Succeed(context.Background(), throttle.Attempt{Subject: "jsmith", Source: "dok"}); err != nil {
		t.Fatal(err)
	}
	lockOnce(time.Minute)
}

// testLockSparesCleanSources: with SpareCleanSources, a subject locked by
// failures from some sources can still be tried from a source that has
// not failed; its first failure makes the lock hold there too; the pair
// delays still apply.
func testLockSparesCleanSources(t *testing.T, h Harness) {
	e := newThrottleEnv(t, h)
	l := testLimits
	l.SpareCleanSources = true
	for i := 1; i <= l.UserFailures; i++ {
		e.fail(t, throttle.Attempt{Subject: "jsmith", Source: fmt.Sprintf("d%d", i%5)}, l)
	}
	expect(t, "Check(a source that failed)", e.check(t, throttle.Attempt{Subject: "jsmith", Source: "d1"}, l), throttle.UserLocked, l.UserLock)
	clean := throttle.Attempt{Subject: "jsmith", Source: "dclean"}
	expect(t, "Check(a clean source)", e.check(t, clean, l), throttle.Allow, 0)
	expect(t, "Fail(the clean source's first)", e.fail(t, clean, l), throttle.UserLocked, l.UserLock)
	expect(t, "Check(the source once failed)", e.check(t, clean, l), throttle.UserLocked, l.UserLock)
	other := throttle.Attempt{Subject: "jsmith", Source: "dother"}
	if err := e.th.Succeed(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	expect(t, "Check(after a success there)", e.check(t, other, l), throttle.Allow, 0)
}
