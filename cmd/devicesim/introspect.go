package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/floorgate/floorgate/cmd/internal/latency"
)

// runIntrospect signs a few users in, then calls POST /v1/introspect from
// -concurrency workers for -duration and prints requests per second.
// With -gateways the workers are spread over several instances (worker
// w calls gateway w mod n), to show how introspection scales out; the
// setup still signs in through -gateway.
func runIntrospect(ctx context.Context, cm *common, fs *flag.FlagSet, args []string, out io.Writer) error {
	devicesFile := fs.String("devices-file", "bench-devices.json", "devices written by the setup mode")
	tokens := fs.Int("sessions", 64, "sessions to sign in and introspect in turn")
	conc := fs.Int("concurrency", 64, "requests in flight at once")
	duration := fs.Duration("duration", 10*time.Second, "how long to run (bounded)")
	pin := fs.String("pin", benchPIN, "PIN of the users")
	bare := fs.Bool("bare", false, "no setup: send made-up keys and tokens (benchbare http-redis)")
	label := fs.String("label", "floorgate", "name printed on the result line")
	gateways := fs.String("gateways", "", "comma-separated gateway base URLs the workers call in turn (default: -gateway)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := newClient(cm.gateway, cm.admin, *conc)
	key, sess := "fgk_bare", make([]string, *tokens)
	for i := range sess {
		sess[i] = fmt.Sprintf("fgs_bare%06d", i)
	}
	if !*bare {
		var err error
		if key, err = introspectSetup(ctx, c, cm, *devicesFile, *pin, sess); err != nil {
			return err
		}
	}
	clients := []*Client{c}
	if gws := splitList(*gateways); len(gws) > 0 {
		clients = clients[:0]
		for _, g := range gws {
			clients = append(clients, newClient(g, cm.admin, (*conc+len(gws)-1)/len(gws)))
		}
	}
	return introspectLoop(ctx, clients, key, sess, *conc, *duration, *label, out)
}

// introspectSetup signs len(sess) users in, filling sess with their
// session tokens, and creates a service key.
func introspectSetup(ctx context.Context, c *Client, cm *common, devicesFile, pin string, sess []string) (string, error) {
	devs, err := readLoadDevices(devicesFile)
	if err != nil {
		return "", err
	}
	if len(devs) < len(sess) {
		return "", fmt.Errorf("%d devices for %d sessions", len(devs), len(sess))
	}
	setup, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	a, err := adminLogin(setup, c, cm.adminEmail, cm.adminPassword)
	if err != nil {
		return "", err
	}
	key, err := a.createServiceKey(setup, "bench-introspect-"+randomSuffix(), "introspect")
	if err != nil {
		return "", err
	}
	if err := parallel(setup, len(sess), 4, func(i int) error {
		res, err := c.Login(setup, devs[i].DeviceToken, devs[i].Username, pin)
		if err != nil {
			return err
		}
		var li LoggedIn
		if err := res.decode(http.StatusOK, &li); err != nil {
			return fmt.Errorf("login %s: %w", devs[i].Username, err)
		}
		sess[i] = li.SessionToken
		return nil
	}); err != nil {
		return "", err
	}
	res, err := c.Introspect(setup, key, sess[0])
	if err != nil {
		return "", err
	}
	var first struct {
		Active bool `json:"active"`
	}
	if err := res.decode(http.StatusOK, &first); err != nil || !first.Active {
		return "", fmt.Errorf("introspect of a fresh session: active=%v err=%v: %.200s", first.Active, err, res.Body)
	}
	return key, nil
}

// introspectLoop calls POST /v1/introspect from conc workers for
// duration, worker w through clients[w mod len(clients)].
func introspectLoop(ctx context.Context, clients []*Client, key string, sess []string, conc int, duration time.Duration, label string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		inactive int
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < conc; w++ {
		c := clients[w%len(clients)]
		wg.Go(func() {
			var mine []time.Duration
			bad, off := 0, 0
			for i := w; i < 100_000_000 && ctx.Err() == nil; i += conc {
				t0 := time.Now()
				res, err := c.Introspect(ctx, key, sess[i%len(sess)])
				if err != nil || res.Status != http.StatusOK {
					if ctx.Err() == nil {
						bad++
					}
					continue
				}
				mine = append(mine, time.Since(t0))
				var r struct {
					Active bool `json:"active"`
				}
				if json.Unmarshal(res.Body, &r) != nil || !r.Active {
					off++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			inactive += off
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Fprintf(out, "RESULT introspect %s instances=%d concurrency=%d requests=%d errors=%d inactive=%d rate=%.0f/s %s\n",
		label, len(clients), conc, len(lat), errs, inactive, rate(len(lat), elapsed), latency.Summary(lat))
	return nil
}
