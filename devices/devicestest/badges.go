package devicestest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// testBadges checks the store's side of badges: one per user, each key
// held by one user, set and remove with their events or nothing, the
// holder looked up by key, a purged user's badge gone.
func testBadges(t *testing.T, h Harness) {
	f := newFixture(t, h)
	w := f.warehouse("B1")
	alice, bob := f.user(w.ID, "alice"), f.user(w.ID, "bob")
	ok := func(u devices.User) (devices.Event, error) {
		return f.event("user.badge_set", devices.UserActor(u.ID), u.WarehouseID), nil
	}
	var setAt time.Time
	set := func(userID, key string) (bool, error) {
		_, setAt = f.id("x_")
		at := setAt
		return f.s.SetBadge(f.ctx, devices.Badge{UserID: userID, Key: key, SetAt: at, SetBy: "manager:mgr_1"}, ok)
	}
	_, err := f.s.Badge(f.ctx, alice.ID)
	wantErr(t, "Badge(none)", err, devices.ErrNotFound)
	_, err = f.s.UserByBadge(f.ctx, "key-a")
	wantErr(t, "UserByBadge(nobody)", err, devices.ErrNotFound)

	replaced, err := set(alice.ID, "key-a")
	wantErr(t, "SetBadge(alice, a)", err, nil)
	if replaced {
		t.Errorf("SetBadge(alice, first) replaced = true; want false")
	}
	b, err := f.s.Badge(f.ctx, alice.ID)
	wantErr(t, "Badge(alice)", err, nil)
	if b.Key != "key-a" || b.SetBy != "manager:mgr_1" || b.UserID != alice.ID || !b.SetAt.Equal(setAt) {
		t.Errorf("Badge(alice) = %+v; want key-a set by manager:mgr_1 at %v", b, setAt)
	}
	got, err := f.s.UserByBadge(f.ctx, "key-a")
	wantErr(t, "UserByBadge(key-a)", err, nil)
	alice.BadgeChanges = 1 // a first badge is a change
	same(t, "UserByBadge(key-a)", got, alice)
	// changes is the user's count of badge changes as every read of the
	// user returns it.
	changes := func(userID string, want int64) {
		t.Helper()
		u, err := f.s.User(f.ctx, userID)
		wantErr(t, "User", err, nil)
		if u.BadgeChanges != want {
			t.Errorf("User(%s).BadgeChanges = %d; want %d", userID, u.BadgeChanges, want)
		}
		us, err := f.s.Users(f.ctx, devices.UserFilter{WarehouseIDs: []string{u.WarehouseID}})
		wantErr(t, "Users", err, nil)
		for _, l := range us {
			if l.ID == userID && l.BadgeChanges != want {
				t.Errorf("Users: %s BadgeChanges = %d; want %d", userID, l.BadgeChanges, want)
			}
		}
	}
	changes(alice.ID, 1)
	changes(bob.ID, 0)

	// Another user cannot take the key; a failing fn writes nothing.
	_, err = set(bob.ID, "key-a")
	wantErr(t, "SetBadge(bob, alice's key)", err, devices.ErrExists)
	boom := errors.New("boom")
	_, err = f.s.SetBadge(f.ctx, devices.Badge{UserID: bob.ID, Key: "key-b", SetAt: f.at, SetBy: "system"},
		func(devices.User) (devices.Event, error) { return devices.Event{}, boom })
	wantErr(t, "SetBadge(fn fails)", err, boom)
	_, err = f.s.Badge(f.ctx, bob.ID)
	wantErr(t, "Badge(bob after refusals)", err, devices.ErrNotFound)
	_, err = set("usr_missing", "key-z")
	wantErr(t, "SetBadge(missing user)", err, devices.ErrNotFound)

	// Replacing frees the old key; setting the same key replaces nothing.
	replaced, err = set(alice.ID, "key-a2")
	wantErr(t, "SetBadge(alice, a2)", err, nil)
	if !replaced {
		t.Errorf("SetBadge(alice, another key) replaced = false; want true")
	}
	changes(alice.ID, 2)
	if replaced, _ := set(alice.ID, "key-a2"); replaced {
		t.Errorf("SetBadge(alice, same key) replaced = true; want false")
	}
	changes(alice.ID, 2) // the same key is no change
	// Another change of the user keeps the count.
	_, err = f.s.UpdateUser(f.ctx, alice.ID, func(u *devices.User) (devices.Event, error) {
		u.FirstName = "Alicia"
		return f.event("user.update", devices.UserActor(u.ID), w.ID), nil
	})
	wantErr(t, "UpdateUser(alice)", err, nil)
	changes(alice.ID, 2)
	_, err = f.s.UserByBadge(f.ctx, "key-a")
	wantErr(t, "UserByBadge(old key)", err, devices.ErrNotFound)
	_, err = set(bob.ID, "key-a")
	wantErr(t, "SetBadge(bob, freed key)", err, nil)

	// Remove: once, with its event; the second is ErrNotFound.
	before := len(f.events(devices.UserActor(bob.ID)))
	rm := func(u devices.User) (devices.Event, error) {
		return f.event("user.badge_remove", devices.UserActor(u.ID), u.WarehouseID), nil
	}
	wantErr(t, "RemoveBadge(bob)", f.s.RemoveBadge(f.ctx, bob.ID, rm), nil)
	wantErr(t, "RemoveBadge(bob again)", f.s.RemoveBadge(f.ctx, bob.ID, rm), devices.ErrNotFound)
	wantErr(t, "RemoveBadge(missing user)", f.s.RemoveBadge(f.ctx, "usr_missing", rm), devices.ErrNotFound)
	changes(bob.ID, 2) // set, removed; the refused removal counts nothing
	if n := len(f.events(devices.UserActor(bob.ID))); n != before+1 {
		t.Errorf("events about bob after a removal and a refused one: %d; want %d", n, before+1)
	}
	_, err = f.s.UserByBadge(f.ctx, "key-a")
	wantErr(t, "UserByBadge(removed)", err, devices.ErrNotFound)

	// A purged user's badge goes with them.
	_, err = f.s.UpdateUser(f.ctx, alice.ID, func(u *devices.User) (devices.Event, error) {
		at := t0.Add(-time.Hour)
		u.Status, u.DeletedAt = devices.UserDeleted, &at
		return f.event("user.delete", devices.UserActor(u.ID), w.ID), nil
	})
	wantErr(t, "UpdateUser(delete alice)", err, nil)
	if _, err := f.s.PurgeUsers(f.ctx, t0, func(u devices.User) devices.Event {
		return f.event("user.purge", devices.UserActor(u.ID), w.ID)
	}); err != nil {
		t.Fatalf("PurgeUsers = %v", err)
	}
	_, err = f.s.UserByBadge(f.ctx, "key-a2")
	wantErr(t, "UserByBadge(purged holder)", err, devices.ErrNotFound)
	_, err = set(bob.ID, "key-a2")
	wantErr(t, "SetBadge(bob, purged user's key)", err, nil)

	// AddBadges: first badges of several users in one write, or none.
	carl, dana := f.user(w.ID, "carl"), f.user(w.ID, "dana")
	nb := func(userID, key string) devices.Badge {
		return devices.Badge{UserID: userID, Key: key, SetAt: t0.Add(90 * time.Minute), SetBy: "manager:mgr_1"}
	}
	add := func(bs ...devices.Badge) error { return f.s.AddBadges(f.ctx, bs, ok) }
	evCarl := len(f.events(devices.UserActor(carl.ID)))
	wantErr(t, "AddBadges(a key bob holds)", add(nb(carl.ID, "key-c"), nb(dana.ID, "key-a2")), devices.ErrExists)
	wantErr(t, "AddBadges(bob has one)", add(nb(carl.ID, "key-c"), nb(bob.ID, "key-x")), devices.ErrExists)
	wantErr(t, "AddBadges(missing user)", add(nb(carl.ID, "key-c"), nb("usr_missing", "key-m")), devices.ErrNotFound)
	wantErr(t, "AddBadges(fn fails)", f.s.AddBadges(f.ctx, []devices.Badge{nb(carl.ID, "key-c")},
		func(devices.User) (devices.Event, error) { return devices.Event{}, boom }), boom)
	_, err = f.s.Badge(f.ctx, carl.ID)
	wantErr(t, "Badge(carl after refused adds)", err, devices.ErrNotFound)
	changes(carl.ID, 0)
	if n := len(f.events(devices.UserActor(carl.ID))); n != evCarl {
		t.Errorf("events about carl after refused adds: %d; want %d", n, evCarl)
	}
	wantErr(t, "AddBadges(none)", add(), nil)
	wantErr(t, "AddBadges(carl, dana)", add(nb(carl.ID, "key-c"), nb(dana.ID, "key-d")), nil)
	b, err = f.s.Badge(f.ctx, carl.ID)
	wantErr(t, "Badge(carl)", err, nil)
	if b.Key != "key-c" || b.SetBy != "manager:mgr_1" || !b.SetAt.Equal(t0.Add(90*time.Minute)) {
		t.Errorf("Badge(carl) = %+v; want key-c set by manager:mgr_1", b)
	}
	got, err = f.s.UserByBadge(f.ctx, "key-d")
	wantErr(t, "UserByBadge(key-d)", err, nil)
	if got.ID != dana.ID {
		t.Errorf("UserByBadge(key-d) = %s; want dana", got.ID)
	}
	changes(carl.ID, 1)
	changes(dana.ID, 1)
	if n := len(f.events(devices.UserActor(carl.ID))); n != evCarl+1 {
		t.Errorf("events about carl after the add: %d; want %d", n, evCarl+1)
	}
}

// testCustody checks custody records: start once, ends filled in only
// where empty, the filters (warehouse, device, user, method, overlap,
// open at), newest-first pages, and the purge.
func testCustody(t *testing.T, h Harness) {
	f := newFixture(t, h)
	base := t0
	mk := func(sid, wh, dev, user, method string, start time.Duration) devices.Custody {
		t.Helper()
		c := devices.Custody{SessionID: sid, DeviceID: dev, UserID: user, WarehouseID: wh, Method: method, StartedAt: base.Add(start)}
		if err := f.s.StartCustody(f.ctx, c); err != nil {
			t.Fatalf("StartCustody(%s) = %v", sid, err)
		}
		return c
	}
	a := mk("ses_a", "wh_1", "dev_1", "usr_1", devices.MethodPIN, 0)
	b := mk("ses_b", "wh_1", "dev_2", "usr_2", devices.MethodBadge, time.Hour)
	c := mk("ses_c", "wh_1", "dev_1", "usr_2", devices.MethodPIN, 2*time.Hour)
	d := mk("ses_d", "wh_2", "dev_3", "usr_3", devices.MethodBadge, 3*time.Hour)
	wantErr(t, "StartCustody(same session)", f.s.StartCustody(f.ctx, a), devices.ErrExists)

	// a ends by logout; the second end of a only adds who (none here);
	// c is ended by an admin, first heard without, then with the actor.
	end := func(ends ...devices.CustodyEnd) {
		t.Helper()
		if err := f.s.EndCustody(f.ctx, ends); err != nil {
			t.Fatalf("EndCustody(%+v) = %v", ends, err)
		}
	}
	end(devices.CustodyEnd{SessionID: "ses_a", At: base.Add(30 * time.Minute), Reason: "logout"},
		devices.CustodyEnd{SessionID: "ses_unknown", At: base, Reason: "logout"})
	end(devices.CustodyEnd{SessionID: "ses_a", At: base.Add(50 * time.Minute), Reason: "expired"})
	end(devices.CustodyEnd{SessionID: "ses_c", At: base.Add(150 * time.Minute), Reason: "admin"})
	end(devices.CustodyEnd{SessionID: "ses_c", At: base.Add(151 * time.Minute), Reason: "admin", By: "manager:mgr_1"})
	end(nil...)

	list := func(fl devices.CustodyFilter) []devices.Custody {
		t.Helper()
		cs, err := f.s.Custody(f.ctx, fl)
		if err != nil {
			t.Fatalf("Custody(%+v) = %v", fl, err)
		}
		return cs
	}
	sids := func(cs []devices.Custody) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.SessionID)
		}
		return out
	}
	want := func(call string, got []devices.Custody, ids ...string) {
		t.Helper()
		if ids == nil {
			ids = []string{}
		}
		if g := sids(got); !slices.Equal(g, ids) {
			t.Errorf("%s = %v; want %v", call, g, ids)
		}
	}
	all := list(devices.CustodyFilter{})
	want("Custody()", all, "ses_d", "ses_c", "ses_b", "ses_a")
	at := func(d time.Duration) *time.Time { x := base.Add(d); return &x }
	a.EndedAt, a.EndReason = at(30*time.Minute), "logout"
	c.EndedAt, c.EndReason, c.EndedBy = at(150*time.Minute), "admin", "manager:mgr_1"
	same(t, "Custody() records", all, []devices.Custody{d, c, b, a})

	want("Custody(wh_1)", list(devices.CustodyFilter{WarehouseIDs: []string{"wh_1"}}), "ses_c", "ses_b", "ses_a")
	want("Custody(no warehouse)", list(devices.CustodyFilter{WarehouseIDs: []string{}}))
	want("Custody(dev_1)", list(devices.CustodyFilter{DeviceID: "dev_1"}), "ses_c", "ses_a")
	want("Custody(usr_2)", list(devices.CustodyFilter{UserID: "usr_2"}), "ses_c", "ses_b")
	want("Custody(badge)", list(devices.CustodyFilter{Method: devices.MethodBadge}), "ses_d", "ses_b")
	// Overlap with [0:40, 1:30): a (ended 0:30) is out, b is in.
	want("Custody(from 0:40 to 1:30)", list(devices.CustodyFilter{From: *at(40 * time.Minute), To: *at(90 * time.Minute)}), "ses_b")
	want("Custody(to 1:00)", list(devices.CustodyFilter{To: *at(time.Hour)}), "ses_a")
	want("Custody(from 2:40)", list(devices.CustodyFilter{From: *at(160 * time.Minute)}), "ses_d", "ses_b")
	// Open at 2:10: b (never ended) and c (ended 2:30); at 2:30 c has
	// ended; at 0:00 a had just begun.
	want("Custody(open at 2:10)", list(devices.CustodyFilter{OpenAt: at(130 * time.Minute)}), "ses_c", "ses_b")
	want("Custody(open at 2:30)", list(devices.CustodyFilter{OpenAt: at(150 * time.Minute)}), "ses_b")
	want("Custody(open at 0:00)", list(devices.CustodyFilter{OpenAt: at(0)}), "ses_a")
	want("Custody(open long after)", list(devices.CustodyFilter{OpenAt: at(devices.CustodyLookback + 4*time.Hour)}))

	// Pages of one, by cursor, join to the whole list.
	var got []devices.Custody
	var after *devices.CustodyCursor
	for range 6 {
		page := list(devices.CustodyFilter{After: after, Limit: 1})
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		last := page[len(page)-1]
		cur, err := devices.ParseCustodyCursor(devices.CustodyCursorOf(last).String())
		if err != nil {
			t.Fatalf("ParseCustodyCursor(cursor of %s) = %v", last.SessionID, err)
		}
		after = &cur
	}
	want("Custody by pages of 1", got, "ses_d", "ses_c", "ses_b", "ses_a")

	// Purge: a ended at 0:30, b never ended and began at 1:00.
	n, err := f.s.PurgeCustody(f.ctx, base.Add(61*time.Minute))
	wantErr(t, "PurgeCustody(1:01)", err, nil)
	if n != 2 {
		t.Errorf("PurgeCustody(1:01) = %d; want 2", n)
	}
	want("Custody() after the purge", list(devices.CustodyFilter{}), "ses_d", "ses_c")
	if n, _ := f.s.PurgeCustody(f.ctx, base.Add(61*time.Minute)); n != 0 {
		t.Errorf("PurgeCustody twice removed %d; want 0", n)
	}
}
