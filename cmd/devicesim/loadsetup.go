package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchPIN is the PIN of every user the load modes create.
const benchPIN = "730591"

// setupConfig are the flags of the setup mode: warehouses, one mobile
// manager over them, users by CSV import and enrolled devices, written to
// a devices file for the other load modes.
type setupConfig struct {
	devicesFile string
	devices     int
	warehouses  int
	prefix      string
	pin         string
	concurrency int
}

func (s *setupConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&s.devicesFile, "devices-file", "bench-devices.json", "where to write the enrolled devices")
	fs.IntVar(&s.devices, "devices", 1000, "devices (and users) to set up")
	fs.IntVar(&s.warehouses, "warehouses", 3, "warehouses; device i is in warehouse i*warehouses/devices")
	fs.StringVar(&s.prefix, "prefix", "BENCH", "prefix of warehouse codes, serials and usernames")
	fs.StringVar(&s.pin, "pin", benchPIN, "PIN of every user")
	fs.IntVar(&s.concurrency, "concurrency", 8, "enrollments in flight at once")
}

func warehouseCode(prefix string, k int) string { return fmt.Sprintf("%sW%d", prefix, k) }

func runSetup(ctx context.Context, c *Client, cm common, s setupConfig, out io.Writer) error {
	if s.devices < 1 || s.devices > 100000 || s.warehouses < 1 || s.warehouses > s.devices {
		return fmt.Errorf("-devices %d -warehouses %d: want 1 <= warehouses <= devices <= 100000", s.devices, s.warehouses)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	start := time.Now()
	a, err := adminLogin(ctx, c, cm.adminEmail, cm.adminPassword)
	if err != nil {
		return err
	}
	whIDs := make([]string, s.warehouses)
	roles := make([]map[string]string, s.warehouses)
	for k := range whIDs {
		if whIDs[k], err = ensureWarehouse(ctx, a, warehouseCode(s.prefix, k)); err != nil {
			return err
		}
		roles[k] = map[string]string{"role": "mobile_manager", "warehouse_id": whIDs[k]}
	}
	// One manager per worker: the gateway serialises enrollments per
	// manager account (one attempt in flight per subject).
	mgrs, mgrPassword := managerEmails("bench-"+lower(s.prefix), s.concurrency), "Bench-Manager-Pass-1!"
	for _, m := range mgrs {
		if _, err := a.createManager(ctx, m, mgrPassword, roles); err != nil && !isConflict(err) {
			return err
		}
	}
	whOf := func(i int) int { return i * s.warehouses / s.devices }
	username := func(i int) string { return fmt.Sprintf("b.%s.%06d", lower(s.prefix), i) }

	// Users: CSV import, 5,000 rows a request; rows that exist already are
	// reported and skipped (valid_only).
	const chunk = 5000
	for lo := 0; lo < s.devices; lo += chunk {
		var b strings.Builder
		b.WriteString("username,first_name,last_name,pin,warehouse_code,pin_change_required\n")
		for i := lo; i < min(lo+chunk, s.devices); i++ {
			fmt.Fprintf(&b, "%s,Bench,User%d,%s,%s,false\n", username(i), i, s.pin, warehouseCode(s.prefix, whOf(i)))
		}
		res, err := c.call(ctx, http.MethodPost, c.Admin+"/admin/v1/users/import?mode=valid_only", a.token, []byte(b.String()), "text/csv")
		if err != nil {
			return fmt.Errorf("import users: %w", err)
		}
		var rep struct {
			Rows, Valid, Errors, Created int
		}
		if err := res.decode(http.StatusOK, &rep); err != nil {
			return fmt.Errorf("import users %d..: %w", lo, err)
		}
		fmt.Fprintf(out, "import users %d..%d: rows=%d created=%d errors=%d (%s)\n", lo, min(lo+chunk, s.devices)-1, rep.Rows, rep.Created, rep.Errors, time.Since(start).Round(time.Millisecond))
	}

	devs := make([]loadDevice, s.devices)
	var mu sync.Mutex
	done := 0
	enrollStart := time.Now()
	err = parallelW(ctx, s.devices, len(mgrs), func(w, i int) error {
		serial := fmt.Sprintf("%s-D-%06d", s.prefix, i)
		k := whOf(i)
		e, err := enrollRetry(ctx, c, mgrs[w], mgrPassword, whIDs[k], serial)
		if err != nil {
			return err
		}
		devs[i] = loadDevice{Index: i, DeviceID: e.DeviceID, DeviceToken: e.DeviceToken, WarehouseID: whIDs[k],
			WarehouseCode: warehouseCode(s.prefix, k), Username: username(i)}
		mu.Lock()
		done++
		if done%2000 == 0 {
			fmt.Fprintf(out, "enrolled %d/%d (%.0f/s)\n", done, s.devices, rate(done, time.Since(enrollStart)))
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if err := writeLoadDevices(s.devicesFile, devs); err != nil {
		return err
	}
	fmt.Fprintf(out, "setup done: %d devices, %d warehouses, in %s (enroll %.0f/s)\n", s.devices, s.warehouses,
		time.Since(start).Round(time.Millisecond), rate(s.devices, time.Since(enrollStart)))
	return nil
}

func managerEmails(base string, n int) []string {
	out := make([]string, max(1, n))
	for k := range out {
		out[k] = fmt.Sprintf("%s-%d@devicesim.local", base, k)
	}
	return out
}

// enrollRetry enrolls one device, trying again after a 429 (at most 20
// times, full-jitter backoff).
func enrollRetry(ctx context.Context, c *Client, email, password, warehouseID, serial string) (Enrolled, error) {
	var e Enrolled
	for attempt := 1; ; attempt++ {
		res, err := c.Enroll(ctx, email, password, warehouseID, DeviceInfo{Serial: serial, Model: "SIM", OSVersion: "13", AppVersion: "4.2.0", Label: serial})
		if err != nil {
			return e, err
		}
		if res.Status == http.StatusTooManyRequests && attempt < 20 {
			if !sleepCtx(ctx, backoff(attempt)) {
				return e, ctx.Err()
			}
			continue
		}
		if err := res.decode(http.StatusCreated, &e); err != nil {
			return e, fmt.Errorf("enroll %s: %w", serial, err)
		}
		return e, nil
	}
}

// parallelW runs fn(w, i) for i in 0..n-1 on width workers (w is the
// worker's number) and returns the first error.
func parallelW(ctx context.Context, n, width int, fn func(w, i int) error) error {
	width = max(1, width)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  atomic.Int64
	)
	for w := 0; w < width; w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(w, i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
