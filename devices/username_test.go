package devices

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// usernameTests is shared with FuzzNormalizeUsername as its seed corpus.
// code is the ValidationError code expected, "" when the name is accepted.
var usernameTests = []struct {
	in   string
	key  string
	code string
}{
	{"alice", "alice", ""},
	{"Alice", "alice", ""},
	{"ALICE", "alice", ""},
	{"ａｌｉｃｅ", "alice", ""},     // full-width
	{"ＡＬＩＣＥ", "alice", ""},     // full-width upper-case
	{"  alice\t", "alice", ""}, // trimmed
	{"\u3000alice\u3000", "alice", ""},
	{"jo.smith-2_b", "jo.smith-2_b", ""},
	{"José", "josé", ""},
	{"Jose\u0301", "josé", ""}, // decomposed accent composes
	{"Straße", "strasse", ""},  // full case folding
	{"STRASSE", "strasse", ""},
	{"ΣΊΣΥΦΟΣ", "σίσυφοσ", ""}, // final sigma folds like the others
	{"Ǆemal", "džemal", ""},
	{"ﬁnn", "finn", ""}, // ligature
	{"ｊｓｍｉｔｈ１２", "jsmith12", ""},
	{"用户名", "用户名", ""},
	{"ابراهيم", "ابراهيم", ""},
	{"अनिल", "अनिल", ""}, // combining vowel sign after a letter
	{"user١٢", "user١٢", ""},
	{"ab", "ab", ""},
	{strings.Repeat("a", 64), strings.Repeat("a", 64), ""},
	{"", "", "required"},
	{"   ", "", "required"},
	{"a", "", "too_short"},
	{"Ａ", "", "too_short"},
	{strings.Repeat("a", 65), "", "too_long"},
	{strings.Repeat("a", 300), "", "too_long"},
	{"al ice", "", "invalid_characters"},
	{"al\tice", "", "invalid_characters"},
	{"al\x00ice", "", "invalid_characters"},
	{"al\u200dice", "", "invalid_characters"}, // zero-width joiner
	{"al\u00adice", "", "invalid_characters"}, // soft hyphen
	{"alice@example.com", "", "invalid_characters"},
	{"alice!", "", "invalid_characters"},
	{"a+b", "", "invalid_characters"},
	{"a/b", "", "invalid_characters"},
	{"😀😀", "", "invalid_characters"},
	{"\u0301ab", "", "invalid_characters"}, // mark with nothing before it
	{"__", "", "invalid_characters"},
	{"..", "", "invalid_characters"},
	{"a\xffb", "", "invalid_characters"},
}

func TestNormalizeUsername(t *testing.T) {
	for _, tt := range usernameTests {
		t.Run(tt.in, func(t *testing.T) {
			key, err := NormalizeUsername(tt.in)
			if tt.code == "" {
				if err != nil || key != tt.key {
					t.Fatalf("NormalizeUsername(%q) = %q, %v; want %q, nil", tt.in, key, err, tt.key)
				}
				return
			}
			var v *ValidationError
			if !errors.As(err, &v) || len(v.Fields) != 1 || v.Fields[0].Field != "username" || v.Fields[0].Code != tt.code {
				t.Fatalf("NormalizeUsername(%q) = %q, %v; want code %s", tt.in, key, err, tt.code)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("NormalizeUsername(%q) error does not match ErrInvalid", tt.in)
			}
		})
	}
}

func TestNormalizeUsernameSameKey(t *testing.T) {
	var keys []string
	for _, in := range []string{"alice", "Alice", "ALICE", "ａｌｉｃｅ", "aLiCe", " ALICE "} {
		k, err := NormalizeUsername(in)
		if err != nil {
			t.Fatalf("NormalizeUsername(%q) = %v", in, err)
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("keys = %q; want all equal", keys)
		}
	}
}

// FuzzNormalizeUsername checks that normalising never panics, that a key
// normalises to itself, and that a key obeys the documented limits.
func FuzzNormalizeUsername(f *testing.F) {
	for _, tt := range usernameTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		key, err := NormalizeUsername(in)
		if err != nil {
			var v *ValidationError
			if !errors.As(err, &v) || key != "" {
				t.Fatalf("NormalizeUsername(%q) = %q, %v; want a *ValidationError and no key", in, key, err)
			}
			return
		}
		again, err := NormalizeUsername(key)
		if err != nil || again != key {
			t.Fatalf("NormalizeUsername(%q) = %q, %v; want %q (idempotent)", key, again, err, key)
		}
		n := utf8.RuneCountInString(key)
		if n < UsernameMinLength || n > UsernameMaxLength || strings.ContainsAny(key, " \t\r\n@") {
			t.Fatalf("NormalizeUsername(%q) = %q; breaks the documented charset or length", in, key)
		}
	})
}

func TestEmailKey(t *testing.T) {
	tests := []struct {
		in, key string
		ok      bool
	}{
		{"mia@example.com", "mia@example.com", true},
		{"  Mia.Lopez@Example.COM ", "mia.lopez@example.com", true},
		{"admin@localhost", "admin@localhost", true},
		{"", "", false},
		{"mia", "", false},
		{"@example.com", "", false},
		{"mia@", "", false},
		{"mia@@example.com", "", false},
		{"mia@exa mple.com", "", false},
		{"mia@example..com", "", false},
		{"mia@.example.com", "", false},
		{"m\x00ia@example.com", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{"a@" + strings.Repeat("b", 260), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			key, err := EmailKey(tt.in)
			if tt.ok && (err != nil || key != tt.key) {
				t.Fatalf("EmailKey(%q) = %q, %v; want %q, nil", tt.in, key, err, tt.key)
			}
			if !tt.ok && (err == nil || !errors.Is(err, ErrInvalid)) {
				t.Fatalf("EmailKey(%q) = %q, %v; want ErrInvalid", tt.in, key, err)
			}
		})
	}
}
