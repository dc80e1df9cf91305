package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/floorgate/floorgate/cmd/internal/latency"
)

// fleetView is what the event files say about the held devices.
type fleetView struct {
	session map[string]string // device -> latest session
	gateway map[string]int    // device -> gateway index of its latest up (-1: down)
}

func viewOf(evs []event) fleetView {
	v := fleetView{session: map[string]string{}, gateway: map[string]int{}}
	slices.SortStableFunc(evs, func(a, b event) int { return a.At.Compare(b.At) })
	for _, e := range evs {
		switch e.Kind {
		case evSession:
			if len(e.Fields) >= 2 {
				v.session[e.Fields[1]] = e.Fields[0]
			}
		case evUp:
			if len(e.Fields) >= 2 {
				n, _ := strconv.Atoi(e.Fields[1])
				v.gateway[e.Fields[0]] = n
			}
		case evDown:
			if len(e.Fields) >= 1 {
				v.gateway[e.Fields[0]] = -1
			}
		}
	}
	return v
}

// deliveries maps each session's logout frame to when it arrived (the
// first one, at or after since).
func deliveries(evs []event, since time.Time) map[string]time.Time {
	got := map[string]time.Time{}
	for _, e := range evs {
		if e.Kind != evLogout || len(e.Fields) < 1 || e.At.Before(since) {
			continue
		}
		if t, ok := got[e.Fields[0]]; !ok || e.At.Before(t) {
			got[e.Fields[0]] = e.At
		}
	}
	return got
}

// awaitDeliveries rereads the event files until every issued session has
// its logout frame or wait has passed; it returns the latencies and the
// sessions never delivered.
func awaitDeliveries(ctx context.Context, dir string, issued map[string]time.Time, since time.Time, wait time.Duration) ([]time.Duration, []string, error) {
	deadline := time.Now().Add(wait)
	for {
		evs, err := readEvents(dir)
		if err != nil {
			return nil, nil, err
		}
		got := deliveries(evs, since)
		var lat []time.Duration
		var missing []string
		for s, t0 := range issued {
			if t, ok := got[s]; ok {
				lat = append(lat, t.Sub(t0))
			} else {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return lat, missing, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// runLogouts forces logouts through the admin API while hold processes
// keep the devices' sockets, and measures from the admin call to the frame
// on the device: first -single sessions one after another, then every
// session of one warehouse at once.
func runLogouts(ctx context.Context, cm *common, fs *flag.FlagSet, args []string, out io.Writer) error {
	dir := fs.String("events-dir", "bench-events", "directory of the hold processes' event files")
	devicesFile := fs.String("devices-file", "bench-devices.json", "devices written by the setup mode")
	single := fs.Int("single", 1000, "sessions logged out one after another")
	bulk := fs.String("bulk-warehouse-code", "", "warehouse logged out at once (default: the last device's)")
	wait := fs.Duration("wait", time.Minute, "how long to wait for the frames (bounded)")
	warehouse := fs.Bool("warehouse", true, "log the warehouse out at once after the single logouts (false: single logouts only, picked from every warehouse)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := newClient(cm.gateway, cm.admin, 4)
	devs, err := readLoadDevices(*devicesFile)
	if err != nil {
		return err
	}
	if len(devs) == 0 {
		return fmt.Errorf("no devices in %s", *devicesFile)
	}
	if *bulk == "" {
		*bulk = devs[len(devs)-1].WarehouseCode
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute+*wait*2)
	defer cancel()
	a, err := adminLogin(ctx, c, cm.adminEmail, cm.adminPassword)
	if err != nil {
		return err
	}
	evs, err := readEvents(*dir)
	if err != nil {
		return err
	}
	v := viewOf(evs)
	// A session whose device already heard its logout (an earlier
	// logout, or replaced by another login, as the storm mode's) has
	// ended: it is neither picked nor counted.
	ended := deliveries(evs, time.Time{})
	var singles, bulkSessions []string
	bulkID := ""
	for _, d := range devs {
		s, ok := v.session[d.DeviceID]
		if _, gone := ended[s]; !ok || gone || v.gateway[d.DeviceID] < 0 {
			continue
		}
		if *warehouse && d.WarehouseCode == *bulk {
			bulkID = d.WarehouseID
			bulkSessions = append(bulkSessions, s)
		} else {
			singles = append(singles, s)
		}
	}
	// Spread the single logouts over the whole fleet.
	if len(singles) > *single {
		step := float64(len(singles)) / float64(*single)
		picked := make([]string, 0, *single)
		for i := 0; i < *single; i++ {
			picked = append(picked, singles[int(float64(i)*step)])
		}
		singles = picked
	}
	fmt.Fprintf(out, "logouts: %d single sessions, warehouse %s with %d sessions held\n", len(singles), *bulk, len(bulkSessions))

	since := time.Now()
	issued := map[string]time.Time{}
	var calls []time.Duration
	retried := 0
	for _, s := range singles {
		// A 503 (a store did not answer in time: nothing was done) is
		// tried again, as an admin would, a few times; the latency counts
		// from the call answered 200.
		var t0 time.Time
		for try := 1; ; try++ {
			t0 = time.Now()
			err := a.do(ctx, http.MethodDelete, "/sessions/"+s, nil, http.StatusOK, nil)
			if err == nil {
				break
			}
			var p *Problem
			if try == 5 || !errors.As(err, &p) || p.Status != http.StatusServiceUnavailable {
				return err
			}
			retried++
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		calls = append(calls, time.Since(t0))
		issued[s] = t0
	}
	lat, missing, err := awaitDeliveries(ctx, *dir, issued, since, *wait)
	if err != nil {
		return err
	}
	if *single > 0 {
		fmt.Fprintf(out, "RESULT logout-single issued=%d retried_503=%d delivered=%d undelivered=%d %s (admin call %s)\n",
			len(issued), retried, len(lat), len(missing), latency.Summary(lat), latency.Summary(calls))
	}
	for i, s := range missing {
		if i == 10 {
			break
		}
		fmt.Fprintf(out, "  undelivered session %s\n", s)
	}

	if !*warehouse {
		return nil
	}
	if bulkID == "" || len(bulkSessions) == 0 {
		fmt.Fprintf(out, "RESULT logout-warehouse skipped: no held session in warehouse %s\n", *bulk)
		return nil
	}
	issued = map[string]time.Time{}
	since = time.Now()
	t0 := time.Now()
	var ids commandIDs
	if err := a.do(ctx, http.MethodPost, "/warehouses/"+bulkID+"/logout", nil, http.StatusOK, &ids); err != nil {
		return err
	}
	call := time.Since(t0)
	for _, s := range bulkSessions {
		issued[s] = t0
	}
	lat, missing, err = awaitDeliveries(ctx, *dir, issued, since, *wait)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "RESULT logout-warehouse sessions=%d commands=%d delivered=%d undelivered=%d %s (admin call %s)\n",
		len(issued), len(ids.CommandIDs), len(lat), len(missing), latency.Summary(lat), latency.MS(call))
	return nil
}
