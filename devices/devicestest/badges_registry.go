package devicestest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// testRegistryBadges checks badges through the Registry: values checked,
// kept only as a key, one holder each; a badge and a PIN authenticate as
// a username and a PIN do; the holder's name for the throttle; audit
// events that never carry the value.
func testRegistryBadges(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("BR")
	u := e.user("erin", w.ID, "4821")
	v := e.user("finn", w.ID, "5931")
	const value = "04:A2:19:7F:C3"

	for _, bad := range []string{"", "  ", "abc", "has space", "bädge", "tab\tin", strings.Repeat("x", devices.MaxBadgeLength+1)} {
		_, _, err := e.reg.SetBadge(e.ctx, regAdmin, u.ID, bad)
		regWantErr(t, fmt.Sprintf("SetBadge(%q)", bad), err, devices.ErrInvalid)
	}
	_, _, err := e.reg.SetBadge(e.ctx, "", u.ID, value)
	regWantErr(t, "SetBadge(no actor)", err, devices.ErrInvalid)
	_, _, err = e.reg.SetBadge(e.ctx, regAdmin, "usr_missing", value)
	regWantErr(t, "SetBadge(missing user)", err, devices.ErrNotFound)

	b, replaced, err := e.reg.SetBadge(e.ctx, regAdmin, u.ID, "  "+value+"\n")
	regWantErr(t, "SetBadge(erin)", err, nil)
	if replaced || b.UserID != u.ID || b.SetBy != regAdmin {
		t.Errorf("SetBadge(erin) = %+v, replaced %v; want erin's first badge set by the admin", b, replaced)
	}
	stored, err := e.store.Badge(e.ctx, u.ID)
	regWantErr(t, "store.Badge(erin)", err, nil)
	if stored.Key == "" || strings.Contains(stored.Key, value) || strings.Contains(stored.Key, "A219") {
		t.Errorf("stored badge key %q; want a keyed hash, not the value", stored.Key)
	}
	_, _, err = e.reg.SetBadge(e.ctx, regAdmin, v.ID, value)
	regWantErr(t, "SetBadge(finn, erin's badge)", err, devices.ErrExists)

	// BadgeHeld: by anyone, in the form ParseBadge reads; a bad value
	// is a validation error.
	for _, tt := range []struct {
		badge string
		held  bool
	}{{value, true}, {" " + value + "\t", true}, {strings.ToLower(value), false}, {"NOT-HELD-1", false}} {
		held, err := e.reg.BadgeHeld(e.ctx, tt.badge)
		regWantErr(t, fmt.Sprintf("BadgeHeld(%q)", tt.badge), err, nil)
		if held != tt.held {
			t.Errorf("BadgeHeld(%q) = %v; want %v", tt.badge, held, tt.held)
		}
	}
	_, err = e.reg.BadgeHeld(e.ctx, "a b")
	regWantErr(t, "BadgeHeld(a b)", err, devices.ErrInvalid)

	// AddBadges: first badges in one write, all or none.
	g, k := e.user("gus", w.ID, "4821"), e.user("kai", w.ID, "4821")
	for _, tt := range []struct {
		name string
		nbs  []devices.NewBadge
		want error
	}{
		{"a bad value", []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}, {UserID: k.ID, Badge: "a b"}}, devices.ErrInvalid},
		{"a user twice", []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}, {UserID: g.ID, Badge: "G-BADGE-2"}}, devices.ErrInvalid},
		{"a value held", []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}, {UserID: k.ID, Badge: value}}, devices.ErrExists},
		{"a value given twice", []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}, {UserID: k.ID, Badge: " G-BADGE-1"}}, devices.ErrExists},
		{"a user with a badge", []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}, {UserID: u.ID, Badge: "E-BADGE-2"}}, devices.ErrExists},
		{"a missing user", []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}, {UserID: "usr_missing", Badge: "M-BADGE-1"}}, devices.ErrNotFound},
	} {
		regWantErr(t, "AddBadges("+tt.name+")", e.reg.AddBadges(e.ctx, regAdmin, tt.nbs), tt.want)
	}
	if held, _ := e.reg.BadgeHeld(e.ctx, "G-BADGE-1"); held {
		t.Errorf("a refused AddBadges left G-BADGE-1 held")
	}
	regWantErr(t, "AddBadges(no actor)", e.reg.AddBadges(e.ctx, "", []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}}), devices.ErrInvalid)
	regWantErr(t, "AddBadges(gus, kai)", e.reg.AddBadges(e.ctx, regAdmin, []devices.NewBadge{{UserID: g.ID, Badge: "G-BADGE-1"}, {UserID: k.ID, Badge: "K-BADGE-1"}}), nil)
	for badge, want := range map[string]string{"G-BADGE-1": g.ID, "K-BADGE-1": k.ID} {
		got, err := e.reg.AuthenticateBadge(e.ctx, badge, "4821")
		regWantErr(t, "AuthenticateBadge("+badge+")", err, nil)
		if got.ID != want {
			t.Errorf("AuthenticateBadge(%s) = %s; want %s", badge, got.ID, want)
		}
	}
	for _, ev := range e.wantEvents(devices.UserActor(k.ID), "user.badge_set", 1) {
		if ev.Actor != regAdmin || strings.Contains(fmt.Sprint(ev.Details), "K-BADGE") {
			t.Errorf("AddBadges event = %+v; want by the admin, without the value", ev)
		}
	}

	for _, tt := range []struct {
		badge, pin string
		want       error
	}{
		{value, "4821", nil},
		{" " + value + " ", "4821", nil},
		{value, "4822", devices.ErrInvalidCredentials},
		{strings.ToLower(value), "4821", devices.ErrInvalidCredentials},
		{"04:A2:19:7F:C4", "4821", devices.ErrInvalidCredentials},
		{"no", "4821", devices.ErrInvalidCredentials},
		{"", "4821", devices.ErrInvalidCredentials},
	} {
		got, err := e.reg.AuthenticateBadge(e.ctx, tt.badge, tt.pin)
		regWantErr(t, fmt.Sprintf("AuthenticateBadge(%q, %q)", tt.badge, tt.pin), err, tt.want)
		if tt.want == nil && got.ID != u.ID || tt.want != nil && got.ID != "" {
			t.Errorf("AuthenticateBadge(%q, %q) = user %q; want %v", tt.badge, tt.pin, got.ID, tt.want == nil)
		}
	}
	name, err := e.reg.BadgeHolder(e.ctx, value)
	if err != nil || name != "erin" {
		t.Errorf("BadgeHolder(erin's) = %q, %v; want erin", name, err)
	}
	for _, other := range []string{"04:A2:19:7F:C4", "x", ""} {
		name, err := e.reg.BadgeHolder(e.ctx, other)
		if err != nil || !strings.HasPrefix(name, "#badge:") || strings.Contains(name, other) && other != "" {
			t.Errorf("BadgeHolder(%q) = %q, %v; want a #badge: name that is not the value", other, name, err)
		}
		if _, err := devices.NormalizeUsername(name); err == nil {
			t.Errorf("BadgeHolder(%q) = %q, a name a user could hold", other, name)
		}
	}
	again, _ := e.reg.BadgeHolder(e.ctx, "04:A2:19:7F:C4")
	if first, _ := e.reg.BadgeHolder(e.ctx, "04:A2:19:7F:C4"); again != first {
		t.Errorf("BadgeHolder of one unknown badge: %q then %q; want the same name (one throttle subject)", first, again)
	}

	// A suspended holder with the right PIN is disabled, as by username.
	if _, err := e.reg.SuspendUser(e.ctx, regAdmin, u.ID); err != nil {
		t.Fatal(err)
	}
	got, err := e.reg.AuthenticateBadge(e.ctx, value, "4821")
	regWantErr(t, "AuthenticateBadge(suspended holder)", err, devices.ErrDisabled)
	if got.ID != u.ID {
		t.Errorf("AuthenticateBadge(suspended holder) = %q; want %q", got.ID, u.ID)
	}

	// Replace and remove; a deleted user's badge cannot be set.
	_, replaced, err = e.reg.SetBadge(e.ctx, regAdmin, u.ID, "NEW-BADGE-1")
	if err != nil || !replaced {
		t.Errorf("SetBadge(erin, new) = replaced %v, %v; want true, nil", replaced, err)
	}
	if _, err := e.reg.AuthenticateBadge(e.ctx, value, "4821"); err == nil {
		t.Errorf("AuthenticateBadge(replaced badge) = nil; want refused")
	}
	regWantErr(t, "RemoveBadge(erin)", e.reg.RemoveBadge(e.ctx, regAdmin, u.ID), nil)
	regWantErr(t, "RemoveBadge(erin again)", e.reg.RemoveBadge(e.ctx, regAdmin, u.ID), devices.ErrNotFound)
	_, err = e.reg.Badge(e.ctx, u.ID)
	regWantErr(t, "Badge(erin after removal)", err, devices.ErrNotFound)
	if _, err := e.reg.DeleteUser(e.ctx, regAdmin, v.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.reg.SetBadge(e.ctx, regAdmin, v.ID, value)
	regWantErr(t, "SetBadge(deleted user)", err, devices.ErrNotFound)

	sets := e.wantEvents(devices.UserActor(u.ID), "user.badge_set", 2)
	e.wantEvents(devices.UserActor(u.ID), "user.badge_remove", 1)
	for _, ev := range sets {
		if ev.Actor != regAdmin || ev.WarehouseID != w.ID || fmt.Sprint(ev.Details) != "map[]" && len(ev.Details) > 0 {
			t.Errorf("badge event %+v; want by the admin, in the warehouse, without details", ev)
		}
	}
}

// testRegistryCustody checks custody through the Registry: starts,
// ends noted and flushed in a batch, ends written at once
// with their actor, the purge after the retention.
func testRegistryCustody(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	start := func(sid, method string) {
		t.Helper()
		if err := e.reg.StartCustody(e.ctx, devices.Custody{SessionID: sid, DeviceID: "dev_1", UserID: "usr_1", WarehouseID: "wh_1", Method: method}); err != nil {
			t.Fatalf("StartCustody(%s) = %v", sid, err)
		}
	}
	start("ses_1", devices.MethodBadge)
	start("ses_1", devices.MethodPIN) // kept as first recorded
	e.clock.Advance(time.Minute)
	start("ses_2", "")
	regWantErr(t, "StartCustody(no device)", e.reg.StartCustody(e.ctx, devices.Custody{SessionID: "ses_x", UserID: "u", WarehouseID: "w"}), devices.ErrInvalid)

	e.reg.NoteCustodyEnd(devices.CustodyEnd{SessionID: "ses_1", Reason: "evicted"})
	e.clock.Advance(time.Second)
	e.reg.NoteCustodyEnd(devices.CustodyEnd{SessionID: "ses_1", Reason: "logout"}) // later: the first end stands
	e.reg.NoteCustodyEnd(devices.CustodyEnd{})
	cs, err := e.reg.Custody(e.ctx, devices.CustodyFilter{})
	regWantErr(t, "Custody()", err, nil)
	if len(cs) != 2 || cs[1].EndedAt != nil {
		t.Fatalf("Custody() before a flush = %+v; want two records, ses_1 open", cs)
	}
	if err := e.reg.FlushCustody(e.ctx); err != nil {
		t.Fatalf("FlushCustody = %v", err)
	}
	if err := e.reg.EndCustody(e.ctx, devices.CustodyEnd{SessionID: "ses_1", At: e.clock.Now(), Reason: "admin", By: regAdmin}); err != nil {
		t.Fatalf("EndCustody = %v", err)
	}
	cs, _ = e.reg.Custody(e.ctx, devices.CustodyFilter{})
	s1 := cs[1]
	if s1.SessionID != "ses_1" || s1.Method != devices.MethodBadge || s1.EndReason != "evicted" || s1.EndedBy != regAdmin ||
		s1.EndedAt == nil || !s1.EndedAt.Equal(regStart.Add(time.Minute)) || !s1.StartedAt.Equal(regStart) {
		t.Errorf("ses_1 = %+v; want a badge session from %v for a minute, evicted, the actor filled in", s1, regStart)
	}
	if cs[0].Method != devices.MethodPIN || cs[0].EndedAt != nil {
		t.Errorf("ses_2 = %+v; want an open pin session", cs[0])
	}

	// ses_1 ended and ses_2 began a minute after the start: both stay
	// until the retention has passed since.
	e.clock.Advance(devices.CustodyRetention - 2*time.Second)
	if n, err := e.reg.PurgeCustody(e.ctx); err != nil || n != 0 {
		t.Errorf("PurgeCustody within the retention = %d, %v; want 0", n, err)
	}
	e.clock.Advance(2 * time.Second)
	if n, err := e.reg.PurgeCustody(e.ctx); err != nil || n != 2 {
		t.Errorf("PurgeCustody after the retention = %d, %v; want 2", n, err)
	}
}

// testRegistryCustodyEndMany: EndCustody of more sessions than one
// statement ends (a whole warehouse's logout) ends every one of them.
func testRegistryCustodyEndMany(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	const n = 1001 // two full statements and one more
	ends := make([]devices.CustodyEnd, n)
	for i := range ends {
		sid := fmt.Sprintf("ses_m%04d", i)
		if err := e.reg.StartCustody(e.ctx, devices.Custody{SessionID: sid, DeviceID: fmt.Sprintf("dev_m%04d", i), UserID: "usr_m", WarehouseID: "wh_m"}); err != nil {
			t.Fatalf("StartCustody(%s) = %v", sid, err)
		}
		ends[i] = devices.CustodyEnd{SessionID: sid, Reason: "admin", By: regAdmin}
	}
	e.clock.Advance(time.Minute)
	if err := e.reg.EndCustody(e.ctx, ends...); err != nil {
		t.Fatalf("EndCustody(%d sessions) = %v", n, err)
	}
	now := e.clock.Now()
	open, err := e.reg.Custody(e.ctx, devices.CustodyFilter{OpenAt: &now, Limit: 500})
	regWantErr(t, "Custody(open now)", err, nil)
	if len(open) != 0 {
		t.Errorf("after EndCustody of %d sessions, %d are still open (first %s)", n, len(open), open[0].SessionID)
	}
	last, err := e.reg.Custody(e.ctx, devices.CustodyFilter{DeviceID: "dev_m1000"})
	regWantErr(t, "Custody(the last device)", err, nil)
	if len(last) != 1 || last[0].EndedBy != regAdmin || last[0].EndReason != "admin" {
		t.Errorf("the last of %d records = %+v; want ended by the admin", n, last)
	}
}

// testRegistryCustodyEndConcurrent: a warehouse logout as the instances
// see it. The admin API writes the ends with their actor while every
// instance's custody flusher writes the same sessions' ends as its
// sockets hear them, each in its own order and batches. No write may
// wait on another past an error (a deadlock between two multi-row
// updates that lock the same rows in different orders), and every
// record ends with the actor filled in.
func testRegistryCustodyEndConcurrent(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	const n, instances, rounds = 1500, 3, 2
	for round := range rounds {
		ends := make([]devices.CustodyEnd, n)
		for i := range ends {
			sid := fmt.Sprintf("ses_c%d_%04d", round, i)
			if err := e.reg.StartCustody(e.ctx, devices.Custody{SessionID: sid, DeviceID: fmt.Sprintf("dev_c%04d", i), UserID: "usr_c", WarehouseID: "wh_c"}); err != nil {
				t.Fatalf("StartCustody(%s) = %v", sid, err)
			}
			ends[i] = devices.CustodyEnd{SessionID: sid, Reason: "admin"}
		}
		e.clock.Advance(time.Minute)
		var wg sync.WaitGroup
		errs := make(chan error, instances+1)
		for range instances {
			r := e.registry(regParams, 0)
			for _, end := range ends { // noted in the map's order, as heard
				r.NoteCustodyEnd(end)
			}
			wg.Go(func() { errs <- r.FlushCustody(e.ctx) })
		}
		byAdmin := make([]devices.CustodyEnd, n)
		for i, end := range ends { // the admin's order: the other way round
			end.By = regAdmin
			byAdmin[n-1-i] = end
		}
		wg.Go(func() { errs <- e.reg.EndCustody(e.ctx, byAdmin...) })
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: a concurrent custody write = %v", round, err)
			}
		}
		now := e.clock.Now()
		open, err := e.reg.Custody(e.ctx, devices.CustodyFilter{OpenAt: &now, Limit: 500})
		regWantErr(t, "Custody(open now)", err, nil)
		if len(open) != 0 {
			t.Fatalf("round %d: %d records still open (first %s)", round, len(open), open[0].SessionID)
		}
		for _, i := range []int{0, n / 2, n - 1} {
			cs, err := e.reg.Custody(e.ctx, devices.CustodyFilter{DeviceID: fmt.Sprintf("dev_c%04d", i), Limit: 500})
			regWantErr(t, "Custody(one device)", err, nil)
			for _, c := range cs {
				if c.EndedBy != regAdmin || c.EndReason != "admin" || c.EndedAt == nil {
					t.Errorf("round %d: record %+v; want ended by the admin", round, c)
				}
			}
		}
	}
}
