package housekeeping

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// Sessions is what housekeeping needs of the session store: the expiry
// sweep, and the reads and ends of the reconciler.
type Sessions interface {
	sessions.Sweeper
	ByUser(ctx context.Context, userID string) ([]sessions.Session, error)
	ByDevice(ctx context.Context, deviceID string) ([]sessions.Session, error)
	End(ctx context.Context, sessionID string, r sessions.Reason) (sessions.Command, error)
	EndUser(ctx context.Context, userID string, r sessions.Reason) ([]sessions.Command, error)
	EndDevice(ctx context.Context, deviceID string, r sessions.Reason) ([]sessions.Command, error)
}

// Config configures a Keeper. Registry and Sessions are required; zero
// durations take the defaults written beside them.
type Config struct {
	Registry *devices.Registry
	Sessions Sessions
	// Logger receives what fails (each failure is retried at the next
	// tick); slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock of the reconciler's look-back; time.Now when nil.
	Now func() time.Time
	// Metrics, when not nil, receives the keeper's collectors.
	Metrics prometheus.Registerer
	// SweepEvery is how often expired sessions are ended and due
	// warnings published (1s).
	SweepEvery time.Duration
	// SeenFlushEvery is how often device last-seen notes are written (30s).
	SeenFlushEvery time.Duration
	// CustodyFlushEvery is how often the session ends noted for their
	// custody records are written (1s).
	CustodyFlushEvery time.Duration
	// ReconcileEvery is how often the sessions that outlived a change
	// are ended (30s).
	ReconcileEvery time.Duration
	// PurgeEvery is how often users past their restore window and
	// custody records past their retention are purged (1h).
	PurgeEvery time.Duration
	// AuditSealEvery is how often the audit rows written since are
	// sealed into the audit chain (devices.AuditSealEvery).
	AuditSealEvery time.Duration
}

// Keeper runs the housekeeping of one instance (Run).
type Keeper struct {
	cfg        Config
	reg        *devices.Registry
	sess       Sessions
	log        *slog.Logger
	now        func() time.Time
	reconciled prometheus.Counter
	purged     prometheus.Counter
}

// New checks cfg and returns a Keeper. Nothing starts until Run.
func New(cfg Config) (*Keeper, error) {
	if cfg.Registry == nil || cfg.Sessions == nil {
		return nil, errors.New("housekeeping: Registry and Sessions are required")
	}
	setDefault(&cfg.SweepEvery, time.Second)
	setDefault(&cfg.SeenFlushEvery, 30*time.Second)
	setDefault(&cfg.CustodyFlushEvery, time.Second)
	setDefault(&cfg.ReconcileEvery, 30*time.Second)
	setDefault(&cfg.PurgeEvery, time.Hour)
	setDefault(&cfg.AuditSealEvery, devices.AuditSealEvery)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	k := &Keeper{
		cfg:  cfg,
		reg:  cfg.Registry,
		sess: cfg.Sessions,
		log:  cfg.Logger,
		now:  cfg.Now,
		// The names are those the admin API used to register: dashboards
		// keep working.
		reconciled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floorgate_admin_reconciled_sessions_total", Help: "Sessions of suspended or deleted users ended by the reconciler.",
		}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floorgate_admin_purged_users_total", Help: "Users purged after their 30-day restore window.",
		}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{k.reconciled, k.purged} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return k, nil
}

func setDefault(p *time.Duration, def time.Duration) {
	if *p <= 0 {
		*p = def
	}
}

// Run runs the housekeeping until ctx ends, and returns nil once every
// loop has stopped: the expiry sweep (every SweepEvery), the device
// last-seen and custody flushers (which write once more when ctx ends),
// the reconciler (every ReconcileEvery), the purge (every PurgeEvery)
// and the audit chain's sealer (every AuditSealEvery); the last three
// also run once at start. Failures are logged once and retried at the
// next tick. Every part is safe to run on every instance at once.
func (k *Keeper) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){
		k.sweepLoop,
		func(ctx context.Context) {
			if err := k.reg.RunSeenFlusher(ctx, k.cfg.SeenFlushEvery); err != nil && ctx.Err() == nil {
				k.log.Error("device last-seen flusher stopped", slog.Any("err", err))
			}
		},
		func(ctx context.Context) {
			if err := k.reg.RunCustodyFlusher(ctx, k.cfg.CustodyFlushEvery); err != nil && ctx.Err() == nil {
				k.log.Error("custody flusher stopped", slog.Any("err", err))
			}
		},
		k.repairLoop,
	} {
		wg.Go(func() { loop(ctx) })
	}
	wg.Wait()
	return nil
}

func (k *Keeper) sweepLoop(ctx context.Context) {
	t := time.NewTicker(k.cfg.SweepEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := k.sess.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			k.log.Error("session sweep failing", slog.Any("err", err))
		case err == nil && failing:
			failing = false
			k.log.Info("session sweep recovered")
		}
	}
}

// repairLoop runs the reconciler, the purge and the sealer, once at
// start and then each at its own pace, one at a time.
func (k *Keeper) repairLoop(ctx context.Context) {
	rec := time.NewTicker(k.cfg.ReconcileEvery)
	defer rec.Stop()
	purge := time.NewTicker(k.cfg.PurgeEvery)
	defer purge.Stop()
	seal := time.NewTicker(k.cfg.AuditSealEvery)
	defer seal.Stop()
	var since time.Time
	reconcile := func() {
		start := k.now()
		if since.IsZero() {
			since = start.Add(-reconcileLookback)
		}
		if _, err := k.Reconcile(ctx, since); err != nil {
			if ctx.Err() == nil {
				k.log.ErrorContext(ctx, "reconcile sessions", "err", err)
			}
			return
		}
		since = start.Add(-reconcileOverlap)
	}
	purgeOnce := func() {
		if _, err := k.Purge(ctx); err != nil && ctx.Err() == nil {
			k.log.ErrorContext(ctx, "purge deleted users", "err", err)
		}
	}
	sealOnce := func() {
		if _, err := k.reg.SealAudit(ctx); err != nil && ctx.Err() == nil {
			k.log.ErrorContext(ctx, "seal audit", "err", err)
		}
	}
	reconcile()
	purgeOnce()
	sealOnce()
	for {
		select {
		case <-ctx.Done():
			return
		case <-rec.C:
			reconcile()
		case <-purge.C:
			purgeOnce()
		case <-seal.C:
			sealOnce()
		}
	}
}
