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
	"sync"
	"syscall"
	"time"

	"github.com/floorgate/floorgate/cmd/internal/latency"
)

// stormResult is what the event files say about the reconnections after
// an instance was killed at kill.
type stormResult struct {
	Dropped   int           // devices up on the killed gateway at the kill
	Back      int           // of those, up again since
	T99, T100 time.Duration // from the kill until 99% and 100% were back (T100 0 if not all)
	Within    int           // of those, back within the within bound of analyzeStorm
	PeakPerS  int           // most welcomes in any one second window after the kill
	Peak100ms int           // most welcomes in any 100 ms bucket after the kill
}

// analyzeStorm reads the reconnections out of the events; within bounds
// the time counted in Within (0: none counted).
func analyzeStorm(evs []event, killed int, kill time.Time, within time.Duration) stormResult {
	slices.SortStableFunc(evs, func(a, b event) int { return a.At.Compare(b.At) })
	where := map[string]int{}
	var dropped []string
	back := map[string]time.Duration{}
	var ups []time.Time
	cut := false
	for _, e := range evs {
		if !cut && !e.At.Before(kill) {
			cut = true
			for d, g := range where {
				if g == killed {
					dropped = append(dropped, d)
				}
			}
		}
		if len(e.Fields) < 1 {
			continue
		}
		switch e.Kind {
		case evUp:
			g := -1
			if len(e.Fields) >= 2 {
				g, _ = strconv.Atoi(e.Fields[1])
			}
			where[e.Fields[0]] = g
			if cut {
				ups = append(ups, e.At)
				if _, ok := back[e.Fields[0]]; !ok {
					back[e.Fields[0]] = e.At.Sub(kill)
				}
			}
		case evDown:
			if !cut {
				where[e.Fields[0]] = -1
			}
		}
	}
	if !cut {
		for d, g := range where {
			if g == killed {
				dropped = append(dropped, d)
			}
		}
	}
	r := stormResult{Dropped: len(dropped)}
	var times []time.Duration
	for _, d := range dropped {
		if t, ok := back[d]; ok {
			times = append(times, t)
		}
	}
	slices.Sort(times)
	r.Back = len(times)
	for _, t := range times {
		if t <= within {
			r.Within++
		}
	}
	if r.Dropped > 0 {
		need99 := (r.Dropped*99 + 99) / 100
		if len(times) >= need99 {
			r.T99 = times[need99-1]
		}
		if len(times) == r.Dropped {
			r.T100 = times[len(times)-1]
		}
	}
	buckets := map[int64]int{}
	for _, t := range ups {
		buckets[t.Sub(kill).Milliseconds()/100]++
	}
	for b, n := range buckets {
		r.Peak100ms = max(r.Peak100ms, n)
		w := 0
		for k := b; k < b+10; k++ {
			w += buckets[k]
		}
		r.PeakPerS = max(r.PeakPerS, w)
	}
	return r
}

// runStorm kills one gateway instance (a process this harness started)
// while hold processes keep sockets on three, forces logouts meanwhile,
// and measures how fast the dropped devices come back and whether every
// logout reached its device.
func runStorm(ctx context.Context, cm *common, fs *flag.FlagSet, args []string, out io.Writer) error {
	dir := fs.String("events-dir", "bench-events", "directory of the hold processes' event files")
	devicesFile := fs.String("devices-file", "bench-devices.json", "devices written by the setup mode")
	gateways := fs.String("gateways", "", "the hold processes' gateway list, comma-separated")
	killIdx := fs.Int("kill-index", 2, "index in -gateways of the instance to kill")
	killPID := fs.Int("kill-pid", 0, "process id of that instance (SIGKILL)")
	logouts := fs.Int("logouts", 200, "sessions signed in before the kill and logged out right after it")
	spread := fs.Duration("logout-spread", 3*time.Second, "time over which those logouts are issued")
	pin := fs.String("pin", benchPIN, "PIN of the users")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for everything to come back (bounded)")
	within := fs.Duration("within", 30*time.Second, "the devices back within this long after the kill are counted apart (back_within)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	gws := splitList(*gateways)
	if len(gws) < 2 || *killIdx < 0 || *killIdx >= len(gws) || *killPID <= 0 {
		return errors.New("storm needs -gateways (at least 2), -kill-index within it and -kill-pid")
	}
	alive := gws[(*killIdx+1)%len(gws)]
	c := newClient(alive, cm.admin, 16)
	ctx, cancel := context.WithTimeout(ctx, *wait+10*time.Minute)
	defer cancel()
	a, err := adminLogin(ctx, c, cm.adminEmail, cm.adminPassword)
	if err != nil {
		return err
	}
	devs, err := readLoadDevices(*devicesFile)
	if err != nil {
		return err
	}
	evs, err := readEvents(*dir)
	if err != nil {
		return err
	}
	v := viewOf(evs)
	// Half the logouts go to devices on the instance about to die, half
	// to the others.
	var onKilled, others []loadDevice
	for _, d := range devs {
		switch g, ok := v.gateway[d.DeviceID]; {
		case !ok || g < 0:
		case g == *killIdx:
			onKilled = append(onKilled, d)
		default:
			others = append(others, d)
		}
	}
	var targets []loadDevice
	for i := 0; len(targets) < *logouts && (i < len(onKilled) || i < len(others)); i++ {
		if i < len(onKilled) {
			targets = append(targets, onKilled[i])
		}
		if i < len(others) && len(targets) < *logouts {
			targets = append(targets, others[i])
		}
	}
	sessionOf := map[string]string{}
	var mu sync.Mutex
	if err := parallel(ctx, len(targets), 4, func(i int) error {
		d := targets[i]
		res, err := c.Login(ctx, d.DeviceToken, d.Username, *pin)
		if err != nil {
			return err
		}
		var li LoggedIn
		if err := res.decode(http.StatusOK, &li); err != nil {
			return fmt.Errorf("login %s: %w", d.Username, err)
		}
		mu.Lock()
		sessionOf[d.DeviceID] = li.SessionID
		mu.Unlock()
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "storm: %d devices on gateway %d (%s), %d elsewhere; %d sessions to log out during the storm\n",
		len(onKilled), *killIdx, gws[*killIdx], len(others), len(targets))

	kill := time.Now()
	if err := syscall.Kill(*killPID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %d: %w", *killPID, err)
	}
	// A supervisor (run.sh cluster) waits for this line to restart the
	// instance.
	fmt.Fprintf(out, "storm: killed pid %d at %s\n", *killPID, kill.UTC().Format(time.RFC3339Nano))
	issued := map[string]time.Time{}
	gap := *spread / time.Duration(max(1, len(targets)))
	var callErrs, retried int
	for _, d := range targets {
		s := sessionOf[d.DeviceID]
		// An answer 503 (a store did not answer in time: nothing was
		// done) is tried again, as an admin would, a few times; the
		// latency counts from the call that was answered 200.
		var t0 time.Time
		var err error
		for try := 1; ; try++ {
			t0 = time.Now()
			err = a.do(ctx, http.MethodDelete, "/sessions/"+s, nil, http.StatusOK, nil)
			var p *Problem
			if err == nil || try == 5 || !errors.As(err, &p) || p.Status != http.StatusServiceUnavailable {
				break
			}
			retried++
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		if err != nil {
			callErrs++
			fmt.Fprintf(out, "storm: logout %s: %v\n", s, err)
			continue
		}
		issued[s] = t0
		time.Sleep(gap)
	}
	// Wait for the dropped devices to return and the logouts to arrive.
	deadline := time.Now().Add(*wait)
	var r stormResult
	for {
		evs, err := readEvents(*dir)
		if err != nil {
			return err
		}
		r = analyzeStorm(evs, *killIdx, kill, *within)
		if (r.Back == r.Dropped && len(deliveries(evs, kill)) >= len(issued)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	lat, missing, err := awaitDeliveries(ctx, *dir, issued, kill, time.Second)
	if err != nil {
		return err
	}
	t100 := "never"
	if r.T100 > 0 {
		t100 = latency.MS(r.T100)
	}
	share := 0.0
	if r.Dropped > 0 {
		share = 100 * float64(r.Within) / float64(r.Dropped)
	}
	fmt.Fprintf(out, "RESULT storm dropped=%d back=%d back_within_%s=%d (%.2f%%) t99=%s t100=%s peak_accepts_1s=%d peak_accepts_100ms=%d\n",
		r.Dropped, r.Back, *within, r.Within, share, latency.MS(r.T99), t100, r.PeakPerS, r.Peak100ms)
	fmt.Fprintf(out, "RESULT storm-logouts issued=%d call_errors=%d retried_503=%d delivered=%d undelivered=%d %s\n",
		len(issued), callErrs, retried, len(lat), len(missing), latency.Summary(lat))
	return nil
}
