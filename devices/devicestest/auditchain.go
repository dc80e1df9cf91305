package devicestest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// This file checks the audit chain: every append (AppendEvents and the
// mutations that carry events) is sealed into the chain, concurrent
// writers and sealers make one chain, and a row changed or removed
// behind the store's back is named by Registry.VerifyAudit.

// sealed runs SealAudit and fails unless it answers.
func (e *regEnv) sealed() int {
	e.t.Helper()
	n, err := e.reg.SealAudit(e.ctx)
	if err != nil {
		e.t.Fatalf("SealAudit() = %v; want nil", err)
	}
	return n
}

// verified seals what is pending, runs VerifyAudit and fails unless it
// answers.
func (e *regEnv) verified() devices.AuditVerification {
	e.t.Helper()
	e.sealed()
	v, err := e.reg.VerifyAudit(e.ctx)
	if err != nil {
		e.t.Fatalf("VerifyAudit() = %v; want nil", err)
	}
	return v
}

// wantIntact fails unless the chain holds with rows rows.
func (e *regEnv) wantIntact(what string, rows int64) {
	e.t.Helper()
	v := e.verified()
	if v.Break != nil || v.Rows != rows || v.HeadSeq != rows || v.Pending != 0 || len(v.HeadHash) != 64 && rows > 0 {
		e.t.Fatalf("%s: VerifyAudit() = %+v, break %+v; want %d rows, head %d, no break", what, v, v.Break, rows, rows)
	}
}

// chainIDs returns the ids of the chained rows in chain order, checking
// that their numbers run from 1 with no gap.
func (e *regEnv) chainIDs() []string {
	e.t.Helper()
	rows, err := e.store.AuditChain(e.ctx, 0, 10000)
	if err != nil {
		e.t.Fatalf("AuditChain() = %v; want nil", err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			e.t.Fatalf("AuditChain()[%d].Seq = %d; want %d", i, r.Seq, i+1)
		}
		ids[i] = r.ID
	}
	return ids
}

func testAuditChain(t *testing.T, h Harness) {
	if h.Forge == nil {
		t.Fatal("Harness.Forge is nil; every backend must show a changed audit row is noticed")
	}
	// fill writes 6 rows: three through Record (one batch of two), three
	// through mutations that carry their event.
	fill := func(e *regEnv) {
		t.Helper()
		if err := e.reg.Record(e.ctx,
			devices.Event{Actor: devices.DeviceActor("dev_1"), Action: "login.failure", Subject: "user:usr_1", DeviceID: "dev_1",
				Details: map[string]string{"reason": "bad_pin", "bad": "\xff\xfe", "quote": "\"<&>\""}},
			devices.Event{Actor: devices.DeviceActor("dev_1"), Action: "login.success", Subject: "user:usr_1", DeviceID: "dev_1"},
		); err != nil {
			t.Fatalf("Record() = %v", err)
		}
		e.warehouse("N1")
		e.warehouse("N2")
		if err := e.reg.Record(e.ctx, devices.Event{Actor: devices.ActorSystem, Action: "x.y", Subject: "system"}); err != nil {
			t.Fatalf("Record() = %v", err)
		}
		e.clock.Advance(1)
		e.warehouse("N3")
	}

	t.Run("Empty", func(t *testing.T) {
		e := newRegEnv(t, h)
		e.wantIntact("a new store", 0)
	})

	t.Run("Intact", func(t *testing.T) {
		e := newRegEnv(t, h)
		fill(e)
		// Nothing is chained until it is sealed.
		if head, err := e.store.AuditHead(e.ctx); err != nil || head.Seq != 0 || head.Pending != 6 {
			t.Fatalf("AuditHead() before sealing = %+v, %v; want seq 0, 6 pending", head, err)
		}
		if n := e.sealed(); n != 6 {
			t.Fatalf("SealAudit() = %d; want 6", n)
		}
		if n := e.sealed(); n != 0 {
			t.Fatalf("SealAudit() again = %d; want 0", n)
		}
		ids := e.chainIDs()
		if len(ids) != 6 {
			t.Fatalf("chained rows = %d; want 6", len(ids))
		}
		e.wantIntact("after 6 appends", 6)
		// Every row of the log is in the chain.
		if all, err := e.reg.Events(e.ctx, devices.EventFilter{Page: devices.Page{Limit: 500}}); err != nil || len(all) != 6 {
			t.Errorf("Events() = %d rows, %v; want 6", len(all), err)
		}
	})

	t.Run("ConcurrentWritersAndSealers", func(t *testing.T) {
		// Eight writers append while two sealers (two instances' Registries
		// over one store) seal in turns: one chain, every row in it once.
		e := newRegEnv(t, h)
		other := e.registry(regParams, 0)
		const writers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*each+64)
		stop := make(chan struct{})
		var sealers sync.WaitGroup
		for _, r := range []*devices.Registry{e.reg, other} {
			sealers.Add(1)
			go func() {
				defer sealers.Done()
				for i := 0; i < 1000; i++ { // bounded
					select {
					case <-stop:
						return
					default:
					}
					if _, err := r.SealAudit(e.ctx); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					ev := devices.Event{Actor: devices.ActorSystem, Action: "race", Subject: fmt.Sprintf("w%d:%d", w, i)}
					if i%3 == 0 { // some batches of two
						errs <- e.reg.Record(e.ctx, ev, ev)
						continue
					}
					errs <- e.reg.Record(e.ctx, ev)
				}
			}()
		}
		wg.Wait()
		close(stop)
		sealers.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Record() or SealAudit() while racing = %v; want nil", err)
			}
		}
		rows := int64(0)
		for i := range each {
			rows += writers
			if i%3 == 0 {
				rows += writers
			}
		}
		e.wantIntact("after concurrent writers and sealers", rows)
		if got := int64(len(e.chainIDs())); got != rows {
			t.Fatalf("chained rows = %d; want %d", got, rows)
		}
	})

	for _, tc := range []struct {
		name   string
		victim int // 0-based place in the chain
		remove bool
		want   devices.AuditBreak
	}{
		{"ChangedFirstRow", 0, false, devices.AuditBreak{Seq: 1, Reason: devices.AuditChanged}},
		{"ChangedMiddleRow", 2, false, devices.AuditBreak{Seq: 3, Reason: devices.AuditChanged}},
		{"ChangedLastRow", 5, false, devices.AuditBreak{Seq: 6, Reason: devices.AuditChanged}},
		{"RemovedMiddleRow", 3, true, devices.AuditBreak{Seq: 4, Reason: devices.AuditRemoved}},
		{"RemovedLastRow", 5, true, devices.AuditBreak{Seq: 6, Reason: devices.AuditRemoved}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRegEnv(t, h)
			fill(e)
			e.sealed()
			ids := e.chainIDs()
			h.Forge(t, e.store, ids[tc.victim], tc.remove)
			v := e.verified()
			if v.Break == nil {
				t.Fatalf("VerifyAudit() after forging row %d = %+v; want a break", tc.victim+1, v)
			}
			want := tc.want
			if !tc.remove {
				want.EventID = ids[tc.victim]
			}
			got := *v.Break
			got.Detail = ""
			if got != want {
				t.Errorf("VerifyAudit().Break = %+v; want %+v", *v.Break, want)
			}
			if v.Break.Detail == "" {
				t.Errorf("VerifyAudit().Break has no detail")
			}
			// The rows before the victim were read and found whole.
			if v.Rows != int64(tc.victim) {
				t.Errorf("VerifyAudit().Rows = %d; want %d", v.Rows, tc.victim)
			}
			// The store keeps appending after the break; the break stays.
			if err := e.reg.Record(e.ctx, devices.Event{Actor: devices.ActorSystem, Action: "after", Subject: "system"}); err != nil {
				t.Fatalf("Record() after forging = %v", err)
			}
			if again := e.verified(); again.Break == nil || again.Break.Seq != want.Seq {
				t.Errorf("VerifyAudit() after another append = %+v; want the same break at %d", again.Break, want.Seq)
			}
		})
	}

}
