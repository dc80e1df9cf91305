package gateway

import (
	"errors"
	"net/http"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// Error codes of docs/DEVICE-API.md, plus the two the router needs for unknown paths
// and methods (internal/problem holds them for both APIs).
const (
	CodeInvalidRequest        = problem.CodeInvalidRequest
	CodeInvalidCredentials    = problem.CodeInvalidCredentials
	CodeInvalidToken          = problem.CodeInvalidToken
	CodeForbidden             = problem.CodeForbidden
	CodeAccountDisabled       = problem.CodeAccountDisabled
	CodeWrongWarehouse        = problem.CodeWrongWarehouse
	CodeDeviceQuarantined     = problem.CodeDeviceQuarantined
	CodeSessionLimit          = problem.CodeSessionLimit
	CodeWeakPIN               = problem.CodeWeakPIN
	CodeAppVersionUnsupported = problem.CodeAppVersionUnsupported
	CodeTooManyAttempts       = problem.CodeTooManyAttempts
	CodeUnavailable           = problem.CodeUnavailable
	CodeNotFound              = problem.CodeNotFound
	CodeMethodNotAllowed      = problem.CodeMethodNotAllowed
)

// Error is an error that knows its problem response (internal/problem's,
// shared with the admin API). Handlers return it for every refusal they
// decide themselves; ProblemOf maps everything else.
type Error = problem.Error

// Problem is an RFC 9457 problem document with the stable code of docs/DEVICE-API.md.
type Problem = problem.Problem

// problems is the gateway's table from errors to docs/DEVICE-API.md's answers. An
// error it does not know, store errors included, is 503 unavailable: the
// gateway fails closed.
var problems = problem.Table{
	Typed: func(err error) *Error {
		var (
			te *signin.ThrottledError
			pe *devices.PolicyError
			ve *devices.ValidationError
		)
		switch {
		case errors.As(err, &te):
			return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts, Detail: "try again later", RetryAfter: te.RetryAfter}
		case errors.As(err, &pe):
			field := "new_pin"
			if pe.Secret == "password" {
				field = "password"
			}
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeWeakPIN, Detail: pe.Reason,
				Fields: []problem.FieldError{{Field: field, Code: pe.Rule, Message: pe.Reason}}}
		case errors.As(err, &ve):
			return problem.Invalid(fieldErrors(ve)...)
		}
		return nil
	},
	Sentinels: []problem.Sentinel{
		{Err: signin.ErrInFlight, Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts, Detail: "another attempt is in progress; try again"},
		{Err: signin.ErrBusy, Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts, Detail: "the server is busy; try again"},
		{Err: signin.ErrQuarantined, Status: http.StatusForbidden, Code: CodeDeviceQuarantined, Detail: "too many failed attempts on this device: a manager must unlock it"},
		{Err: signin.ErrDeviceRevoked, Status: http.StatusUnauthorized, Code: CodeInvalidToken, Detail: "missing, unknown, revoked or expired token"},
		{Err: signin.ErrWrongWarehouse, Status: http.StatusForbidden, Code: CodeWrongWarehouse, Detail: "this account belongs to another warehouse than the device"},
		{Err: signin.ErrForbidden, Status: http.StatusForbidden, Code: CodeForbidden, Detail: "mobile_manager on this warehouse is required"},
		{Err: signin.ErrUnavailable, Status: http.StatusServiceUnavailable, Code: CodeUnavailable},
		{Err: devices.ErrInvalidCredentials, Status: http.StatusUnauthorized, Code: CodeInvalidCredentials, Detail: "the credentials are not valid"},
		{Err: devices.ErrDisabled, Status: http.StatusForbidden, Code: CodeAccountDisabled, Detail: "the account is suspended or deleted"},
		{Err: sessions.ErrLimit, Status: http.StatusConflict, Code: CodeSessionLimit, Detail: "the user is at the session limit"},
		// docs/DEVICE-API.md's device protocol has no 413: an over-large body is a
		// malformed request.
		{Err: problem.ErrTooLarge, Status: http.StatusBadRequest, Code: CodeInvalidRequest, Detail: "the request has invalid fields",
			Fields: []problem.FieldError{problem.TooLargeField}},
	},
}

// fieldErrors converts the registry's field errors.
func fieldErrors(ve *devices.ValidationError) []problem.FieldError {
	fs := make([]problem.FieldError, len(ve.Fields))
	for i, f := range ve.Fields {
		fs[i] = problem.FieldError(f)
	}
	return fs
}

// ProblemOf maps any error a handler meets to its problem response. It is
// the one place where errors become statuses and codes. A 5xx problem
// never carries err.Error().
func ProblemOf(err error) Problem { return problems.Problem(err) }

// WriteProblem writes err as application/problem+json, with a
// Retry-After header on every 429 and 503.
func WriteProblem(w http.ResponseWriter, err error) Problem { return problems.Write(w, err) }

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) { problem.WriteJSON(w, status, v) }

// Errors the handlers share.
var (
	errInvalidToken = &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Detail: "missing, unknown, revoked or expired token"}
	errForbidden    = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "not allowed"}
	errPINChange    = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "the PIN must be changed first"}
)

// unavailable wraps a store error as 503 unavailable.
func unavailable(err error) error { return problem.Unavailable(err) }
