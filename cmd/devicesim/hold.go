package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// holdConfig are the flags of the hold mode: hold a slice of the enrolled
// devices' sockets, spread over several gateways, reconnecting with full
// jitter to the next gateway of the list when a socket drops.
type holdConfig struct {
	devicesFile  string
	from, count  int
	gateways     string
	source       string
	events       string
	login        bool
	pin          string
	bare         bool
	duration     time.Duration
	readyTimeout time.Duration
	dialSlots    int
	loginSlots   int
}

func (h *holdConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&h.devicesFile, "devices-file", "bench-devices.json", "devices written by the setup mode")
	fs.IntVar(&h.from, "from", 0, "index of the first device held by this process")
	fs.IntVar(&h.count, "count", 0, "devices held by this process (0: all from -from on)")
	fs.StringVar(&h.gateways, "gateways", "", "comma-separated gateway base URLs; device i starts on gateway i mod n and moves to the next on each reconnect (default: -gateway)")
	fs.StringVar(&h.source, "source", "", "loopback source address of this process's sockets, e.g. 127.0.0.11")
	fs.StringVar(&h.events, "events", "", "event file to append to (see the logouts and storm modes)")
	fs.BoolVar(&h.login, "login", false, "sign each device's user in once, when welcome shows no session")
	fs.StringVar(&h.pin, "pin", benchPIN, "PIN of the users")
	fs.BoolVar(&h.bare, "bare", false, "send no device token (a bare websocket server)")
	fs.DurationVar(&h.duration, "duration", 10*time.Minute, "how long to hold (bounded)")
	fs.DurationVar(&h.readyTimeout, "ready-timeout", 5*time.Minute, "print READY with what is up after this long even if not all are")
	fs.IntVar(&h.dialSlots, "dial-concurrency", 256, "dials in flight at once")
	fs.IntVar(&h.loginSlots, "login-concurrency", 8, "logins in flight at once")
}

type holdStats struct {
	up, everUp, sessions, logouts, reconnects, dialErrors, terminal atomic.Int64
}

func runHold(ctx context.Context, cm common, h holdConfig, out io.Writer) error {
	all, err := readLoadDevices(h.devicesFile)
	if err != nil {
		return err
	}
	devs, err := sliceRange(all, h.from, h.count)
	if err != nil {
		return err
	}
	gws := splitList(h.gateways)
	if len(gws) == 0 {
		gws = []string{cm.gateway}
	}
	clients := make([]*Client, len(gws))
	for i, g := range gws {
		clients[i] = newClient(g, cm.admin, h.loginSlots)
	}
	d, err := loadDialer(h.source)
	if err != nil {
		return err
	}
	var log *eventLog
	if h.events != "" {
		if log, err = openEventLog(h.events); err != nil {
			return err
		}
		defer log.Close()
	}
	ctx, cancel := context.WithTimeout(ctx, h.duration)
	defer cancel()

	var st holdStats
	dialSlots := make(chan struct{}, max(1, h.dialSlots))
	loginSlots := make(chan struct{}, max(1, h.loginSlots))
	var ready sync.WaitGroup // each device: first welcome (and login, with -login)
	var wg sync.WaitGroup
	start := time.Now()
	for _, dev := range devs {
		ready.Add(1)
		wg.Go(func() {
			hs := &heldSocket{cfg: &h, dev: dev, gws: gws, clients: clients, dialer: d, log: log, st: &st,
				dialSlots: dialSlots, loginSlots: loginSlots, gw: (dev.Index) % len(gws), ready: ready.Done}
			hs.run(ctx)
		})
	}
	allReady := make(chan struct{})
	go func() { ready.Wait(); close(allReady) }()
	line := func() string {
		return fmt.Sprintf("up=%d ever_up=%d sessions=%d logouts=%d reconnects=%d dial_errors=%d terminal=%d",
			st.up.Load(), st.everUp.Load(), st.sessions.Load(), st.logouts.Load(), st.reconnects.Load(), st.dialErrors.Load(), st.terminal.Load())
	}
	readyT := time.NewTimer(h.readyTimeout)
	defer readyT.Stop()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	announced := false
	for {
		select {
		case <-allReady:
			if !announced {
				announced = true
				fmt.Fprintf(out, "READY devices=%d in %s %s\n", len(devs), time.Since(start).Round(time.Millisecond), line())
			}
			allReady = nil
		case <-readyT.C:
			if !announced {
				announced = true
				fmt.Fprintf(out, "READY-PARTIAL devices=%d in %s %s\n", len(devs), time.Since(start).Round(time.Millisecond), line())
			}
		case <-tick.C:
			fmt.Fprintln(out, time.Now().UTC().Format(time.TimeOnly), "hold", line())
		case <-done:
			fmt.Fprintln(out, "hold done:", line())
			return nil
		}
	}
}

// heldSocket is one device of the hold mode.
type heldSocket struct {
	cfg        *holdConfig
	dev        loadDevice
	gws        []string
	clients    []*Client
	dialer     *websocket.Dialer
	log        *eventLog
	st         *holdStats
	dialSlots  chan struct{}
	loginSlots chan struct{}
	gw         int
	ready      func()
	readyOnce  sync.Once
	loggedIn   atomic.Bool
}

func (hs *heldSocket) markReady() { hs.readyOnce.Do(hs.ready) }

func (hs *heldSocket) run(ctx context.Context) {
	defer hs.markReady()
	token := hs.dev.DeviceToken
	if hs.cfg.bare {
		token = ""
	}
	attempt := 0
	for i := 0; i < 100000 && ctx.Err() == nil; i++ {
		select {
		case hs.dialSlots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		conn, w, err := dialWelcome(ctx, hs.dialer, hs.gws[hs.gw], token, 30*time.Second)
		<-hs.dialSlots
		if err != nil {
			hs.st.dialErrors.Add(1)
			attempt++
			hs.gw = (hs.gw + 1) % len(hs.gws)
			if !sleepCtx(ctx, backoff(attempt)) {
				return
			}
			continue
		}
		attempt = 0
		hs.st.up.Add(1)
		gwIdx := strconv.Itoa(hs.gw)
		hs.log.add(evUp, hs.dev.DeviceID, gwIdx)
		code := hs.serve(ctx, conn, w)
		hs.st.up.Add(-1)
		hs.log.add(evDown, hs.dev.DeviceID, gwIdx)
		conn.Close()
		if code == 4403 || code == 4401 {
			hs.st.terminal.Add(1)
			return
		}
		if ctx.Err() != nil {
			return
		}
		hs.st.reconnects.Add(1)
		hs.gw = (hs.gw + 1) % len(hs.gws)
		if !sleepCtx(ctx, backoff(1)) {
			return
		}
	}
}

// serve reads the socket until it ends and returns the close code.
func (hs *heldSocket) serve(ctx context.Context, conn *websocket.Conn, w welcomeFrame) int {
	if w.Session != nil && w.Session.SessionID != "" {
		hs.loggedIn.Store(true)
		hs.st.sessions.Add(1)
		hs.log.add(evSession, w.Session.SessionID, hs.dev.DeviceID)
	}
	if hs.cfg.login && !hs.loggedIn.Load() {
		go func() {
			hs.signIn(ctx)
			hs.firstUp()
		}()
	} else {
		hs.firstUp()
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var wmu sync.Mutex
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return closeCode(err)
		}
		var f struct {
			Type      string `json:"type"`
			CommandID string `json:"command_id"`
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal(data, &f) != nil || f.Type != "logout" {
			continue
		}
		hs.st.logouts.Add(1)
		hs.log.add(evLogout, f.SessionID, f.CommandID)
		wmu.Lock()
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		conn.WriteJSON(map[string]string{"type": "ack", "command_id": f.CommandID})
		wmu.Unlock()
	}
}

func (hs *heldSocket) firstUp() {
	hs.readyOnce.Do(func() {
		hs.st.everUp.Add(1)
		hs.ready()
	})
}

// signIn signs the device's user in, once; failures are retried a few
// times with backoff.
func (hs *heldSocket) signIn(ctx context.Context) {
	for attempt := 1; attempt <= 5 && ctx.Err() == nil; attempt++ {
		select {
		case hs.loginSlots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		res, err := hs.clients[hs.gw].Login(ctx, hs.dev.DeviceToken, hs.dev.Username, hs.cfg.pin)
		<-hs.loginSlots
		if err == nil && res.Status == http.StatusOK {
			var li LoggedIn
			if json.Unmarshal(res.Body, &li) == nil {
				hs.loggedIn.Store(true)
				hs.st.sessions.Add(1)
				hs.log.add(evSession, li.SessionID, hs.dev.DeviceID)
				return
			}
		}
		if !sleepCtx(ctx, backoff(attempt)) {
			return
		}
	}
}
