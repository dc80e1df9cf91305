package devices

import (
	"strings"
	"testing"

	"github.com/floorgate/floorgate/internal/token"
)

// FuzzParseLinkToken: whatever is typed or pasted, a link token parses
// only as its own kind's prefix and a well-formed body, and a parsed
// token is the input without its white space and leading #.
func FuzzParseLinkToken(f *testing.F) {
	f.Add(LinkInvitation, string(token.New(InvitationTokenPrefix)))
	f.Add(LinkReset, "#"+string(token.New(ResetTokenPrefix)))
	f.Add(LinkReset, string(token.New(InvitationTokenPrefix)))
	f.Add("other", " fgi_\x00")
	f.Fuzz(func(t *testing.T, kind, s string) {
		tok, ok := ParseLinkToken(kind, s)
		if !ok {
			return
		}
		raw := tok.Reveal()
		if kind != LinkInvitation && kind != LinkReset {
			t.Fatalf("kind %q parsed", kind)
		}
		if !strings.HasPrefix(raw, linkPrefix(kind)) || strings.ContainsAny(raw, " #\t\n/?") {
			t.Fatalf("ParseLinkToken(%q, %q) = %q", kind, s, raw)
		}
		if strings.TrimPrefix(strings.TrimSpace(s), "#") != raw {
			t.Fatalf("ParseLinkToken(%q, %q) = %q; want the input trimmed", kind, s, raw)
		}
	})
}
