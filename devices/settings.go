package devices

import "time"

// CapPolicy says what a login does when the user is at the session cap.
type CapPolicy string

const (
	// EvictOldest ends the user's oldest-created sessions to make room.
	EvictOldest CapPolicy = "evict_oldest"
	// DenyNew refuses the new login.
	DenyNew CapPolicy = "deny_new"
)

// Settings are the rules in force for logins. The organisation holds one
// full set; a warehouse may override any field (see SettingsOverride).
type Settings struct {
	SessionCap       int       `json:"session_cap"`        // 1..100
	CapPolicy        CapPolicy `json:"cap_policy"`         // evict_oldest or deny_new
	IdleTimeoutS     int       `json:"idle_timeout_s"`     // seconds unused before a session ends
	AbsoluteTimeoutS int       `json:"absolute_timeout_s"` // seconds from login to the end, whatever happens
	PINMinLength     int       `json:"pin_min_length"`     // 4..12
	MinAppVersion    string    `json:"min_app_version"`    // "" for none; dotted numbers, e.g. "4.2.0"
	Throttle         Throttle  `json:"throttle"`
}

// Throttle holds the brute-force limits. Zero fields take the defaults.
type Throttle struct {
	// Per (user, device): failures allowed before delays start, and the
	// longest delay the doubling reaches.
	PairFreeFailures int `json:"pair_free_failures"`
	PairMaxDelayS    int `json:"pair_max_delay_s"`
	// Per user across devices: UserFailures in UserWindowS lock the user
	// for UserLockS.
	UserFailures int `json:"user_failures"`
	UserWindowS  int `json:"user_window_s"`
	UserLockS    int `json:"user_lock_s"`
	// Consecutive failures that locked a user until someone unlocked it.
	// No longer applied (no lock is permanent: a colleague could trigger
	// it); repeated timed locks grow instead. Kept so that settings
	// round-trip.
	UserHardFailures int `json:"user_hard_failures"`
	// Per device across users: DeviceFailures in DeviceWindowS (by
	// default 30 a day) quarantine the device until a manager unlocks it.
	DeviceFailures int `json:"device_failures"`
	DeviceWindowS  int `json:"device_window_s"`
	// Per warehouse: SprayUsers distinct usernames failing within
	// SprayWindowS raise the spray alarm.
	SprayUsers   int `json:"spray_users"`
	SprayWindowS int `json:"spray_window_s"`
}

// DefaultSettings are the organisation's settings until an admin changes them.
func DefaultSettings() Settings {
	return Settings{
		SessionCap:       3,
		CapPolicy:        EvictOldest,
		IdleTimeoutS:     int((30 * time.Minute).Seconds()),
		AbsoluteTimeoutS: int((12 * time.Hour).Seconds()),
		PINMinLength:     4,
		Throttle:         DefaultThrottle(),
	}
}

// DefaultThrottle returns the limits docs/SECURITY.md describes.
func DefaultThrottle() Throttle {
	return Throttle{
		PairFreeFailures: 3,
		PairMaxDelayS:    300,
		UserFailures:     10,
		UserWindowS:      1800,
		UserLockS:        900,
		UserHardFailures: 100, // no longer applied: no lock is permanent
		DeviceFailures:   30,
		DeviceWindowS:    86400,
		SprayUsers:       20,
		SprayWindowS:     600,
	}
}

// SettingsOverride is a warehouse's partial settings: a nil field takes
// the organisation's value.
type SettingsOverride struct {
	SessionCap       *int       `json:"session_cap,omitempty"`
	CapPolicy        *CapPolicy `json:"cap_policy,omitempty"`
	IdleTimeoutS     *int       `json:"idle_timeout_s,omitempty"`
	AbsoluteTimeoutS *int       `json:"absolute_timeout_s,omitempty"`
	PINMinLength     *int       `json:"pin_min_length,omitempty"`
	MinAppVersion    *string    `json:"min_app_version,omitempty"`
	Throttle         *Throttle  `json:"throttle,omitempty"`
}

// Apply returns base with the override's fields laid over it.
func (o SettingsOverride) Apply(base Settings) Settings {
	s := base
	if o.SessionCap != nil {
		s.SessionCap = *o.SessionCap
	}
	if o.CapPolicy != nil {
		s.CapPolicy = *o.CapPolicy
	}
	if o.IdleTimeoutS != nil {
		s.IdleTimeoutS = *o.IdleTimeoutS
	}
	if o.AbsoluteTimeoutS != nil {
		s.AbsoluteTimeoutS = *o.AbsoluteTimeoutS
	}
	if o.PINMinLength != nil {
		s.PINMinLength = *o.PINMinLength
	}
	if o.MinAppVersion != nil {
		s.MinAppVersion = *o.MinAppVersion
	}
	if o.Throttle != nil {
		s.Throttle = *o.Throttle
	}
	return s
}
