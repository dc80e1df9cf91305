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
// packages matched by to.
type rule struct {
	name string
	from func(pkg string) bool
	to   func(dep string) bool
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

func anyDriver(dep string) bool {
	for _, d := range drivers {
		if within(dep, d) {
			return true
		}
	}
	return false
}

// The dependency rules of DESIGN.md and STYLE.md:
// cmd → {gateway, admin} → {devices, sessions} → drivers, siblings never
// import each other, and the contracts stay free of drivers.
var rules = []rule{
	{"devices never imports sessions", under("devices"), under("sessions")},
	{"sessions never imports devices", under("sessions"), under("devices")},
	{"gateway never imports admin", under("gateway"), under("admin")},
	{"admin never imports gateway", under("admin"), under("gateway")},
	{"devices and sessions never import gateway or admin", under("devices", "sessions"), under("gateway", "admin", "cmd")},
	{"gateway and admin never import cmd", under("gateway", "admin"), under("cmd")},
	{"the contracts import no driver", exactly("devices", "sessions", "devices/devicestest", "sessions/sessionstest"), anyDriver},
	{"gateway and admin import no driver", under("gateway", "admin"), anyDriver},
	{"devicesim speaks the protocol over the network only", under("cmd/devicesim"), under("devices", "sessions", "gateway", "admin")},
	{"the bare comparisons contain nothing of Floorgate", under("cmd/benchbare"), under("devices", "sessions", "gateway", "admin")},
	{"the clients speak to Floorgate over the network only", under("clients"), under("devices", "sessions", "gateway", "admin", "cmd")},
}

// TestLayout checks every package's dependencies (not its tests') against
// the rules, with `go list -deps`.
func TestLayout(t *testing.T) {
	deps := listDeps(t)
	if len(deps) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for pkg, ds := range deps {
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

// listDeps returns every package of the module with its transitive
// non-test dependencies. Packages that do not compile yet are listed too
// (-e): their imports are what matters here.
func listDeps(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
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
