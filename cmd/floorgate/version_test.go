package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestVersionCommand: floorgate version (and -version) prints one line
// with the module version and the Go version, and starts nothing.
func TestVersionCommand(t *testing.T) {
	for _, arg := range []string{"version", "-version", "--version"} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"floorgate", arg}, func(string) string { return "" }, &out, &errOut); err != nil {
			t.Fatalf("run(%s) = %v", arg, err)
		}
		line := out.String()
		if !strings.HasPrefix(line, "floorgate ") || !strings.Contains(line, " commit ") || !strings.Contains(line, runtime.Version()) || strings.Count(line, "\n") != 1 {
			t.Errorf("floorgate %s printed %q; want one line with the version, commit and %s", arg, line, runtime.Version())
		}
		if errOut.Len() != 0 {
			t.Errorf("floorgate %s wrote to stderr: %q", arg, errOut.String())
		}
	}
}

// TestBuildInfo: the module version and the VCS stamp of the build are
// what the version line and the floorgate_build_info labels show.
func TestBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "floorgate unknown commit unknown built from a tree of unknown with unknown"},
		{"a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "2c14820af92b"}, {Key: "vcs.time", Value: "2026-12-02T06:11:38Z"}, {Key: "vcs.modified", Value: "false"}}},
			true, "floorgate (devel) commit 2c14820af92b built from a tree of 2026-12-02T06:11:38Z with go1.26.8"},
		{"a modified tree", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "2c14820af92b"}, {Key: "vcs.modified", Value: "true"}}},
			true, "floorgate (devel) commit 2c14820af92b (modified) built from a tree of unknown with go1.26.8"},
		{"go install of a tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}, true,
			"floorgate v1.4.0 commit unknown built from a tree of unknown with go1.26.8"},
	}
	for _, tt := range tests {
		b := buildInfoOf(tt.bi, tt.ok)
		if got := b.String(); got != tt.want {
			t.Errorf("%s: version line = %q; want %q", tt.name, got, tt.want)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(buildInfoGauge(b))
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 1 || mfs[0].GetName() != "floorgate_build_info" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Fatalf("%s: gathered %v, %v; want floorgate_build_info 1", tt.name, mfs, err)
		}
		labels := map[string]string{}
		for _, l := range mfs[0].GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["version"] != b.Version || labels["commit"] != b.Commit || labels["goversion"] != b.GoVersion {
			t.Errorf("%s: labels %v; want version %s, commit %s, goversion %s", tt.name, labels, b.Version, b.Commit, b.GoVersion)
		}
	}
}
