// Package js_test runs the JavaScript client's tests (npm test) as part
// of `go test ./...`: Node's test runner against the real floorgate
// binary, in Node and in headless Chromium, plus the size budget and the
// Redocly lint of the admin API's OpenAPI document.
package js_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// need skips t with why, or fails it when CI is set (CI must run these).
func need(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI is set, so this fails instead of skipping", why)
	}
	t.Skip(why)
}

func TestNPM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the JavaScript tests start Floorgate and a browser")
	}
	_, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (Node 20 or later runs the JavaScript client's tests)")
	_, err = exec.LookPath("npm")
	need(t, err == nil, "npm is not installed")
	for _, m := range []string{"ws", "playwright-core", "esbuild", "@redocly/cli"} {
		_, err := os.Stat(filepath.Join("node_modules", m))
		need(t, err == nil, "clients/js/node_modules lacks "+m+": run `npm ci` in clients/js")
	}
	_, err = os.Stat("/usr/bin/chromium")
	need(t, err == nil || os.Getenv("CHROMIUM") != "", "no /usr/bin/chromium for the browser tests: apt-get install chromium (or set CHROMIUM)")

	bin := filepath.Join(t.TempDir(), "floorgate")
	build := exec.Command("go", "build", "-o", bin, "github.com/floorgate/floorgate/cmd/floorgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/floorgate: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "test")
	cmd.Env = append(os.Environ(), "FLOORGATE_BIN="+bin)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm test: %v\n%s", err, out)
	}
	t.Logf("npm test:\n%s", out)
}
