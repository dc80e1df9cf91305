package problem

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// The stable codes both APIs answer with, plus those the routers need for
// unknown paths and methods. An API may add its own.
const (
	CodeInvalidRequest        = "invalid_request"
	CodeInvalidCredentials    = "invalid_credentials"
	CodeInvalidToken          = "invalid_token"
	CodeForbidden             = "forbidden"
	CodeAccountDisabled       = "account_disabled"
	CodeWrongWarehouse        = "wrong_warehouse"
	CodeDeviceQuarantined     = "device_quarantined"
	CodeSessionLimit          = "session_limit"
	CodeWeakPIN               = "weak_pin"
	CodeAppVersionUnsupported = "app_version_unsupported"
	CodeTooManyAttempts       = "too_many_attempts"
	CodeUnavailable           = "unavailable"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeConflict              = "conflict"
	CodeTooLarge              = "too_large"
)

var titles = map[string]string{
	CodeInvalidRequest:        "Invalid request",
	CodeInvalidCredentials:    "Invalid credentials",
	CodeInvalidToken:          "Invalid token",
	CodeForbidden:             "Forbidden",
	CodeAccountDisabled:       "Account disabled",
	CodeWrongWarehouse:        "Wrong warehouse",
	CodeDeviceQuarantined:     "Device quarantined",
	CodeSessionLimit:          "Session limit reached",
	CodeWeakPIN:               "Weak PIN",
	CodeAppVersionUnsupported: "App version unsupported",
	CodeTooManyAttempts:       "Too many attempts",
	CodeUnavailable:           "Service unavailable",
	CodeNotFound:              "Not found",
	CodeMethodNotAllowed:      "Method not allowed",
	CodeConflict:              "Conflict",
	CodeTooLarge:              "Too large",
}

// Default waits of the Retry-After header when the error does not say.
const (
	// DefaultRetry429 is the wait of a 429 that names none.
	DefaultRetry429 = time.Second
	// DefaultRetry503 is the wait of a 503: long enough that a fleet of
	// clients does not hammer a store that is coming back.
	DefaultRetry503 = 5 * time.Second
)

// unavailableDetail is the one detail of a 5xx that does not bring its own.
const unavailableDetail = "a backing store cannot be reached; nothing was assumed, try again"

// FieldError names one field of a request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem document with a stable code.
type Problem struct {
	Type       string       `json:"type"`
	Title      string       `json:"title"`
	Status     int          `json:"status"`
	Code       string       `json:"code"`
	Detail     string       `json:"detail,omitempty"`
	Errors     []FieldError `json:"errors,omitempty"`
	RetryAfter int          `json:"retry_after,omitempty"`
	// Extra holds extension members written beside the others (the admin
	// import's per-row report of a refused file). Never on a 5xx.
	Extra map[string]any `json:"-"`
}

// MarshalJSON writes the members, then Extra's (which cannot replace a
// standard member).
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Error is an error that knows its problem response. Handlers return it
// for every refusal they decide themselves; an API's Table maps the rest.
type Error struct {
	Status     int
	Code       string
	Detail     string
	Fields     []FieldError
	RetryAfter time.Duration
	Extra      map[string]any
	// Err is the cause, for the log only: it never reaches a body.
	Err error
}

func (e *Error) Error() string {
	s := strconv.Itoa(e.Status) + " " + e.Code
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid is a 400 invalid_request naming the fields.
func Invalid(fields ...FieldError) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Detail: "the request has invalid fields", Fields: fields}
}

// InvalidField is a 400 invalid_request naming one field.
func InvalidField(field, code, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Detail: message,
		Fields: []FieldError{{Field: field, Code: code, Message: message}}}
}

// Unavailable is a 503 unavailable that keeps err for the log.
func Unavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Err: err}
}

// Sentinel is one line of an API's table: an error matching Err
// (errors.Is) answers Status, Code, Detail and Fields.
type Sentinel struct {
	Err    error
	Status int
	Code   string
	Detail string
	Fields []FieldError
}

// Table maps the errors one API meets to its problems. It is the one
// place where that API turns errors into statuses.
type Table struct {
	// Typed turns an error of a type the API knows (a validation error
	// with its fields) into its answer; nil when it does not apply. It
	// runs after an *Error in the chain and before the sentinels.
	Typed func(err error) *Error
	// Sentinels are tried in order; the first match answers.
	Sentinels []Sentinel
}

// Problem maps err: an *Error in its chain answers itself, then Typed,
// then the first matching sentinel; anything else is 503 unavailable
// (fail closed). A 5xx never carries err's text or field errors.
func (t Table) Problem(err error) Problem {
	p := Problem{Type: "about:blank"}
	var e *Error
	if !errors.As(err, &e) && t.Typed != nil {
		e = t.Typed(err)
	}
	if e == nil {
		for _, s := range t.Sentinels {
			if errors.Is(err, s.Err) {
				e = &Error{Status: s.Status, Code: s.Code, Detail: s.Detail, Fields: s.Fields}
				break
			}
		}
	}
	if e == nil {
		e = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable}
	}
	p.Status, p.Code, p.Detail, p.Errors, p.Extra = e.Status, e.Code, e.Detail, e.Fields, e.Extra
	if e.RetryAfter > 0 {
		p.RetryAfter = seconds(e.RetryAfter)
	}
	switch {
	case p.Status >= 500:
		p.Errors, p.Extra = nil, nil
		if p.Code == "" {
			p.Code = CodeUnavailable
		}
		if p.Detail == "" {
			p.Detail = unavailableDetail
		}
		if p.Status == http.StatusServiceUnavailable && p.RetryAfter == 0 {
			p.RetryAfter = seconds(DefaultRetry503)
		}
	case p.Status == http.StatusTooManyRequests && p.RetryAfter == 0:
		p.RetryAfter = seconds(DefaultRetry429)
	}
	p.Title = titles[p.Code]
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	return p
}

// Write answers err as application/problem+json and returns what it
// wrote: a Retry-After header with every retry_after (so on every 429
// and 503), and WWW-Authenticate on 401 invalid_token.
func (t Table) Write(w http.ResponseWriter, err error) Problem {
	p := t.Problem(err)
	h := w.Header()
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized && p.Code == CodeInvalidToken {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeJSON(w, "application/problem+json", p.Status, p)
	return p
}

// WriteJSON answers status with v as application/json, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeJSON(w, "application/json", status, v)
}

func writeJSON(w http.ResponseWriter, ctype string, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}

// seconds rounds up to whole seconds, at least 1.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
