package devices

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Username length limits, counted in characters of the normalised key.
const (
	UsernameMinLength = 2
	UsernameMaxLength = 64
	// usernameMaxInput bounds the raw input, in bytes, before any work.
	usernameMaxInput = 256
)

// NormalizeUsername returns the key under which a username is unique
// across the organisation, or a *ValidationError (field "username") that
// says what is wrong with it.
//
// The key is the input with Unicode compatibility normalisation (NFKC)
// and full case folding applied, repeated until stable, and surrounding
// white space trimmed. So "alice", "Alice", "ALICE" and the full-width
// "ａｌｉｃｅ" all have the key "alice". Normalising a key returns the key.
//
// A key has 2 to 64 characters, each one of:
//   - a letter of any script (Unicode category L);
//   - a decimal digit (category Nd; NFKC turns full-width digits into 0-9);
//   - a combining mark (category M) directly after a letter, digit or mark,
//     for scripts that need them;
//   - '.', '_' or '-'.
//
// and at least one letter or digit. Spaces, control and format
// characters, symbols and all other punctuation are refused. Visually
// confusable letters of different scripts (Latin "a" and Cyrillic "а")
// are distinct keys.
func NormalizeUsername(s string) (key string, err error) {
	if strings.TrimSpace(s) == "" {
		return "", fieldProblem("username", "required", "a username is required")
	}
	if len(s) > usernameMaxInput || !utf8.ValidString(s) {
		if !utf8.ValidString(s) {
			return "", fieldProblem("username", "invalid_characters", "the username is not valid UTF-8 text")
		}
		return "", fieldProblem("username", "too_long", "a username has at most 64 characters")
	}
	key = s
	stable := false
	for range 4 {
		next := foldUsername(key)
		if next == key {
			stable = true
			break
		}
		key = next
	}
	if !stable {
		return "", fieldProblem("username", "invalid_characters", "the username contains characters that do not normalise")
	}
	n := utf8.RuneCountInString(key)
	switch {
	case n < UsernameMinLength:
		return "", fieldProblem("username", "too_short", "a username has at least 2 characters")
	case n > UsernameMaxLength:
		return "", fieldProblem("username", "too_long", "a username has at most 64 characters")
	}
	alnum := false
	var prev rune = -1
	for _, r := range key {
		switch {
		case unicode.IsLetter(r) || unicode.Is(unicode.Nd, r):
			alnum = true
		case r == '.' || r == '_' || r == '-':
		case unicode.Is(unicode.M, r) && prev >= 0 && (unicode.IsLetter(prev) || unicode.Is(unicode.Nd, prev) || unicode.Is(unicode.M, prev)):
		default:
			return "", fieldProblem("username", "invalid_characters",
				"a username may hold only letters, digits, '.', '_' and '-' (no spaces or symbols)")
		}
		prev = r
	}
	if !alnum {
		return "", fieldProblem("username", "invalid_characters", "a username needs at least one letter or digit")
	}
	return key, nil
}

// foldUsername is one round of NFKC, case folding, NFKC and trimming.
// A cases.Caser is not safe for concurrent use, so each call makes its own.
func foldUsername(s string) string {
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	s = norm.NFKC.String(s)
	return strings.TrimSpace(s)
}

// Email length limits (RFC 5321).
const (
	emailMaxLength = 254
	emailMaxLocal  = 64
)

// EmailKey returns the key under which a manager's email is unique: the
// address trimmed and lower-cased. It checks the basic shape (one '@'
// between a local part and a domain, no spaces or control characters, at
// most 254 bytes) and returns a *ValidationError (field "email") when
// that fails. It does not check that the address can receive mail.
func EmailKey(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", fieldProblem("email", "required", "an email address is required")
	}
	if len(e) > emailMaxLength || !utf8.ValidString(e) {
		return "", fieldProblem("email", "invalid", "the email address is too long or not valid text")
	}
	for _, r := range e {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", fieldProblem("email", "invalid", "an email address has no spaces or control characters")
		}
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", fieldProblem("email", "invalid", "an email address looks like name@example.com")
	}
	if len(local) > emailMaxLocal {
		return "", fieldProblem("email", "invalid", "the part before '@' has at most 64 characters")
	}
	if strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", fieldProblem("email", "invalid", "the domain of the email address is malformed")
	}
	return e, nil
}

// fieldProblem returns a *ValidationError holding one problem.
func fieldProblem(field, code, message string) *ValidationError {
	v := &ValidationError{}
	v.Add(field, code, message)
	return v
}
