package devices_test

import (
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
)

// FuzzParseEnrollmentToken: whatever a handheld sends, the parser never
// panics and accepts only fge_ and 22 to 128 base64url characters
// (white space around them dropped), and a token it accepts is the
// input's own.
func FuzzParseEnrollmentToken(f *testing.F) {
	for _, s := range []string{
		token.New(devices.EnrollmentTokenPrefix).Reveal(),
		" " + token.New(devices.EnrollmentTokenPrefix).Reveal() + "\n",
		"fge_", "fge_short", "fgd_" + strings.Repeat("a", 43), "fge_" + strings.Repeat("a", 129),
		"fge_" + strings.Repeat("é", 30), "FGE_" + strings.Repeat("a", 43), "", "fge_aaaaaaaaaaaaaaaaaaaaa=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := devices.ParseEnrollmentToken(s)
		if !ok {
			if tok != "" {
				t.Fatalf("ParseEnrollmentToken(%q) refused but returned %q", s, tok.Reveal())
			}
			return
		}
		got := tok.Reveal()
		body, found := strings.CutPrefix(got, devices.EnrollmentTokenPrefix)
		if !found || got != strings.TrimSpace(s) || len(body) < 22 || len(body) > 128 {
			t.Fatalf("ParseEnrollmentToken(%q) = %q; want the trimmed input, fge_ and 22..128 characters", s, got)
		}
		for _, c := range body {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("ParseEnrollmentToken(%q) accepted %q", s, c)
			}
		}
	})
}
