package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fleetConfig are the flags of the fleet mode.
type fleetConfig struct {
	devices     int
	offset      int
	tokens      string
	warehouse   string
	pin         string
	concurrency int
	duration    time.Duration
	relogin     bool
	report      time.Duration
}

func (f *fleetConfig) register(fs *flag.FlagSet) {
	fs.IntVar(&f.devices, "devices", 100, "number of simulated handhelds")
	fs.IntVar(&f.offset, "offset", 0, "index of the first handheld (to split a fleet over several processes)")
	fs.StringVar(&f.tokens, "tokens", "devicesim-tokens.json", "file keeping the device tokens between runs")
	fs.StringVar(&f.warehouse, "warehouse-code", "SIMFLEET", "code of the warehouse the fleet is enrolled to (created if missing)")
	fs.StringVar(&f.pin, "pin", "730591", "PIN of every simulated user")
	fs.IntVar(&f.concurrency, "concurrency", 32, "enrollments and logins in flight at once")
	fs.DurationVar(&f.duration, "duration", time.Minute, "how long to hold the fleet (bounded)")
	fs.BoolVar(&f.relogin, "relogin", true, "sign the user in again after a logout")
	fs.DurationVar(&f.report, "report", 10*time.Second, "interval between progress lines")
}

// enrollment is one line of the tokens file.
type enrollment struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
	WarehouseID string `json:"warehouse_id"`
}

// fleetStats are counters printed while the fleet runs.
type fleetStats struct {
	connected, logins, loginFailures, busy, logouts, acks, reconnects, revoked atomic.Int64
}

func (s *fleetStats) line() string {
	return fmt.Sprintf("sockets=%d logins=%d login_failures=%d busy_retries=%d logouts=%d acks=%d reconnects=%d revoked=%d",
		s.connected.Load(), s.logins.Load(), s.loginFailures.Load(), s.busy.Load(), s.logouts.Load(), s.acks.Load(), s.reconnects.Load(), s.revoked.Load())
}

func runFleet(ctx context.Context, c *Client, cm common, f fleetConfig, out io.Writer) error {
	if f.devices <= 0 || f.devices > 100000 {
		return errors.New("-devices must be between 1 and 100000")
	}
	ctx, cancel := context.WithTimeout(ctx, f.duration+10*time.Minute)
	defer cancel()

	tokens, err := loadTokens(f.tokens)
	if err != nil {
		return err
	}
	a, err := adminLogin(ctx, c, cm.adminEmail, cm.adminPassword)
	if err != nil {
		return err
	}
	whID, err := ensureWarehouse(ctx, a, f.warehouse)
	if err != nil {
		return err
	}
	// Create missing users, then enroll missing devices with an
	// enrollment token, as the setup mode does (enroller).
	var mu sync.Mutex
	start := time.Now()
	err = parallel(ctx, f.devices, f.concurrency, func(i int) error {
		if _, err := a.createUser(ctx, userName(f.warehouse, f.offset+i), f.pin, whID); err != nil && !isConflict(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	serial := func(i int) string { return fmt.Sprintf("FLEET-%s-%06d", f.warehouse, f.offset+i) }
	var missing []int
	for i := 0; i < f.devices; i++ {
		if _, ok := tokens[serial(i)]; !ok {
			missing = append(missing, i)
		}
	}
	en, err := newEnroller(a, c.Gateway, defaultEnrollSource, min(f.concurrency, 32))
	if err != nil {
		return err
	}
	etoks, err := en.tokens(ctx, whID, len(missing))
	if err != nil {
		return err
	}
	err = en.enroll(ctx, len(missing), func(m int) enrollJob {
		return enrollJob{Serial: serial(missing[m]), WarehouseID: whID, Token: etoks[m/maxTokenUses]}
	}, func(m int, e Enrolled) {
		mu.Lock()
		tokens[serial(missing[m])] = enrollment(e)
		mu.Unlock()
	})
	if serr := saveTokens(f.tokens, tokens); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "fleet ready: %d devices in warehouse %s (%s)\n", f.devices, f.warehouse, time.Since(start).Round(time.Millisecond))

	var st fleetStats
	hold, stop := context.WithTimeout(ctx, f.duration)
	defer stop()
	var wg sync.WaitGroup
	loginSlots := make(chan struct{}, f.concurrency)
	for i := 0; i < f.devices; i++ {
		n := f.offset + i
		e := tokens[fmt.Sprintf("FLEET-%s-%06d", f.warehouse, n)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			runDevice(hold, c, e, userName(f.warehouse, n), f.pin, f.relogin, loginSlots, &st)
		}()
	}
	tick := time.NewTicker(f.report)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-tick.C:
			fmt.Fprintln(out, time.Now().UTC().Format(time.TimeOnly), st.line())
		case <-done:
			fmt.Fprintln(out, "fleet done:", st.line())
			return nil
		}
	}
}

// runDevice holds one handheld: socket, sign-in, acknowledgements,
// reconnects with full-jitter backoff, until ctx ends or it is revoked.
func runDevice(ctx context.Context, c *Client, e enrollment, user, pin string, relogin bool, slots chan struct{}, st *fleetStats) {
	attempt := 0
	for ctx.Err() == nil {
		s, _, err := Dial(ctx, c.Gateway, e.DeviceToken, true, nil)
		if err != nil {
			attempt++
			st.reconnects.Add(1)
			if !sleepCtx(ctx, backoff(attempt)) {
				return
			}
			continue
		}
		st.connected.Add(1)
		terminal := holdSocket(ctx, c, s, e, user, pin, relogin, slots, st)
		st.connected.Add(-1)
		s.Close()
		if terminal {
			st.revoked.Add(1)
			return
		}
		if ctx.Err() != nil {
			return
		}
		attempt = 1
		st.reconnects.Add(1)
		if !sleepCtx(ctx, backoff(attempt)) {
			return
		}
	}
}

// holdSocket serves one socket until it ends; it reports whether the end
// is terminal (4403: revoked, re-enroll).
func holdSocket(ctx context.Context, c *Client, s *Socket, e enrollment, user, pin string, relogin bool, slots chan struct{}, st *fleetStats) bool {
	signIn := func() {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-slots }()
		// A busy server answers 429 with Retry-After: like the handheld
		// app, try again after it (with jitter), a few times.
		for try := 1; ; try++ {
			res, err := c.Login(ctx, e.DeviceToken, user, pin)
			if err == nil && res.Status == http.StatusTooManyRequests && try < loginTries {
				st.busy.Add(1)
				if !sleepCtx(ctx, retryAfter(res.Header)) {
					return
				}
				continue
			}
			if err != nil || res.Status != http.StatusOK {
				st.loginFailures.Add(1)
				return
			}
			st.logins.Add(1)
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case f := <-s.Frames():
			switch f.Type {
			case "welcome":
				if len(f.Session) == 0 || string(f.Session) == "null" {
					go signIn()
				}
			case "logout":
				st.logouts.Add(1)
				if s.Ack(f.CommandID) == nil {
					st.acks.Add(1)
				}
				if relogin && f.Reason != "device_revoked" {
					go signIn()
				}
			}
		case <-s.Done():
			var cl *Closed
			return errors.As(s.Err(), &cl) && cl.Code == 4403
		}
	}
}

// backoff is full jitter: a random wait between 0 and min(30s, 100ms·2^n).
// loginTries bounds the sign-in attempts of one handheld answered 429.
const loginTries = 6

// retryAfter is how long to wait after a 429: its Retry-After seconds
// (1 when absent or unreadable, at most 30) plus up to a second of
// jitter, so that a fleet refused at once does not come back at once.
func retryAfter(h http.Header) time.Duration {
	secs, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || secs < 1 {
		secs = 1
	}
	return time.Duration(min(secs, 30))*time.Second + time.Duration(rand.Int64N(int64(time.Second)))
}

func backoff(attempt int) time.Duration {
	ceil := 100 * time.Millisecond << min(attempt, 9)
	if ceil > 30*time.Second {
		ceil = 30 * time.Second
	}
	return time.Duration(rand.Int64N(int64(ceil)) + 1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// parallel runs fn(0..n-1) with at most width at once and returns the
// first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	if width < 1 {
		width = 1
	}
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  atomic.Int64
	)
	for w := 0; w < width; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func ensureWarehouse(ctx context.Context, a *Admin, code string) (string, error) {
	id, err := a.createWarehouse(ctx, "Devicesim "+code, code)
	if err == nil {
		return id, nil
	}
	if !isConflict(err) {
		return "", err
	}
	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Code string `json:"code"`
		} `json:"items"`
		Next string `json:"next_page_token"`
	}
	token := ""
	for {
		if err := a.do(ctx, http.MethodGet, "/warehouses?page_size=500&page_token="+token, nil, 200, &page); err != nil {
			return "", err
		}
		for _, w := range page.Items {
			if w.Code == code {
				return w.ID, nil
			}
		}
		if page.Next == "" {
			return "", fmt.Errorf("warehouse %s exists but is not listed", code)
		}
		token = page.Next
	}
}

func isConflict(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusConflict
}

func userName(warehouse string, n int) string { return fmt.Sprintf("sim.%s.%06d", lower(warehouse), n) }

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func loadTokens(path string) (map[string]enrollment, error) {
	m := map[string]enrollment{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return m, nil
}

func saveTokens(path string, m map[string]enrollment) error {
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
