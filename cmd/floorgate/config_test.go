package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envMap is a getenv over a map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(c config) (got, want any)
	}{
		{"addr default", nil, nil,
			func(c config) (any, any) { return c.Addr, ":8080" }},
		{"addr from env", nil, map[string]string{"FLOORGATE_ADDR": ":9000"},
			func(c config) (any, any) { return c.Addr, ":9000" }},
		{"addr flag beats env", []string{"-addr", ":9100"}, map[string]string{"FLOORGATE_ADDR": ":9000"},
			func(c config) (any, any) { return c.Addr, ":9100" }},
		{"admin addr default", nil, nil,
			func(c config) (any, any) { return c.AdminAddr, ":8081" }},
		{"admin addr from env", nil, map[string]string{"FLOORGATE_ADMIN_ADDR": "127.0.0.1:0"},
			func(c config) (any, any) { return c.AdminAddr, "127.0.0.1:0" }},
		{"data dir default", nil, nil,
			func(c config) (any, any) { return c.DataDir, "./floorgate-data" }},
		{"data dir flag", []string{"-data-dir=/var/lib/fg"}, map[string]string{"FLOORGATE_DATA_DIR": "/tmp/x"},
			func(c config) (any, any) { return c.DataDir, "/var/lib/fg" }},
		{"postgres from env", nil, map[string]string{"FLOORGATE_POSTGRES_URL": "postgres://db/fg"},
			func(c config) (any, any) { return c.PostgresURL, "postgres://db/fg" }},
		{"redis from env", nil, map[string]string{"FLOORGATE_REDIS_URL": "redis://r:6379/0"},
			func(c config) (any, any) { return c.RedisURL, "redis://r:6379/0" }},
		{"pepper file from env", nil, map[string]string{"FLOORGATE_PEPPER_FILE": "/run/secrets/pepper"},
			func(c config) (any, any) { return c.PepperFile, "/run/secrets/pepper" }},
		{"admin email default", nil, nil,
			func(c config) (any, any) { return c.AdminEmail, "admin@floorgate.local" }},
		{"admin email from env", nil, map[string]string{"FLOORGATE_ADMIN_EMAIL": "it@example.com"},
			func(c config) (any, any) { return c.AdminEmail, "it@example.com" }},
		{"admin password flag beats env", []string{"-admin-password", "F"}, map[string]string{"FLOORGATE_ADMIN_PASSWORD": "E"},
			func(c config) (any, any) { return c.AdminPassword, "F" }},
		{"origins split and trimmed", nil, map[string]string{"FLOORGATE_ALLOWED_ORIGINS": "https://a.example, https://b.example,"},
			func(c config) (any, any) {
				return c.AllowedOrigins, []string{"https://a.example", "https://b.example"}
			}},
		{"pprof off by default", nil, nil,
			func(c config) (any, any) { return c.PprofAddr, "" }},
		{"pprof addr from env", nil, map[string]string{"FLOORGATE_PPROF_ADDR": "127.0.0.1:6060"},
			func(c config) (any, any) { return c.PprofAddr, "127.0.0.1:6060" }},
		{"pprof addr flag beats env", []string{"-pprof-addr", "127.0.0.1:6061"}, map[string]string{"FLOORGATE_PPROF_ADDR": "127.0.0.1:6060"},
			func(c config) (any, any) { return c.PprofAddr, "127.0.0.1:6061" }},
		{"no origins by default", nil, nil,
			func(c config) (any, any) { return c.AllowedOrigins, []string(nil) }},
		{"log level from env", nil, map[string]string{"FLOORGATE_LOG_LEVEL": "debug"},
			func(c config) (any, any) { return c.LogLevel, slog.LevelDebug }},
		{"shutdown timeout from env", nil, map[string]string{"FLOORGATE_SHUTDOWN_TIMEOUT": "3s"},
			func(c config) (any, any) { return c.ShutdownTimeout, 3 * time.Second }},
		{"shutdown timeout flag beats env", []string{"-shutdown-timeout=1s"}, map[string]string{"FLOORGATE_SHUTDOWN_TIMEOUT": "3s"},
			func(c config) (any, any) { return c.ShutdownTimeout, time.Second }},
		{"hash memory default", nil, nil,
			func(c config) (any, any) { return c.HashMemoryKiB, uint32(19 * 1024) }},
		{"hash memory from env", nil, map[string]string{"FLOORGATE_HASH_MEMORY_KIB": "64"},
			func(c config) (any, any) { return c.HashMemoryKiB, uint32(64) }},
		{"hash time flag", []string{"-hash-time", "1"}, nil,
			func(c config) (any, any) { return c.HashTime, uint32(1) }},
		{"instance id from env", nil, map[string]string{"FLOORGATE_INSTANCE_ID": "fg-1"},
			func(c config) (any, any) { return c.InstanceID, "fg-1" }},
		{"redis prefix default", nil, nil,
			func(c config) (any, any) { return c.RedisPrefix, "fg:" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(append([]string{"floorgate"}, tt.args...), envMap(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("parseConfig(%q) = %v; want no error", tt.args, err)
			}
			if got, want := tt.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("parseConfig(%q) with %v: got %#v; want %#v", tt.args, tt.env, got, want)
			}
		})
	}
}

func TestParseConfigInstanceIDDefault(t *testing.T) {
	a, err := parseConfig([]string{"floorgate"}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseConfig([]string{"floorgate"}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a.InstanceID == "" || a.InstanceID == b.InstanceID {
		t.Errorf("default instance ids %q and %q; want two different, non-empty ids", a.InstanceID, b.InstanceID)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{"bad duration in env", nil, map[string]string{"FLOORGATE_SHUTDOWN_TIMEOUT": "soon"}, "FLOORGATE_SHUTDOWN_TIMEOUT"},
		{"bad number in env", nil, map[string]string{"FLOORGATE_HASH_TIME": "two"}, "FLOORGATE_HASH_TIME"},
		{"bad log level", []string{"-log-level", "loud"}, nil, "-log-level"},
		{"unknown flag", []string{"-port", "80"}, nil, "port"},
		{"stray argument", []string{"serve"}, nil, "unexpected arguments"},
		{"hash memory too small", []string{"-hash-memory-kib", "1"}, nil, "-hash-memory-kib"},
		{"hash time zero", []string{"-hash-time", "0"}, nil, "-hash-time"},
		{"zero shutdown timeout", []string{"-shutdown-timeout", "0s"}, nil, "-shutdown-timeout"},
		{"store timeout too short", []string{"-store-timeout", "1ms"}, nil, "-store-timeout"},
		{"introspect cache too long", []string{"-introspect-cache", "1m"}, nil, "-introspect-cache"},
		{"device token cache too long", []string{"-device-token-cache", "1h"}, nil, "-device-token-cache"},
		{"manager token cache too long", []string{"-manager-token-cache", "10s"}, nil, "-manager-token-cache"},
		{"hash tag in redis prefix", []string{"-redis-prefix", "fg{x}:"}, nil, "-redis-prefix"},
		{"empty data dir", []string{"-data-dir", ""}, nil, "-data-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(append([]string{"floorgate"}, tt.args...), envMap(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseConfig(%q) with %v = %v; want an error naming %q", tt.args, tt.env, err, tt.want)
			}
		})
	}
}

// TestHelpListsEveryFlag checks that -h lists every flag of docs/OPERATIONS.md
// "Running" with its environment variable, and that run ends without an
// error after printing it.
func TestHelpListsEveryFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"floorgate", "-h"}, envMap(nil), &stdout, &stderr)
	if err != nil {
		t.Fatalf("run(-h) = %v; want nil", err)
	}
	help := stderr.String()
	want := map[string]string{
		"addr":                "FLOORGATE_ADDR",
		"admin-addr":          "FLOORGATE_ADMIN_ADDR",
		"postgres-url":        "FLOORGATE_POSTGRES_URL",
		"redis-url":           "FLOORGATE_REDIS_URL",
		"data-dir":            "FLOORGATE_DATA_DIR",
		"pepper-file":         "FLOORGATE_PEPPER_FILE",
		"admin-email":         "FLOORGATE_ADMIN_EMAIL",
		"admin-password":      "FLOORGATE_ADMIN_PASSWORD",
		"allowed-origins":     "FLOORGATE_ALLOWED_ORIGINS",
		"log-level":           "FLOORGATE_LOG_LEVEL",
		"instance-id":         "FLOORGATE_INSTANCE_ID",
		"shutdown-timeout":    "FLOORGATE_SHUTDOWN_TIMEOUT",
		"store-timeout":       "FLOORGATE_STORE_TIMEOUT",
		"introspect-cache":    "FLOORGATE_INTROSPECT_CACHE",
		"device-token-cache":  "FLOORGATE_DEVICE_TOKEN_CACHE",
		"manager-token-cache": "FLOORGATE_MANAGER_TOKEN_CACHE",
		"hash-memory-kib":     "FLOORGATE_HASH_MEMORY_KIB",
		"hash-time":           "FLOORGATE_HASH_TIME",
		"redis-prefix":        "FLOORGATE_REDIS_PREFIX",
		"client-ip-header":    "FLOORGATE_CLIENT_IP_HEADER",
		"pprof-addr":          "FLOORGATE_PPROF_ADDR",

		"max-conns":               "FLOORGATE_MAX_CONNS",
		"max-conns-per-addr":      "FLOORGATE_MAX_CONNS_PER_ADDR",
		"max-websockets":          "FLOORGATE_MAX_WEBSOCKETS",
		"max-websockets-per-addr": "FLOORGATE_MAX_WEBSOCKETS_PER_ADDR",
		"admin-max-conns":         "FLOORGATE_ADMIN_MAX_CONNS",
		"fd-reserve":              "FLOORGATE_FD_RESERVE",
		"ws-messages-per-minute":  "FLOORGATE_WS_MESSAGES_PER_MINUTE",
		"ws-message-burst":        "FLOORGATE_WS_MESSAGE_BURST",
		"device-metrics":          "FLOORGATE_DEVICE_METRICS",
		"signin-burst":            "FLOORGATE_SIGNIN_BURST",
		"signin-per-minute":       "FLOORGATE_SIGNIN_PER_MINUTE",
		"enroll-hash-share":       "FLOORGATE_ENROLL_HASH_SHARE",
		"admin-hash-share":        "FLOORGATE_ADMIN_HASH_SHARE",
		"device-url":              "FLOORGATE_DEVICE_URL",
		"console-url":             "FLOORGATE_CONSOLE_URL",
		"invitation-ttl":          "FLOORGATE_INVITATION_TTL",
		"smtp-url":                "FLOORGATE_SMTP_URL",
		"smtp-from":               "FLOORGATE_SMTP_FROM",
	}
	for f, env := range want {
		if !strings.Contains(help, "-"+f+" ") && !strings.Contains(help, "-"+f+"\n") {
			t.Errorf("-h does not list -%s:\n%s", f, help)
		}
		if !strings.Contains(help, "$"+env) {
			t.Errorf("-h does not name $%s", env)
		}
	}
	// Every flag the program defines is in the table above, so that a new
	// flag gets a test here and a line in the README.
	if _, err := parseConfig([]string{"floorgate", "-h"}, envMap(nil), io.Discard); err != flag.ErrHelp {
		t.Fatalf("parseConfig(-h) = %v; want flag.ErrHelp", err)
	}
	for line := range strings.SplitSeq(help, "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "-"); ok {
			name, _, _ = strings.Cut(name, " ")
			if _, ok := want[name]; !ok {
				t.Errorf("-h lists -%s, which this test does not know", name)
			}
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("run(-h) wrote %q to stdout; want nothing", stdout.String())
	}
}

// TestHelpShowsNoSecret: -h shows the built-in defaults, never the value
// of a variable, which may be a password.
func TestHelpShowsNoSecret(t *testing.T) {
	var stderr bytes.Buffer
	env := map[string]string{
		"FLOORGATE_ADMIN_PASSWORD": "Sekrit-Admin-Pw-1",
		"FLOORGATE_POSTGRES_URL":   "postgres://fg:Sekrit-Db-Pw@db/fg",
		"FLOORGATE_REDIS_URL":      "redis://:Sekrit-Redis-Pw@r:6379",
	}
	if err := run(context.Background(), []string{"floorgate", "-h"}, envMap(env), io.Discard, &stderr); err != nil {
		t.Fatalf("run(-h) = %v", err)
	}
	if strings.Contains(stderr.String(), "Sekrit") {
		t.Errorf("-h shows the value of a variable:\n%s", stderr.String())
	}
	// And a bad value is named by its variable, not quoted.
	_, err := parseConfig([]string{"floorgate"}, envMap(map[string]string{"FLOORGATE_HASH_TIME": "Sekrit"}), io.Discard)
	if err == nil || strings.Contains(err.Error(), "Sekrit") || !strings.Contains(err.Error(), "FLOORGATE_HASH_TIME") {
		t.Errorf("parseConfig with a bad $FLOORGATE_HASH_TIME = %v; want an error naming the variable without its value", err)
	}
}
