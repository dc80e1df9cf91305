package devices

import (
	"errors"
	"strings"
)

// Sentinel errors. Store backends translate driver errors into these at
// their edge; no driver error type ever reaches a caller of this package.
var (
	// ErrNotFound: no such record (or it is outside what the caller may see).
	ErrNotFound = errors.New("not found")
	// ErrExists: a unique value (username, email, employee id, serial,
	// warehouse code) is already taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the input breaks a rule; the error is a *ValidationError.
	ErrInvalid = errors.New("invalid input")
	// ErrInvalidCredentials: unknown account or wrong secret. One error for
	// both, so that callers cannot tell them apart.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrDisabled: the secret was right but the account is suspended,
	// deleted or disabled.
	ErrDisabled = errors.New("account disabled")
	// ErrRestoreExpired: a soft-deleted user is past its restore window.
	ErrRestoreExpired = errors.New("restore window has passed")
	// ErrState: the operation does not apply to the record's current state
	// (restore an active user, suspend a deleted one).
	ErrState = errors.New("not allowed in the current state")
	// ErrUnavailable: the store cannot be reached. Callers fail closed.
	ErrUnavailable = errors.New("registry unavailable")
)

// FieldError names one field of the input and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in one input. It matches
// ErrInvalid with errors.Is.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input:")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString(";")
		}
		b.WriteString(" ")
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Add records a problem with one field.
func (e *ValidationError) Add(field, code, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Code: code, Message: message})
}

// Merge appends the fields of err to e when err is a *ValidationError,
// and does nothing otherwise.
func (e *ValidationError) Merge(err error) {
	var fe *ValidationError
	if errors.As(err, &fe) {
		e.Fields = append(e.Fields, fe.Fields...)
	}
}

// Err returns e when it holds a problem, nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// PolicyError says why a PIN or password was refused. It matches ErrInvalid.
type PolicyError struct {
	// Secret is "pin" or "password".
	Secret string
	// Rule is a stable code: "too_short", "too_long", "not_digits",
	// "repeated", "sequence", "common", "missing_upper", ...
	Rule string
	// Reason is a sentence for a person.
	Reason string
}

func (e *PolicyError) Error() string { return e.Secret + " refused: " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalid }
