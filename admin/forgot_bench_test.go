package admin

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
)

// BenchmarkForgotPassword measures the answer time of POST
// /forgot-password for a known active manager's email and for an
// unknown one, in alternating pairs (the order swapped every pair) over
// the loopback, with a mail server and the admin loop running: each
// known request is past the cooldown (the fake clock moves 5 min and a
// second before it), so the loop issues a link and mails it while the
// benchmark goes on. It reports the median of each (ns/known,
// ns/unknown), their 90th percentiles, and the medians' difference as a
// share of the unknown one (diff-%): the figure in docs/SECURITY.md. No assertion: a timing is
// the benchmark's to measure, not a test's to judge.
//
//	go test ./admin -run '^$' -bench ForgotPassword -count 6
func BenchmarkForgotPassword(b *testing.B) {
	e := newEnv(b, embedded())
	e.api.cfg.ConsoleURL = "https://console.example.com"
	srv := testenv.StartSMTP(b, testenv.SMTPOptions{})
	e.mailTo(srv.Addr, srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.api.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })

	known := ForgotPasswordRequest{Email: e.managers["mm_a"].Email}
	// The same length as the known one: the work differs by nothing else.
	unknown := ForgotPasswordRequest{Email: "mm_z@example.com"}
	var tk, tu []time.Duration
	timed := func(in ForgotPasswordRequest, into *[]time.Duration) {
		start := time.Now()
		r := e.call("", "POST", "/forgot-password", in)
		*into = append(*into, time.Since(start))
		if r.status != 202 {
			b.Fatalf("forgot-password = %d %s", r.status, r.body)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e.clock.Advance(e.api.cfg.ResetCooldown + time.Second)
		if i%2 == 0 {
			timed(known, &tk)
			timed(unknown, &tu)
		} else {
			timed(unknown, &tu)
			timed(known, &tk)
		}
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p int) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)*p/100])
	}
	mk, mu := pct(tk, 50), pct(tu, 50)
	b.ReportMetric(mk, "ns/known")
	b.ReportMetric(mu, "ns/unknown")
	b.ReportMetric(pct(tk, 90), "ns-p90/known")
	b.ReportMetric(pct(tu, 90), "ns-p90/unknown")
	b.ReportMetric(100*(mk-mu)/mu, "diff-%")
	b.ReportMetric(float64(len(srv.Messages())), "mails")
}
