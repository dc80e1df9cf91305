package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	errGone   = errors.New("gone")
	errLocked = errors.New("locked")
)

var table = Table{
	Typed: func(err error) *Error {
		var fe *FieldsError
		if errors.As(err, &fe) {
			return Invalid(fe.fields...)
		}
		return nil
	},
	Sentinels: []Sentinel{
		{Err: errGone, Status: 404, Code: CodeNotFound, Detail: "no such thing"},
		{Err: errLocked, Status: 429, Code: CodeTooManyAttempts, Detail: "later"},
		{Err: ErrTooLarge, Status: 413, Code: CodeTooLarge, Detail: "too large", Fields: []FieldError{TooLargeField}},
	},
}

// FieldsError is a typed error of the test table.
type FieldsError struct{ fields []FieldError }

func (e *FieldsError) Error() string { return "fields" }

func TestTable(t *testing.T) {
	t.Parallel()
	secret := errors.New("dial tcp 10.0.0.7:6379: connection refused")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantRetry  string // Retry-After header
	}{
		{"own error", &Error{Status: 403, Code: CodeForbidden, Detail: "no"}, 403, CodeForbidden, ""},
		{"wrapped own error", fmt.Errorf("x: %w", InvalidField("a", "required", "a is required")), 400, CodeInvalidRequest, ""},
		{"typed", &FieldsError{fields: []FieldError{{Field: "b", Code: "type"}}}, 400, CodeInvalidRequest, ""},
		{"sentinel", fmt.Errorf("read: %w", errGone), 404, CodeNotFound, ""},
		{"429 without a wait", errLocked, 429, CodeTooManyAttempts, "1"},
		{"429 with a wait", &Error{Status: 429, Code: CodeTooManyAttempts, RetryAfter: 1500 * time.Millisecond}, 429, CodeTooManyAttempts, "2"},
		{"unknown error fails closed", secret, 503, CodeUnavailable, "5"},
		{"503 with a cause", Unavailable(secret), 503, CodeUnavailable, "5"},
		{"a 500 of a handler", &Error{Status: 500, Err: secret, Fields: []FieldError{{Field: "x"}}}, 500, CodeUnavailable, ""},
		{"too large", fmt.Errorf("%w: over 10 bytes", ErrTooLarge), 413, CodeTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			p := table.Write(w, tt.err)
			if p.Status != tt.wantStatus || p.Code != tt.wantCode || w.Code != tt.wantStatus {
				t.Fatalf("Write(%v) = %d %s (status %d); want %d %s", tt.err, p.Status, p.Code, w.Code, tt.wantStatus, tt.wantCode)
			}
			if p.Type != "about:blank" || p.Title == "" {
				t.Errorf("Write(%v) type %q title %q; want about:blank and a title", tt.err, p.Type, p.Title)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q; want %q", got, tt.wantRetry)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if tt.wantRetry != "" && fmt.Sprint(body["retry_after"]) != tt.wantRetry {
				t.Errorf("retry_after = %v; want %s", body["retry_after"], tt.wantRetry)
			}
			if p.Status >= 500 && (strings.Contains(w.Body.String(), "10.0.0.7") || body["errors"] != nil) {
				t.Errorf("a 5xx body carries the error: %s", w.Body)
			}
		})
	}
}

func TestExtra(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	table.Write(w, &Error{Status: 400, Code: CodeInvalidRequest, Extra: map[string]any{"rows": []int{1}, "status": 999}})
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(body["rows"]) != "[1]" || body["status"] != float64(400) {
		t.Errorf("body = %s; want rows beside the members, status untouched", w.Body)
	}
}

type sample struct {
	Name   string `json:"name"`
	Device *struct {
		Label string `json:"label"`
	} `json:"device"`
	Roles []struct {
		WarehouseID string `json:"warehouse_id"`
	} `json:"roles"`
	Count int `json:"count"`
}

func (s *sample) Check(f *Fields) {
	f.Required("name", s.Name)
	f.MaxLen("name", s.Name, 10)
}

// decodeTests are the table of Decode, and the seeds of FuzzDecode.
var decodeTests = []struct {
	name      string
	dec       Decoder
	body      string
	wantField string // "" for success
	wantCode  string
}{
	{"ok", Decoder{}, `{"name":"jo"}`, "", ""},
	{"ok with an escaped pair", Decoder{}, `{"name":"\ud83d\ude00"}`, "", ""},
	{"ok with U+FFFD itself", Decoder{}, `{"name":"\ufffd"}`, "", ""},
	{"ok with a NUL", Decoder{}, `{"name":"a\u0000b"}`, "", ""},
	{"empty", Decoder{}, ``, "body", "required"},
	{"empty optional", Decoder{Optional: true}, ` `, "", ""},
	{"malformed", Decoder{}, `{"name":`, "body", "malformed"},
	{"trailing", Decoder{}, `{"name":"jo"} {}`, "body", "malformed"},
	{"not an object", Decoder{}, `[1]`, "body", "type"},
	{"wrong type", Decoder{}, `{"name":1}`, "name", "type"},
	{"nested wrong type", Decoder{}, `{"name":"jo","device":{"label":2}}`, "device.label", "type"},
	{"unknown", Decoder{}, `{"name":"jo","nmae":"x"}`, "nmae", "unknown_field"},
	{"unknown allowed", Decoder{AllowUnknown: true}, `{"name":"jo","nmae":"x"}`, "", ""},
	{"required", Decoder{}, `{"name":"  "}`, "name", "required"},
	{"too long", Decoder{}, `{"name":"abcdefghijk"}`, "name", "too_long"},
	{"raw invalid byte", Decoder{}, "{\"name\":\"a\xffb\"}", "name", "invalid_utf8"},
	{"lone high surrogate", Decoder{}, `{"name":"a\ud800b"}`, "name", "invalid_utf8"},
	{"lone low surrogate", Decoder{}, `{"name":"\udc00"}`, "name", "invalid_utf8"},
	{"high then not low", Decoder{}, `{"name":"\ud800\u0041"}`, "name", "invalid_utf8"},
	{"nested surrogate", Decoder{}, `{"name":"jo","device":{"label":"\uD800"}}`, "device.label", "invalid_utf8"},
	{"in an array", Decoder{}, `{"name":"jo","roles":[{"warehouse_id":"w"},{"warehouse_id":"\ud800"}]}`, "roles[1].warehouse_id", "invalid_utf8"},
	{"in an unknown field", Decoder{AllowUnknown: true}, "{\"name\":\"jo\",\"x\":\"\xc3\"}", "x", "invalid_utf8"},
	{"in a key", Decoder{AllowUnknown: true}, "{\"name\":\"jo\",\"\xff\":1}", "body", "invalid_utf8"},
	{"deep nesting", Decoder{}, strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "body", "malformed"},
	{"too large", Decoder{MaxBytes: 8}, `{"name":"jonathan"}`, "", "too_large"},
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			var v sample
			err := tt.dec.DecodeBytes([]byte(tt.body), &v)
			switch {
			case tt.wantCode == "too_large":
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("DecodeBytes(%.40q) = %v; want ErrTooLarge", tt.body, err)
				}
			case tt.wantField == "":
				if err != nil {
					t.Fatalf("DecodeBytes(%.40q) = %v; want nil", tt.body, err)
				}
			default:
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 || e.Code != CodeInvalidRequest || len(e.Fields) == 0 ||
					e.Fields[0].Field != tt.wantField || e.Fields[0].Code != tt.wantCode {
					t.Fatalf("DecodeBytes(%.40q) = %v; want 400 invalid_request %s %s", tt.body, err, tt.wantField, tt.wantCode)
				}
			}
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct, body  string
		wantField string
	}{
		{"application/json", `{"name":"jo"}`, ""},
		{"", `{"name":"jo"}`, ""},
		{"application/problem+json; charset=utf-8", `{"name":"jo"}`, ""},
		{"text/plain", `{"name":"jo"}`, "Content-Type"},
		{"application/x-www-form-urlencoded", `name=jo`, "Content-Type"},
		{";;", `{"name":"jo"}`, "Content-Type"},
		{"application/json", `{"name":"` + strings.Repeat("a", 100) + `"}`, "body"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		if tt.ct != "" {
			r.Header.Set("Content-Type", tt.ct)
		}
		var v sample
		err := Decoder{MaxBytes: 64}.Decode(httptest.NewRecorder(), r, &v)
		p := table.Problem(err)
		switch {
		case tt.wantField == "" && err != nil:
			t.Errorf("Decode(%q, %.20q) = %v; want nil", tt.ct, tt.body, err)
		case tt.wantField != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.wantField || p.Status == http.StatusServiceUnavailable):
			t.Errorf("Decode(%q, %.20q) = %+v; want a problem naming %s", tt.ct, tt.body, p, tt.wantField)
		}
	}
}

// FuzzDecode: Decode never panics; it accepts a body (then every string
// in it is valid UTF-8 and the checks hold) or refuses it with a 400
// that names a field, or with ErrTooLarge.
func FuzzDecode(f *testing.F) {
	for _, tt := range decodeTests {
		f.Add([]byte(tt.body), tt.dec.AllowUnknown)
	}
	f.Fuzz(func(t *testing.T, body []byte, allowUnknown bool) {
		var v sample
		err := Decoder{MaxBytes: 4096, AllowUnknown: allowUnknown}.DecodeBytes(body, &v)
		if err == nil {
			if !utf8.ValidString(v.Name) || !spelled(v.Name, body) || strings.TrimSpace(v.Name) == "" || len(v.Name) > 10 {
				t.Fatalf("DecodeBytes(%q) accepted name %q", body, v.Name)
			}
			if v.Device != nil && (!utf8.ValidString(v.Device.Label) || !spelled(v.Device.Label, body)) {
				t.Fatalf("DecodeBytes(%q) accepted label %q", body, v.Device.Label)
			}
			return
		}
		if errors.Is(err, ErrTooLarge) {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || len(e.Fields) == 0 || e.Fields[0].Field == "" {
			t.Fatalf("DecodeBytes(%q) = %v; want a 400 naming a field", body, err)
		}
	})
}

// spelled reports whether a U+FFFD in a decoded string was spelled by
// the body itself (as its UTF-8 bytes or a \ufffd escape): encoding/json
// makes one from invalid input, which the decoder must have refused.
func spelled(s string, body []byte) bool {
	if !strings.ContainsRune(s, utf8.RuneError) {
		return true
	}
	return strings.Contains(strings.ToLower(string(body)), `\ufffd`) || strings.Contains(string(body), "\uFFFD")
}

// FuzzContentType: the Content-Type check never panics, and whatever it
// accepts is empty or a JSON media type.
func FuzzContentType(f *testing.F) {
	for _, s := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON", "application/problem+json",
		"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ";;;", "application/json; charset", "application/+json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		if err := CheckJSONContentType(ct); err != nil {
			var ge *Error
			if !errors.As(err, &ge) || ge.Status != 400 || len(ge.Fields) != 1 || ge.Fields[0].Field != "Content-Type" {
				t.Fatalf("CheckJSONContentType(%q) = %v; want 400 naming Content-Type", ct, err)
			}
			return
		}
		if strings.TrimSpace(ct) == "" {
			return
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !strings.HasSuffix(mt, "json") {
			t.Fatalf("CheckJSONContentType(%q) accepted %q (%v)", ct, mt, err)
		}
	})
}
