package testenv

import "strings"

// BodyFault is one faulty JSON request body and the field error both
// APIs answer it with (400 invalid_request, except a body over the
// limit, whose status each API chooses).
type BodyFault struct {
	Name        string
	ContentType string
	Body        string
	Field, Code string // the first field error of the answer
}

// BodyFaults are the faults of a JSON body for an endpoint with a string
// field named field (dotted for a nested one, "device.label") and a body
// limit of maxBytes. Both listeners run them, so that one fault gets one
// field code everywhere.
func BodyFaults(field string, maxBytes int) []BodyFault {
	// nest spells {"a":{"b":v}} for "a.b".
	nest := func(v string) string {
		parts := strings.Split(field, ".")
		out := v
		for i := len(parts) - 1; i >= 0; i-- {
			out = `{"` + parts[i] + `":` + out + `}`
		}
		return out
	}
	const ct = "application/json"
	return []BodyFault{
		{"empty", ct, "", "body", "required"},
		{"malformed", ct, `{"` + strings.Split(field, ".")[0] + `":`, "body", "malformed"},
		{"trailing data", ct, `{} {}`, "body", "malformed"},
		{"not an object", ct, `[1]`, "body", "type"},
		{"wrong type", ct, nest(`7`), field, "type"},
		{"form", "application/x-www-form-urlencoded", "a=b", "Content-Type", "unsupported"},
		{"text", "text/plain", nest(`"x"`), "Content-Type", "unsupported"},
		{"too large", ct, nest(`"` + strings.Repeat("a", maxBytes) + `"`), "body", "too_large"},
		{"raw invalid utf-8", ct, nest("\"a\xffb\""), field, "invalid_utf8"},
		{"truncated utf-8", ct, nest("\"ab\xc3\""), field, "invalid_utf8"},
		{"lone high surrogate", ct, nest(`"a\ud800b"`), field, "invalid_utf8"},
		{"lone low surrogate", ct, nest(`"\uDFFF"`), field, "invalid_utf8"},
	}
}
