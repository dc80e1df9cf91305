package devicestest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
)

// testEnrollmentTokens checks the store's side of enrollment tokens:
// round trips, the filters and pages, updates, and EnrollWithToken
// writing the token, the device and the events together or nothing.
func testEnrollmentTokens(t *testing.T, h Harness) {
	f := newFixture(t, h)
	w1, w2 := f.warehouse("E1"), f.warehouse("E2")
	mk := func(wh string, maxUses int, expires time.Time) devices.EnrollmentToken {
		t.Helper()
		id, at := f.id("ent_")
		et := devices.EnrollmentToken{ID: id, WarehouseID: wh, Name: "dock " + id, MaxUses: maxUses, CreatedBy: "manager:mgr_x",
			CreatedAt: at, ExpiresAt: expires, Hash: token.New(devices.EnrollmentTokenPrefix).Hash()}
		if err := f.s.CreateEnrollmentToken(f.ctx, et, f.event("enrollment_token.create", devices.EnrollmentTokenSubject(id), wh)); err != nil {
			t.Fatalf("CreateEnrollmentToken() = %v; want nil", err)
		}
		return et
	}
	a := mk(w1.ID, 1, t0.Add(time.Hour))
	b := mk(w1.ID, 3, t0.Add(-time.Minute)) // expired at t0
	c := mk(w2.ID, 2, t0.Add(time.Hour))
	got, err := f.s.EnrollmentToken(f.ctx, a.ID)
	wantErr(t, "EnrollmentToken(a)", err, nil)
	same(t, "EnrollmentToken(a)", got, a)
	_, err = f.s.EnrollmentToken(f.ctx, "ent_missing")
	wantErr(t, "EnrollmentToken(missing)", err, devices.ErrNotFound)
	dup := a
	dup.ID = "ent_dup"
	wantErr(t, "CreateEnrollmentToken(same hash)", f.s.CreateEnrollmentToken(f.ctx, dup, devices.Event{}), devices.ErrExists)
	bad := a
	bad.ID, bad.Hash, bad.WarehouseID = "ent_orphan", token.New(devices.EnrollmentTokenPrefix).Hash(), "wh_missing"
	wantErr(t, "CreateEnrollmentToken(unknown warehouse)", f.s.CreateEnrollmentToken(f.ctx, bad, devices.Event{}), devices.ErrNotFound)

	list := func(fl devices.EnrollmentTokenFilter) []devices.EnrollmentToken {
		t.Helper()
		ts, err := f.s.EnrollmentTokens(f.ctx, fl)
		if err != nil {
			t.Fatalf("EnrollmentTokens(%+v) = %v", fl, err)
		}
		return ts
	}
	wantIDs(t, "EnrollmentTokens()", list(devices.EnrollmentTokenFilter{}), a.ID, b.ID, c.ID)
	wantIDs(t, "EnrollmentTokens(w1)", list(devices.EnrollmentTokenFilter{WarehouseIDs: []string{w1.ID}}), a.ID, b.ID)
	wantIDs(t, "EnrollmentTokens(none)", list(devices.EnrollmentTokenFilter{WarehouseIDs: []string{}}))
	wantIDs(t, "EnrollmentTokens(active at t0)", list(devices.EnrollmentTokenFilter{ActiveAt: &t0}), a.ID, c.ID)
	pages(t, "EnrollmentTokens", []string{a.ID, b.ID, c.ID}, func(p devices.Page) ([]devices.EnrollmentToken, error) {
		return f.s.EnrollmentTokens(f.ctx, devices.EnrollmentTokenFilter{Page: p})
	})

	// An update that fails writes nothing; one that revokes is kept.
	boom := errors.New("boom")
	_, err = f.s.UpdateEnrollmentToken(f.ctx, c.ID, func(et *devices.EnrollmentToken) (devices.Event, error) {
		et.Uses = 1
		return devices.Event{}, boom
	})
	wantErr(t, "UpdateEnrollmentToken(fn fails)", err, boom)
	at := t0
	rev, err := f.s.UpdateEnrollmentToken(f.ctx, c.ID, func(et *devices.EnrollmentToken) (devices.Event, error) {
		et.RevokedAt = &at
		et.ID = "ent_changed"
		return f.event("enrollment_token.revoke", devices.EnrollmentTokenSubject(c.ID), w2.ID), nil
	})
	wantErr(t, "UpdateEnrollmentToken(revoke)", err, nil)
	if rev.ID != c.ID || rev.Uses != 0 || rev.RevokedAt == nil || !rev.RevokedAt.Equal(t0) {
		t.Errorf("UpdateEnrollmentToken(revoke) = %+v; want c revoked at t0, unused", rev)
	}
	wantIDs(t, "EnrollmentTokens(active after revoke)", list(devices.EnrollmentTokenFilter{ActiveAt: &t0}), a.ID)
	_, err = f.s.UpdateEnrollmentToken(f.ctx, "ent_missing", func(*devices.EnrollmentToken) (devices.Event, error) {
		t.Errorf("fn ran for a missing token")
		return devices.Event{}, nil
	})
	wantErr(t, "UpdateEnrollmentToken(missing)", err, devices.ErrNotFound)

	// EnrollWithToken: fn's error writes nothing.
	d := f.newDevice(w1.ID, "T-1")
	_, _, _, err = f.s.EnrollWithToken(f.ctx, a.Hash, func(et *devices.EnrollmentToken) (devices.Device, []devices.Event, error) {
		et.Uses++
		return d, nil, boom
	})
	wantErr(t, "EnrollWithToken(fn fails)", err, boom)
	if got, _ := f.s.EnrollmentToken(f.ctx, a.ID); got.Uses != 0 {
		t.Errorf("uses after a failed EnrollWithToken = %d; want 0", got.Uses)
	}
	_, err = f.s.Device(f.ctx, d.ID)
	wantErr(t, "Device(after a failed EnrollWithToken)", err, devices.ErrNotFound)
	_, _, _, err = f.s.EnrollWithToken(f.ctx, token.New(devices.EnrollmentTokenPrefix).Hash(), func(*devices.EnrollmentToken) (devices.Device, []devices.Event, error) {
		t.Errorf("fn ran for an unknown hash")
		return d, nil, nil
	})
	wantErr(t, "EnrollWithToken(unknown hash)", err, devices.ErrNotFound)

	// Success: the token, the device (replacing the serial's active
	// registration) and the events, together.
	old := f.device(w1.ID, "T-1")
	ev := f.event("device.enroll", devices.DeviceActor(d.ID), w1.ID)
	used := t0.Add(time.Second)
	et, dev, replaced, err := f.s.EnrollWithToken(f.ctx, a.Hash, func(et *devices.EnrollmentToken) (devices.Device, []devices.Event, error) {
		et.Uses++
		et.LastUsedAt = &used
		return d, []devices.Event{ev}, nil
	})
	wantErr(t, "EnrollWithToken()", err, nil)
	if et.ID != a.ID || et.Uses != 1 || et.LastUsedAt == nil || !et.LastUsedAt.Equal(used) || dev.ID != d.ID {
		t.Errorf("EnrollWithToken() = %+v, device %s; want a used once, device %s", et, dev.ID, d.ID)
	}
	if replaced == nil || replaced.ID != old.ID || replaced.Status != devices.DeviceRevoked {
		t.Errorf("EnrollWithToken() replaced %+v; want %s revoked", replaced, old.ID)
	}
	got2, err := f.s.Device(f.ctx, d.ID)
	wantErr(t, "Device(enrolled with a token)", err, nil)
	same(t, "Device(enrolled with a token)", got2, d)
	if evs := f.events(devices.DeviceActor(d.ID)); len(evs) != 1 || evs[0].ID != ev.ID {
		t.Errorf("events of the device = %v; want %s", ids(evs), ev.ID)
	}

	// The last use of a token, taken by many at once: exactly one wins.
	last := mk(w2.ID, 1, t0.Add(time.Hour))
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	racers := make([]devices.Device, n)
	for i := range racers {
		racers[i] = f.newDevice(w2.ID, "RACE-"+strings.Repeat("x", i+1))
	}
	for _, dv := range racers {
		wg.Go(func() {
			_, _, _, err := f.s.EnrollWithToken(f.ctx, last.Hash, func(et *devices.EnrollmentToken) (devices.Device, []devices.Event, error) {
				if et.Uses >= et.MaxUses {
					return devices.Device{}, nil, errUsedUp
				}
				et.Uses++
				return dv, nil, nil
			})
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, errUsedUp):
				t.Errorf("EnrollWithToken(race) = %v; want nil or used up", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("enrollments with a single-use token raced %d times: %d won; want 1", n, wins)
	}
	if got, _ := f.s.EnrollmentToken(f.ctx, last.ID); got.Uses != 1 {
		t.Errorf("uses after the race = %d; want 1", got.Uses)
	}
}

var errUsedUp = errors.New("used up")

// testRegistryEnrollmentTokens checks the rules: defaults and ranges,
// the uses, the expiry, revocation, the warehouse, the audit, and that
// a refusal spends nothing.
func testRegistryEnrollmentTokens(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w, other := e.warehouse("Z1"), e.warehouse("Z2")
	actor := devices.ManagerActor("mgr_mobile")
	et, tok, err := e.reg.CreateEnrollmentToken(e.ctx, actor, devices.EnrollmentTokenInput{WarehouseID: w.ID})
	if err != nil {
		t.Fatalf("CreateEnrollmentToken(defaults) = %v", err)
	}
	if et.MaxUses != 1 || !et.ExpiresAt.Equal(regStart.Add(time.Hour)) || et.Hash != tok.Hash() || !strings.HasPrefix(tok.Reveal(), "fge_") {
		t.Errorf("CreateEnrollmentToken(defaults) = %+v; want single use for an hour, kept by hash", et)
	}
	if _, ok := devices.ParseEnrollmentToken(" " + tok.Reveal() + "\n"); !ok {
		t.Errorf("ParseEnrollmentToken(the token, padded) = false")
	}
	e.wantEvents(devices.EnrollmentTokenSubject(et.ID), "enrollment_token.create", 1)
	for name, in := range map[string]devices.EnrollmentTokenInput{
		"no warehouse":                 {},
		"unknown warehouse":            {WarehouseID: "wh_missing"},
		"uses 0 is default, -1 is not": {WarehouseID: w.ID, Uses: -1},
		"too many uses":                {WarehouseID: w.ID, Uses: devices.MaxEnrollmentUses + 1},
		"expiry too short":             {WarehouseID: w.ID, ExpiresInS: 59},
		"expiry too long":              {WarehouseID: w.ID, ExpiresInS: 31 * 24 * 3600},
		"name with a line break":       {WarehouseID: w.ID, Name: "a\nb"},
	} {
		_, _, err := e.reg.CreateEnrollmentToken(e.ctx, actor, in)
		regWantErr(t, "CreateEnrollmentToken("+name+")", err, devices.ErrInvalid)
	}

	dev := func(serial string) devices.TokenEnrollment {
		return devices.TokenEnrollment{Device: devices.EnrollInput{Serial: serial, Model: "TC52"}, RemoteAddr: "192.0.2.7"}
	}
	// Bad device input and a wrong warehouse spend nothing.
	_, _, _, _, err = e.reg.EnrollWithToken(e.ctx, tok, devices.TokenEnrollment{Device: devices.EnrollInput{Serial: ""}})
	regWantErr(t, "EnrollWithToken(no serial)", err, devices.ErrInvalid)
	wrong := dev("S-1")
	wrong.WarehouseID = other.ID
	_, _, _, _, err = e.reg.EnrollWithToken(e.ctx, tok, wrong)
	regWantErr(t, "EnrollWithToken(other warehouse)", err, devices.ErrWrongTokenWarehouse)
	if got, _ := e.reg.EnrollmentToken(e.ctx, et.ID); got.Uses != 0 {
		t.Errorf("uses after refusals = %d; want 0", got.Uses)
	}

	used, d, devTok, replaced, err := e.reg.EnrollWithToken(e.ctx, tok, dev("S-1"))
	if err != nil || replaced != nil {
		t.Fatalf("EnrollWithToken() = %v, replaced %v", err, replaced)
	}
	if used.Uses != 1 || used.UsesLeft() != 0 || used.State(regStart) != devices.EnrollmentUsedUp || d.WarehouseID != w.ID || d.EnrolledBy != "mgr_mobile" {
		t.Errorf("EnrollWithToken() = %+v, device %+v; want used up, device in %s enrolled by mgr_mobile", used, d, w.ID)
	}
	if got, err := e.reg.AuthenticateDevice(e.ctx, devTok); err != nil || got.ID != d.ID {
		t.Errorf("AuthenticateDevice(new token) = %s, %v; want %s", got.ID, err, d.ID)
	}
	evs := e.wantEvents(devices.DeviceActor(d.ID), "device.enroll", 1)
	if len(evs) == 1 && (evs[0].Details["enrollment_token_id"] != et.ID || evs[0].Actor != actor) {
		t.Errorf("device.enroll = %+v; want the token's id and its creator", evs[0])
	}
	e.wantEvents(devices.EnrollmentTokenSubject(et.ID), "enrollment_token.use", 1)

	// Past its uses: refused, and nothing enrolled.
	_, _, _, _, err = e.reg.EnrollWithToken(e.ctx, tok, dev("S-2"))
	var tr *devices.TokenRefusal
	if !errors.As(err, &tr) || tr.Reason != devices.EnrollmentUsedUp || !errors.Is(err, devices.ErrInvalidCredentials) {
		t.Errorf("EnrollWithToken(used up) = %v; want a used_up refusal matching ErrInvalidCredentials", err)
	}
	if ds, _ := e.reg.Devices(e.ctx, devices.DeviceFilter{WarehouseIDs: []string{w.ID}}); len(ds) != 1 {
		t.Errorf("devices after a refused use = %d; want 1", len(ds))
	}

	// Expiry, revocation and unknown tokens.
	multi, mtok, err := e.reg.CreateEnrollmentToken(e.ctx, actor, devices.EnrollmentTokenInput{WarehouseID: w.ID, Uses: 5, ExpiresInS: 600})
	if err != nil {
		t.Fatalf("CreateEnrollmentToken(5 uses) = %v", err)
	}
	if _, _, _, replaced, err := e.reg.EnrollWithToken(e.ctx, mtok, dev("S-1")); err != nil || replaced == nil || replaced.ID != d.ID {
		t.Errorf("EnrollWithToken(re-enroll S-1) = %v, replaced %v; want %s replaced", err, replaced, d.ID)
	}
	e.clock.Advance(10 * time.Minute)
	_, _, _, _, err = e.reg.EnrollWithToken(e.ctx, mtok, dev("S-3"))
	if !errors.As(err, &tr) || tr.Reason != devices.EnrollmentExpired {
		t.Errorf("EnrollWithToken(expired) = %v; want an expired refusal", err)
	}
	e.clock.Set(regStart)
	r1, err := e.reg.RevokeEnrollmentToken(e.ctx, regAdmin, multi.ID)
	if err != nil || r1.RevokedAt == nil || r1.UsesLeft() != 0 || r1.State(regStart) != devices.EnrollmentRevoked {
		t.Errorf("RevokeEnrollmentToken() = %+v, %v; want revoked", r1, err)
	}
	if _, err := e.reg.RevokeEnrollmentToken(e.ctx, regAdmin, multi.ID); err != nil {
		t.Errorf("RevokeEnrollmentToken(again) = %v; want nil", err)
	}
	e.wantEvents(devices.EnrollmentTokenSubject(multi.ID), "enrollment_token.revoke", 1)
	_, _, _, _, err = e.reg.EnrollWithToken(e.ctx, mtok, dev("S-4"))
	if !errors.As(err, &tr) || tr.Reason != devices.EnrollmentRevoked {
		t.Errorf("EnrollWithToken(revoked) = %v; want a revoked refusal", err)
	}
	for _, bad := range []devices.Token{"", "fge_short", token.New(devices.EnrollmentTokenPrefix), devices.Token("fgd_" + strings.TrimPrefix(tok.Reveal(), "fge_"))} {
		_, _, _, _, err := e.reg.EnrollWithToken(e.ctx, bad, dev("S-5"))
		if !errors.As(err, &tr) || tr.Reason != "unknown" {
			t.Errorf("EnrollWithToken(bad token) = %v; want an unknown refusal", err)
		}
	}
	_, err = e.reg.RevokeEnrollmentToken(e.ctx, regAdmin, "ent_missing")
	regWantErr(t, "RevokeEnrollmentToken(missing)", err, devices.ErrNotFound)
}
