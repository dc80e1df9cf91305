package devicestest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
)

// This file checks devices (enrollment, replacement, filters, last seen)
// and service keys.

func testDevices(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	wa, wb := f.warehouse("WA"), f.warehouse("WB")

	d := f.newDevice(wa.ID, "SN-1")
	d.LastSeenAt = ptr(d.EnrolledAt.Add(time.Second))
	ev := f.event("device.enroll", devices.DeviceActor(d.ID), wa.ID)
	replaced, err := f.s.EnrollDevice(ctx, d, ev)
	if err != nil || replaced != nil {
		t.Fatalf("EnrollDevice(new serial) = %+v, %v; want nil, nil", replaced, err)
	}
	got, err := f.s.Device(ctx, d.ID)
	wantErr(t, "Device(id)", err, nil)
	same(t, "Device(id)", got, d)
	got, err = f.s.DeviceByTokenHash(ctx, d.TokenHash)
	wantErr(t, "DeviceByTokenHash()", err, nil)
	same(t, "DeviceByTokenHash()", got, d)
	wantIDs(t, "Events(subject device)", f.events(devices.DeviceActor(d.ID)), ev.ID)

	t.Run("NotFound", func(t *testing.T) {
		_, err := f.s.Device(ctx, "dev_missing")
		wantErr(t, "Device(missing)", err, devices.ErrNotFound)
		_, err = f.s.DeviceByTokenHash(ctx, token.New(devices.DeviceTokenPrefix).Hash())
		wantErr(t, "DeviceByTokenHash(missing)", err, devices.ErrNotFound)
		_, err = f.s.UpdateDevice(ctx, "dev_missing", func(*devices.Device) (devices.Event, error) {
			t.Errorf("UpdateDevice(missing) called fn")
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateDevice(missing)", err, devices.ErrNotFound)
		x := f.newDevice("wh_missing", "SN-X")
		_, err = f.s.EnrollDevice(ctx, x, f.event("device.enroll", devices.DeviceActor(x.ID), ""))
		wantErr(t, "EnrollDevice(missing warehouse)", err, devices.ErrNotFound)
	})

	t.Run("Exists", func(t *testing.T) {
		x := f.newDevice(wa.ID, "SN-OTHER")
		x.TokenHash = d.TokenHash
		xev := f.event("device.enroll", devices.DeviceActor(x.ID), wa.ID)
		_, err := f.s.EnrollDevice(ctx, x, xev)
		wantErr(t, "EnrollDevice(token hash taken)", err, devices.ErrExists)
		y := f.newDevice(wa.ID, "SN-OTHER")
		y.ID = d.ID
		_, err = f.s.EnrollDevice(ctx, y, f.event("device.enroll", devices.DeviceActor(y.ID), wa.ID))
		wantErr(t, "EnrollDevice(id taken)", err, devices.ErrExists)
		// Neither failure touched the active device SN-1.
		got, _ := f.s.Device(ctx, d.ID)
		same(t, "Device(SN-1) after failed enrollments", got, d)
		if evs := f.events(devices.DeviceActor(x.ID)); len(evs) != 0 {
			t.Errorf("failed EnrollDevice appended %v", ids(evs))
		}
	})

	t.Run("Replace", func(t *testing.T) {
		// Re-enrolling the serial (even to another warehouse) revokes the
		// active record in the same step.
		d2 := f.newDevice(wb.ID, "SN-1")
		ev2 := f.event("device.enroll", devices.DeviceActor(d2.ID), wb.ID)
		replaced, err := f.s.EnrollDevice(ctx, d2, ev2)
		if err != nil {
			t.Fatalf("EnrollDevice(same serial) = %v; want nil", err)
		}
		old := d
		old.Status = devices.DeviceRevoked
		old.RevokedAt = ptr(d2.EnrolledAt)
		if replaced == nil {
			t.Fatalf("EnrollDevice(same serial) replaced = nil; want %+v", old)
		}
		same(t, "EnrollDevice(same serial) replaced", *replaced, old)
		got, _ := f.s.Device(ctx, d.ID)
		same(t, "Device(replaced)", got, old)
		got, _ = f.s.Device(ctx, d2.ID)
		same(t, "Device(replacement)", got, d2)
		// The old token still finds the old, revoked record.
		got, _ = f.s.DeviceByTokenHash(ctx, d.TokenHash)
		same(t, "DeviceByTokenHash(old token)", got, old)

		// A serial whose only record is revoked enrolls with no replacement.
		if _, err := f.s.UpdateDevice(ctx, d2.ID, func(x *devices.Device) (devices.Event, error) {
			x.Status = devices.DeviceRevoked
			x.RevokedAt = ptr(f.at)
			return f.event("device.revoke", devices.DeviceActor(d2.ID), wb.ID), nil
		}); err != nil {
			t.Fatalf("UpdateDevice(revoke) = %v; want nil", err)
		}
		d3 := f.newDevice(wa.ID, "SN-1")
		replaced, err = f.s.EnrollDevice(ctx, d3, f.event("device.enroll", devices.DeviceActor(d3.ID), wa.ID))
		if err != nil || replaced != nil {
			t.Errorf("EnrollDevice(serial only revoked) = %+v, %v; want nil, nil", replaced, err)
		}

		// Two active records never share a serial.
		d4 := f.device(wa.ID, "SN-4")
		_, err = f.s.UpdateDevice(ctx, d4.ID, func(x *devices.Device) (devices.Event, error) {
			x.Serial = "SN-1"
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateDevice(serial of another active device)", err, devices.ErrExists)
		got, _ = f.s.Device(ctx, d4.ID)
		same(t, "Device() after failed update", got, d4)

		list, err := f.s.Devices(ctx, devices.DeviceFilter{Status: devices.DeviceRevoked})
		wantErr(t, "Devices(revoked)", err, nil)
		wantIDs(t, "Devices(revoked)", list, d.ID, d2.ID)
	})

	t.Run("ConcurrentEnroll", func(t *testing.T) {
		// Enrolling one serial many times at once never leaves two active
		// records: each call succeeds (revoking the one before) or fails
		// with ErrExists, and exactly one active record remains.
		const n = 10
		var wg sync.WaitGroup
		type result struct {
			d   devices.Device
			err error
		}
		results := make(chan result, n)
		for range n {
			d := f.newDevice(wa.ID, "SN-RACE")
			ev := f.event("device.enroll", devices.DeviceActor(d.ID), wa.ID)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.s.EnrollDevice(ctx, d, ev)
				results <- result{d, err}
			}()
		}
		wg.Wait()
		close(results)
		enrolled := map[string]bool{}
		for r := range results {
			switch {
			case r.err == nil:
				enrolled[r.d.ID] = true
			case !errors.Is(r.err, devices.ErrExists):
				t.Errorf("concurrent EnrollDevice(SN-RACE) = %v; want nil or ErrExists", r.err)
			}
		}
		if len(enrolled) == 0 {
			t.Fatalf("concurrent EnrollDevice(SN-RACE): none succeeded")
		}
		active := 0
		for id := range enrolled {
			got, err := f.s.Device(ctx, id)
			wantErr(t, "Device(enrolled)", err, nil)
			if got.Status == devices.DeviceActive {
				active++
			}
		}
		if active != 1 {
			t.Errorf("after concurrent enrollments of one serial %d records are active; want 1", active)
		}
	})

	t.Run("Update", func(t *testing.T) {
		x := f.device(wa.ID, "SN-U")
		uev := f.event("device.update", devices.DeviceActor(x.ID), wb.ID)
		want := x
		want.WarehouseID = wb.ID
		want.Label = "Freezer 2"
		want.Model = "TC58"
		want.OSVersion = "14"
		want.AppVersion = "4.3.1"
		want.LastSeenAt = ptr(f.at)
		got, err := f.s.UpdateDevice(ctx, x.ID, func(y *devices.Device) (devices.Event, error) {
			same(t, "UpdateDevice fn argument", *y, x)
			*y = want
			return uev, nil
		})
		wantErr(t, "UpdateDevice()", err, nil)
		same(t, "UpdateDevice()", got, want)
		got, _ = f.s.Device(ctx, x.ID)
		same(t, "Device() after update", got, want)
		evs := f.events(devices.DeviceActor(x.ID))
		if len(evs) != 2 || evs[0].ID != uev.ID {
			t.Errorf("Events(subject device) = %v; want [%s, enroll event]", ids(evs), uev.ID)
		}

		boom := errors.New("boom")
		_, err = f.s.UpdateDevice(ctx, x.ID, func(y *devices.Device) (devices.Event, error) {
			y.Label = "nope"
			return f.event("device.update", devices.DeviceActor(x.ID), ""), boom
		})
		wantErr(t, "UpdateDevice(fn fails)", err, boom)
		got, _ = f.s.Device(ctx, x.ID)
		same(t, "Device() after fn failed", got, want)
		if evs := f.events(devices.DeviceActor(x.ID)); len(evs) != 2 {
			t.Errorf("Events(subject device) after fn failed = %v; want 2 events", ids(evs))
		}
	})

	t.Run("Touch", func(t *testing.T) {
		x, y := f.device(wa.ID, "SN-T1"), f.device(wa.ID, "SN-T2")
		at1, at2 := f.at.Add(time.Minute), f.at.Add(2*time.Minute)
		err := f.s.TouchDevices(ctx, []devices.DeviceSeen{
			{DeviceID: x.ID, At: at1, AppVersion: "5.0.0"},
			{DeviceID: y.ID, At: at2},
			{DeviceID: "dev_missing", At: at2},
		})
		wantErr(t, "TouchDevices()", err, nil)
		x.LastSeenAt, x.AppVersion = &at1, "5.0.0"
		y.LastSeenAt = &at2
		got, _ := f.s.Device(ctx, x.ID)
		same(t, "Device(x) after touch", got, x)
		got, _ = f.s.Device(ctx, y.ID)
		same(t, "Device(y) after touch", got, y)

		// An older sighting arriving late does not move last seen back.
		err = f.s.TouchDevices(ctx, []devices.DeviceSeen{{DeviceID: y.ID, At: at1}})
		wantErr(t, "TouchDevices(older)", err, nil)
		got, _ = f.s.Device(ctx, y.ID)
		same(t, "Device(y) after older touch", got, y)
		wantErr(t, "TouchDevices(empty)", f.s.TouchDevices(ctx, nil), nil)
		for _, e := range f.allEvents() {
			if e.Subject == devices.DeviceActor(x.ID) && e.Action != "device.enroll" {
				t.Errorf("TouchDevices appended event %+v", e)
			}
		}
	})
}

func testDeviceFilters(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	wa, wb := f.warehouse("WA"), f.warehouse("WB")
	cut := t0.Add(time.Hour)
	type spec struct {
		warehouse string
		app       string
		seen      *time.Time
		revoked   bool
	}
	specs := []spec{
		{wa.ID, "4.2.0", nil, false},                          // 0: never seen
		{wa.ID, "4.2.0", ptr(cut.Add(-time.Minute)), false},   // 1: seen before cut
		{wb.ID, "4.3.0", ptr(cut), false},                     // 2: seen at cut
		{wb.ID, "4.2.0", ptr(cut.Add(time.Minute)), false},    // 3: seen after cut
		{wa.ID, "4.3.0", nil, true},                           // 4: revoked
		{wb.ID, "4.2.0", ptr(cut.Add(-time.Hour)), false},     // 5
		{wa.ID, "4.2.0", ptr(cut.Add(time.Hour)), false},      // 6
		{wb.ID, "4.2.0", ptr(cut.Add(-2 * time.Hour)), false}, // 7
	}
	var ds []devices.Device
	for i, sp := range specs {
		d := f.newDevice(sp.warehouse, "SN-F"+string(rune('0'+i)))
		d.AppVersion = sp.app
		d.LastSeenAt = sp.seen
		if _, err := f.s.EnrollDevice(ctx, d, f.event("device.enroll", devices.DeviceActor(d.ID), sp.warehouse)); err != nil {
			t.Fatalf("EnrollDevice() = %v; want nil", err)
		}
		if sp.revoked {
			if _, err := f.s.UpdateDevice(ctx, d.ID, func(x *devices.Device) (devices.Event, error) {
				x.Status, x.RevokedAt = devices.DeviceRevoked, ptr(f.at)
				return devices.Event{}, nil
			}); err != nil {
				t.Fatalf("UpdateDevice(revoke) = %v; want nil", err)
			}
		}
		ds = append(ds, d)
	}
	id := func(i ...int) []string {
		var out []string
		for _, n := range i {
			out = append(out, ds[n].ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    devices.DeviceFilter
		want []string
	}{
		{"all active", devices.DeviceFilter{}, id(0, 1, 2, 3, 5, 6, 7)},
		{"revoked", devices.DeviceFilter{Status: devices.DeviceRevoked}, id(4)},
		{"active", devices.DeviceFilter{Status: devices.DeviceActive}, id(0, 1, 2, 3, 5, 6, 7)},
		{"warehouse A", devices.DeviceFilter{WarehouseIDs: []string{wa.ID}}, id(0, 1, 6)},
		{"warehouses none", devices.DeviceFilter{WarehouseIDs: []string{}}, nil},
		{"revoked in B", devices.DeviceFilter{WarehouseIDs: []string{wb.ID}, Status: devices.DeviceRevoked}, nil},
		{"app 4.3.0", devices.DeviceFilter{AppVersion: "4.3.0"}, id(2)},
		{"app 4.3", devices.DeviceFilter{AppVersion: "4.3"}, nil},
		{"not seen since cut", devices.DeviceFilter{NotSeenSince: &cut}, id(0, 1, 5, 7)},
		{"not seen since cut in B", devices.DeviceFilter{NotSeenSince: &cut, WarehouseIDs: []string{wb.ID}}, id(5, 7)},
		{"after", devices.DeviceFilter{Page: devices.Page{After: ds[3].ID}}, id(5, 6, 7)},
	} {
		list, err := f.s.Devices(ctx, tc.f)
		wantErr(t, "Devices("+tc.name+")", err, nil)
		wantIDs(t, "Devices("+tc.name+")", list, tc.want...)
	}
	pages(t, "Devices()", id(0, 1, 2, 3, 5, 6, 7), func(p devices.Page) ([]devices.Device, error) {
		return f.s.Devices(ctx, devices.DeviceFilter{Page: p})
	})
}

func testServiceKeys(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	key := func(name string, scope devices.Scope) devices.ServiceKey {
		id, at := f.id("key_")
		return devices.ServiceKey{
			ID:        id,
			Name:      name,
			Scope:     scope,
			Hash:      token.New(devices.ServiceKeyPrefix).Hash(),
			CreatedBy: "mgr_x",
			CreatedAt: at,
		}
	}
	k := key("wms", devices.ScopeIntrospect)
	ev := f.event("service_key.create", devices.ServiceKeyActor(k.ID), "")
	wantErr(t, "CreateServiceKey()", f.s.CreateServiceKey(ctx, k, ev), nil)
	got, err := f.s.ServiceKey(ctx, k.ID)
	wantErr(t, "ServiceKey(id)", err, nil)
	same(t, "ServiceKey(id)", got, k)
	got, err = f.s.ServiceKeyByHash(ctx, k.Hash)
	wantErr(t, "ServiceKeyByHash()", err, nil)
	same(t, "ServiceKeyByHash()", got, k)
	wantIDs(t, "Events(subject key)", f.events(devices.ServiceKeyActor(k.ID)), ev.ID)

	_, err = f.s.ServiceKey(ctx, "key_missing")
	wantErr(t, "ServiceKey(missing)", err, devices.ErrNotFound)
	_, err = f.s.ServiceKeyByHash(ctx, "00")
	wantErr(t, "ServiceKeyByHash(missing)", err, devices.ErrNotFound)
	wantErr(t, "TouchServiceKey(missing)", f.s.TouchServiceKey(ctx, "key_missing", f.at), devices.ErrNotFound)
	_, err = f.s.UpdateServiceKey(ctx, "key_missing", func(*devices.ServiceKey) (devices.Event, error) {
		t.Errorf("UpdateServiceKey(missing) called fn")
		return devices.Event{}, nil
	})
	wantErr(t, "UpdateServiceKey(missing)", err, devices.ErrNotFound)

	dup := key("dup", devices.ScopeAdmin)
	dup.Hash = k.Hash
	wantErr(t, "CreateServiceKey(hash taken)", f.s.CreateServiceKey(ctx, dup, f.event("service_key.create", devices.ServiceKeyActor(dup.ID), "")), devices.ErrExists)
	if evs := f.events(devices.ServiceKeyActor(dup.ID)); len(evs) != 0 {
		t.Errorf("failed CreateServiceKey appended %v", ids(evs))
	}

	used := f.at.Add(time.Minute)
	wantErr(t, "TouchServiceKey()", f.s.TouchServiceKey(ctx, k.ID, used), nil)
	k.LastUsedAt = &used
	got, _ = f.s.ServiceKey(ctx, k.ID)
	same(t, "ServiceKey() after touch", got, k)

	rev := f.event("service_key.revoke", devices.ServiceKeyActor(k.ID), "")
	want := k
	want.RevokedAt = ptr(f.at)
	want.Name = "wms (old)"
	got, err = f.s.UpdateServiceKey(ctx, k.ID, func(x *devices.ServiceKey) (devices.Event, error) {
		same(t, "UpdateServiceKey fn argument", *x, k)
		x.RevokedAt = want.RevokedAt
		x.Name = want.Name
		return rev, nil
	})
	wantErr(t, "UpdateServiceKey()", err, nil)
	same(t, "UpdateServiceKey()", got, want)
	got, _ = f.s.ServiceKeyByHash(ctx, k.Hash)
	same(t, "ServiceKeyByHash() after update", got, want)
	wantIDs(t, "Events(subject key)", f.events(devices.ServiceKeyActor(k.ID)), rev.ID, ev.ID)

	boom := errors.New("boom")
	_, err = f.s.UpdateServiceKey(ctx, k.ID, func(x *devices.ServiceKey) (devices.Event, error) {
		x.Name = "nope"
		return devices.Event{}, boom
	})
	wantErr(t, "UpdateServiceKey(fn fails)", err, boom)
	got, _ = f.s.ServiceKey(ctx, k.ID)
	same(t, "ServiceKey() after fn failed", got, want)

	all := []string{k.ID}
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		x := key(name, devices.ScopeAdmin)
		wantErr(t, "CreateServiceKey("+name+")", f.s.CreateServiceKey(ctx, x, devices.Event{}), nil)
		all = append(all, x.ID)
	}
	pages(t, "ServiceKeys()", all, func(p devices.Page) ([]devices.ServiceKey, error) {
		return f.s.ServiceKeys(ctx, p)
	})
}
