package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// Problem is an RFC 9457 problem document with API.md's stable code.
type Problem struct {
	Type       string       `json:"type"`
	Title      string       `json:"title"`
	Status     int          `json:"status"`
	Code       string       `json:"code"`
	Detail     string       `json:"detail,omitempty"`
	Errors     []FieldError `json:"errors,omitempty"`
	RetryAfter int          `json:"retry_after,omitempty"`
	Rows       []ImportRow  `json:"rows,omitempty"` // an import refused as a whole (bad header)
}

// FieldError names one field of a request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes of API.md, plus not_found, conflict, too_large and
// method_not_allowed, which this API adds (docs/ADMIN.md).
const (
	codeInvalidRequest     = "invalid_request"
	codeInvalidCredentials = "invalid_credentials"
	codeInvalidToken       = "invalid_token"
	codeForbidden          = "forbidden"
	codeAccountDisabled    = "account_disabled"
	codeNotFound           = "not_found"
	codeConflict           = "conflict"
	codeTooLarge           = "too_large"
	codeWeakPIN            = "weak_pin"
	codeTooManyAttempts    = "too_many_attempts"
	codeUnavailable        = "unavailable"
	codeInternal           = "internal"
)

// httpError is an error that already knows its answer.
type httpError struct {
	status     int
	code       string
	detail     string
	fields     []FieldError
	retryAfter time.Duration
	rows       []ImportRow
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.detail) }

var (
	errNoRoute      = &httpError{status: http.StatusNotFound, code: codeNotFound, detail: "no such path"}
	errNotFound     = &httpError{status: http.StatusNotFound, code: codeNotFound, detail: "no such resource"}
	errForbidden    = &httpError{status: http.StatusForbidden, code: codeForbidden, detail: "your roles do not allow this"}
	errInvalidToken = &httpError{status: http.StatusUnauthorized, code: codeInvalidToken, detail: "missing, unknown, revoked or expired token"}
	errBadCreds     = &httpError{status: http.StatusUnauthorized, code: codeInvalidCredentials, detail: "wrong email or password"}
)

// invalid builds a 400 invalid_request naming one field.
func invalid(field, code, message string) error {
	return &httpError{status: http.StatusBadRequest, code: codeInvalidRequest, detail: message,
		fields: []FieldError{{Field: field, Code: code, Message: message}}}
}

func conflict(detail string) error {
	return &httpError{status: http.StatusConflict, code: codeConflict, detail: detail}
}

// problemFor maps any error to its problem document. It is the one place
// where errors become statuses; a 5xx never carries err.Error().
func problemFor(err error) Problem {
	var he *httpError
	var ve *devices.ValidationError
	var pe *devices.PolicyError
	var mbe *http.MaxBytesError
	p := Problem{Type: "about:blank"}
	switch {
	case errors.As(err, &he):
		p.Status, p.Code, p.Detail, p.Errors, p.Rows = he.status, he.code, he.detail, he.fields, he.rows
		if he.retryAfter > 0 {
			p.RetryAfter = retrySeconds(he.retryAfter)
		}
	case errors.As(err, &mbe):
		p.Status, p.Code, p.Detail = http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)
	case errors.As(err, &pe):
		if pe.Secret == "pin" {
			p.Status, p.Code, p.Detail = http.StatusUnprocessableEntity, codeWeakPIN, pe.Reason
		} else {
			p.Status, p.Code, p.Detail = http.StatusBadRequest, codeInvalidRequest, pe.Reason
			p.Errors = []FieldError{{Field: pe.Secret, Code: pe.Rule, Message: pe.Reason}}
		}
	case errors.As(err, &ve):
		p.Status, p.Code, p.Detail = http.StatusBadRequest, codeInvalidRequest, "the request has invalid fields"
		for _, f := range ve.Fields {
			p.Errors = append(p.Errors, FieldError(f))
		}
	case errors.Is(err, devices.ErrInvalid):
		p.Status, p.Code, p.Detail = http.StatusBadRequest, codeInvalidRequest, "invalid input"
	case errors.Is(err, devices.ErrNotFound), errors.Is(err, sessions.ErrNotFound):
		p.Status, p.Code, p.Detail = http.StatusNotFound, codeNotFound, "no such resource"
	case errors.Is(err, devices.ErrExists):
		p.Status, p.Code, p.Detail = http.StatusConflict, codeConflict, "a unique value (username, email, employee id, code or serial) is already taken"
	case errors.Is(err, devices.ErrRestoreExpired):
		p.Status, p.Code, p.Detail = http.StatusConflict, codeConflict, "the 30-day restore window has passed"
	case errors.Is(err, devices.ErrState):
		p.Status, p.Code, p.Detail = http.StatusConflict, codeConflict, "not allowed in the record's current state"
	case errors.Is(err, devices.ErrInvalidCredentials):
		p.Status, p.Code, p.Detail = http.StatusUnauthorized, codeInvalidCredentials, errBadCreds.detail
	case errors.Is(err, devices.ErrDisabled):
		p.Status, p.Code, p.Detail = http.StatusForbidden, codeAccountDisabled, "the account is disabled"
	case errors.Is(err, devices.ErrUnavailable), errors.Is(err, sessions.ErrUnavailable):
		p.Status, p.Code, p.Detail = http.StatusServiceUnavailable, codeUnavailable, "a store cannot be reached; nothing was assumed, try again"
	default:
		p.Status, p.Code, p.Detail = http.StatusInternalServerError, codeInternal, "internal error"
	}
	p.Title = http.StatusText(p.Status)
	return p
}

func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// writeError answers err as a problem document and logs what stops here.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		a.log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	if p.Status == http.StatusUnauthorized && p.Code == codeInvalidToken {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	writeJSONType(w, "application/problem+json", p.Status, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	writeJSONType(w, "application/json", status, v)
	return nil
}

func writeJSONType(w http.ResponseWriter, ctype string, status int, v any) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 1 << 20

// decode reads one JSON object into v, refusing unknown fields, trailing
// data and bodies over maxJSONBody. An empty body is allowed when
// optional is true.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return invalid("body", "content_type", "the body must be application/json")
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			if optional {
				return nil
			}
			return invalid("body", "missing", "a JSON body is required")
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return jsonProblem(err)
	}
	if dec.More() {
		return invalid("body", "trailing_data", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("body", "trailing_data", "the body holds more than one JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "type", fmt.Sprintf("%s must be %s", field, jsonKind(ute.Type.Kind().String())))
	case errors.As(err, &se):
		return invalid("body", "syntax", fmt.Sprintf("malformed JSON at byte %d", se.Offset))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "unknown_field", fmt.Sprintf("unknown field %q", name))
	}
	return invalid("body", "syntax", "malformed JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a number"
}

// errorsJoinUnavailable marks a session-store failure as unavailable,
// so that it answers 503 whatever the backend returned.
func errorsJoinUnavailable(err error) error {
	if errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) {
		return err
	}
	return errors.Join(sessions.ErrUnavailable, err)
}
