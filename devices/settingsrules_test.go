package devices

import (
	"errors"
	"testing"
)

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Settings)
		field  string // "" when valid
	}{
		{"defaults", func(*Settings) {}, ""},
		{"cap 1", func(s *Settings) { s.SessionCap = 1 }, ""},
		{"cap 100", func(s *Settings) { s.SessionCap = 100 }, ""},
		{"cap 0", func(s *Settings) { s.SessionCap = 0 }, "session_cap"},
		{"cap 101", func(s *Settings) { s.SessionCap = 101 }, "session_cap"},
		{"deny new", func(s *Settings) { s.CapPolicy = DenyNew }, ""},
		{"unknown policy", func(s *Settings) { s.CapPolicy = "evict_newest" }, "cap_policy"},
		{"empty policy", func(s *Settings) { s.CapPolicy = "" }, "cap_policy"},
		{"idle 60", func(s *Settings) { s.IdleTimeoutS = 60 }, ""},
		{"idle 59", func(s *Settings) { s.IdleTimeoutS = 59 }, "idle_timeout_s"},
		{"absolute equals idle", func(s *Settings) { s.AbsoluteTimeoutS = s.IdleTimeoutS }, ""},
		{"absolute below idle", func(s *Settings) { s.AbsoluteTimeoutS = s.IdleTimeoutS - 1 }, "absolute_timeout_s"},
		{"absolute 7 days", func(s *Settings) { s.AbsoluteTimeoutS = 7 * 24 * 3600 }, ""},
		{"absolute over 7 days", func(s *Settings) { s.AbsoluteTimeoutS = 7*24*3600 + 1 }, "absolute_timeout_s"},
		{"pin 4", func(s *Settings) { s.PINMinLength = 4 }, ""},
		{"pin 12", func(s *Settings) { s.PINMinLength = 12 }, ""},
		{"pin 3", func(s *Settings) { s.PINMinLength = 3 }, "pin_min_length"},
		{"pin 13", func(s *Settings) { s.PINMinLength = 13 }, "pin_min_length"},
		{"version", func(s *Settings) { s.MinAppVersion = "4.2.0" }, ""},
		{"version one part", func(s *Settings) { s.MinAppVersion = "4" }, ""},
		{"version letters", func(s *Settings) { s.MinAppVersion = "4.2.0-beta" }, "min_app_version"},
		{"version empty part", func(s *Settings) { s.MinAppVersion = "4..0" }, "min_app_version"},
		{"version v", func(s *Settings) { s.MinAppVersion = "v4.2" }, "min_app_version"},
		{"throttle zero takes default", func(s *Settings) { s.Throttle = Throttle{} }, ""},
		{"throttle negative", func(s *Settings) { s.Throttle.UserLockS = -1 }, "throttle.user_lock_s"},
		{"throttle seconds too large", func(s *Settings) { s.Throttle.PairMaxDelayS = MaxThrottleS + 1 }, "throttle.pair_max_delay_s"},
		{"throttle seconds at the limit", func(s *Settings) { s.Throttle.UserLockS = MaxThrottleS }, ""},
		{"throttle count too large", func(s *Settings) { s.Throttle.DeviceFailures = 1 << 62 }, "throttle.device_failures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			tt.change(&s)
			err := s.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v; want nil", s, err)
				}
				return
			}
			var v *ValidationError
			if !errors.As(err, &v) || len(v.Fields) != 1 || v.Fields[0].Field != tt.field {
				t.Fatalf("Validate(%+v) = %v; want one problem with %s", s, err, tt.field)
			}
		})
	}
}

func TestThrottleWithDefaults(t *testing.T) {
	got := Throttle{UserLockS: 60}.WithDefaults()
	want := DefaultThrottle()
	want.UserLockS = 60
	if got != want {
		t.Errorf("WithDefaults() = %+v; want %+v", got, want)
	}
}

func TestAppVersionBelow(t *testing.T) {
	tests := []struct {
		version, min string
		below        bool
	}{
		{"4.2.0", "", false},
		{"", "", false},
		{"4.2.0", "4.2.0", false},
		{"4.2", "4.2.0", false},
		{"4.2.1", "4.2.0", false},
		{"4.10.0", "4.9.0", false},
		{"5", "4.9.9", false},
		{"4.1.9", "4.2.0", true},
		{"4.9.0", "4.10.0", true},
		{"4.2.0-beta", "4.2.0", false},
		{"4.2.0 (33)", "4.2.1", true},
		{"v4.2.0", "4.2.0", false},
		{"", "4.2.0", true},
		{"beta", "1", true},
	}
	for _, tt := range tests {
		if got := AppVersionBelow(tt.version, tt.min); got != tt.below {
			t.Errorf("AppVersionBelow(%q, %q) = %v; want %v", tt.version, tt.min, got, tt.below)
		}
	}
}

func TestWarehouseCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"lax1", "LAX1", true},
		{" dfw-02 ", "DFW-02", true},
		{"A_B", "A_B", true},
		{"", "", false},
		{"la x", "", false},
		{"läx", "", false},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", "", false},
	}
	for _, tt := range tests {
		got, err := WarehouseCode(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("WarehouseCode(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestVersionBelow: a login is held to the lower of the version it claims
// (or, claiming none, the last the device reported) and the version
// recorded at enrollment.
func TestVersionBelow(t *testing.T) {
	tests := []struct {
		enrolled, reported, claimed, min string
		below                            bool
	}{
		{"4.2.0", "4.2.0", "", "4.10", true},
		{"4.2.0", "4.2.0", "4.10.1", "4.10", true}, // a claim cannot lift the enrolled version
		{"4.10.1", "4.10.1", "", "4.10", false},
		{"4.10.1", "4.10.1", "4.2.0", "4.10", true}, // nor hide an older app
		{"4.10.1", "4.2.0", "", "4.10", true},       // the last reported counts without a claim
		{"4.10.1", "4.2.0", "4.11", "4.10", false},
		{"", "4.11", "4.11", "4.10", true}, // enrolled without a version: below any minimum
		{"", "", "", "", false},            // no minimum
		{"garbage", "5.0", "5.0", "4.10", true},
	}
	for _, tt := range tests {
		d := Device{EnrolledAppVersion: tt.enrolled, AppVersion: tt.reported}
		if got := d.VersionBelow(tt.claimed, tt.min); got != tt.below {
			t.Errorf("Device{enrolled %q, reported %q}.VersionBelow(%q, %q) = %v; want %v", tt.enrolled, tt.reported, tt.claimed, tt.min, got, tt.below)
		}
	}
}
