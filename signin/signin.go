package signin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
)

// Sessions is what sign-in needs of the session store: issuing a session
// (with the per-user cap) and lifting a session's PIN-change confinement.
type Sessions interface {
	Create(ctx context.Context, n sessions.NewSession, p sessions.Policy) (sessions.Created, error)
	ClearPINChange(ctx context.Context, sessionID string) error
	// End ends a session the sign-in created and then refused: a badge
	// session without its custody record, or a login whose device or
	// user changed meanwhile.
	End(ctx context.Context, sessionID string, r sessions.Reason) (sessions.Command, error)
}

// Config configures a Policy. Registry, Sessions and Throttle are
// required.
type Config struct {
	Registry *devices.Registry
	Sessions Sessions
	Throttle throttle.Throttle
	// Pool bounds the hashes; NewPool(0, 0) (GOMAXPROCS slots, 100ms
	// wait) when nil.
	Pool *Pool
	// Logger receives what fails after a decision and is not answered
	// (an audit write, a throttle reset); slog.Default when nil.
	Logger *slog.Logger
	// Metrics receives the sign-in collectors; a private registry when
	// nil.
	Metrics prometheus.Registerer
	// AddressRate limits each client address's enrollment and admin
	// sign-in attempts before any hashing; zero fields take
	// DefaultAddressRate's.
	AddressRate AddressRate
	// AddressTarpit holds back each answer refused by AddressRate, at
	// most this long (never longer than its Retry-After); 0 means
	// DefaultAddressTarpit, negative none.
	AddressTarpit time.Duration
	// Now is not read any more: the address limits live in the
	// throttle's store and read its clock. (Kept so that callers that
	// set it still build.)
	Now func() time.Time
}

// DefaultAddressTarpit is how long an answer refused by the address rate
// is held back.
const DefaultAddressTarpit = time.Second

// Policy is the sign-in policy of one process: its throttle, its claims
// and its hashing pool. It is safe for concurrent use; build one per
// process and give it to every listener that signs people in.
type Policy struct {
	reg      *devices.Registry
	sessions Sessions
	throttle throttle.Throttle
	pool     *Pool
	log      *slog.Logger
	metrics  *metrics
	addrRate AddressRate
	tarpit   time.Duration
}

// New checks cfg and returns a Policy.
func New(cfg Config) (*Policy, error) {
	if cfg.Registry == nil || cfg.Sessions == nil || cfg.Throttle == nil {
		return nil, errors.New("signin: Registry, Sessions and Throttle are required")
	}
	if cfg.Pool == nil {
		cfg.Pool = NewPool(0, 0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	switch {
	case cfg.AddressTarpit == 0:
		cfg.AddressTarpit = DefaultAddressTarpit
	case cfg.AddressTarpit < 0:
		cfg.AddressTarpit = 0
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Policy{reg: cfg.Registry, sessions: cfg.Sessions, throttle: cfg.Throttle, pool: cfg.Pool, log: cfg.Logger, metrics: m,
		addrRate: cfg.AddressRate.withDefaults(), tarpit: cfg.AddressTarpit}, nil
}

// kind is one way of signing in: the label of its metrics.
type kind string

const (
	kindPIN       kind = "pin"        // POST /v1/login
	kindPINChange kind = "pin_change" // POST /v1/pin
	kindEnroll    kind = "enroll"     // POST /v1/enroll
	kindManager   kind = "manager"    // POST /admin/v1/login
	// kindEnrollToken: POST /v1/enroll with an enrollment token.
	kindEnrollToken kind = "enroll_token"
)

// attempt is one sign-in try on its way through the order.
type attempt struct {
	kind kind
	throttle.Attempt
	limits    throttle.Limits
	perSource bool // claim the source too (a device: one PIN at a time)
	// refused, when not nil, is the audit event of a refusal by the
	// throttle's check (a delay, a lock, a quarantine): recorded once per
	// delay, lock or quarantine hour (auditRefusal), not per attempt.
	refused func(d throttle.Decision) devices.Event
	// succeeded, when not nil, defers the reset of a right secret
	// (settle) to the claim's release, which then clears the delays and
	// ends the claim in one round trip (succeedReleaser). It is a
	// pointer so that the copies of the attempt share it.
	succeeded *bool
}

// claimChecker is a Throttle that claims an attempt's keys and checks
// the attempt in one round trip (throttle/redis): what Claim and then
// Check do. When ok is false or err is not nil, no key is held.
type claimChecker interface {
	ClaimCheck(ctx context.Context, keys []string, id string, ttl time.Duration, a throttle.Attempt, l throttle.Limits) (ok bool, d throttle.Decision, err error)
}

// succeedReleaser is a Throttle that clears an attempt's delays and
// releases its claim in one round trip (throttle/redis): what Succeed
// and then Release do.
type succeedReleaser interface {
	SucceedRelease(ctx context.Context, a throttle.Attempt, keys []string, id string) error
}

// deferSucceed makes a's reset after a right secret wait for its
// claim's release, when the throttle does both in one round trip.
func (p *Policy) deferSucceed(a *attempt) {
	if _, ok := p.throttle.(succeedReleaser); ok {
		a.succeeded = new(bool)
	}
}

// ClaimTTL is how long an attempt's claim outlives an instance that
// crashed while holding it; a finished attempt releases it at once.
const ClaimTTL = 15 * time.Second

// begin claims the attempt's keys and asks the throttle whether it may
// go on to the hash. On success the caller holds the claim until it
// returns (release). A refusal is ErrInFlight, ErrQuarantined or a
// *ThrottledError; a throttle that cannot answer is ErrUnavailable.
//
// The claim is a lease in the throttle's store (ClaimTTL), so that it
// holds across every instance that shares the store: one attempt in
// flight per subject (and per device for PINs), whichever instance it
// reached.
func (p *Policy) begin(ctx context.Context, a attempt) (release func(), d throttle.Decision, err error) {
	keys := []string{a.Subject}
	if a.perSource {
		keys = append(keys, a.Source)
	}
	id := rand.Text()
	var ok bool
	cc, both := p.throttle.(claimChecker)
	if both {
		ok, d, err = cc.ClaimCheck(ctx, keys, id, ClaimTTL, a.Attempt, a.limits)
	} else {
		ok, err = p.throttle.Claim(ctx, keys, id, ClaimTTL)
	}
	if err != nil {
		return nil, d, unavailable("throttle claim", err)
	}
	if !ok {
		p.metrics.decision(a.kind, "check", "in_flight")
		return nil, d, fmt.Errorf("%w: %s", ErrInFlight, a.kind)
	}
	release = func() {
		rctx, cancel := Decided(ctx)
		defer cancel()
		if a.succeeded != nil && *a.succeeded {
			if err := p.throttle.(succeedReleaser).SucceedRelease(rctx, a.Attempt, keys, id); err != nil {
				p.log.Warn("throttle reset and claim release failed: the claim expires", slog.String("kind", string(a.kind)), slog.Any("err", err))
			}
			return
		}
		if err := p.throttle.Release(rctx, keys, id); err != nil {
			p.log.Warn("throttle claim release failed: it expires", slog.String("kind", string(a.kind)), slog.Any("err", err))
		}
	}
	if !both {
		d, err = p.throttle.Check(ctx, a.Attempt, a.limits)
		if err != nil {
			release()
			return nil, d, unavailable("throttle check", err)
		}
	}
	p.metrics.decision(a.kind, "check", string(d.Verdict))
	switch d.Verdict {
	case throttle.Allow:
		return release, d, nil
	case throttle.Quarantined:
		release()
		p.auditRefusal(ctx, a, d)
		return nil, d, ErrQuarantined
	case throttle.Delay, throttle.UserLocked:
		release()
		p.auditRefusal(ctx, a, d)
		wait := d.RetryAfter
		if wait <= 0 {
			wait = LockedWait
		}
		return nil, d, &ThrottledError{RetryAfter: wait}
	}
	release()
	return nil, d, unavailable("throttle check", fmt.Errorf("unknown verdict %q", d.Verdict))
}

// RefusalAuditEvery is how often the refusals of a quarantined source
// are audited while it keeps trying (a quarantine has no end to wait
// for).
const RefusalAuditEvery = time.Hour

// RefusalAuditMin is the least time between two audited refusals of one
// pair or subject: delays of a few seconds that follow one another are
// one row a minute.
const RefusalAuditMin = time.Minute

// auditRefusal records a refusal by the throttle's check, once per
// delay of a (subject, source) pair and once per lock of a subject (at
// most once a minute either way), and once an hour per quarantined
// source, on every instance sharing the
// throttle's store: an attacker who keeps trying writes one row per
// lock, not one per attempt. The once is a lease in the throttle's store
// (Claim) under a key of its own ("r:" and the verdict's key, no
// subject or source namespace), held until the refusal's wait ends and
// never released. A store that cannot say is logged, and the row not
// written: the refusal itself stands.
func (p *Policy) auditRefusal(ctx context.Context, a attempt, d throttle.Decision) {
	if a.refused == nil {
		return
	}
	var key string
	ttl := d.RetryAfter
	switch d.Verdict {
	case throttle.Quarantined:
		key, ttl = "r:q|"+a.Source, RefusalAuditEvery
	case throttle.UserLocked:
		key = "r:l|" + a.Subject
	default:
		key = "r:d|" + a.Subject + "|" + a.Source
	}
	if ttl <= 0 {
		ttl = LockedWait
	}
	dctx, cancel := Decided(ctx)
	defer cancel()
	first, err := p.throttle.Claim(dctx, []string{key}, rand.Text(), max(ttl, RefusalAuditMin))
	if err != nil {
		p.log.Warn("throttle refusal not audited", slog.String("kind", string(a.kind)), slog.Any("err", err))
		return
	}
	if first {
		p.audit(dctx, a.refused(d))
	}
}

// hash runs verify (the registry's check of the secret) in the hashing
// pool, within k's share, and returns what it said, with the context for
// every step that follows. From the moment a slot is taken, everything
// runs on that context (Decided), the verification included: a client
// that half-closes its connection while its secret is hashed cannot leave
// the verdict uncounted or unaudited, nor learn it from a different
// answer. When no slot came free it returns ErrBusy and no context.
func (p *Policy) hash(ctx context.Context, k kind, verify func(ctx context.Context) error) (context.Context, context.CancelFunc, error) {
	return p.hashBy(ctx, k, p.pool.deadline(classOf(k)), verify)
}

// hashBy is hash, waiting for a slot until deadline.
func (p *Policy) hashBy(ctx context.Context, k kind, deadline time.Time, verify func(ctx context.Context) error) (context.Context, context.CancelFunc, error) {
	release, err := p.pool.acquireBy(ctx, classOf(k), deadline)
	if err != nil {
		p.metrics.hashBusy.WithLabelValues(string(k)).Inc()
		return nil, nil, err
	}
	dctx, cancel := Decided(ctx)
	err = verify(dctx)
	release()
	return dctx, cancel, err
}

// limitAddress spends one of the client address's attempts at kind k,
// before any hashing or registry call: one call to the throttle's store,
// whose bucket every instance shares. A refusal is a *ThrottledError; the
// first of a run is audited (throttle.address_limited), not every one, so
// that a flood writes no flood of audit rows. A store that cannot answer
// is ErrUnavailable: the rate is not lifted by an outage.
func (p *Policy) limitAddress(ctx context.Context, k kind, clientIP string) error {
	// The attempt is spent on a context the client cannot cancel: a
	// client that hangs up at once is counted, and answered, as if it had
	// stayed.
	tctx, cancel := Decided(ctx)
	wait, first, err := p.throttle.Take(tctx, string(k)+"|"+addressOf(clientIP),
		throttle.Rate{Burst: p.addrRate.Burst, PerMinute: p.addrRate.PerMinute})
	cancel()
	if err != nil {
		return unavailable("address rate", err)
	}
	if wait == 0 {
		return nil
	}
	p.metrics.decision(k, "address", "limited")
	if first {
		dctx, cancel := Decided(ctx)
		defer cancel()
		p.audit(dctx, devices.Event{Actor: devices.ActorSystem, Action: "throttle.address_limited",
			Subject: "address:" + addressOf(clientIP), Details: map[string]string{"kind": string(k)}})
	}
	// The refusal is held back a little (AddressTarpit): a client that
	// sends its next request as soon as it has the answer, as a flood
	// does, then costs a sleeping goroutine, not a core.
	t := time.NewTimer(min(p.tarpit, wait))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	return &ThrottledError{RetryAfter: wait}
}

// settle counts what the hash decided and audits it. A wrong secret
// (devices.ErrInvalidCredentials) is counted, with actor naming the
// source in the throttle's own audit events, and audited with wrong();
// when either cannot be done the answer is ErrUnavailable, as it is when
// what follows a right secret fails, so that the two never answer
// differently when a store fails after the hash. A
// right secret clears the attempt's delays; when the account is
// disabled (devices.ErrDisabled) that is audited with disabled(). Any
// other error is ErrUnavailable. It returns the error to answer, nil when
// the sign-in goes on to issue. disabled may be nil when the caller
// answers devices.ErrDisabled itself.
func (p *Policy) settle(ctx context.Context, a attempt, err error, actor string, wrong, disabled func() devices.Event) error {
	switch {
	case errors.Is(err, devices.ErrInvalidCredentials):
		if err := p.countFailure(ctx, a, actor); err != nil {
			return err
		}
		if err := p.reg.Record(ctx, wrong()); err != nil {
			return unavailable("audit failure", err)
		}
		return devices.ErrInvalidCredentials
	case errors.Is(err, devices.ErrDisabled):
		p.succeed(ctx, a)
		p.audit(ctx, disabled())
		return devices.ErrDisabled
	case err != nil:
		return unavailable("authenticate", err)
	}
	p.succeed(ctx, a)
	return nil
}

// DecidedWait bounds the work that follows a decision (see Decided).
const DecidedWait = 5 * time.Second

// Decided returns the context for the work that must finish once a
// request's answer is decided (a failure counted, a throttle reset, a
// session created, an audit event): it keeps ctx's values but not its
// cancellation, so a client that disconnects cannot undo half of it, and
// it ends after DecidedWait.
func Decided(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), DecidedWait)
}

// countFailure counts a wrong secret and audits what the throttle
// decided (a quarantine, a lock, the spray alarm). actor names the
// source in the audit (device:<id>, address:<ip>). A failure that cannot
// be counted fails the attempt (ErrUnavailable): otherwise a store
// outage would lift the limits.
func (p *Policy) countFailure(ctx context.Context, a attempt, actor string) error {
	d, err := p.throttle.Fail(ctx, a.Attempt, a.limits)
	if err != nil {
		return unavailable("throttle fail", err)
	}
	p.metrics.decision(a.kind, "fail", string(d.Verdict))
	var evs []devices.Event
	switch d.Verdict {
	case throttle.Quarantined:
		evs = append(evs, devices.Event{Actor: devices.ActorSystem, Action: "throttle.quarantine",
			Subject: actor, WarehouseID: a.WarehouseID, Details: map[string]string{"source": a.Source}})
	case throttle.UserLocked:
		evs = append(evs, devices.Event{Actor: devices.ActorSystem, Action: "throttle.lock",
			Subject: auditSubject(a.Subject), WarehouseID: a.WarehouseID,
			Details: map[string]string{"retry_after_s": fmt.Sprint(int(d.RetryAfter / time.Second))}})
	}
	if d.Spray {
		p.metrics.sprayAlarms.Inc()
		hold := strconv.Itoa(int(a.limits.SprayHold / time.Second))
		evs = append(evs, devices.Event{Actor: devices.ActorSystem, Action: "throttle.spray_alarm",
			Subject: devices.WarehouseSubject(a.WarehouseID), WarehouseID: a.WarehouseID,
			Details: map[string]string{"source": a.Source, "tightened_for_s": hold}})
		p.log.Warn("password spray alarm: limits tightened", slog.String("warehouse_id", a.WarehouseID),
			slog.Duration("for", a.limits.SprayHold))
	}
	p.audit(ctx, evs...)
	return nil
}

// succeed clears the attempt's delays after a right secret, or leaves
// that to the claim's release (attempt.succeeded). It is best effort:
// the secret was right, so a failure here only leaves a delay.
func (p *Policy) succeed(ctx context.Context, a attempt) {
	if a.succeeded != nil {
		*a.succeeded = true
		return
	}
	if err := p.throttle.Succeed(ctx, a.Attempt); err != nil {
		p.log.Warn("throttle reset failed", slog.String("kind", string(a.kind)), slog.Any("err", err))
	}
}

// audit records events; an audit write that fails is logged, not
// answered, because the decision it records has already been taken.
func (p *Policy) audit(ctx context.Context, evs ...devices.Event) {
	if len(evs) == 0 {
		return
	}
	if err := p.reg.Record(ctx, evs...); err != nil {
		p.log.Error("audit record failed", slog.String("type", evs[0].Action), slog.Any("err", err))
	}
}
