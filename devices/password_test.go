package devices

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// passwordTests is shared with FuzzPasswordPolicy as its seed corpus.
var passwordTests = []struct {
	name   string
	policy PasswordPolicy
	pw     string
	rule   string
}{
	{"good", PasswordPolicy{}, "Correct-Horse-42", ""},
	{"good with space", PasswordPolicy{}, "Blue sky at 9 pm!", ""},
	{"good unicode", PasswordPolicy{}, "Ünïcödé-Paß-2024", ""},
	{"exactly 12", PasswordPolicy{}, "Abcdefgh12#x", ""},
	{"11 characters", PasswordPolicy{}, "Abcdefg12#x", "too_short"},
	{"empty", PasswordPolicy{}, "", "too_short"},
	{"no upper", PasswordPolicy{}, "correct-horse-42", "missing_upper"},
	{"no lower", PasswordPolicy{}, "CORRECT-HORSE-42", "missing_lower"},
	{"no digit", PasswordPolicy{}, "Correct-Horse-xx", "missing_digit"},
	{"no symbol", PasswordPolicy{}, "CorrectHorse42x", "missing_symbol"},
	{"space is no symbol", PasswordPolicy{}, "Correct Horse 42", "missing_symbol"},
	{"control character", PasswordPolicy{}, "Correct-Horse-42\x07", "invalid_characters"},
	{"invalid utf-8", PasswordPolicy{}, "Correct-Horse-42\xff", "invalid_characters"},
	{"too long", PasswordPolicy{}, "Aa1!" + strings.Repeat("x", 253), "too_long"},
	{"at max", PasswordPolicy{}, "Aa1!" + strings.Repeat("x", 252), ""},
	{"custom short policy", PasswordPolicy{MinLength: 8}, "abcdefgh", ""},
	{"custom policy digit", PasswordPolicy{MinLength: 8, NeedDigit: true}, "abcdefgh", "missing_digit"},
	{"full-width counts after NFKC", PasswordPolicy{}, "Ｃorrect-Horse-42", ""},
}

func TestPasswordPolicy(t *testing.T) {
	for _, tt := range passwordTests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v; want nil", tt.pw, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Rule != tt.rule || pe.Secret != "password" {
				t.Fatalf("Check(%q) = %v; want rule %s", tt.pw, err, tt.rule)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Check(%q) does not match ErrInvalid", tt.pw)
			}
			if tt.pw != "" && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("Check(%q) = %q; the error repeats the password", tt.pw, err)
			}
		})
	}
}

func TestPasswordPolicyValidate(t *testing.T) {
	if err := DefaultPasswordPolicy().validate(); err != nil {
		t.Errorf("DefaultPasswordPolicy().validate() = %v; want nil", err)
	}
	if err := (PasswordPolicy{MinLength: 6, MaxLength: 256}).validate(); err == nil {
		t.Errorf("validate() of MinLength 6 = nil; want an error")
	}
	if err := (PasswordPolicy{MinLength: 12, MaxLength: 10}).validate(); err == nil {
		t.Errorf("validate() of MaxLength < MinLength = nil; want an error")
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		pw, err := GeneratePassword(DefaultPasswordPolicy())
		if err != nil {
			t.Fatalf("GeneratePassword() = %v", err)
		}
		if err := DefaultPasswordPolicy().Check(pw); err != nil {
			t.Fatalf("GeneratePassword() made a password the policy refuses: %v", err)
		}
		if n := utf8.RuneCountInString(pw); n < 20 {
			t.Fatalf("GeneratePassword() has %d characters; want at least 20", n)
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword() repeated a password")
		}
		seen[pw] = true
	}
	long := PasswordPolicy{MinLength: 40, NeedUpper: true, NeedLower: true, NeedDigit: true, NeedSymbol: true, MaxLength: 64}
	pw, err := GeneratePassword(long)
	if err != nil || long.Check(pw) != nil {
		t.Fatalf("GeneratePassword(min 40) = %d characters, %v; want a password the policy accepts", len(pw), err)
	}
}

// FuzzPasswordPolicy checks that the policy never panics, that a refusal
// is a *PolicyError not repeating the password, and that an accepted
// password has the length and classes of the default policy.
func FuzzPasswordPolicy(f *testing.F) {
	for _, tt := range passwordTests {
		f.Add(tt.pw)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		p := DefaultPasswordPolicy()
		err := p.Check(pw)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Rule == "" || pe.Reason == "" {
				t.Fatalf("Check(%q) = %v; want a *PolicyError with rule and reason", pw, err)
			}
			if len(pw) >= 6 && strings.Contains(pe.Reason, pw) {
				t.Fatalf("Check(%q) = %v; the reason repeats the password", pw, err)
			}
			return
		}
		n := utf8.RuneCountInString(normalizePassword(pw))
		if !utf8.ValidString(pw) || n < p.MinLength || n > p.MaxLength {
			t.Fatalf("Check(%q) = nil; length %d outside %d..%d or invalid text", pw, n, p.MinLength, p.MaxLength)
		}
	})
}
