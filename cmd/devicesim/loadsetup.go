package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchPIN is the PIN of every user the load modes create.
const benchPIN = "730591"

// defaultEnrollSource is the first source address of the enrolling
// workers: apart from the hold processes' 127.0.0.11, .12, …
var defaultEnrollSource = netip.MustParseAddr("127.0.3.1")

// setupConfig are the flags of the setup mode: warehouses, users by CSV
// import and devices enrolled with enrollment tokens, written to a
// devices file for the other load modes.
type setupConfig struct {
	devicesFile string
	devices     int
	warehouses  int
	prefix      string
	pin         string
	concurrency int
	source      netip.Addr
}

func (s *setupConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&s.devicesFile, "devices-file", "bench-devices.json", "where to write the enrolled devices")
	fs.IntVar(&s.devices, "devices", 1000, "devices (and users) to set up")
	fs.IntVar(&s.warehouses, "warehouses", 3, "warehouses; device i is in warehouse i*warehouses/devices")
	fs.StringVar(&s.prefix, "prefix", "BENCH", "prefix of warehouse codes, serials and usernames")
	fs.StringVar(&s.pin, "pin", benchPIN, "PIN of every user")
	fs.IntVar(&s.concurrency, "concurrency", 8, "enrollments in flight at once, each from its own loopback address")
	s.source = defaultEnrollSource
	fs.TextVar(&s.source, "source", defaultEnrollSource, "loopback source address of the first enrolling worker; worker w sends from this address + w")
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
	whOf := func(i int) int { return i * s.warehouses / s.devices }
	username := func(i int) string { return fmt.Sprintf("b.%s.%06d", lower(s.prefix), i) }

	// Users: CSV import, 1,000 rows a request (one statement each, which
	// must finish within the registry's 500 ms deadline on a loaded
	// machine: 5,000 did not); rows that exist already are reported and
	// skipped (valid_only).
	const chunk = 1000
	for lo := 0; lo < s.devices; lo += chunk {
		var b strings.Builder
		b.WriteString("username,first_name,last_name,pin,warehouse_code,pin_change_required\n")
		for i := lo; i < min(lo+chunk, s.devices); i++ {
			fmt.Fprintf(&b, "%s,Bench,User%d,%s,%s,false\n", username(i), i, s.pin, warehouseCode(s.prefix, whOf(i)))
		}
		var rep struct {
			Rows, Valid, Errors, Created int
		}
		// 503 (a store did not answer in time, as on a loaded machine) is
		// tried again a few times: rows an earlier try created are
		// skipped (valid_only).
		for try := 1; ; try++ {
			res, err := c.call(ctx, http.MethodPost, c.Admin+"/admin/v1/users/import?mode=valid_only", a.token, []byte(b.String()), "text/csv")
			if err != nil {
				return fmt.Errorf("import users: %w", err)
			}
			if res.Status == http.StatusServiceUnavailable && try < 10 {
				fmt.Fprintf(out, "import users %d..: 503, trying again\n", lo)
				time.Sleep(time.Duration(try) * 2 * time.Second)
				continue
			}
			if err := res.decode(http.StatusOK, &rep); err != nil {
				return fmt.Errorf("import users %d..: %w", lo, err)
			}
			break
		}
		fmt.Fprintf(out, "import users %d..%d: rows=%d created=%d errors=%d (%s)\n", lo, min(lo+chunk, s.devices)-1, rep.Rows, rep.Created, rep.Errors, time.Since(start).Round(time.Millisecond))
	}

	// Devices: enrollment tokens (one per warehouse and 10,000 uses),
	// each worker from its own loopback address (see enroller).
	en, err := newEnroller(a, c.Gateway, s.source, s.concurrency)
	if err != nil {
		return err
	}
	counts := make([]int, s.warehouses)
	for i := 0; i < s.devices; i++ {
		counts[whOf(i)]++
	}
	tokens := make([][]string, s.warehouses)
	for k := range tokens {
		if tokens[k], err = en.tokens(ctx, whIDs[k], counts[k]); err != nil {
			return err
		}
	}
	firstOf := make([]int, s.warehouses) // index of the warehouse's first device
	for i := s.devices - 1; i >= 0; i-- {
		firstOf[whOf(i)] = i
	}
	devs := make([]loadDevice, s.devices)
	var mu sync.Mutex
	done := 0
	enrollStart := time.Now()
	err = en.enroll(ctx, s.devices, func(i int) enrollJob {
		k := whOf(i)
		return enrollJob{Serial: fmt.Sprintf("%s-D-%06d", s.prefix, i), WarehouseID: whIDs[k], Token: tokens[k][(i-firstOf[k])/maxTokenUses]}
	}, func(i int, e Enrolled) {
		k := whOf(i)
		devs[i] = loadDevice{Index: i, DeviceID: e.DeviceID, DeviceToken: e.DeviceToken, WarehouseID: whIDs[k],
			WarehouseCode: warehouseCode(s.prefix, k), Username: username(i)}
		mu.Lock()
		done++
		if done%2000 == 0 {
			fmt.Fprintf(out, "enrolled %d/%d (%.0f/s)\n", done, s.devices, rate(done, time.Since(enrollStart)))
		}
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	if err := writeLoadDevices(s.devicesFile, devs); err != nil {
		return err
	}
	fmt.Fprintf(out, "setup done: %d devices, %d warehouses, in %s (enroll %.0f/s, %d answers 429 or 503 retried)\n", s.devices, s.warehouses,
		time.Since(start).Round(time.Millisecond), rate(s.devices, time.Since(enrollStart)), en.tooMany)
	return nil
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
