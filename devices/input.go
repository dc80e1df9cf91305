package devices

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Limits on free-text fields, in characters.
const (
	maxNameLength   = 100 // first, last, warehouse, manager and key names
	maxShortField   = 64  // employee id, warehouse code
	maxDeviceField  = 128 // serial, model, OS and app version, label
	maxLanguageSize = 35  // a BCP 47 tag
)

// checkText trims s and records a problem in v when it is required and
// empty, longer than max characters, or holds control characters. It
// returns the trimmed value.
func checkText(v *ValidationError, field, s string, required bool, max int) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		v.Add(field, "required", field+" is required")
	case !utf8.ValidString(s):
		v.Add(field, "invalid", field+" is not valid text")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "too_long", field+" has at most "+strconv.Itoa(max)+" characters")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }):
		v.Add(field, "invalid", field+" may not contain control characters or line breaks")
	}
	return s
}

// checkToken is checkText for identifiers: no white space inside either.
func checkToken(v *ValidationError, field, s string, required bool, max int) string {
	before := len(v.Fields)
	s = checkText(v, field, s, required, max)
	if len(v.Fields) == before && strings.ContainsFunc(s, unicode.IsSpace) {
		v.Add(field, "invalid", field+" may not contain spaces")
	}
	return s
}

// checkLanguage returns the canonical form of a BCP 47 tag ("pt-br"
// becomes "pt-BR"); "" stays "" (the organisation's language).
func checkLanguage(v *ValidationError, field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > maxLanguageSize {
		v.Add(field, "invalid", field+" is not a BCP 47 language tag such as es or pt-BR")
		return s
	}
	tag, err := language.Parse(s)
	if err != nil {
		v.Add(field, "invalid", field+" is not a BCP 47 language tag such as es or pt-BR")
		return s
	}
	return tag.String()
}
