package devices

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseBadge(t *testing.T) {
	for in, want := range map[string]string{
		"04:A2:19:7F":                         "04:A2:19:7F",
		" E-1234\r\n":                         "E-1234",
		"\tBADGE~!{}#\t":                      "BADGE~!{}#",
		"1234":                                "1234",
		"AB CD":                               "",
		"abc":                                 "",
		"":                                    "",
		"ｂａｄｇｅ":                               "",
		"tag\x00x":                            "",
		strings.Repeat("9", MaxBadgeLength):   strings.Repeat("9", MaxBadgeLength),
		strings.Repeat("9", MaxBadgeLength+1): "",
	} {
		got, err := ParseBadge(in)
		if want == "" {
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseBadge(%q) = %q, %v; want a validation error", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseBadge(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzParseBadge: any input is either refused with a validation error,
// or accepted as 4 to 128 printable ASCII characters that parse to
// themselves.
func FuzzParseBadge(f *testing.F) {
	for _, s := range []string{"04:A2:19:7F", " x ", "", "ábc", "a b c d", strings.Repeat("z", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseBadge(s)
		if err != nil {
			var v *ValidationError
			if !errors.As(err, &v) || got != "" {
				t.Fatalf("ParseBadge(%q) = %q, %v; want \"\" and a *ValidationError", s, got, err)
			}
			return
		}
		if len(got) < MinBadgeLength || len(got) > MaxBadgeLength || !utf8.ValidString(got) {
			t.Fatalf("ParseBadge(%q) = %q: length or encoding out of bounds", s, got)
		}
		for _, c := range got {
			if c < 0x21 || c > 0x7e {
				t.Fatalf("ParseBadge(%q) = %q holds %q", s, got, c)
			}
		}
		if again, err := ParseBadge(got); err != nil || again != got {
			t.Fatalf("ParseBadge(ParseBadge(%q)) = %q, %v; want %q", s, again, err, got)
		}
	})
}

// FuzzParseCustodyCursor: a cursor either is refused as ErrInvalid or
// reads back the same from its own String.
func FuzzParseCustodyCursor(f *testing.F) {
	f.Add(CustodyCursorOf(Custody{SessionID: "ses_01abc", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}).String())
	for _, s := range []string{"", "x", "123.", "-1.ses", "1.a.b", "99999999999999999999.s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCustodyCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseCustodyCursor(%q) = %v; want ErrInvalid", s, err)
			}
			return
		}
		back, err := ParseCustodyCursor(c.String())
		if err != nil || back != c {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", s, back, err, c)
		}
	})
}
