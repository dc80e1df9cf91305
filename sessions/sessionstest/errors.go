package sessionstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// sentinels are the errors a Store may return (wrapped): the contract
// says every error is one of them, so that callers map them in one place
// and fail closed on ErrUnavailable.
var sentinels = []error{sessions.ErrNotFound, sessions.ErrLimit, sessions.ErrInvalid, sessions.ErrUnavailable}

// calls runs every method of the Store but Watch (which returns only its
// context's error) and returns each one's error.
func calls(ctx context.Context, st sessions.Store) map[string]error {
	tok := sessions.NewToken()
	n := sessions.NewSession{UserID: "u-contract", Username: "contract", DeviceID: "d-contract", WarehouseID: "w-contract"}
	errs := map[string]error{}
	_, errs["Create"] = st.Create(ctx, n, defaultPolicy)
	errs["Ping"] = st.Ping(ctx)
	_, errs["Validate"] = st.Validate(ctx, tok)
	_, errs["Session"] = st.Session(ctx, "ses_none")
	_, errs["ByUser"] = st.ByUser(ctx, n.UserID)
	_, errs["ByDevice"] = st.ByDevice(ctx, n.DeviceID)
	_, _, errs["ByWarehouse"] = st.ByWarehouse(ctx, n.WarehouseID, sessions.PageRequest{Limit: 10})
	errs["ClearPINChange"] = st.ClearPINChange(ctx, "ses_none")
	_, errs["End"] = st.End(ctx, "ses_none", sessions.ReasonAdmin)
	_, errs["EndUser"] = st.EndUser(ctx, n.UserID, sessions.ReasonAdmin)
	_, errs["EndDevice"] = st.EndDevice(ctx, n.DeviceID, sessions.ReasonAdmin)
	_, errs["EndWarehouse"] = st.EndWarehouse(ctx, n.WarehouseID, sessions.ReasonAdmin)
	_, errs["Pending"] = st.Pending(ctx, n.DeviceID)
	_, errs["PendingMany"] = st.PendingMany(ctx, []string{n.DeviceID, "d-contract-2"})
	_, errs["Command"] = st.Command(ctx, "cmd_none")
	errs["Delivered"] = st.Delivered(ctx, "cmd_none")
	errs["Ack"] = st.Ack(ctx, n.DeviceID, "cmd_none")
	errs["DeliveredMany"] = st.DeliveredMany(ctx, []string{"cmd_none", "cmd_none2"})
	errs["AckMany"] = st.AckMany(ctx, []sessions.Ack{{DeviceID: n.DeviceID, CommandID: "cmd_none"}})
	errs["MarkOnline"] = st.MarkOnline(ctx, "origin", []string{n.DeviceID}, time.Minute)
	errs["MarkOffline"] = st.MarkOffline(ctx, "origin", []string{n.DeviceID})
	_, errs["Online"] = st.Online(ctx, []string{n.DeviceID})
	errs["Publish"] = st.Publish(ctx, sessions.Event{Kind: callerKind, Origin: "origin", Ref: "contract"})
	_, errs["Announce"] = st.Announce(ctx, sessions.Event{Kind: callerKind, DeviceID: n.DeviceID, Origin: "origin", Ref: "contract"})
	_, errs["Sweep"] = st.Sweep(ctx)
	return errs
}

// isSentinel reports whether err is nil or matches one of the sentinels.
func isSentinel(err error) bool {
	if err == nil {
		return true
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// testErrorContract checks that every error of a Store is one of the
// package's sentinels or ErrUnavailable: against a server that does not
// answer (Harness.Down) every method but Watch is ErrUnavailable; with a
// context that has ended, whatever a method returns is a sentinel; a
// request that breaks the contract is ErrInvalid.
func testErrorContract(t *testing.T, h Harness) {
	t.Run("Down", func(t *testing.T) {
		if h.Down == nil {
			t.Log("in-process backend: no server to lose")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for name, err := range calls(ctx, h.Down(t)) {
			if !errors.Is(err, sessions.ErrUnavailable) {
				t.Errorf("%s on a store whose server is down = %v; want ErrUnavailable", name, err)
			}
		}
	})
	t.Run("ContextEnded", func(t *testing.T) {
		e := newStoreEnv(t, h)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for name, err := range calls(ctx, e.st) {
			if !isSentinel(err) {
				t.Errorf("%s with an ended context = %v; want nil or a sentinel (ErrUnavailable)", name, err)
			}
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		e := newStoreEnv(t, h)
		ctx := context.Background()
		for _, tt := range []struct {
			name string
			n    sessions.NewSession
			p    sessions.Policy
		}{
			{"no user", sessions.NewSession{DeviceID: "d1", WarehouseID: "w1"}, defaultPolicy},
			{"no device", sessions.NewSession{UserID: "u1", WarehouseID: "w1"}, defaultPolicy},
			{"cap 0", sessions.NewSession{UserID: "u1", DeviceID: "d1", WarehouseID: "w1"}, sessions.Policy{Idle: time.Minute, Absolute: time.Hour}},
			{"no lifetime", sessions.NewSession{UserID: "u1", DeviceID: "d1", WarehouseID: "w1"}, sessions.Policy{Cap: 1}},
		} {
			if _, err := e.st.Create(ctx, tt.n, tt.p); !errors.Is(err, sessions.ErrInvalid) {
				t.Errorf("Create(%s) = %v; want ErrInvalid", tt.name, err)
			}
		}
		if err := e.st.Publish(ctx, sessions.Event{Kind: sessions.KindLost}); !errors.Is(err, sessions.ErrInvalid) {
			t.Errorf("Publish(lost) = %v; want ErrInvalid (only Watch makes one)", err)
		}
	})
}
