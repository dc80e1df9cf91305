package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

// TestDenyNewDevice: under deny_new a refusal leaves the device's
// previous session (of another user) alone, and a user at the cap who
// signs in again on a device they hold replaces that session instead of
// being refused.
func TestDenyNewDevice(t *testing.T) {
	ctx := context.Background()
	c := testenv.Redis(t)
	now := time.Date(2030, 1, 2, 8, 0, 0, 0, time.UTC)
	st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(t, c), Now: func() time.Time { return now }})
	p := sessions.Policy{Cap: 2, DenyNew: true, Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
	create := func(user, dev string) (sessions.Created, error) {
		return st.Create(ctx, sessions.NewSession{UserID: user, Username: user, DeviceID: dev, WarehouseID: "w1"}, p)
	}
	must := func(user, dev string) sessions.Created {
		t.Helper()
		cr, err := create(user, dev)
		if err != nil {
			t.Fatalf("Create(%s on %s) = %v", user, dev, err)
		}
		return cr
	}
	other := must("u2", "d3")
	must("u1", "d1")
	u1d2 := must("u1", "d2")

	if _, err := create("u1", "d3"); !errors.Is(err, sessions.ErrLimit) {
		t.Fatalf("Create(u1 on d3, at cap) = %v; want ErrLimit", err)
	}
	if _, err := st.Validate(ctx, other.Token); err != nil {
		t.Errorf("Validate(u2 on d3) after the refusal = %v; want nil", err)
	}
	if got, err := st.Pending(ctx, "d3"); err != nil || len(got) != 0 {
		t.Errorf("Pending(d3) after the refusal = %v, %v; want none", got, err)
	}

	again := must("u1", "d2")
	if len(again.Ended) != 1 || again.Ended[0].SessionID != u1d2.Session.ID || again.Ended[0].Reason != sessions.ReasonReplaced {
		t.Errorf("Create(u1 on d2 again).Ended = %+v; want the old d2 session, replaced", again.Ended)
	}
	if got, err := st.ByUser(ctx, "u1"); err != nil || len(got) != 2 {
		t.Errorf("ByUser(u1) = %d sessions, %v; want 2", len(got), err)
	}
}

// TestUnknownIDs: ids and tokens of any shape are not found, never an
// error of the store.
func TestUnknownIDs(t *testing.T) {
	ctx := context.Background()
	c := testenv.Redis(t)
	st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(t, c)})
	for _, id := range []string{"", "x", "ses_", "ses_0000000000000000000000000abc", "cmd_{}x", "ses_a{b}c"} {
		if _, err := st.Session(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Session(%q) = %v; want ErrNotFound", id, err)
		}
		if _, err := st.End(ctx, id, sessions.ReasonAdmin); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("End(%q) = %v; want ErrNotFound", id, err)
		}
		if _, err := st.Command(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Command(%q) = %v; want ErrNotFound", id, err)
		}
		if err := st.Ack(ctx, "d1", id); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Ack(%q) = %v; want ErrNotFound", id, err)
		}
	}
	tok := sessions.NewToken()
	if _, err := st.Validate(ctx, tok); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate(foreign token) = %v; want ErrNotFound", err)
	}
}

// TestUnavailable: a Redis that does not answer is ErrUnavailable.
func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := testenv.DeadRedis(t)
	st := sredis.New(c, sredis.Options{Prefix: "fgtest:dead:"})
	if err := st.Ping(ctx); !errors.Is(err, sessions.ErrUnavailable) {
		t.Errorf("Ping() = %v; want ErrUnavailable", err)
	}
	if _, err := st.Validate(ctx, sessions.NewToken()); !errors.Is(err, sessions.ErrUnavailable) {
		t.Errorf("Validate() = %v; want ErrUnavailable", err)
	}
	_, err := st.Create(ctx, sessions.NewSession{UserID: "u1", DeviceID: "d1", WarehouseID: "w1"}, benchPolicy)
	if !errors.Is(err, sessions.ErrUnavailable) {
		t.Errorf("Create() = %v; want ErrUnavailable", err)
	}
}
