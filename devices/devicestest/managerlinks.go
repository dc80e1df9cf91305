package devicestest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
)

// testManagerLinks checks the store's side of invitation and reset
// links: round trips, a new link revoking the live one of its kind,
// revocation, and UseManagerLink writing the link, the manager, the
// other links, the tokens and the events together or nothing.
func testManagerLinks(t *testing.T, h Harness) {
	f := newFixture(t, h)
	m1, m2 := f.manager("links1@example.com"), f.manager("links2@example.com")
	mk := func(managerID, kind string, expires time.Time) devices.ManagerLink {
		t.Helper()
		id, at := f.id("mlk_")
		l := devices.ManagerLink{ID: id, ManagerID: managerID, Kind: kind, CreatedBy: "manager:mgr_x", CreatedAt: at, ExpiresAt: expires,
			Hash: token.New(devices.InvitationTokenPrefix).Hash()}
		if err := f.s.CreateManagerLink(f.ctx, l, f.event("manager."+kind+".issue", devices.ManagerActor(managerID), "")); err != nil {
			t.Fatalf("CreateManagerLink() = %v; want nil", err)
		}
		return l
	}
	read := func(l devices.ManagerLink) devices.ManagerLink {
		t.Helper()
		got, err := f.s.ManagerLinkByHash(f.ctx, l.Hash)
		if err != nil {
			t.Fatalf("ManagerLinkByHash(%s) = %v; want nil", l.ID, err)
		}
		return got
	}
	a := mk(m1.ID, devices.LinkInvitation, t0.Add(48*time.Hour))
	same(t, "ManagerLinkByHash(a)", read(a), a)
	_, err := f.s.ManagerLinkByHash(f.ctx, "0000")
	wantErr(t, "ManagerLinkByHash(missing)", err, devices.ErrNotFound)
	dup := a
	dup.ID = "mlk_dup"
	wantErr(t, "CreateManagerLink(same hash)", f.s.CreateManagerLink(f.ctx, dup, devices.Event{}), devices.ErrExists)
	orphan := a
	orphan.ID, orphan.Hash, orphan.ManagerID = "mlk_orphan", token.New(devices.InvitationTokenPrefix).Hash(), "mgr_missing"
	wantErr(t, "CreateManagerLink(missing manager)", f.s.CreateManagerLink(f.ctx, orphan, devices.Event{}), devices.ErrNotFound)

	// A new invitation revokes the live one; a reset link is another kind.
	r := mk(m1.ID, devices.LinkReset, t0.Add(time.Hour))
	b := mk(m1.ID, devices.LinkInvitation, t0.Add(48*time.Hour))
	gotA := read(a)
	if gotA.RevokedAt == nil || !gotA.RevokedAt.Equal(b.CreatedAt) {
		t.Errorf("a.RevokedAt = %v; want %v (b's creation)", gotA.RevokedAt, b.CreatedAt)
	}
	same(t, "ManagerLinkByHash(r) after b", read(r), r)
	other := mk(m2.ID, devices.LinkInvitation, t0.Add(48*time.Hour))
	ls, err := f.s.ManagerLinks(f.ctx, m1.ID)
	wantErr(t, "ManagerLinks(m1)", err, nil)
	wantIDs(t, "ManagerLinks(m1)", ls, a.ID, r.ID, b.ID)

	// Revoking: the live links of one kind, once.
	_, at := f.id("")
	n, err := f.s.RevokeManagerLinks(f.ctx, m1.ID, devices.LinkReset, at, f.event("manager.reset.revoke", devices.ManagerActor(m1.ID), ""))
	if err != nil || n != 1 {
		t.Errorf("RevokeManagerLinks(m1, reset) = %d, %v; want 1, nil", n, err)
	}
	n, err = f.s.RevokeManagerLinks(f.ctx, m1.ID, devices.LinkReset, at, f.event("manager.reset.revoke", devices.ManagerActor(m1.ID), ""))
	if err != nil || n != 0 {
		t.Errorf("RevokeManagerLinks(m1, reset) again = %d, %v; want 0, nil", n, err)
	}
	if got := read(b); got.RevokedAt != nil {
		t.Errorf("revoking resets revoked the invitation b")
	}
	r2 := mk(m1.ID, devices.LinkReset, t0.Add(time.Hour))

	// UseManagerLink: fn's error writes nothing.
	tok := devices.ManagerToken{Hash: token.New(devices.ManagerTokenPrefix).Hash(), ManagerID: m1.ID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	wantErr(t, "CreateManagerToken", f.s.CreateManagerToken(f.ctx, tok), nil)
	errNo := errors.New("no")
	_, _, err = f.s.UseManagerLink(f.ctx, b.Hash, func(l *devices.ManagerLink, m *devices.Manager) ([]devices.Event, error) {
		if l.ID != b.ID || m.ID != m1.ID {
			t.Errorf("fn got link %s of %s; want %s of %s", l.ID, m.ID, b.ID, m1.ID)
		}
		m.PasswordHash = "changed"
		return nil, errNo
	})
	wantErr(t, "UseManagerLink(fn fails)", err, errNo)
	same(t, "ManagerLinkByHash(b) after a failed use", read(b), b)
	if got, _ := f.s.Manager(f.ctx, m1.ID); got.PasswordHash != m1.PasswordHash {
		t.Errorf("a failed use changed the manager")
	}
	_, _, err = f.s.UseManagerLink(f.ctx, "0000", func(*devices.ManagerLink, *devices.Manager) ([]devices.Event, error) {
		t.Error("fn called for a missing link")
		return nil, nil
	})
	wantErr(t, "UseManagerLink(missing)", err, devices.ErrNotFound)

	// A use: the link, the manager, the other live links, the tokens and
	// the events, together.
	_, usedAt := f.id("")
	ev := f.event("manager.invitation.accept", devices.ManagerActor(m1.ID), "")
	gotL, gotM, err := f.s.UseManagerLink(f.ctx, b.Hash, func(l *devices.ManagerLink, m *devices.Manager) ([]devices.Event, error) {
		l.UsedAt = &usedAt
		m.PasswordHash, m.Status, m.UpdatedAt = "$new", devices.ManagerActive, usedAt
		return []devices.Event{ev}, nil
	})
	wantErr(t, "UseManagerLink(b)", err, nil)
	if gotL.UsedAt == nil || !gotL.UsedAt.Equal(usedAt) || gotM.PasswordHash != "$new" || !gotM.UpdatedAt.Equal(usedAt) {
		t.Errorf("UseManagerLink(b) = %+v, %+v; want used at %v with the new hash", gotL, gotM, usedAt)
	}
	if got, _ := f.s.Manager(f.ctx, m1.ID); got.PasswordHash != "$new" {
		t.Errorf("manager after use: hash %q; want $new", got.PasswordHash)
	}
	if got := read(r2); got.RevokedAt == nil || !got.RevokedAt.Equal(usedAt) {
		t.Errorf("the live reset link after a use: revoked %v; want %v", got.RevokedAt, usedAt)
	}
	same(t, "the other manager's link after a use", read(other), other)
	_, err = f.s.ManagerToken(f.ctx, tok.Hash)
	wantErr(t, "ManagerToken after a use", err, devices.ErrNotFound)
	evs, err := f.s.Events(f.ctx, devices.EventFilter{Action: "manager.invitation.accept"})
	if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
		t.Errorf("accept events = %v, %v; want the one", evs, err)
	}

	// Deleting the manager deletes its links.
	wantErr(t, "DeleteManager(m1)", f.s.DeleteManager(f.ctx, m1.ID, f.event("manager.delete", devices.ManagerActor(m1.ID), "")), nil)
	_, err = f.s.ManagerLinkByHash(f.ctx, b.Hash)
	wantErr(t, "ManagerLinkByHash(b) after deleting its manager", err, devices.ErrNotFound)
}

// testRegistryManagerLinks: invitations (created with no password, the
// state the list shows, expiry after 48 hours, a resend killing the old
// link, one use only, a race between two uses) and reset links (for an
// active manager only, ending the manager's tokens).
func testRegistryManagerLinks(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	const pw = "Invited-Horse-7-Battery"
	w := e.warehouse("INV")
	roles := []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: w.ID}}

	_, _, _, err := e.reg.InviteManager(e.ctx, regAdmin, devices.ManagerInput{Email: "x@example.com", FirstName: "X", LastName: "Y", Password: pw, Roles: roles}, 0)
	regWantErr(t, "InviteManager(with a password)", err, devices.ErrInvalid)
	_, _, _, err = e.reg.InviteManager(e.ctx, regAdmin, devices.ManagerInput{Email: "x@example.com", FirstName: "X", LastName: "Y", Roles: roles}, time.Minute)
	regWantErr(t, "InviteManager(ttl too short)", err, devices.ErrInvalid)
	m, l, tok, err := e.reg.InviteManager(e.ctx, regAdmin, devices.ManagerInput{Email: "inv@example.com", FirstName: "In", LastName: "Vited", Roles: roles}, 0)
	regWantErr(t, "InviteManager", err, nil)
	if m.Status != devices.ManagerInvited || m.PasswordHash != "" || !l.ExpiresAt.Equal(regStart.Add(devices.DefaultInvitationTTL)) ||
		m.Invitation == nil || m.Invitation.State != devices.LinkPending {
		t.Fatalf("InviteManager = %+v, %+v; want invited, no password, 48 h", m, l)
	}
	e.wantEvents(devices.ManagerActor(m.ID), "manager.invitation.issue", 1)
	if _, err := e.reg.AuthenticateManager(e.ctx, "inv@example.com", ""); !errors.Is(err, devices.ErrInvalidCredentials) {
		t.Errorf("AuthenticateManager(invited) = %v; want ErrInvalidCredentials", err)
	}
	_, err = e.reg.UpdateManager(e.ctx, regAdmin, m.ID, devices.ManagerPatch{Status: ptrTo(devices.ManagerActive)})
	regWantErr(t, "UpdateManager(invited → active)", err, devices.ErrState)
	_, _, err = e.reg.IssueManagerLink(e.ctx, regAdmin, m.ID, devices.LinkReset, 0)
	regWantErr(t, "IssueManagerLink(reset for an invited manager)", err, devices.ErrState)

	// After 48 hours the invitation is expired, and says so.
	e.clock.Advance(devices.DefaultInvitationTTL)
	got, err := e.reg.Manager(e.ctx, m.ID)
	regWantErr(t, "Manager", err, nil)
	if got.Invitation == nil || got.Invitation.State != devices.LinkExpired {
		t.Errorf("Manager().Invitation = %+v; want expired", got.Invitation)
	}
	_, err = e.reg.UseManagerLink(e.ctx, devices.LinkInvitation, tok, pw, "")
	regWantErr(t, "UseManagerLink(expired)", err, devices.ErrLinkExpired)

	// A resend: a new link, and the old one dead.
	l2, tok2, err := e.reg.IssueManagerLink(e.ctx, regAdmin, m.ID, devices.LinkInvitation, 0)
	regWantErr(t, "IssueManagerLink(resend)", err, nil)
	if l2.ID == l.ID || tok2 == tok {
		t.Fatalf("resend gave the same link")
	}
	_, err = e.reg.UseManagerLink(e.ctx, devices.LinkInvitation, tok, pw, "")
	regWantErr(t, "UseManagerLink(old link after resend)", err, devices.ErrLinkInvalid)
	// Bad input changes nothing: a weak password, a token of the other kind.
	_, err = e.reg.UseManagerLink(e.ctx, devices.LinkInvitation, tok2, "short", "")
	var pe *devices.PolicyError
	if !errors.As(err, &pe) {
		t.Errorf("UseManagerLink(weak) = %v; want a *PolicyError", err)
	}
	_, err = e.reg.UseManagerLink(e.ctx, devices.LinkReset, tok2, pw, "")
	regWantErr(t, "UseManagerLink(as a reset)", err, devices.ErrLinkInvalid)

	// Two uses at once: one wins.
	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Go(func() { _, results[i] = e.reg.UseManagerLink(e.ctx, devices.LinkInvitation, tok2, pw, "") })
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, devices.ErrLinkInvalid):
			t.Errorf("a racing use = %v; want nil or ErrLinkInvalid", err)
		}
	}
	if won != 1 {
		t.Errorf("%d racing uses won; want 1", won)
	}
	active, err := e.reg.AuthenticateManager(e.ctx, "inv@example.com", pw)
	regWantErr(t, "AuthenticateManager(after accepting)", err, nil)
	if active.Status != devices.ManagerActive || active.Invitation != nil {
		t.Errorf("after accepting: %+v; want active", active)
	}
	e.wantEvents(devices.ManagerActor(m.ID), "manager.invitation.accept", 1)
	_, _, err = e.reg.IssueManagerLink(e.ctx, regAdmin, m.ID, devices.LinkInvitation, 0)
	regWantErr(t, "IssueManagerLink(invitation for an active manager)", err, devices.ErrState)

	// A reset link ends the manager's tokens, once.
	mt, _, err := e.reg.IssueManagerToken(e.ctx, m.ID)
	regWantErr(t, "IssueManagerToken", err, nil)
	_, rtok, err := e.reg.IssueManagerLink(e.ctx, regAdmin, m.ID, devices.LinkReset, 0)
	regWantErr(t, "IssueManagerLink(reset)", err, nil)
	const pw2 = "Reset-Horse-8-Battery"
	_, err = e.reg.UseManagerLink(e.ctx, devices.LinkReset, rtok, pw2, "")
	regWantErr(t, "UseManagerLink(reset)", err, nil)
	_, err = e.reg.AuthenticateManagerToken(e.ctx, mt)
	regWantErr(t, "AuthenticateManagerToken after a reset", err, devices.ErrInvalidCredentials)
	_, err = e.reg.AuthenticateManager(e.ctx, "inv@example.com", pw2)
	regWantErr(t, "AuthenticateManager(new password)", err, nil)
	_, err = e.reg.UseManagerLink(e.ctx, devices.LinkReset, rtok, pw, "")
	regWantErr(t, "UseManagerLink(reset twice)", err, devices.ErrLinkInvalid)

	// Forgot password: an unknown email, then a known one once per cooldown.
	if _, _, _, ok, err := e.reg.RequestPasswordReset(e.ctx, "nobody@example.com", "192.0.2.1", time.Minute); ok || err != nil {
		t.Errorf("RequestPasswordReset(unknown) = %v, %v; want false, nil", ok, err)
	}
	if _, _, _, ok, err := e.reg.RequestPasswordReset(e.ctx, "INV@example.com", "192.0.2.1", time.Minute); !ok || err != nil {
		t.Errorf("RequestPasswordReset(known) = %v, %v; want true, nil", ok, err)
	}
	if _, _, _, ok, err := e.reg.RequestPasswordReset(e.ctx, "inv@example.com", "192.0.2.1", time.Minute); ok || err != nil {
		t.Errorf("RequestPasswordReset(known, again at once) = %v, %v; want false, nil", ok, err)
	}
	e.clock.Advance(time.Minute)
	if _, _, _, ok, err := e.reg.RequestPasswordReset(e.ctx, "inv@example.com", "192.0.2.1", time.Minute); !ok || err != nil {
		t.Errorf("RequestPasswordReset(known, after the cooldown) = %v, %v; want true, nil", ok, err)
	}

	// Revoking an invitation.
	m3, _, tok3, err := e.reg.InviteManager(e.ctx, regAdmin, devices.ManagerInput{Email: "inv3@example.com", FirstName: "In", LastName: "Three", Roles: roles}, 0)
	regWantErr(t, "InviteManager(3)", err, nil)
	if n, err := e.reg.RevokeManagerLinks(e.ctx, regAdmin, m3.ID, devices.LinkInvitation); n != 1 || err != nil {
		t.Errorf("RevokeManagerLinks = %d, %v; want 1, nil", n, err)
	}
	_, err = e.reg.UseManagerLink(e.ctx, devices.LinkInvitation, tok3, pw, "")
	regWantErr(t, "UseManagerLink(revoked)", err, devices.ErrLinkInvalid)
	if got, _ := e.reg.Manager(e.ctx, m3.ID); got.Invitation == nil || got.Invitation.State != devices.LinkRevoked {
		t.Errorf("revoked invitation: %+v; want revoked", got.Invitation)
	}
}
