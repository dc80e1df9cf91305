package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestRunPprof checks that net/http/pprof is off by default, served on
// its own listener when -pprof-addr is set, and never on the device or
// admin listeners.
func TestRunPprof(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"off by default", nil, false},
		{"on when set", map[string]string{"FLOORGATE_PPROF_ADDR": "127.0.0.1:0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"FLOORGATE_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			in := startFloorgate(t, env)
			if got := in.Pprof != ""; got != tt.on {
				t.Fatalf("pprof listener bound = %v (%q); want %v", got, in.Pprof, tt.on)
			}
			for _, base := range []string{in.GatewayURL, in.AdminURL} {
				if code, _ := get(t, base+"/debug/pprof/"); code != http.StatusNotFound {
					t.Errorf("GET %s/debug/pprof/ = %d; want 404", base, code)
				}
			}
			if !tt.on {
				return
			}
			base := "http://" + in.Pprof
			if code, body := get(t, base+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
				t.Errorf("GET %s/debug/pprof/ = %d %.80q; want 200 and the profile index", base, code, body)
			}
			if code, _ := get(t, base+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK {
				t.Errorf("GET %s/debug/pprof/goroutine = %d; want 200", base, code)
			}
			if code, _ := get(t, base+"/debug/pprof/cmdline"); code == http.StatusOK {
				t.Errorf("GET %s/debug/pprof/cmdline = 200; want it refused (the command line may hold a password)", base)
			}
		})
	}
}
