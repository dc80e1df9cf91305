package token

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestNewParse(t *testing.T) {
	tok := New("fgx_")
	if !strings.HasPrefix(tok.Reveal(), "fgx_") || len(tok.Reveal()) != 4+43 {
		t.Fatalf("New = %q; want fgx_ and 43 characters", tok.Reveal())
	}
	if New("fgx_") == tok {
		t.Errorf("two New calls returned the same token")
	}
	if got, ok := Parse("fgx_", tok.Reveal()); !ok || got != tok {
		t.Errorf("Parse(New()) = %v, %v; want the token", got, ok)
	}
	for _, bad := range []string{"", "fgx_", "fgx_short", "fgy_" + tok.Reveal()[4:], tok.Reveal() + "!", "fgx_" + strings.Repeat("a", 129)} {
		if _, ok := Parse("fgx_", bad); ok {
			t.Errorf("Parse(%q) = true; want false", bad)
		}
	}
	if h := tok.Hash(); len(h) != 64 || h == tok.Reveal() || New("fgx_").Hash() == h {
		t.Errorf("Hash = %q; want 64 hex characters, distinct per token", h)
	}
}

// TestRedacted: the secret never prints by accident.
func TestRedacted(t *testing.T) {
	tok := New("fgx_")
	secret := tok.Reveal()
	type carrier struct{ Token Token }
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "tok", tok, "carrier", carrier{tok})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "tok", tok)
	j, _ := json.Marshal(carrier{tok})
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %s %#v %+v", tok, tok, tok, carrier{tok}), buf.String(), string(j)} {
		if strings.Contains(s, secret[4:]) {
			t.Errorf("printed %q; want the secret redacted", s)
		}
	}
}
