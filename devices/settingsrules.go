package devices

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Settings limits.
const (
	MaxSessionCap       = 100
	MinIdleTimeoutS     = 60
	MaxAbsoluteTimeoutS = 7 * 24 * 3600
	// MaxThrottleCount bounds the throttle's failure counts and
	// MaxThrottleS its windows, locks and delays (30 days), so that no
	// setting overflows a time.Duration.
	MaxThrottleCount = 1_000_000
	MaxThrottleS     = 30 * 24 * 3600
)

// Validate checks a full set of settings and returns a *ValidationError
// naming each bad field: session_cap 1..100, cap_policy evict_oldest or
// deny_new, idle_timeout_s at least 60, absolute_timeout_s at least
// idle_timeout_s and at most 7 days, pin_min_length 4..12, min_app_version
// empty or dotted numbers, throttle fields not negative (0 takes the
// default), counts at most MaxThrottleCount and seconds at most
// MaxThrottleS.
func (s Settings) Validate() error {
	v := &ValidationError{}
	validateSettings(v, "", s)
	return v.Err()
}

func validateSettings(v *ValidationError, prefix string, s Settings) {
	if s.SessionCap < 1 || s.SessionCap > MaxSessionCap {
		v.Add(prefix+"session_cap", "out_of_range", "session_cap is 1 to "+strconv.Itoa(MaxSessionCap))
	}
	if s.CapPolicy != EvictOldest && s.CapPolicy != DenyNew {
		v.Add(prefix+"cap_policy", "invalid", "cap_policy is evict_oldest or deny_new")
	}
	if s.IdleTimeoutS < MinIdleTimeoutS {
		v.Add(prefix+"idle_timeout_s", "out_of_range", "idle_timeout_s is at least 60 seconds")
	}
	switch {
	case s.AbsoluteTimeoutS < s.IdleTimeoutS:
		v.Add(prefix+"absolute_timeout_s", "out_of_range", "absolute_timeout_s is at least idle_timeout_s")
	case s.AbsoluteTimeoutS > MaxAbsoluteTimeoutS:
		v.Add(prefix+"absolute_timeout_s", "out_of_range", "absolute_timeout_s is at most 7 days (604800 seconds)")
	}
	if s.PINMinLength < PINMinLength || s.PINMinLength > PINMaxLength {
		v.Add(prefix+"pin_min_length", "out_of_range", "pin_min_length is 4 to 12")
	}
	if s.MinAppVersion != "" && !validVersion(s.MinAppVersion) {
		v.Add(prefix+"min_app_version", "invalid", "min_app_version is empty or dotted numbers such as 4.2.0")
	}
	t := s.Throttle
	for _, f := range []struct {
		name string
		val  int
		max  int
	}{
		{"pair_free_failures", t.PairFreeFailures, MaxThrottleCount},
		{"pair_max_delay_s", t.PairMaxDelayS, MaxThrottleS},
		{"user_failures", t.UserFailures, MaxThrottleCount},
		{"user_window_s", t.UserWindowS, MaxThrottleS},
		{"user_lock_s", t.UserLockS, MaxThrottleS},
		{"user_hard_failures", t.UserHardFailures, MaxThrottleCount},
		{"device_failures", t.DeviceFailures, MaxThrottleCount},
		{"device_window_s", t.DeviceWindowS, MaxThrottleS},
		{"spray_users", t.SprayUsers, MaxThrottleCount},
		{"spray_window_s", t.SprayWindowS, MaxThrottleS},
	} {
		switch {
		case f.val < 0:
			v.Add(prefix+"throttle."+f.name, "out_of_range", f.name+" is positive (0 takes the default)")
		case f.val > f.max:
			v.Add(prefix+"throttle."+f.name, "out_of_range", f.name+" is at most "+strconv.Itoa(f.max))
		}
	}
}

// WithDefaults returns t with each zero field replaced by DefaultThrottle's.
func (t Throttle) WithDefaults() Throttle {
	d := DefaultThrottle()
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&t.PairFreeFailures, d.PairFreeFailures)
	fill(&t.PairMaxDelayS, d.PairMaxDelayS)
	fill(&t.UserFailures, d.UserFailures)
	fill(&t.UserWindowS, d.UserWindowS)
	fill(&t.UserLockS, d.UserLockS)
	fill(&t.UserHardFailures, d.UserHardFailures)
	fill(&t.DeviceFailures, d.DeviceFailures)
	fill(&t.DeviceWindowS, d.DeviceWindowS)
	fill(&t.SprayUsers, d.SprayUsers)
	fill(&t.SprayWindowS, d.SprayWindowS)
	return t
}

// validVersion reports whether s is 1 to 4 dot-separated numbers of at
// most 9 digits each ("4", "4.2", "4.2.0").
func validVersion(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 9 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// AppVersionBelow reports whether an app's version is lower than min.
// Versions compare as dotted numbers, missing parts counting as 0
// ("4.2" equals "4.2.0"); anything after the leading numbers of version
// ("4.2.0-beta", "4.2.0 (33)") is ignored. An empty min is no minimum. A
// version with no leading number is below any minimum (fail closed).
func AppVersionBelow(version, min string) bool {
	if min == "" {
		return false
	}
	want, ok := versionNumbers(min)
	if !ok {
		return false // Validate refuses such a minimum
	}
	have, ok := versionNumbers(leadingVersion(version))
	if !ok {
		return true
	}
	for i := range max(len(have), len(want)) {
		var h, w int
		if i < len(have) {
			h = have[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if h != w {
			return h < w
		}
	}
	return false
}

// VersionBelow reports whether a login on d that claims the app version
// claimed ("" when it claims none: then the last version d reported) is
// held below min. It is below when the claim is, or when the version
// recorded at d's enrollment is: the lower of the two counts. The claim
// is only what the app says; the enrolled version was said while a
// manager signed in on the device, and a login cannot raise it. A
// device whose app was updated past a raised minimum is enrolled again
// (docs/SECURITY.md, "App versions").
func (d Device) VersionBelow(claimed, min string) bool {
	if claimed == "" {
		claimed = d.AppVersion
	}
	return AppVersionBelow(claimed, min) || AppVersionBelow(d.EnrolledAppVersion, min)
}

// leadingVersion returns the longest prefix of s made of digits and dots,
// without a trailing dot.
func leadingVersion(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "v"))
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		end++
	}
	return strings.TrimRight(s[:end], ".")
}

func versionNumbers(s string) ([]int, bool) {
	if !validVersion(s) {
		return nil, false
	}
	parts := strings.Split(s, ".")
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// Settings returns the organisation settings.
func (r *Registry) Settings(ctx context.Context) (Settings, error) {
	s, err := r.store.Settings(ctx)
	if err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	return s, nil
}

// UpdateSettings validates and applies patch to the organisation
// settings. A *ValidationError names each bad field of the result.
func (r *Registry) UpdateSettings(ctx context.Context, actor string, patch SettingsOverride) (Settings, error) {
	if err := checkActor(actor); err != nil {
		return Settings{}, err
	}
	if len(patch.fields()) == 0 {
		return r.Settings(ctx)
	}
	now := r.clock()
	s, err := r.store.UpdateSettings(ctx, func(s *Settings) (Event, error) {
		next := patch.Apply(*s)
		if err := next.Validate(); err != nil {
			return Event{}, err
		}
		*s = next
		ev := event(now, actor, "settings.update", "settings")
		ev.Details = map[string]string{"fields": strings.Join(patch.fields(), ",")}
		return ev, nil
	})
	if err != nil {
		var v *ValidationError
		if errors.As(err, &v) {
			return Settings{}, v
		}
		return Settings{}, fmt.Errorf("update settings: %w", err)
	}
	return s, nil
}

// fields names the fields an override sets, for audit details.
func (o SettingsOverride) fields() []string {
	var f []string
	add := func(set bool, name string) {
		if set {
			f = append(f, name)
		}
	}
	add(o.SessionCap != nil, "session_cap")
	add(o.CapPolicy != nil, "cap_policy")
	add(o.IdleTimeoutS != nil, "idle_timeout_s")
	add(o.AbsoluteTimeoutS != nil, "absolute_timeout_s")
	add(o.PINMinLength != nil, "pin_min_length")
	add(o.MinAppVersion != nil, "min_app_version")
	add(o.Throttle != nil, "throttle")
	return f
}

// EffectiveSettings returns the organisation settings with the
// warehouse's overrides applied: the rules in force for a login there.
// Zero throttle fields are filled with their defaults. An empty
// warehouseID returns the organisation's own settings.
func (r *Registry) EffectiveSettings(ctx context.Context, warehouseID string) (Settings, error) {
	if ws, ok := r.store.(WarehouseSettingsReader); ok && warehouseID != "" {
		s, o, err := ws.WarehouseSettings(ctx, warehouseID)
		if err != nil {
			return Settings{}, fmt.Errorf("effective settings of warehouse %s: %w", warehouseID, err)
		}
		s = o.Apply(s)
		s.Throttle = s.Throttle.WithDefaults()
		return s, nil
	}
	s, err := r.store.Settings(ctx)
	if err != nil {
		return Settings{}, fmt.Errorf("effective settings: %w", err)
	}
	if warehouseID != "" {
		w, err := r.store.Warehouse(ctx, warehouseID)
		if err != nil {
			return Settings{}, fmt.Errorf("effective settings of warehouse %s: %w", warehouseID, err)
		}
		s = w.Settings.Apply(s)
	}
	s.Throttle = s.Throttle.WithDefaults()
	return s, nil
}

// WarehouseSettingsReader is a Store that reads the organisation's
// settings (as Settings does) and a warehouse's overrides in one
// statement: every login reads both. A missing warehouse is ErrNotFound.
// It is optional: EffectiveSettings reads them one by one otherwise.
type WarehouseSettingsReader interface {
	WarehouseSettings(ctx context.Context, warehouseID string) (Settings, SettingsOverride, error)
}
