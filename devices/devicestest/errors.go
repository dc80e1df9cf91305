package devicestest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// sentinels are the errors a Store may return (wrapped).
var sentinels = []error{devices.ErrNotFound, devices.ErrExists, devices.ErrInvalid, devices.ErrUnavailable}

// testErrorContract checks that every error of a Store is one of the
// package's sentinels or ErrUnavailable, so that callers fail closed on
// one sentinel and map the rest in one place: against a store whose
// connection to its database is gone (closed) every method is
// ErrUnavailable, and with a context that has ended every error is a
// sentinel. An update function is never called.
func testErrorContract(t *testing.T, h Harness) {
	t.Run("Closed", func(t *testing.T) {
		s := h.Open(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for name, err := range calls(t, ctx, s) {
			if !errors.Is(err, devices.ErrUnavailable) {
				t.Errorf("%s on a closed store = %v; want ErrUnavailable", name, err)
			}
		}
	})
	t.Run("ContextEnded", func(t *testing.T) {
		s := h.Open(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for name, err := range calls(t, ctx, s) {
			ok := err == nil
			for _, sentinel := range sentinels {
				ok = ok || errors.Is(err, sentinel)
			}
			if !ok {
				t.Errorf("%s with an ended context = %v; want nil or a sentinel", name, err)
			}
		}
	})
}

// calls runs every method of s but Close and returns each one's error.
func calls(t *testing.T, ctx context.Context, s devices.Store) map[string]error {
	now := time.Now()
	ev := devices.Event{ID: "evt_contract", At: now, Actor: devices.ActorSystem, Action: "contract", Subject: "system"}
	noUpdate := func(string) {
		t.Helper()
		t.Errorf("an update function ran on a closed store")
	}
	errs := map[string]error{}
	errs["Ping"] = s.Ping(ctx)
	_, errs["Settings"] = s.Settings(ctx)
	_, errs["UpdateSettings"] = s.UpdateSettings(ctx, func(*devices.Settings) (devices.Event, error) { noUpdate("settings"); return ev, nil })
	errs["CreateWarehouse"] = s.CreateWarehouse(ctx, devices.Warehouse{ID: "wh_c", Name: "C", Code: "C", CreatedAt: now, UpdatedAt: now}, ev)
	_, errs["UpdateWarehouse"] = s.UpdateWarehouse(ctx, "wh_c", func(*devices.Warehouse) (devices.Event, error) { noUpdate("warehouse"); return ev, nil })
	_, errs["Warehouse"] = s.Warehouse(ctx, "wh_c")
	_, errs["WarehouseByCode"] = s.WarehouseByCode(ctx, "C")
	_, errs["Warehouses"] = s.Warehouses(ctx, devices.WarehouseFilter{})
	errs["CreateManager"] = s.CreateManager(ctx, devices.Manager{ID: "mgr_c", Email: "c@example.com", CreatedAt: now, UpdatedAt: now}, ev)
	_, errs["UpdateManager"] = s.UpdateManager(ctx, "mgr_c", func(*devices.Manager) (devices.Event, error) { noUpdate("manager"); return ev, nil })
	errs["DeleteManager"] = s.DeleteManager(ctx, "mgr_c", ev)
	_, errs["Manager"] = s.Manager(ctx, "mgr_c")
	_, errs["ManagerByEmail"] = s.ManagerByEmail(ctx, "c@example.com")
	_, errs["Managers"] = s.Managers(ctx, devices.ManagerFilter{})
	errs["CreateUsers"] = s.CreateUsers(ctx, []devices.User{{ID: "usr_c", Username: "c", UsernameKey: "c", WarehouseID: "wh_c", CreatedAt: now, UpdatedAt: now}}, []devices.Event{ev})
	_, errs["UpdateUser"] = s.UpdateUser(ctx, "usr_c", func(*devices.User) (devices.Event, error) { noUpdate("user"); return ev, nil })
	_, errs["User"] = s.User(ctx, "usr_c")
	_, errs["UserByUsername"] = s.UserByUsername(ctx, "c")
	_, errs["UserByEmployeeID"] = s.UserByEmployeeID(ctx, "E-1")
	_, errs["UsersHolding"] = s.UsersHolding(ctx, []string{"c"}, []string{"E-1"})
	_, errs["Users"] = s.Users(ctx, devices.UserFilter{})
	_, errs["PurgeUsers"] = s.PurgeUsers(ctx, now, func(devices.User) devices.Event { return ev })
	_, errs["EnrollDevice"] = s.EnrollDevice(ctx, devices.Device{ID: "dev_c", WarehouseID: "wh_c", Serial: "S"}, ev)
	_, errs["UpdateDevice"] = s.UpdateDevice(ctx, "dev_c", func(*devices.Device) (devices.Event, error) { noUpdate("device"); return ev, nil })
	_, errs["Device"] = s.Device(ctx, "dev_c")
	_, errs["DeviceByTokenHash"] = s.DeviceByTokenHash(ctx, "00")
	_, errs["Devices"] = s.Devices(ctx, devices.DeviceFilter{})
	errs["TouchDevices"] = s.TouchDevices(ctx, []devices.DeviceSeen{{DeviceID: "dev_c", At: now}})
	errs["CreateServiceKey"] = s.CreateServiceKey(ctx, devices.ServiceKey{ID: "key_c", Name: "c", Scope: devices.ScopeIntrospect, CreatedAt: now}, ev)
	_, errs["UpdateServiceKey"] = s.UpdateServiceKey(ctx, "key_c", func(*devices.ServiceKey) (devices.Event, error) { noUpdate("service key"); return ev, nil })
	_, errs["ServiceKey"] = s.ServiceKey(ctx, "key_c")
	_, errs["ServiceKeyByHash"] = s.ServiceKeyByHash(ctx, "00")
	_, errs["ServiceKeys"] = s.ServiceKeys(ctx, devices.Page{})
	errs["TouchServiceKey"] = s.TouchServiceKey(ctx, "key_c", now)
	errs["CreateManagerToken"] = s.CreateManagerToken(ctx, devices.ManagerToken{Hash: "00", ManagerID: "mgr_c", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)})
	_, errs["ManagerToken"] = s.ManagerToken(ctx, "00")
	errs["TouchManagerToken"] = s.TouchManagerToken(ctx, "00", now)
	_, errs["ManagerTokensOf"] = s.ManagerTokensOf(ctx, "mgr_c")
	errs["DeleteManagerTokens"] = s.DeleteManagerTokens(ctx, "mgr_c", "")
	errs["DeleteOtherManagerTokens"] = s.DeleteOtherManagerTokens(ctx, "mgr_c", "00")
	errs["CreateEnrollmentToken"] = s.CreateEnrollmentToken(ctx, devices.EnrollmentToken{ID: "ent_c", WarehouseID: "wh_c", MaxUses: 1, CreatedAt: now, ExpiresAt: now, Hash: "00"}, ev)
	_, errs["UpdateEnrollmentToken"] = s.UpdateEnrollmentToken(ctx, "ent_c", func(*devices.EnrollmentToken) (devices.Event, error) { noUpdate("enrollment token"); return ev, nil })
	_, errs["EnrollmentToken"] = s.EnrollmentToken(ctx, "ent_c")
	_, errs["EnrollmentTokens"] = s.EnrollmentTokens(ctx, devices.EnrollmentTokenFilter{})
	noBadge := func(devices.User) (devices.Event, error) { noUpdate("badge"); return ev, nil }
	_, errs["Badge"] = s.Badge(ctx, "usr_c")
	_, errs["UserByBadge"] = s.UserByBadge(ctx, "00")
	_, errs["SetBadge"] = s.SetBadge(ctx, devices.Badge{UserID: "usr_c", Key: "00", SetAt: now, SetBy: "system"}, noBadge)
	errs["RemoveBadge"] = s.RemoveBadge(ctx, "usr_c", noBadge)
	errs["AddBadges"] = s.AddBadges(ctx, []devices.Badge{{UserID: "usr_c", Key: "00", SetAt: now, SetBy: "system"}}, noBadge)
	errs["StartCustody"] = s.StartCustody(ctx, devices.Custody{SessionID: "ses_c", DeviceID: "dev_c", UserID: "usr_c", WarehouseID: "wh_c", Method: devices.MethodPIN, StartedAt: now})
	errs["EndCustody"] = s.EndCustody(ctx, []devices.CustodyEnd{{SessionID: "ses_c", At: now, Reason: "logout"}})
	_, errs["Custody"] = s.Custody(ctx, devices.CustodyFilter{WarehouseIDs: []string{"wh_c"}, OpenAt: &now})
	_, errs["PurgeCustody"] = s.PurgeCustody(ctx, now)
	_, _, _, errs["EnrollWithToken"] = s.EnrollWithToken(ctx, "00", func(*devices.EnrollmentToken) (devices.Device, []devices.Event, error) {
		noUpdate("enrollment token")
		return devices.Device{}, nil, nil
	})
	errs["CreateManagerLink"] = s.CreateManagerLink(ctx, devices.ManagerLink{ID: "mlk_c", ManagerID: "mgr_c", Kind: devices.LinkReset, CreatedAt: now, ExpiresAt: now, Hash: "00"}, ev)
	_, errs["ManagerLinkByHash"] = s.ManagerLinkByHash(ctx, "00")
	_, errs["ManagerLinks"] = s.ManagerLinks(ctx, "mgr_c")
	_, errs["RevokeManagerLinks"] = s.RevokeManagerLinks(ctx, "mgr_c", devices.LinkReset, now, ev)
	_, _, errs["UseManagerLink"] = s.UseManagerLink(ctx, "00", func(*devices.ManagerLink, *devices.Manager) ([]devices.Event, error) {
		noUpdate("manager link")
		return nil, nil
	})
	errs["AppendEvents"] = s.AppendEvents(ctx, ev)
	_, errs["Events"] = s.Events(ctx, devices.EventFilter{})
	_, errs["SealAudit"] = s.SealAudit(ctx, 10)
	_, errs["AuditHead"] = s.AuditHead(ctx)
	_, errs["AuditChain"] = s.AuditChain(ctx, 0, 10)
	return errs
}
