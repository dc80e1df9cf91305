package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrTooLarge is the error of a body over the decoder's limit. It is a
// sentinel rather than an *Error because the two APIs answer it with
// different statuses (each table says which), with the same field code:
// body too_large.
var ErrTooLarge = errors.New("the request body is too large")

// TooLargeField is the field error that goes with ErrTooLarge.
var TooLargeField = FieldError{Field: "body", Code: "too_large", Message: "the body is over this endpoint's size limit"}

// Checker is a request body that checks its own fields once decoded.
type Checker interface {
	Check(f *Fields)
}

// Decoder reads one JSON object from a request body into a value. The
// zero value is usable: 1 MiB, unknown fields refused, a body required.
type Decoder struct {
	// MaxBytes bounds the body (1 MiB when 0).
	MaxBytes int64
	// AllowUnknown ignores fields the value does not have (the device
	// protocol lets a newer app send fields an older server does not
	// know); otherwise each is refused as unknown_field.
	AllowUnknown bool
	// Optional lets an empty body through, leaving the value as it was.
	Optional bool
}

func (d Decoder) limit() int64 {
	if d.MaxBytes > 0 {
		return d.MaxBytes
	}
	return 1 << 20
}

// Decode checks r's Content-Type, reads its body (at most MaxBytes) into
// dst and, when dst is a Checker, checks its fields. Every refusal is a
// 400 invalid_request naming the fields, except a body over the limit,
// which is ErrTooLarge (wrapped in an error that names the field).
func (d Decoder) Decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if err := CheckJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.limit()))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge(d.limit())
	case err != nil:
		return InvalidField("body", "malformed", "the body could not be read")
	}
	return d.DecodeBytes(data, dst)
}

func tooLarge(limit int64) error { return fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit) }

// DecodeBytes is Decode over a body already read (the fuzz targets call
// it); the size limit is the caller's.
func (d Decoder) DecodeBytes(data []byte, dst any) error {
	if int64(len(data)) > d.limit() {
		return tooLarge(d.limit())
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if d.Optional {
			return nil
		}
		return InvalidField("body", "required", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if !d.AllowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return decodeError(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return InvalidField("body", "malformed", "the body must hold exactly one JSON value")
	}
	if field, ok := invalidUTF8(data); ok {
		return InvalidField(field, "invalid_utf8", "must be valid UTF-8 text")
	}
	if c, ok := dst.(Checker); ok {
		var f Fields
		c.Check(&f)
		return f.Err()
	}
	return nil
}

// decodeError names the field of a json decoding error. The field of a
// type error is found from its offset in the body, as a JSON path:
// encoding/json's own Field names embedded Go structs too.
func decodeError(data []byte, err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		field := pathAt(data, te.Offset)
		if field == "body" {
			return InvalidField("body", "type", "the body must be "+jsonKind(te.Type.Kind().String()))
		}
		return InvalidField(field, "type", field+" must be "+jsonKind(te.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if name == "" || !utf8.ValidString(name) || len(name) > 64 {
			name = "body"
		}
		return InvalidField(name, "unknown_field", fmt.Sprintf("unknown field %q", name))
	}
	return InvalidField("body", "malformed", "the body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}

// CheckJSONContentType accepts a body declared as application/json (or
// any application/*+json type), with or without parameters, or not
// declared at all. Any other declared type is 400 invalid_request naming
// "Content-Type": a form or text/plain post, which a browser may send
// across sites without asking, never reaches a handler.
func CheckJSONContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return InvalidField("Content-Type", "unsupported", "the body must be sent as application/json")
}

// invalidUTF8 finds the first string in a syntactically valid JSON text
// that is not valid UTF-8 (raw invalid bytes, or a \u escape of a lone
// surrogate) and returns the field that holds it ("device.label",
// "roles[1].warehouse_id"; "body" for the top level or a bad key).
func invalidUTF8(data []byte) (string, bool) {
	s := utf8Scan{data: data}
	return s.value("", 0)
}

// pathAt names the innermost value of a syntactically valid JSON text
// that ends at off (where encoding/json reports a type error): its JSON
// path, or "body" for the top level.
func pathAt(data []byte, off int64) string {
	s := utf8Scan{data: data, spans: &[]span{}}
	s.value("", 0)
	best := span{path: ""}
	for _, sp := range *s.spans {
		if int64(sp.start) < off && off <= int64(sp.end) && sp.depth >= best.depth {
			best = sp
		}
	}
	if !utf8.ValidString(best.path) {
		return "body"
	}
	return fieldName(best.path)
}

// span is where one value lies in the text, and its path.
type span struct {
	path       string
	start, end int
	depth      int
}

// utf8Scan walks a syntactically valid JSON text.
type utf8Scan struct {
	data  []byte
	i     int
	spans *[]span // when not nil, every value is recorded
}

func (s *utf8Scan) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func fieldName(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// value scans one value at s.i; path names it. It returns the first
// field holding a string that is not valid UTF-8.
func (s *utf8Scan) value(path string, depth int) (string, bool) {
	s.skipSpace()
	if s.i >= len(s.data) {
		return "", false
	}
	if s.spans != nil {
		start := s.i
		defer func() { *s.spans = append(*s.spans, span{path: path, start: start, end: s.i, depth: depth}) }()
	}
	switch s.data[s.i] {
	case '{':
		s.i++
		for {
			s.skipSpace()
			if s.i < len(s.data) && s.data[s.i] == '}' {
				s.i++
				return "", false
			}
			key, ok := s.str()
			if !ok && s.spans == nil {
				return fieldName(path), true
			}
			s.skipSpace()
			s.i++ // ':'
			child := key
			if path != "" {
				child = path + "." + key
			}
			if f, bad := s.value(child, depth+1); bad && s.spans == nil {
				return f, true
			}
			s.skipSpace()
			if s.i < len(s.data) && s.data[s.i] == ',' {
				s.i++
			}
		}
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace()
			if s.i >= len(s.data) || s.data[s.i] == ']' {
				s.i++
				return "", false
			}
			if f, bad := s.value(path+"["+strconv.Itoa(n)+"]", depth+1); bad && s.spans == nil {
				return f, true
			}
			s.skipSpace()
			if s.i < len(s.data) && s.data[s.i] == ',' {
				s.i++
			}
		}
	case '"':
		if _, ok := s.str(); !ok {
			return fieldName(path), true
		}
		return "", false
	}
	// A number, true, false or null.
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return "", false
		}
		s.i++
	}
	return "", false
}

// str reads the string literal at s.i and returns its raw body (as a
// field name) and whether it is valid UTF-8 once unescaped.
func (s *utf8Scan) str() (string, bool) {
	s.i++ // opening quote
	start := s.i
	ok := true
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			raw := string(s.data[start:s.i])
			s.i++
			return raw, ok
		case c == '\\':
			if s.i+1 < len(s.data) && s.data[s.i+1] == 'u' {
				r, n := hex4(s.data, s.i+2)
				s.i += 6
				if n < 4 {
					continue
				}
				switch {
				case utf16.IsSurrogate(r) && r < 0xdc00:
					// A high surrogate must be followed by a low one.
					if s.i+6 <= len(s.data) && s.data[s.i] == '\\' && s.data[s.i+1] == 'u' {
						r2, n2 := hex4(s.data, s.i+2)
						if n2 == 4 && r2 >= 0xdc00 && r2 <= 0xdfff {
							s.i += 6
							continue
						}
					}
					ok = false
				case utf16.IsSurrogate(r):
					ok = false // a lone low surrogate
				}
				continue
			}
			s.i += 2
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(s.data[s.i:])
			if r == utf8.RuneError && size <= 1 {
				ok = false
			}
			s.i += size
		}
	}
	return string(s.data[start:]), ok
}

// hex4 reads four hex digits at i.
func hex4(b []byte, i int) (rune, int) {
	var r rune
	for n := range 4 {
		if i+n >= len(b) {
			return r, n
		}
		c := b[i+n]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return r, n
		}
		r = r<<4 | rune(v)
	}
	return r, 4
}

// Fields collects the field problems of one request.
type Fields []FieldError

// Add records a problem with one field.
func (f *Fields) Add(field, code, message string) {
	*f = append(*f, FieldError{Field: field, Code: code, Message: message})
}

// Required refuses an empty or blank string.
func (f *Fields) Required(name, value string) bool {
	if strings.TrimSpace(value) == "" {
		f.Add(name, "required", name+" is required")
		return false
	}
	return true
}

// MaxLen refuses a string over max bytes.
func (f *Fields) MaxLen(name, value string, max int) {
	if len(value) > max {
		f.Add(name, "too_long", fmt.Sprintf("%s must be at most %d bytes", name, max))
	}
}

// Err is nil when no field is wrong, else the 400 invalid_request that
// names them.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(f...)
}
