package devices

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// PasswordPolicy is what a manager password must have.
type PasswordPolicy struct {
	MinLength  int  // 12 by default
	NeedUpper  bool // at least one upper-case letter
	NeedLower  bool
	NeedDigit  bool
	NeedSymbol bool
	MaxLength  int // 256 by default, so a huge body is not hashed
}

// DefaultPasswordPolicy is at least 12 characters with upper, lower, digit and symbol.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: 12, NeedUpper: true, NeedLower: true, NeedDigit: true, NeedSymbol: true, MaxLength: 256}
}

// passwordFloor is the lowest MinLength a policy may set.
const passwordFloor = 8

// normalizePassword is what is checked and hashed: the NFKC form, so a
// password typed on another keyboard (composed or decomposed accents,
// full-width letters) still verifies.
func normalizePassword(pw string) string { return norm.NFKC.String(pw) }

// withDefaults fills zero limits: the zero policy is DefaultPasswordPolicy,
// and a zero MaxLength is 256.
func (p PasswordPolicy) withDefaults() PasswordPolicy {
	if p == (PasswordPolicy{}) {
		return DefaultPasswordPolicy()
	}
	if p.MaxLength == 0 {
		p.MaxLength = 256
	}
	return p
}

// validate checks that the policy itself makes sense.
func (p PasswordPolicy) validate() error {
	if p.MinLength < passwordFloor {
		return errors.New("password policy: MinLength must be at least " + strconv.Itoa(passwordFloor))
	}
	if p.MaxLength < p.MinLength {
		return errors.New("password policy: MaxLength must be at least MinLength")
	}
	return nil
}

// Check returns nil when pw passes the policy, or a *PolicyError with
// Secret "password" and one of the rules "invalid_characters",
// "too_short", "too_long", "missing_upper", "missing_lower",
// "missing_digit", "missing_symbol". Lengths count characters of the NFKC
// form; a symbol is any printable character that is not a letter, digit
// or space. The error never contains the password. A zero policy is
// DefaultPasswordPolicy.
func (p PasswordPolicy) Check(pw string) error {
	p = p.withDefaults()
	if !utf8.ValidString(pw) {
		return passwordRefused("invalid_characters", "the password is not valid text")
	}
	if len(pw) > 4*p.MaxLength {
		return passwordRefused("too_long", "a password has at most "+strconv.Itoa(p.MaxLength)+" characters")
	}
	pw = normalizePassword(pw)
	var upper, lower, digit, symbol bool
	n := 0
	for _, r := range pw {
		n++
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return passwordRefused("invalid_characters", "a password may not contain control characters")
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsLetter(r):
			// letters without case count as neither
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsSpace(r):
		case unicode.IsPrint(r) || unicode.IsGraphic(r):
			symbol = true
		}
	}
	switch {
	case n < p.MinLength:
		return passwordRefused("too_short", "a password has at least "+strconv.Itoa(p.MinLength)+" characters")
	case n > p.MaxLength:
		return passwordRefused("too_long", "a password has at most "+strconv.Itoa(p.MaxLength)+" characters")
	}
	var missing []string
	rule := ""
	need := func(ok, required bool, code, what string) {
		if required && !ok {
			if rule == "" {
				rule = code
			}
			missing = append(missing, what)
		}
	}
	need(upper, p.NeedUpper, "missing_upper", "an upper-case letter")
	need(lower, p.NeedLower, "missing_lower", "a lower-case letter")
	need(digit, p.NeedDigit, "missing_digit", "a digit")
	need(symbol, p.NeedSymbol, "missing_symbol", "a symbol")
	if rule != "" {
		return passwordRefused(rule, "the password needs at least "+strings.Join(missing, ", "))
	}
	return nil
}

func passwordRefused(rule, reason string) *PolicyError {
	return &PolicyError{Secret: "password", Rule: rule, Reason: reason}
}

// Character classes of generated passwords; look-alikes (0/O, 1/l/I) left out.
const (
	genUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	genLower  = "abcdefghijkmnopqrstuvwxyz"
	genDigit  = "23456789"
	genSymbol = "!#%+-.:=?@_~"
)

// GeneratePassword returns a random password of at least 20 characters
// that passes p, for an account created without one (EnsureAdmin).
func GeneratePassword(p PasswordPolicy) (string, error) {
	p = p.withDefaults()
	n := max(p.MinLength, 20)
	n = min(n, p.MaxLength)
	all := genUpper + genLower + genDigit + genSymbol
	for range 100 {
		b := make([]byte, n)
		// One of each class first, then the rest from all, then shuffle.
		for i, set := range []string{genUpper, genLower, genDigit, genSymbol} {
			if i < n {
				b[i] = set[randIndex(len(set))]
			}
		}
		for i := 4; i < n; i++ {
			b[i] = all[randIndex(len(all))]
		}
		for i := n - 1; i > 0; i-- {
			j := randIndex(i + 1)
			b[i], b[j] = b[j], b[i]
		}
		if p.Check(string(b)) == nil {
			return string(b), nil
		}
	}
	return "", errors.New("generate password: the policy cannot be met")
}

// randIndex returns a uniform random integer in [0, n).
func randIndex(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("devices: crypto/rand failed: " + err.Error())
	}
	return int(v.Int64())
}
