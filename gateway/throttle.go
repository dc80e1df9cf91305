package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/throttle"
)

// limitsOf turns the registry's throttle settings into the sessions
// throttle's limits; zero fields take devices.DefaultThrottle (Throttle.WithDefaults).
func limitsOf(t devices.Throttle) throttle.Limits {
	t = t.WithDefaults()
	sec := func(s int) time.Duration { return time.Duration(s) * time.Second }
	return throttle.Limits{
		PairFreeFailures: t.PairFreeFailures,
		PairMaxDelay:     sec(t.PairMaxDelayS),
		UserFailures:     t.UserFailures,
		UserWindow:       sec(t.UserWindowS),
		UserLock:         sec(t.UserLockS),
		UserHardFailures: t.UserHardFailures,
		DeviceFailures:   t.DeviceFailures,
		DeviceWindow:     sec(t.DeviceWindowS),
		SprayUsers:       t.SprayUsers,
		SprayWindow:      sec(t.SprayWindowS),
	}
}

// lockedRetry is the retry_after given for a lock that lasts until
// someone lifts it (the throttle says 0).
const lockedRetry = time.Hour

// checkThrottle asks the throttle whether an attempt may go on to the
// hash. A refusal is device_quarantined (403) or too_many_attempts (429
// with retry_after); a throttle that cannot answer is 503.
func (s *Server) checkThrottle(ctx context.Context, a throttle.Attempt, l throttle.Limits) error {
	d, err := s.throttle.Check(ctx, a, l)
	if err != nil {
		return unavailable(fmt.Errorf("throttle check: %w", err))
	}
	s.metrics.throttleDecisions.WithLabelValues("check", string(d.Verdict)).Inc()
	switch d.Verdict {
	case throttle.Allow:
		return nil
	case throttle.Quarantined:
		return &Error{Status: http.StatusForbidden, Code: CodeDeviceQuarantined, Detail: "too many failed attempts on this device: a manager must unlock it"}
	case throttle.Delay, throttle.UserLocked:
		retry := d.RetryAfter
		if retry <= 0 {
			retry = lockedRetry
		}
		return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts, Detail: "try again later", RetryAfter: retry}
	}
	return unavailable(fmt.Errorf("throttle check: unknown verdict %q", d.Verdict))
}

// countFailure counts a failed secret and audits what the throttle
// decided. A failure that cannot be counted fails the request (503):
// otherwise a store outage would lift the limits.
func (s *Server) countFailure(ctx context.Context, a throttle.Attempt, l throttle.Limits, actor string) error {
	d, err := s.throttle.Fail(ctx, a, l)
	if err != nil {
		return unavailable(fmt.Errorf("throttle fail: %w", err))
	}
	s.metrics.throttleDecisions.WithLabelValues("fail", string(d.Verdict)).Inc()
	var evs []devices.Event
	switch d.Verdict {
	case throttle.Quarantined:
		evs = append(evs, devices.Event{Actor: devices.ActorSystem, Action: "throttle.quarantine",
			Subject: actor, WarehouseID: a.WarehouseID, Details: map[string]string{"source": a.Source}})
	case throttle.UserLocked:
		evs = append(evs, devices.Event{Actor: devices.ActorSystem, Action: "throttle.lock",
			Subject: "username:" + a.Subject, WarehouseID: a.WarehouseID,
			Details: map[string]string{"retry_after_s": fmt.Sprint(int(d.RetryAfter / time.Second))}})
	}
	if d.Spray {
		s.metrics.sprayAlarms.Inc()
		evs = append(evs, devices.Event{Actor: devices.ActorSystem, Action: "throttle.spray_alarm",
			Subject: devices.WarehouseSubject(a.WarehouseID), WarehouseID: a.WarehouseID,
			Details: map[string]string{"source": a.Source}})
		s.log.Warn("password spray alarm", slog.String("warehouse_id", a.WarehouseID))
	}
	s.audit(ctx, evs...)
	return nil
}

// succeed clears the attempt's delays after a right secret. It is best
// effort: the secret was right, so a failure here only leaves a delay.
func (s *Server) succeed(ctx context.Context, a throttle.Attempt) {
	if err := s.throttle.Succeed(ctx, a); err != nil {
		s.log.Warn("throttle succeed failed", slog.Any("err", err))
	}
}

// audit records events; an audit write that fails is logged, not
// answered, because the decision it records has already been taken.
func (s *Server) audit(ctx context.Context, evs ...devices.Event) {
	if len(evs) == 0 {
		return
	}
	if err := s.reg.Record(ctx, evs...); err != nil {
		s.log.Error("audit record failed", slog.String("type", evs[0].Action), slog.Any("err", err))
	}
}

// inflight holds the keys (throttle subjects and sources) of the attempts
// that are between their throttle check and their failure count on this
// instance. The throttle counts a failure only after the hash, so without
// it parallel guesses at one username (or from one device) would all pass
// the check before the first failure is counted, and a burst would get
// as many free guesses as there are hashing slots and waiting requests.
type inflight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// take claims every key, or none: false when one is held already. The
// returned func gives them back.
func (f *inflight) take(keys ...string) (release func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		if _, held := f.keys[k]; held {
			return nil, false
		}
	}
	if f.keys == nil {
		f.keys = make(map[string]struct{})
	}
	for _, k := range keys {
		f.keys[k] = struct{}{}
	}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, k := range keys {
			delete(f.keys, k)
		}
	}, true
}

// errInFlight answers an attempt made while another one for the same
// username or device is being checked here.
var errInFlight = &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts, Detail: "another attempt is in progress; try again", RetryAfter: time.Second}

// claimAttempt serialises attempts per subject (and per source, when
// perSource) on this instance, from the throttle check to the failure
// count. Callers hold it until they return.
func (s *Server) claimAttempt(a throttle.Attempt, perSource bool) (func(), error) {
	keys := []string{"subject:" + a.Subject}
	if perSource {
		keys = append(keys, "source:"+a.Source)
	}
	release, ok := s.attempts.take(keys...)
	if !ok {
		s.metrics.throttleDecisions.WithLabelValues("check", "in_flight").Inc()
		return nil, errInFlight
	}
	return release, nil
}
