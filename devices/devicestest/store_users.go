package devicestest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// This file checks mobile device users: creation in batches, the unique
// rules, the filters, updates and the purge.

func testUsers(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	wa, wb := f.warehouse("WA"), f.warehouse("WB")

	u := f.newUser(wa.ID, "Ana.Souza")
	u.EmployeeID = "E-1001"
	u.Language = "pt-BR"
	u.FirstName = "Ana Lúcia"
	u.LastName = "Souza"
	u.Status = devices.UserSuspended
	u.PINChangeRequired = false
	// Times come back as the same instant whatever zone they were given in.
	u.UpdatedAt = u.CreatedAt.Add(time.Hour).In(time.FixedZone("IST", 5*3600+1800))
	ev := f.event("user.create", devices.UserActor(u.ID), wa.ID)
	if err := f.s.CreateUsers(ctx, []devices.User{u}, []devices.Event{ev}); err != nil {
		t.Fatalf("CreateUsers() = %v; want nil", err)
	}
	got, err := f.s.User(ctx, u.ID)
	wantErr(t, "User(id)", err, nil)
	same(t, "User(id)", got, u)
	got, err = f.s.UserByUsername(ctx, u.UsernameKey)
	wantErr(t, "UserByUsername(key)", err, nil)
	same(t, "UserByUsername(key)", got, u)
	got, err = f.s.UserByEmployeeID(ctx, "E-1001")
	wantErr(t, "UserByEmployeeID(E-1001)", err, nil)
	same(t, "UserByEmployeeID(E-1001)", got, u)
	wantIDs(t, "Events(subject user)", f.events(devices.UserActor(u.ID)), ev.ID)

	// A deleted user keeps every field too.
	del := f.newUser(wb.ID, "deleted.one")
	del.Status = devices.UserDeleted
	del.DeletedAt = ptr(del.CreatedAt.Add(time.Minute))
	if err := f.s.CreateUsers(ctx, []devices.User{del}, nil); err != nil {
		t.Fatalf("CreateUsers(deleted) = %v; want nil", err)
	}
	got, err = f.s.UserByUsername(ctx, del.UsernameKey)
	wantErr(t, "UserByUsername(deleted user)", err, nil)
	same(t, "UserByUsername(deleted user)", got, del)

	t.Run("Holding", func(t *testing.T) {
		// Each holder once (u by both its name and its employee id),
		// the deleted one included; unknown values and "" match nobody.
		got, err := f.s.UsersHolding(ctx, []string{u.UsernameKey, del.UsernameKey, "nobody"}, []string{"E-1001", "E-0000", ""})
		wantErr(t, "UsersHolding", err, nil)
		n := map[string]int{}
		for _, x := range got {
			n[x.ID]++
			if x.ID == u.ID {
				same(t, "UsersHolding(u)", x, u)
			}
		}
		if len(got) != 2 || n[u.ID] != 1 || n[del.ID] != 1 {
			t.Errorf("UsersHolding(%s %s nobody; E-1001 E-0000 \"\") = %v; want %s and %s once each", u.UsernameKey, del.UsernameKey, n, u.ID, del.ID)
		}
		got, err = f.s.UsersHolding(ctx, nil, []string{""})
		wantErr(t, "UsersHolding(none)", err, nil)
		if len(got) != 0 {
			t.Errorf("UsersHolding(nil; \"\") = %d users; want none", len(got))
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := f.s.User(ctx, "usr_missing")
		wantErr(t, "User(missing)", err, devices.ErrNotFound)
		_, err = f.s.UserByUsername(ctx, "nobody")
		wantErr(t, "UserByUsername(nobody)", err, devices.ErrNotFound)
		_, err = f.s.UserByEmployeeID(ctx, "E-0000")
		wantErr(t, "UserByEmployeeID(E-0000)", err, devices.ErrNotFound)
		_, err = f.s.UserByEmployeeID(ctx, "")
		wantErr(t, "UserByEmployeeID(\"\")", err, devices.ErrNotFound)
		_, err = f.s.UpdateUser(ctx, "usr_missing", func(*devices.User) (devices.Event, error) {
			t.Errorf("UpdateUser(missing) called fn")
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateUser(missing)", err, devices.ErrNotFound)
		x := f.newUser("wh_missing", "homeless")
		err = f.s.CreateUsers(ctx, []devices.User{x}, []devices.Event{f.event("user.create", devices.UserActor(x.ID), "")})
		wantErr(t, "CreateUsers(missing warehouse)", err, devices.ErrNotFound)
		if evs := f.events(devices.UserActor(x.ID)); len(evs) != 0 {
			t.Errorf("CreateUsers(missing warehouse) appended %v", ids(evs))
		}
	})

	t.Run("UniqueUsername", func(t *testing.T) {
		// The key is unique across warehouses, whatever the display name,
		// and a soft-deleted user keeps its key.
		for _, tc := range []struct{ name, username, key, warehouse string }{
			{"same warehouse", "ana.souza", u.UsernameKey, wa.ID},
			{"other warehouse", "ANA.SOUZA", u.UsernameKey, wb.ID},
			{"deleted user's key", "Deleted.One", del.UsernameKey, wa.ID},
		} {
			x := f.newUser(tc.warehouse, tc.username)
			x.UsernameKey = tc.key
			err := f.s.CreateUsers(ctx, []devices.User{x}, []devices.Event{f.event("user.create", devices.UserActor(x.ID), tc.warehouse)})
			wantErr(t, "CreateUsers("+tc.name+")", err, devices.ErrExists)
			_, err = f.s.User(ctx, x.ID)
			wantErr(t, "User(after CreateUsers("+tc.name+"))", err, devices.ErrNotFound)
		}
		x := f.newUser(wa.ID, "x")
		x.ID = u.ID
		err := f.s.CreateUsers(ctx, []devices.User{x}, nil)
		wantErr(t, "CreateUsers(same id)", err, devices.ErrExists)
	})

	t.Run("UniqueEmployeeID", func(t *testing.T) {
		x := f.newUser(wb.ID, "emp.dup")
		x.EmployeeID = "E-1001"
		err := f.s.CreateUsers(ctx, []devices.User{x}, nil)
		wantErr(t, "CreateUsers(employee id taken)", err, devices.ErrExists)
		// Users without an employee id never collide.
		n1, n2 := f.newUser(wa.ID, "no.badge.1"), f.newUser(wb.ID, "no.badge.2")
		err = f.s.CreateUsers(ctx, []devices.User{n1, n2}, nil)
		wantErr(t, "CreateUsers(two without employee id)", err, nil)
		got, _ := f.s.User(ctx, n2.ID)
		same(t, "User(without employee id)", got, n2)
	})

	t.Run("ConcurrentCreate", func(t *testing.T) {
		// One username key created at once from many warehouses: exactly
		// one wins, every other gets ErrExists.
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			x := f.newUser([]string{wa.ID, wb.ID}[i%2], "race")
			x.UsernameKey = "race"
			ev := f.event("user.create", devices.UserActor(x.ID), x.WarehouseID)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- f.s.CreateUsers(ctx, []devices.User{x}, []devices.Event{ev})
			}()
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, devices.ErrExists):
				t.Errorf("concurrent CreateUsers(race) = %v; want nil or ErrExists", err)
			}
		}
		if wins != 1 {
			t.Errorf("concurrent CreateUsers(race): %d succeeded; want 1", wins)
		}
		evs, err := f.s.Events(ctx, devices.EventFilter{Action: "user.create", Page: devices.Page{Limit: 500}})
		wantErr(t, "Events(user.create)", err, nil)
		winner, err := f.s.UserByUsername(ctx, "race")
		wantErr(t, "UserByUsername(race)", err, nil)
		raceEvents := 0
		for _, e := range evs {
			if e.Subject == devices.UserActor(winner.ID) {
				raceEvents++
			}
		}
		if raceEvents != 1 {
			t.Errorf("events for the winning user: %d; want 1", raceEvents)
		}
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		f := newFixture(t, h)
		w := f.warehouse("W")
		taken := f.user(w.ID, "taken")
		before := f.allEvents()
		for _, tc := range []struct {
			name     string
			conflict func(*devices.User)
		}{
			{"username taken", func(x *devices.User) { x.UsernameKey = taken.UsernameKey }},
			{"username twice in batch", func(x *devices.User) { x.UsernameKey = "batch.0" }},
			{"employee id twice in batch", func(x *devices.User) { x.EmployeeID = "E-7" }},
		} {
			var batch []devices.User
			var evs []devices.Event
			for i := range 5 {
				x := f.newUser(w.ID, "batch."+strconv.Itoa(i))
				if i == 0 {
					x.EmployeeID = "E-7"
				}
				if i == 3 {
					tc.conflict(&x)
				}
				batch = append(batch, x)
				evs = append(evs, f.event("user.create", devices.UserActor(x.ID), w.ID))
			}
			err := f.s.CreateUsers(f.ctx, batch, evs)
			wantErr(t, "CreateUsers("+tc.name+")", err, devices.ErrExists)
			for _, x := range batch {
				if _, err := f.s.User(f.ctx, x.ID); !errors.Is(err, devices.ErrNotFound) {
					t.Errorf("User(%s) after failed CreateUsers(%s) = %v; want ErrNotFound", x.Username, tc.name, err)
				}
			}
			wantIDs(t, "Events() after failed CreateUsers("+tc.name+")", f.allEvents(), ids(before)...)
		}
		// An empty batch is fine.
		wantErr(t, "CreateUsers(empty)", f.s.CreateUsers(f.ctx, nil, nil), nil)
	})
}

func testUserFilters(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	wa, wb := f.warehouse("WA"), f.warehouse("WB")

	type spec struct {
		warehouse string
		username  string
		first     string
		last      string
		employee  string
		status    devices.UserStatus
	}
	specs := []spec{
		{wa.ID, "alice", "Alice", "Martin", "E-100", devices.UserActive},   // 0
		{wa.ID, "bob", "Robert", "Alvarez", "", devices.UserActive},        // 1
		{wb.ID, "carol", "Carol", "Nguyen", "al-9", devices.UserSuspended}, // 2
		{wb.ID, "dave", "David", "Okafor", "", devices.UserDeleted},        // 3
		{wa.ID, "ALBERT", "Bert", "Smith", "", devices.UserDeleted},        // 4
		{wb.ID, "erin", "Erin", "Walsh", "E-200", devices.UserActive},      // 5
		{wa.ID, "frank_5", "Frank", "O'Neil", "", devices.UserSuspended},   // 6
		{wa.ID, "gina", "Gina", "Rossi", "", devices.UserActive},           // 7
		{wb.ID, "hank", "Hank", "Müller", "", devices.UserActive},          // 8
		{wb.ID, "ivy%", "Ivy", "Chen", "", devices.UserActive},             // 9
	}
	var us []devices.User
	for _, sp := range specs {
		x := f.newUser(sp.warehouse, sp.username)
		x.FirstName, x.LastName, x.EmployeeID, x.Status = sp.first, sp.last, sp.employee, sp.status
		if sp.status == devices.UserDeleted {
			x.DeletedAt = ptr(x.CreatedAt)
		}
		us = append(us, x)
	}
	if err := f.s.CreateUsers(ctx, us, nil); err != nil {
		t.Fatalf("CreateUsers() = %v; want nil", err)
	}
	id := func(i ...int) []string {
		var out []string
		for _, n := range i {
			out = append(out, us[n].ID)
		}
		return out
	}
	// Touch user 7 later than everything else.
	later := f.at.Add(time.Hour)
	if _, err := f.s.UpdateUser(ctx, us[7].ID, func(x *devices.User) (devices.Event, error) {
		x.UpdatedAt = later
		return devices.Event{}, nil
	}); err != nil {
		t.Fatalf("UpdateUser() = %v; want nil", err)
	}

	for _, tc := range []struct {
		name string
		f    devices.UserFilter
		want []string
	}{
		{"all", devices.UserFilter{}, id(0, 1, 2, 5, 6, 7, 8, 9)},
		{"active", devices.UserFilter{Status: devices.UserActive}, id(0, 1, 5, 7, 8, 9)},
		{"suspended", devices.UserFilter{Status: devices.UserSuspended}, id(2, 6)},
		{"deleted", devices.UserFilter{Status: devices.UserDeleted}, id(3, 4)},
		{"warehouse A", devices.UserFilter{WarehouseIDs: []string{wa.ID}}, id(0, 1, 6, 7)},
		{"warehouses A B", devices.UserFilter{WarehouseIDs: []string{wb.ID, wa.ID}}, id(0, 1, 2, 5, 6, 7, 8, 9)},
		{"warehouses none", devices.UserFilter{WarehouseIDs: []string{}}, nil},
		{"deleted in A", devices.UserFilter{WarehouseIDs: []string{wa.ID}, Status: devices.UserDeleted}, id(4)},
		{"q al", devices.UserFilter{Q: "al"}, id(0, 1, 2)},
		{"q AL deleted", devices.UserFilter{Q: "AL", Status: devices.UserDeleted}, id(4)},
		{"q e-", devices.UserFilter{Q: "e-"}, id(0, 5)},
		{"q E-1", devices.UserFilter{Q: "E-1"}, id(0)},
		{"q mart (last name)", devices.UserFilter{Q: "MART"}, id(0)},
		{"q robert (first name)", devices.UserFilter{Q: "robert"}, id(1)},
		{"q lice (not a prefix)", devices.UserFilter{Q: "lice"}, nil},
		{"q frank_ (underscore is literal)", devices.UserFilter{Q: "frank_"}, id(6)},
		{"q frank% (percent is literal)", devices.UserFilter{Q: "frank%"}, nil},
		{"q ivy%", devices.UserFilter{Q: "ivy%"}, id(9)},
		{"q o' (quote)", devices.UserFilter{Q: "o'"}, id(6)},
		{"q MÜ (not ASCII)", devices.UserFilter{Q: "MÜ"}, id(8)},
		{"q mü", devices.UserFilter{Q: "mü"}, id(8)},
		{"q in A", devices.UserFilter{Q: "al", WarehouseIDs: []string{wa.ID}}, id(0, 1)},
		{"updated since", devices.UserFilter{UpdatedSince: &later}, id(7)},
		{"updated since, exact time of 8", devices.UserFilter{UpdatedSince: &us[8].UpdatedAt}, id(7, 8, 9)},
		{"after", devices.UserFilter{Page: devices.Page{After: us[5].ID}}, id(6, 7, 8, 9)},
		{"after, limit", devices.UserFilter{Page: devices.Page{After: us[1].ID, Limit: 2}}, id(2, 5)},
	} {
		list, err := f.s.Users(ctx, tc.f)
		wantErr(t, "Users("+tc.name+")", err, nil)
		wantIDs(t, "Users("+tc.name+")", list, tc.want...)
	}

	pages(t, "Users()", id(0, 1, 2, 5, 6, 7, 8, 9), func(p devices.Page) ([]devices.User, error) {
		return f.s.Users(ctx, devices.UserFilter{Page: p})
	})
	pages(t, "Users(warehouse B)", id(2, 5, 8, 9), func(p devices.Page) ([]devices.User, error) {
		return f.s.Users(ctx, devices.UserFilter{WarehouseIDs: []string{wb.ID}, Page: p})
	})

	// Q also matches the username key, so that a name typed in another
	// form (here full-width) is found by its normalised spelling.
	z := f.newUser(wb.ID, "ＺＥＤ")
	z.UsernameKey = "zed"
	if err := f.s.CreateUsers(ctx, []devices.User{z}, nil); err != nil {
		t.Fatalf("CreateUsers(ＺＥＤ) = %v; want nil", err)
	}
	list, err := f.s.Users(ctx, devices.UserFilter{Q: "ZE"})
	wantErr(t, "Users(q ZE)", err, nil)
	wantIDs(t, "Users(q ZE)", list, z.ID)
}

func testUpdateUser(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	wa, wb := f.warehouse("WA"), f.warehouse("WB")
	u := f.user(wa.ID, "ana")
	other := f.user(wa.ID, "bo")
	other2 := f.newUser(wa.ID, "cy")
	other2.EmployeeID = "E-5"
	if err := f.s.CreateUsers(ctx, []devices.User{other2}, nil); err != nil {
		t.Fatalf("CreateUsers() = %v; want nil", err)
	}

	t.Run("RoundTrip", func(t *testing.T) {
		ev := f.event("user.update", devices.UserActor(u.ID), wb.ID)
		want := u
		want.Username = "Ana2"
		want.UsernameKey = "ana2"
		want.FirstName, want.LastName = "Ana", "Souza"
		want.EmployeeID = "E-9"
		want.WarehouseID = wb.ID
		want.Language = "es"
		want.PINHash = "other-hash"
		want.PINChangeRequired = false
		want.Status = devices.UserDeleted
		want.DeletedAt = ptr(f.at)
		want.UpdatedAt = f.at
		got, err := f.s.UpdateUser(ctx, u.ID, func(x *devices.User) (devices.Event, error) {
			same(t, "UpdateUser fn argument", *x, u)
			*x = want
			return ev, nil
		})
		wantErr(t, "UpdateUser()", err, nil)
		same(t, "UpdateUser()", got, want)
		got, _ = f.s.User(ctx, u.ID)
		same(t, "User() after update", got, want)
		// The update and its event commit together.
		evs := f.events(devices.UserActor(u.ID))
		if len(evs) != 2 || evs[0].ID != ev.ID {
			t.Errorf("Events(subject user) after update = %v; want [%s, create event]", ids(evs), ev.ID)
		}
		_, err = f.s.UserByUsername(ctx, "ana")
		wantErr(t, "UserByUsername(old key)", err, devices.ErrNotFound)
		got, err = f.s.UserByEmployeeID(ctx, "E-9")
		wantErr(t, "UserByEmployeeID(new id)", err, nil)
		same(t, "UserByEmployeeID(new id)", got, want)

		// And back: clearing the employee id and the deletion.
		want.EmployeeID = ""
		want.Status = devices.UserActive
		want.DeletedAt = nil
		got, err = f.s.UpdateUser(ctx, u.ID, func(x *devices.User) (devices.Event, error) {
			x.EmployeeID = ""
			x.Status = devices.UserActive
			x.DeletedAt = nil
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateUser(clear)", err, nil)
		same(t, "UpdateUser(clear)", got, want)
		got, _ = f.s.User(ctx, u.ID)
		same(t, "User() after clear", got, want)
		u = want
	})

	t.Run("Conflicts", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*devices.User)
		}{
			{"username taken", func(x *devices.User) { x.UsernameKey = other.UsernameKey }},
			{"employee id taken", func(x *devices.User) { x.EmployeeID = "E-5" }},
		} {
			ev := f.event("user.update", devices.UserActor(u.ID), "")
			_, err := f.s.UpdateUser(ctx, u.ID, func(x *devices.User) (devices.Event, error) {
				tc.fn(x)
				return ev, nil
			})
			wantErr(t, "UpdateUser("+tc.name+")", err, devices.ErrExists)
			got, _ := f.s.User(ctx, u.ID)
			same(t, "User() after UpdateUser("+tc.name+")", got, u)
			for _, e := range f.allEvents() {
				if e.ID == ev.ID {
					t.Errorf("UpdateUser(%s) failed but appended its event", tc.name)
				}
			}
		}
		_, err := f.s.UpdateUser(ctx, u.ID, func(x *devices.User) (devices.Event, error) {
			x.WarehouseID = "wh_missing"
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateUser(missing warehouse)", err, devices.ErrNotFound)
	})

	t.Run("FnError", func(t *testing.T) {
		before := f.allEvents()
		boom := errors.New("boom")
		_, err := f.s.UpdateUser(ctx, u.ID, func(x *devices.User) (devices.Event, error) {
			x.FirstName = "changed"
			return f.event("user.update", devices.UserActor(u.ID), ""), boom
		})
		wantErr(t, "UpdateUser(fn fails)", err, boom)
		got, _ := f.s.User(ctx, u.ID)
		same(t, "User() after fn failed", got, u)
		wantIDs(t, "Events() after fn failed", f.allEvents(), ids(before)...)
	})

	t.Run("IDIsKept", func(t *testing.T) {
		got, err := f.s.UpdateUser(ctx, u.ID, func(x *devices.User) (devices.Event, error) {
			x.ID = "usr_other"
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateUser(change id)", err, nil)
		if got.ID != u.ID {
			t.Errorf("UpdateUser(change id).ID = %q; want %q", got.ID, u.ID)
		}
		_, err = f.s.User(ctx, "usr_other")
		wantErr(t, "User(usr_other)", err, devices.ErrNotFound)
	})

	t.Run("Concurrent", func(t *testing.T) {
		// 50 read-modify-write increments at once lose nothing.
		c := f.newUser(wa.ID, "counter")
		c.LastName = "0"
		if err := f.s.CreateUsers(ctx, []devices.User{c}, nil); err != nil {
			t.Fatalf("CreateUsers() = %v; want nil", err)
		}
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.s.UpdateUser(ctx, c.ID, func(x *devices.User) (devices.Event, error) {
					v, err := strconv.Atoi(x.LastName)
					if err != nil {
						return devices.Event{}, err
					}
					x.LastName = strconv.Itoa(v + 1)
					return devices.Event{}, nil
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent UpdateUser() = %v; want nil", err)
			}
		}
		got, _ := f.s.User(ctx, c.ID)
		if got.LastName != strconv.Itoa(n) {
			t.Errorf("after %d concurrent increments LastName = %q; want %q", n, got.LastName, strconv.Itoa(n))
		}
	})
}

func testPurgeUsers(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	w := f.warehouse("W")
	cutoff := t0.Add(24 * time.Hour)

	mk := func(name string, deletedAt *time.Time) devices.User {
		x := f.newUser(w.ID, name)
		x.EmployeeID = "E-" + name
		if deletedAt != nil {
			x.Status = devices.UserDeleted
			x.DeletedAt = deletedAt
		}
		return x
	}
	old1 := mk("old1", ptr(cutoff.Add(-48*time.Hour)))
	old2 := mk("old2", ptr(cutoff.Add(-time.Microsecond)))
	atCutoff := mk("atcutoff", ptr(cutoff))
	recent := mk("recent", ptr(cutoff.Add(time.Hour)))
	active := mk("active", nil)
	if err := f.s.CreateUsers(ctx, []devices.User{old1, old2, atCutoff, recent, active}, nil); err != nil {
		t.Fatalf("CreateUsers() = %v; want nil", err)
	}

	var seen []string
	purgeEvent := func(u devices.User) devices.Event {
		seen = append(seen, u.ID)
		if u.Status != devices.UserDeleted {
			t.Errorf("PurgeUsers passed user %s with status %q", u.ID, u.Status)
		}
		ev := f.event("user.purge", devices.UserActor(u.ID), u.WarehouseID)
		ev.Actor = devices.ActorSystem
		return ev
	}
	n, err := f.s.PurgeUsers(ctx, cutoff, purgeEvent)
	if err != nil || n != 2 {
		t.Fatalf("PurgeUsers() = %d, %v; want 2, nil", n, err)
	}
	if len(seen) != 2 || !(seen[0] == old1.ID && seen[1] == old2.ID || seen[0] == old2.ID && seen[1] == old1.ID) {
		t.Errorf("PurgeUsers called event for %v; want %v", seen, []string{old1.ID, old2.ID})
	}
	for _, x := range []devices.User{old1, old2} {
		_, err := f.s.User(ctx, x.ID)
		wantErr(t, "User(purged "+x.Username+")", err, devices.ErrNotFound)
		_, err = f.s.UserByUsername(ctx, x.UsernameKey)
		wantErr(t, "UserByUsername(purged "+x.Username+")", err, devices.ErrNotFound)
		_, err = f.s.UserByEmployeeID(ctx, x.EmployeeID)
		wantErr(t, "UserByEmployeeID(purged "+x.Username+")", err, devices.ErrNotFound)
		evs := f.events(devices.UserActor(x.ID))
		if len(evs) != 1 || evs[0].Action != "user.purge" {
			t.Errorf("Events(subject purged %s) = %+v; want one user.purge event", x.Username, evs)
		}
	}
	for _, x := range []devices.User{atCutoff, recent, active} {
		got, err := f.s.User(ctx, x.ID)
		wantErr(t, "User(kept "+x.Username+")", err, nil)
		same(t, "User(kept "+x.Username+")", got, x)
	}
	list, err := f.s.Users(ctx, devices.UserFilter{Status: devices.UserDeleted})
	wantErr(t, "Users(deleted)", err, nil)
	wantIDs(t, "Users(deleted) after purge", list, atCutoff.ID, recent.ID)

	seen = nil
	n, err = f.s.PurgeUsers(ctx, cutoff, purgeEvent)
	if err != nil || n != 0 || len(seen) != 0 {
		t.Errorf("second PurgeUsers() = %d, %v (events for %v); want 0, nil, none", n, err, seen)
	}

	// The name and badge are free again.
	again := f.newUser(w.ID, "old1")
	again.EmployeeID = old1.EmployeeID
	wantErr(t, "CreateUsers(purged user's name)", f.s.CreateUsers(ctx, []devices.User{again}, nil), nil)
}
