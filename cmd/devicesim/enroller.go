package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// maxTokenUses is the most uses one enrollment token may have (the admin
// API refuses more).
const maxTokenUses = 10000

// enroller enrolls many simulated handhelds the way the product enrolls a
// fleet: with enrollment tokens (zero-touch enrollment), no manager's
// password and so no password hash and no per-address password limit.
// Each worker sends from its own loopback source address, as handhelds on
// a floor each have their own: the gateway lets one token attempt per
// client address be in flight at once.
type enroller struct {
	admin   *Admin
	workers []*Client
	// tooMany counts the 429 and 503 answers seen (and retried).
	tooMany int
}

// newEnroller makes width workers for gateway, worker w sending from the
// loopback address first+w.
func newEnroller(a *Admin, gateway string, first netip.Addr, width int) (*enroller, error) {
	if !first.Is4() || !first.IsLoopback() {
		return nil, fmt.Errorf("source address %s: want an IPv4 loopback address (127.x.y.z)", first)
	}
	e := &enroller{admin: a}
	addr := first
	for w := 0; w < max(1, width); w++ {
		if !addr.IsLoopback() {
			return nil, fmt.Errorf("source addresses from %s: %d workers leave 127.0.0.0/8", first, width)
		}
		e.workers = append(e.workers, newClientFrom(gateway, a.c.Admin, 2, addr))
		addr = addr.Next()
	}
	return e, nil
}

// tokens makes enrollment tokens for n enrollments into a warehouse, each
// of at most maxTokenUses uses, valid for an hour.
func (e *enroller) tokens(ctx context.Context, warehouseID string, n int) ([]string, error) {
	var out []string
	for left := n; left > 0; left -= maxTokenUses {
		var t struct {
			Token string `json:"token"`
		}
		err := e.admin.do(ctx, http.MethodPost, "/enrollment-tokens", map[string]any{
			"warehouse_id": warehouseID, "name": "devicesim", "uses": min(left, maxTokenUses), "expires_in_s": 3600,
		}, http.StatusCreated, &t)
		if err != nil {
			return nil, err
		}
		out = append(out, t.Token)
	}
	return out, nil
}

// enrollJob is one enrollment: a serial into the warehouse of a token.
type enrollJob struct {
	Serial      string
	WarehouseID string
	Token       string
}

// enroll runs n jobs on the workers and calls done(i, enrolled) for each
// (from the workers' goroutines). A 429 or 503 is retried (at most 20
// times, full-jitter backoff) and counted.
func (e *enroller) enroll(ctx context.Context, n int, job func(i int) enrollJob, done func(i int, en Enrolled)) error {
	tooMany := make([]int, len(e.workers))
	err := parallelW(ctx, n, len(e.workers), func(w, i int) error {
		j := job(i)
		c := e.workers[w]
		for attempt := 1; ; attempt++ {
			res, err := c.EnrollWithToken(ctx, j.Token, j.WarehouseID, DeviceInfo{Serial: j.Serial, Model: "SIM", OSVersion: "13", AppVersion: "4.2.0", Label: j.Serial})
			if err != nil {
				return fmt.Errorf("enroll %s: %w", j.Serial, err)
			}
			// 503 (a store did not answer in time: nothing was done)
			// is tried again the same way; enrolling a serial again
			// replaces its registration in any case.
			if (res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable) && attempt < 20 {
				tooMany[w]++
				if !sleepCtx(ctx, backoff(attempt)) {
					return ctx.Err()
				}
				continue
			}
			var en Enrolled
			if err := res.decode(http.StatusCreated, &en); err != nil {
				return fmt.Errorf("enroll %s: %w", j.Serial, err)
			}
			done(i, en)
			return nil
		}
	})
	for _, k := range tooMany {
		e.tooMany += k
	}
	return err
}

// newClientFrom is newClient whose connections leave from a given local
// address.
func newClientFrom(gateway, admin string, conns int, source netip.Addr) *Client {
	c := newClient(gateway, admin, conns)
	c.HTTP.Transport.(*http.Transport).DialContext = (&net.Dialer{
		Timeout: 5 * time.Second, KeepAlive: 30 * time.Second,
		LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(source, 0)),
	}).DialContext
	return c
}
