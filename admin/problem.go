package admin

import (
	"errors"
	"net/http"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// Problem is the shape of the admin API's problem documents (RFC 9457,
// internal/problem's, with the stable code of docs/ERRORS.md), plus the per-row report
// of an import refused as a whole. It documents the shape (the OpenAPI
// document reflects on it) and reads answers in tests; the answers
// themselves are written by internal/problem.
type Problem struct {
	problem.Problem
	Rows []ImportRow `json:"rows,omitempty"` // an import refused as a whole (bad header)
}

// FieldError names one field of a request and what is wrong with it.
type FieldError = problem.FieldError

// Error codes of docs/ERRORS.md, plus not_found, conflict, too_large and
// method_not_allowed, which this API adds (docs/ADMIN.md).
const (
	codeInvalidRequest     = problem.CodeInvalidRequest
	codeInvalidCredentials = problem.CodeInvalidCredentials
	codeInvalidToken       = problem.CodeInvalidToken
	codeForbidden          = problem.CodeForbidden
	codeNotFound           = problem.CodeNotFound
	codeConflict           = problem.CodeConflict
	codeTooLarge           = problem.CodeTooLarge
	codeWeakPIN            = problem.CodeWeakPIN
	codeTooManyAttempts    = problem.CodeTooManyAttempts
	codeUnavailable        = problem.CodeUnavailable
	// codeInvalidLink: an invitation or reset link that is unknown, used
	// or revoked; codeLinkExpired: one past its expiry.
	codeInvalidLink = "invalid_link"
	codeLinkExpired = "link_expired"
)

var (
	errNoRoute      = &problem.Error{Status: http.StatusNotFound, Code: codeNotFound, Detail: "no such path"}
	errNotFound     = &problem.Error{Status: http.StatusNotFound, Code: codeNotFound, Detail: "no such resource"}
	errForbidden    = &problem.Error{Status: http.StatusForbidden, Code: codeForbidden, Detail: "your roles do not allow this"}
	errInvalidToken = &problem.Error{Status: http.StatusUnauthorized, Code: codeInvalidToken, Detail: "missing, unknown, revoked or expired token"}
)

// invalid builds a 400 invalid_request naming one field.
func invalid(field, code, message string) error { return problem.InvalidField(field, code, message) }

func conflict(detail string) error {
	return &problem.Error{Status: http.StatusConflict, Code: codeConflict, Detail: detail}
}

// problems is the admin API's table from errors to answers: the one place
// where its errors become statuses. An error it does not know is 503
// unavailable (fail closed, as on the device listener); a 5xx never
// carries err.Error().
var problems = problem.Table{
	Typed: func(err error) *problem.Error {
		var (
			te *signin.ThrottledError
			ve *devices.ValidationError
			pe *devices.PolicyError
		)
		switch {
		case errors.As(err, &te):
			return &problem.Error{Status: http.StatusTooManyRequests, Code: codeTooManyAttempts, Detail: "try again later", RetryAfter: te.RetryAfter}
		case errors.As(err, &pe):
			if pe.Secret == "pin" {
				return &problem.Error{Status: http.StatusUnprocessableEntity, Code: codeWeakPIN, Detail: pe.Reason}
			}
			return problem.InvalidField(pe.Secret, pe.Rule, pe.Reason)
		case errors.As(err, &ve):
			fs := make([]FieldError, len(ve.Fields))
			for i, f := range ve.Fields {
				fs[i] = FieldError(f)
			}
			return problem.Invalid(fs...)
		}
		return nil
	},
	Sentinels: []problem.Sentinel{
		{Err: signin.ErrInFlight, Status: http.StatusTooManyRequests, Code: codeTooManyAttempts, Detail: "another sign-in of this account is under way; try again"},
		{Err: signin.ErrBusy, Status: http.StatusTooManyRequests, Code: codeTooManyAttempts, Detail: "the server is busy; try again"},
		{Err: signin.ErrUnavailable, Status: http.StatusServiceUnavailable, Code: codeUnavailable},
		{Err: problem.ErrTooLarge, Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Detail: "the body is too large",
			Fields: []FieldError{problem.TooLargeField}},
		{Err: devices.ErrInvalid, Status: http.StatusBadRequest, Code: codeInvalidRequest, Detail: "invalid input"},
		{Err: devices.ErrNotFound, Status: http.StatusNotFound, Code: codeNotFound, Detail: "no such resource"},
		{Err: sessions.ErrNotFound, Status: http.StatusNotFound, Code: codeNotFound, Detail: "no such resource"},
		{Err: devices.ErrExists, Status: http.StatusConflict, Code: codeConflict, Detail: "a unique value (username, email, employee id, code or serial) is already taken"},
		{Err: devices.ErrRestoreExpired, Status: http.StatusConflict, Code: codeConflict, Detail: "the 30-day restore window has passed"},
		{Err: devices.ErrState, Status: http.StatusConflict, Code: codeConflict, Detail: "not allowed in the record's current state"},
		{Err: devices.ErrLinkInvalid, Status: http.StatusNotFound, Code: codeInvalidLink, Detail: "the link is unknown, used or revoked; ask for a new one"},
		{Err: devices.ErrLinkExpired, Status: http.StatusGone, Code: codeLinkExpired, Detail: "the link has expired; ask for a new one"},
		{Err: devices.ErrInvalidCredentials, Status: http.StatusUnauthorized, Code: problem.CodeInvalidCredentials, Detail: "wrong email or password"},
		{Err: devices.ErrDisabled, Status: http.StatusForbidden, Code: problem.CodeAccountDisabled, Detail: "the account is disabled"},
		{Err: devices.ErrUnavailable, Status: http.StatusServiceUnavailable, Code: codeUnavailable},
		{Err: sessions.ErrUnavailable, Status: http.StatusServiceUnavailable, Code: codeUnavailable},
	},
}

// writeError answers err as a problem document and logs what stops here.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problems.Write(w, err)
	if p.Status >= 500 {
		a.log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	problem.WriteJSON(w, status, v)
	return nil
}

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 1 << 20

// decode reads one JSON object into v, refusing unknown fields (a typo
// in a PATCH must not pass silently), trailing data, invalid UTF-8 and
// bodies over maxJSONBody. An empty body is allowed when optional is
// true.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	return problem.Decoder{MaxBytes: maxJSONBody, Optional: optional}.Decode(w, r, v)
}
