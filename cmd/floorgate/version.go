package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is what the binary knows about itself, from
// runtime/debug.ReadBuildInfo: the module version (the tag go install
// built, "(devel)" from a checkout), and the VCS commit and its time when
// the build was made in a git checkout ("unknown" otherwise; modified
// when the tree had uncommitted changes).
type buildInfo struct {
	Version   string
	Commit    string
	Time      string
	Modified  bool
	GoVersion string
}

func readBuildInfo() buildInfo { return buildInfoOf(debug.ReadBuildInfo()) }

// buildInfoOf reads what ReadBuildInfo returned. Go stamps the vcs.*
// settings only when it builds in a git checkout whose .git is a
// directory: a build in a linked worktree, or with -buildvcs=false, says
// "unknown".
func buildInfoOf(bi *debug.BuildInfo, ok bool) buildInfo {
	b := buildInfo{Version: "unknown", Commit: "unknown", Time: "unknown", GoVersion: "unknown"}
	if !ok || bi == nil {
		return b
	}
	b.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one line floorgate version prints.
func (b buildInfo) String() string {
	commit := b.Commit
	if b.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("floorgate %s commit %s built from a tree of %s with %s", b.Version, commit, b.Time, b.GoVersion)
}

// versionCommand is `floorgate version` (or -version): the build's one
// line on stdout.
func versionCommand(stdout io.Writer) error {
	_, err := fmt.Fprintln(stdout, readBuildInfo())
	return err
}

// buildInfoGauge is floorgate_build_info: always 1, with the build in its
// labels, so that a dashboard shows which version each instance runs.
func buildInfoGauge(b buildInfo) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "floorgate", Name: "build_info",
		Help: "The running binary: module version, VCS commit and Go version, as labels; always 1.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "commit": b.Commit, "modified": fmt.Sprint(b.Modified), "goversion": b.GoVersion,
		},
	})
	g.Set(1)
	return g
}
