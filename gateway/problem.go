package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// Error codes of API.md, plus the two the router needs for unknown paths
// and methods.
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
}

// Error is an error that knows its problem response. Handlers return it
// for every refusal they decide themselves; ProblemOf maps everything
// else.
type Error struct {
	Status     int
	Code       string
	Detail     string
	Fields     []devices.FieldError
	RetryAfter time.Duration
	// Err is the cause, for logs only: it never reaches a response body.
	Err error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Problem is an RFC 9457 problem document with the stable code of API.md.
type Problem struct {
	Type       string               `json:"type"`
	Title      string               `json:"title"`
	Status     int                  `json:"status"`
	Code       string               `json:"code"`
	Detail     string               `json:"detail,omitempty"`
	Errors     []devices.FieldError `json:"errors,omitempty"`
	RetryAfter int                  `json:"retry_after,omitempty"`
}

// ProblemOf maps any error a handler meets to its problem response. It is
// the one place where errors become statuses and codes. Errors it does not
// know, store errors included, answer 503 unavailable: the gateway fails
// closed. A 5xx problem never carries err.Error().
func ProblemOf(err error) Problem {
	var (
		ge *Error
		pe *devices.PolicyError
		ve *devices.ValidationError
	)
	p := Problem{Type: "about:blank"}
	switch {
	case errors.As(err, &ge):
		p.Status, p.Code, p.Detail, p.Errors = ge.Status, ge.Code, ge.Detail, ge.Fields
		if ge.RetryAfter > 0 {
			p.RetryAfter = retrySeconds(ge.RetryAfter)
		}
	case errors.As(err, &pe):
		field := "new_pin"
		if pe.Secret == "password" {
			field = "password"
		}
		p.Status, p.Code, p.Detail = http.StatusUnprocessableEntity, CodeWeakPIN, pe.Reason
		p.Errors = []devices.FieldError{{Field: field, Code: pe.Rule, Message: pe.Reason}}
	case errors.As(err, &ve):
		p.Status, p.Code, p.Detail, p.Errors = http.StatusBadRequest, CodeInvalidRequest, "the request has invalid fields", ve.Fields
	case errors.Is(err, devices.ErrInvalidCredentials):
		p.Status, p.Code, p.Detail = http.StatusUnauthorized, CodeInvalidCredentials, "the credentials are not valid"
	case errors.Is(err, devices.ErrDisabled):
		p.Status, p.Code, p.Detail = http.StatusForbidden, CodeAccountDisabled, "the account is suspended or deleted"
	case errors.Is(err, sessions.ErrLimit):
		p.Status, p.Code, p.Detail = http.StatusConflict, CodeSessionLimit, "the user is at the session limit"
	default:
		p.Status, p.Code = http.StatusServiceUnavailable, CodeUnavailable
	}
	if p.Status >= 500 {
		// Never err.Error() in a 5xx body.
		p.Detail, p.Errors = "a backing store cannot be reached; try again", nil
		if p.Code == "" {
			p.Code = CodeUnavailable
		}
	}
	p.Title = titles[p.Code]
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	return p
}

// retrySeconds rounds up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// WriteProblem writes err as application/problem+json, with a
// Retry-After header when the problem carries retry_after.
func WriteProblem(w http.ResponseWriter, err error) Problem {
	p := ProblemOf(err)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized && p.Code == CodeInvalidToken {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
	return p
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Errors the handlers share.
var (
	errInvalidToken = &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Detail: "missing, unknown, revoked or expired token"}
	errForbidden    = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "not allowed"}
	errPINChange    = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "the PIN must be changed first"}
	errBusy         = &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts, Detail: "the server is busy; try again", RetryAfter: time.Second}
)

// unavailable wraps a store error as 503 unavailable.
func unavailable(err error) error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Err: err}
}
