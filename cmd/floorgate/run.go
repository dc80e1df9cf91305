package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/admin/console"
	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/gateway"
	"github.com/floorgate/floorgate/housekeeping"
	"github.com/floorgate/floorgate/internal/mail"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// run is the whole program: it reads the flags in args (defaulting from
// getenv), starts Floorgate, and serves until ctx ends, then stops
// gracefully. The one-time admin sign-in goes to stdout; logs go to
// stderr as JSON.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "admin" {
		return adminCommand(ctx, args, getenv, stdout, stderr)
	}
	if len(args) > 1 && args[1] == "audit" {
		return auditCommand(ctx, args, getenv, stdout, stderr)
	}
	if len(args) > 1 && (args[1] == "version" || args[1] == "-version" || args[1] == "--version") {
		return versionCommand(stdout)
	}
	return serve(ctx, args, getenv, stdout, stderr, nil)
}

// Addrs are the addresses the two listeners are bound to.
type Addrs struct {
	Gateway string // host:port of the device API
	Admin   string // host:port of the admin API
	Pprof   string // host:port of net/http/pprof; "" when -pprof-addr is empty
}

// serve is run with one more argument: listening, when not nil, is called
// once both listeners are bound and everything is started, so that a
// test can run Floorgate on port 0 and learn the ports.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, listening func(Addrs)) (err error) {
	c, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel})).
		With("instance_id", c.InstanceID)
	routeLibraryLogs(log)

	// Everything opened is closed on the way out, last opened first.
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	guards := newStoreGuards(c.StoreTimeout, log)
	regStore, err := openRegistryStore(ctx, c, guards, log)
	if err != nil {
		return err
	}
	closers = append(closers, func() {
		if err := regStore.Close(); err != nil {
			log.Warn("close registry", "err", err)
		}
	})
	pepper, err := loadPepper(ctx, c, regStore, log)
	if err != nil {
		return err
	}
	reg, err := devices.NewRegistry(regStore, devices.Options{
		Pepper: pepper,
		Now:    time.Now,
		Hash:   devices.HashParams{MemoryKiB: c.HashMemoryKiB, Time: c.HashTime, Threads: 1},
		Logger: log,
	})
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}

	sess, err := openSessions(ctx, c, guards, log)
	if err != nil {
		return err
	}
	closers = append(closers, func() {
		if err := sess.close(); err != nil {
			log.Warn("close sessions", "err", err)
		}
	})

	firstAdmin, created, generated, err := reg.EnsureAdmin(ctx, c.AdminEmail, c.AdminPassword)
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	if created {
		log.Info("created the first admin", "manager_id", firstAdmin.ID, "generated_password", generated != "")
	}

	fileLimit, err := raiseFileLimit()
	if err != nil {
		log.Warn("open-files limit unknown: caps sized for 20,000 files", "err", err)
	}
	caps, err := c.Limits.size(fileLimit, c.ClientIPHeader != "")
	if err != nil {
		return err
	}
	for _, w := range caps.warnings {
		log.Warn("limits: " + w)
	}
	log.Info("limits", "open_files", caps.FileLimit, "conns", caps.Conns, "conns_per_addr", caps.ConnsPerAddr,
		"websockets", caps.Sockets, "websockets_per_addr", caps.SocketsPerAddr,
		"admin_conns", caps.AdminConns, "admin_conns_per_addr", caps.AdminConnsPerAddr)

	metrics := newMetricsRegistry()
	if err := guards.register(metrics); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	// One sign-in policy for both listeners: one throttle, one set of
	// in-flight claims, one hashing pool.
	pool := signin.NewPoolShares(0, 0, signin.Shares{Enroll: c.Limits.EnrollHashShare, Manager: c.Limits.AdminHashShare})
	addrRate := signin.AddressRate{Burst: c.Limits.SignInBurst, PerMinute: c.Limits.SignInPerMinute}
	signIn, err := signin.New(signin.Config{
		Registry:    reg,
		Sessions:    sess.Store,
		Throttle:    sess.Throttle,
		Logger:      log.With("component", "signin"),
		Metrics:     metrics,
		Pool:        pool,
		AddressRate: addrRate,
	})
	if err != nil {
		return fmt.Errorf("signin: %w", err)
	}
	shares := pool.Shares()
	log.Info("sign-in limits", "signin_burst", addrRate.Burst, "signin_per_minute", addrRate.PerMinute,
		"enroll_hash_share", shares.Enroll, "admin_hash_share", shares.Manager)
	// The console's live pages hear the fan-out through the gateway's
	// one watcher (teeWatch), not a second subscription.
	feed := console.NewFeed()
	tee := &teeWatch{Store: sess.Store, also: feed.Publish}
	gw, err := gateway.New(gateway.Config{
		Registry:       reg,
		Sessions:       tee,
		SignIn:         signIn,
		Logger:         log.With("component", "gateway"),
		Now:            time.Now,
		AllowedOrigins: c.AllowedOrigins,
		InstanceID:     c.InstanceID,
		Metrics:        metrics,
		ClientIP:       clientIP(c.ClientIPHeader),
		// -introspect-cache 0 is no cache (gateway.Config: negative).
		IntrospectCache: cmp.Or(c.IntrospectCache, -1),
		// -device-token-cache 0 is no cache (gateway.Config: negative).
		DeviceTokenTTL: cmp.Or(c.DeviceTokenCache, -1),

		MessageRate:       caps.MessageRate,
		MessageBurst:      caps.MessageBurst,
		MaxSockets:        caps.Sockets,
		MaxSocketsPerAddr: caps.SocketsPerAddr,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	// Mail, when -smtp-url is set: invitation and reset links go by mail.
	var mailer admin.Mailer
	if c.SMTP != nil {
		mc, err := mail.New(*c.SMTP, c.SMTPFrom, mail.Options{})
		if err != nil {
			return fmt.Errorf("mail: %w", err)
		}
		mailer = mc
		log.Info("mail", "smtp", c.SMTP.String())
	}
	adm, err := admin.New(admin.Config{
		Registry:  reg,
		Sessions:  sess.Store,
		SignIn:    signIn,
		Logger:    log.With("component", "admin"),
		Now:       time.Now,
		Metrics:   metrics,
		ClientIP:  clientIP(c.ClientIPHeader),
		DeviceURL: c.DeviceURL,
		// Invitation and reset links point at the console.
		ConsoleURL:    c.ConsoleURL,
		InvitationTTL: c.InvitationTTL,
		Mailer:        mailer,
		// -manager-token-cache 0 is no cache (admin.Config: negative).
		ManagerTokenCache: cmp.Or(c.ManagerTokenCache, -1),
	})
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	// The admin API's manager-token cache hears the fan-out through the
	// gateway's watcher too (on once it has subscribed, off at KindLost).
	tee.also = func(e sessions.Event) {
		feed.Publish(e)
		adm.Watched(e)
	}
	tee.ready = adm.Subscribed
	// Housekeeping: the expiry sweep, the registry's flushers, the
	// reconciler, the purge and the audit sealer, one of each per
	// instance (each is safe on every instance at once).
	keeper, err := housekeeping.New(housekeeping.Config{
		Registry: reg,
		Sessions: sess.Store,
		Logger:   log.With("component", "housekeeping"),
		Now:      time.Now,
		Metrics:  metrics,
	})
	if err != nil {
		return fmt.Errorf("housekeeping: %w", err)
	}

	cons, err := console.New(console.Config{
		API:    adm.Handler(),
		Feed:   feed,
		Logger: log.With("component", "console"),
		Now:    time.Now,
		Secure: secureRequest(c.ClientIPHeader != ""),
	})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}

	o := &ops{registry: regStore, sessions: sess.Store, metrics: metrics, log: log, watching: gw.Watching}
	lm, err := newListenerMetrics(metrics)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	rawGw, err := deviceListenConfig.Listen(ctx, "tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen -addr: %w", err)
	}
	rawAdm, err := lc.Listen(ctx, "tcp", c.AdminAddr)
	if err != nil {
		rawGw.Close()
		return fmt.Errorf("listen -admin-addr: %w", err)
	}
	// Both listeners hold at most their caps, so that no crowd of
	// clients can take the files the stores need.
	gwLn, err := lm.capped("gateway", rawGw, caps.Conns, caps.ConnsPerAddr, c.Limits.FDReserve)
	var admLn net.Listener
	if err == nil {
		admLn, err = lm.capped("admin", rawAdm, caps.AdminConns, caps.AdminConnsPerAddr, c.Limits.FDReserve)
	}
	if err != nil {
		rawGw.Close()
		rawAdm.Close()
		return err
	}
	addrs := Addrs{Gateway: gwLn.Addr().String(), Admin: admLn.Addr().String()}
	var pprofLn net.Listener
	if c.PprofAddr != "" {
		if pprofLn, err = lc.Listen(ctx, "tcp", c.PprofAddr); err != nil {
			gwLn.Close()
			admLn.Close()
			return fmt.Errorf("listen -pprof-addr: %w", err)
		}
		addrs.Pprof = pprofLn.Addr().String()
		if !isLoopback(addrs.Pprof) {
			log.Warn("pprof is served on a non-loopback address: anyone who reaches it can read the process's memory profile and stacks", "addr", addrs.Pprof)
		}
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	// The timeouts of limits.go: a connection that sends nothing, sends
	// slowly or stops reading is closed, whatever it has sent.
	var deviceMetrics prometheus.Gatherer
	if c.Limits.DeviceMetrics {
		deviceMetrics = deviceGatherer{metrics}
	}
	gwSrv := &http.Server{Handler: logRequests(log, "gateway", o.wrap(gw.Handler(), deviceMetrics)), ErrorLog: errLog,
		ReadHeaderTimeout: headerTimeout, ReadTimeout: deviceReadTimeout, WriteTimeout: deviceWriteTimeout, IdleTimeout: deviceIdleTimeout}
	admSrv := &http.Server{Handler: logRequests(log, "admin", writeStall(adminWriteStall, bodyDeadline(adminBodyTimeout, o.wrap(consolePages(cons.Mount(admin.BasePath), admin.BasePath), metrics)))),
		ErrorLog: errLog, ReadHeaderTimeout: headerTimeout, IdleTimeout: adminIdleTimeout}
	// Open live pages end when the stop begins, so that it does not wait
	// for them.
	admSrv.RegisterOnShutdown(feed.Close)
	// No WriteTimeout anywhere: /debug/pprof/profile streams for as long
	// as its ?seconds= says.
	pprofSrv := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}

	// stopping ends on a signal (ctx) or on the first failure; the
	// background loops keep running until the servers have stopped.
	stopping, stop := context.WithCancel(ctx)
	defer stop()
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failure  error
	)
	fail := func(err error) {
		failOnce.Do(func() { failure = err })
		stop()
	}
	serveOn := func(name string, srv *http.Server, ln net.Listener) {
		wg.Go(func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("serve %s: %w", name, err))
			}
		})
	}
	runLoop := func(name string, loop func(context.Context) error) {
		wg.Go(func() {
			err := loop(bg)
			if bg.Err() == nil {
				if err == nil {
					err = errors.New("stopped unexpectedly")
				}
				fail(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	runLoop("gateway", gw.Run)
	runLoop("admin", adm.Run)
	runLoop("housekeeping", keeper.Run)
	serveOn("gateway", gwSrv, gwLn)
	serveOn("admin", admSrv, admLn)
	if pprofLn != nil {
		serveOn("pprof", pprofSrv, pprofLn)
	}

	log.Info("listening", "listener", "gateway", "addr", addrs.Gateway)
	log.Info("listening", "listener", "admin", "addr", addrs.Admin)
	if pprofLn != nil {
		log.Info("listening", "listener", "pprof", "addr", addrs.Pprof)
	}
	if generated != "" {
		printFirstAdmin(stdout, firstAdmin.Email, generated, addrs.Admin)
	}
	if listening != nil {
		// Tests drive the instance as soon as it says it listens: tell
		// them once it is ready, the fan-out watcher subscribed (as
		// /readyz would), or after a bounded wait.
		for deadline := time.Now().Add(10 * time.Second); !gw.Watching() && time.Now().Before(deadline) && stopping.Err() == nil; {
			time.Sleep(5 * time.Millisecond)
		}
		listening(addrs)
	}

	<-stopping.Done()
	log.Info("stopping", "timeout", c.ShutdownTimeout.String())
	o.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ShutdownTimeout)
	defer cancel()
	var stopErrs []error
	// Sockets first, with 1001: http.Server.Shutdown does not wait for
	// hijacked connections.
	if err := gw.Shutdown(shutdownCtx); err != nil {
		stopErrs = append(stopErrs, fmt.Errorf("shut down gateway: %w", err))
	}
	var swg sync.WaitGroup
	var gwErr, admErr error
	swg.Go(func() { gwErr = shutdownServer(shutdownCtx, gwSrv) })
	swg.Go(func() { admErr = shutdownServer(shutdownCtx, admSrv) })
	if pprofLn != nil {
		// A profile being taken would hold a graceful stop for its whole
		// length: the profiler is cut at once.
		pprofSrv.Close()
	}
	swg.Wait()
	if gwErr != nil {
		stopErrs = append(stopErrs, fmt.Errorf("stop gateway listener: %w", gwErr))
	}
	if admErr != nil {
		stopErrs = append(stopErrs, fmt.Errorf("stop admin listener: %w", admErr))
	}
	stopBackground()
	wg.Wait()
	log.Info("stopped")
	return errors.Join(append([]error{failure}, stopErrs...)...)
}

// shutdownServer stops srv gracefully, and forcibly when ctx ends first.
func shutdownServer(ctx context.Context, srv *http.Server) error {
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	return err
}

// printFirstAdmin prints the generated admin sign-in: the one place a
// secret is ever printed, on stdout, never in the logs.
func printFirstAdmin(w io.Writer, email, password, adminAddr string) {
	fmt.Fprintf(w, `
================================================================
Floorgate created the first admin account. Sign in with:

  email:     %s
  password:  %s
  console:   %s
  admin API: %s

The password is shown this once only. Sign in and change it.
================================================================

`, email, password, "http://"+browsableAddr(adminAddr)+"/", "http://"+browsableAddr(adminAddr)+"/admin/v1/login")
}

// browsableAddr turns a bound address such as [::]:8081 into one a
// person can use from this machine (localhost:8081).
func browsableAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
