package floorgate_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// module is this module's path.
const module = "github.com/floorgate/floorgate"

// drivers are the database and Redis clients: only the store
// subpackages and cmd/floorgate may depend on them.
var drivers = []string{
	"github.com/jackc/pgx",
	"github.com/redis/go-redis",
	"modernc.org/sqlite",
}

// within reports whether pkg is root or one of its subpackages.
func within(pkg, root string) bool {
	return pkg == root || strings.HasPrefix(pkg, root+"/")
}

// ours turns a folder of this module into its import path.
func ours(dir string) string { return module + "/" + dir }

// rule forbids packages matched by from to depend, directly or not, on
// packages matched by to (only directly when direct is set: a layer may
// reach a package through the layer below it, but not around it).
type rule struct {
	name   string
	from   func(pkg string) bool
	to     func(dep string) bool
	direct bool
}

func under(dirs ...string) func(string) bool {
	return func(p string) bool {
		for _, d := range dirs {
			if within(p, ours(d)) {
				return true
			}
		}
		return false
	}
}

func exactly(dirs ...string) func(string) bool {
	return func(p string) bool {
		for _, d := range dirs {
			if p == ours(d) {
				return true
			}
		}
		return false
	}
}

// not matches what f does not.
func not(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }

// except matches what f matches and none of the others do.
func except(f func(string) bool, others ...func(string) bool) func(string) bool {
	return func(p string) bool {
		if !f(p) {
			return false
		}
		for _, o := range others {
			if o(p) {
				return false
			}
		}
		return true
	}
}

// ofFloorgate matches the module's own packages.
func ofFloorgate(p string) bool { return within(p, module) }

// suites are the conformance suites and the test helpers: the only
// packages that may import the test helpers besides tests.
var suites = under("devices/devicestest", "sessions/sessionstest", "throttle/throttletest", "internal/testenv")

func anyDriver(dep string) bool {
	for _, d := range drivers {
		if within(dep, d) {
			return true
		}
	}
	return false
}

// The dependency rules (docs/ARCHITECTURE.md):
// cmd → {gateway, admin} → signin → {devices, sessions, throttle} →
// drivers, and cmd → housekeeping → {devices, sessions}, with the leaves
// under internal/ below them all. Siblings never import each other, and
// the contracts stay free of drivers.
var rules = []rule{
	{name: "devices never imports sessions", from: under("devices"), to: under("sessions")},
	{name: "sessions never imports devices", from: under("sessions"), to: under("devices")},
	{name: "throttle imports neither devices nor sessions", from: under("throttle"), to: under("devices", "sessions")},
	{name: "devices and sessions never import throttle", from: under("devices", "sessions"), to: under("throttle")},
	{name: "gateway never imports admin", from: under("gateway"), to: under("admin")},
	{name: "admin never imports gateway", from: under("admin"), to: under("gateway")},
	{name: "the stores never import the layers above", from: under("devices", "sessions", "throttle"), to: under("signin", "gateway", "admin", "housekeeping", "cmd")},
	{name: "housekeeping imports only the stores' contracts", from: under("housekeeping"), to: under("signin", "gateway", "admin", "cmd", "throttle")},
	{name: "only cmd runs housekeeping", from: under("signin", "gateway", "admin"), to: under("housekeeping")},
	{name: "signin never imports gateway, admin or cmd", from: under("signin"), to: under("gateway", "admin", "cmd")},
	{name: "gateway and admin never import cmd", from: under("gateway", "admin"), to: under("cmd")},
	{name: "gateway and admin reach the throttle through signin", from: under("gateway", "admin"), to: under("throttle"), direct: true},
	{name: "the internal leaves import nothing of Floorgate", from: under("internal"), to: ofFloorgate},
	{name: "only tests and suites use the test helpers", from: not(suites), to: under("internal/testenv", "internal/clock")},
	{name: "registry stores import only devices", from: under("devices/postgres", "devices/sqlite"), to: except(ofFloorgate, exactly("devices"), under("internal"))},
	{name: "session stores import only sessions", from: under("sessions/redis", "sessions/memory"), to: except(ofFloorgate, exactly("sessions"), under("internal"))},
	{name: "throttle stores import only throttle", from: under("throttle/redis", "throttle/memory"), to: except(ofFloorgate, exactly("throttle"), under("internal"))},
	{name: "only tests import the conformance suites", from: not(under("internal/testenv")), to: under("devices/devicestest", "sessions/sessionstest", "throttle/throttletest")},
	{name: "the contracts import no driver", from: exactly("devices", "sessions", "throttle", "devices/devicestest", "sessions/sessionstest", "throttle/throttletest"), to: anyDriver},
	{name: "signin, gateway, admin and housekeeping import no driver", from: under("signin", "gateway", "admin", "housekeeping"), to: anyDriver},
	{name: "devicesim speaks the protocol over the network only", from: under("cmd/devicesim"), to: under("devices", "sessions", "throttle", "signin", "gateway", "admin", "housekeeping", "internal")},
	{name: "the bare comparisons contain nothing of Floorgate", from: under("cmd/benchbare"), to: under("devices", "sessions", "throttle", "signin", "gateway", "admin", "housekeeping", "internal")},
	{name: "the peer's driver contains nothing of Floorgate", from: under("cmd/benchpeer"), to: under("devices", "sessions", "throttle", "signin", "gateway", "admin", "housekeeping", "internal")},
	{name: "the clients speak to Floorgate over the network only", from: under("clients"), to: under("devices", "sessions", "throttle", "signin", "gateway", "admin", "housekeeping", "cmd")},
}

// TestLayout checks every package's dependencies (not its tests') against
// the rules, with `go list -deps`.
func TestLayout(t *testing.T) {
	deps := listDeps(t, "{{.Deps}}")
	imports := listDeps(t, "{{.Imports}}")
	if len(deps) == 0 || len(imports) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			of := deps
			if r.direct {
				of = imports
			}
			for pkg, ds := range of {
				if !r.from(pkg) {
					continue
				}
				for _, d := range ds {
					if r.to(d) {
						t.Errorf("%s depends on %s", strings.TrimPrefix(pkg, module+"/"), d)
					}
				}
			}
		})
	}
}

// TestLayoutRules checks that the rules match what they are meant to, so
// that a typo cannot turn one into a rule that never fires.
func TestLayoutRules(t *testing.T) {
	tests := []struct {
		rule      string
		pkg, dep  string
		forbidden bool
	}{
		{"devices never imports sessions", ours("devices/postgres"), ours("sessions"), true},
		{"devices never imports sessions", ours("devices"), ours("devices/devicestest"), false},
		{"sessions never imports devices", ours("sessions/redis"), ours("devices"), true},
		{"gateway never imports admin", ours("gateway"), ours("admin"), true},
		{"admin never imports gateway", ours("admin"), ours("gateway/ws"), true},
		{"admin never imports gateway", ours("admin"), ours("gatewayx"), false},
		{"the contracts import no driver", ours("devices"), "github.com/jackc/pgx/v5/pgxpool", true},
		{"the contracts import no driver", ours("sessions"), "github.com/redis/go-redis/v9", true},
		{"the contracts import no driver", ours("devices/sqlite"), "modernc.org/sqlite", false},
		{"the contracts import no driver", ours("devices"), "golang.org/x/crypto/argon2", false},
		{"devicesim speaks the protocol over the network only", ours("cmd/devicesim"), ours("devices"), true},
		{"the clients speak to Floorgate over the network only", ours("clients/introspect"), ours("gateway"), true},
		{"the clients speak to Floorgate over the network only", ours("clients/introspect/example"), ours("cmd/internal/latency"), true},
		{"the clients speak to Floorgate over the network only", ours("clients/introspect"), ours("clients/internal/livetest"), false},
		{"devicesim speaks the protocol over the network only", ours("cmd/devicesim"), ours("signin"), true},
		{"throttle imports neither devices nor sessions", ours("throttle/redis"), ours("sessions"), true},
		{"throttle imports neither devices nor sessions", ours("throttle/memory"), ours("devices"), true},
		{"devices and sessions never import throttle", ours("sessions/redis"), ours("throttle/redis"), true},
		{"the stores never import the layers above", ours("throttle"), ours("signin"), true},
		{"the stores never import the layers above", ours("devices/postgres"), ours("gateway"), true},
		{"signin never imports gateway, admin or cmd", ours("signin"), ours("admin"), true},
		{"signin never imports gateway, admin or cmd", ours("signin"), ours("throttle"), false},
		{"gateway and admin reach the throttle through signin", ours("admin"), ours("throttle/memory"), true},
		{"gateway and admin reach the throttle through signin", ours("gateway"), ours("signin"), false},
		{"the internal leaves import nothing of Floorgate", ours("internal/problem"), ours("devices"), true},
		{"the internal leaves import nothing of Floorgate", ours("internal/token"), "crypto/sha256", false},
		{"only tests and suites use the test helpers", ours("gateway"), ours("internal/testenv"), true},
		{"only tests and suites use the test helpers", ours("sessions/sessionstest"), ours("internal/clock"), false},
		{"only tests and suites use the test helpers", ours("internal/testenv"), ours("internal/clock"), false},
		{"the contracts import no driver", ours("throttle"), "github.com/redis/go-redis/v9", true},
		{"the contracts import no driver", ours("throttle/redis"), "github.com/redis/go-redis/v9", false},
		{"signin, gateway, admin and housekeeping import no driver", ours("signin"), "github.com/jackc/pgx/v5", true},
		{"signin, gateway, admin and housekeeping import no driver", ours("housekeeping"), "github.com/redis/go-redis/v9", true},
		{"housekeeping imports only the stores' contracts", ours("housekeeping"), ours("admin"), true},
		{"housekeeping imports only the stores' contracts", ours("housekeeping"), ours("sessions"), false},
		{"only cmd runs housekeeping", ours("gateway"), ours("housekeeping"), true},
		{"only cmd runs housekeeping", ours("cmd/floorgate"), ours("housekeeping"), false},
		{"the stores never import the layers above", ours("sessions/memory"), ours("housekeeping"), true},
		{"registry stores import only devices", ours("devices/sqlite"), ours("sessions"), true},
		{"registry stores import only devices", ours("devices/sqlite"), ours("devices/devicestest"), true},
		{"registry stores import only devices", ours("devices/postgres"), ours("devices"), false},
		{"registry stores import only devices", ours("devices/postgres"), ours("internal/token"), false},
		{"session stores import only sessions", ours("sessions/memory"), ours("throttle"), true},
		{"throttle stores import only throttle", ours("throttle/redis"), ours("sessions/redis"), true},
		{"only tests import the conformance suites", ours("gateway"), ours("sessions/sessionstest"), true},
	}
	byName := map[string]rule{}
	for _, r := range rules {
		byName[r.name] = r
	}
	for _, tt := range tests {
		r, ok := byName[tt.rule]
		if !ok {
			t.Fatalf("no rule %q", tt.rule)
		}
		if got := r.from(tt.pkg) && r.to(tt.dep); got != tt.forbidden {
			t.Errorf("rule %q forbids %s → %s = %v; want %v", tt.rule, tt.pkg, tt.dep, got, tt.forbidden)
		}
	}
}

// listDeps returns every package of the module with its non-test
// dependencies: field is "{{.Deps}}" (transitive) or "{{.Imports}}"
// (direct). Packages that do not compile yet are listed too (-e): their
// imports are what matters here.
func listDeps(t *testing.T, field string) map[string][]string {
	t.Helper()
	list := strings.TrimSuffix(strings.TrimPrefix(field, "{{"), "}}")
	cmd := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}{{range `+list+`}} {{.}}{{end}}`, "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		deps[f[0]] = f[1:]
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read go list output: %v", err)
	}
	return deps
}
