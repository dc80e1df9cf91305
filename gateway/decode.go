package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/floorgate/floorgate/devices"
)

// maxBody caps every request body: the largest legitimate one (enroll) is
// well under 1 KiB.
const maxBody = 16 << 10

// maxField caps the length of any one string field, so that nothing huge
// reaches a hash or a store.
const maxField = 256

// request is a decoded body that can say which of its fields are wrong.
type request interface {
	check(v *fieldCheck)
}

// decodeRequest reads r's body (at most maxBody bytes) into dst and
// checks it. Every problem is a 400 invalid_request whose errors name the
// fields. Unknown fields are ignored, so that a newer app can talk to an
// older server (API.md lets fields be added).
func decodeRequest(w http.ResponseWriter, r *http.Request, dst request) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	return decodeBody(http.MaxBytesReader(w, r.Body, maxBody), dst)
}

// checkContentType accepts a body declared as application/json (or any
// +json type), with or without parameters, or not declared at all. Any
// other declared type is 400 invalid_request naming "Content-Type": a
// form or text/plain post, which a browser may send across sites without
// asking, never reaches a handler.
func checkContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return invalidFields(devices.FieldError{Field: "Content-Type", Code: "unsupported", Message: "the body must be sent as application/json"})
}

// decodeBody is decodeRequest over any reader; the fuzz targets call it.
func decodeBody(rd io.Reader, dst request) error {
	dec := json.NewDecoder(rd)
	if err := dec.Decode(dst); err != nil {
		return badBody(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return badBody(err)
		}
		return invalidFields(devices.FieldError{Field: "body", Code: "malformed", Message: "the body must hold exactly one JSON object"})
	}
	var v fieldCheck
	dst.check(&v)
	if len(v.fields) > 0 {
		return invalidFields(v.fields...)
	}
	return nil
}

func invalidFields(fs ...devices.FieldError) error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Detail: "the request has invalid fields", Fields: fs}
}

// badBody turns a json decoding error into a field list.
func badBody(err error) error {
	var (
		te  *json.UnmarshalTypeError
		se  *json.SyntaxError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return invalidFields(devices.FieldError{Field: "body", Code: "too_large", Message: fmt.Sprintf("the body must be at most %d bytes", maxBody)})
	case errors.Is(err, io.EOF):
		return invalidFields(devices.FieldError{Field: "body", Code: "required", Message: "a JSON object is required"})
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return invalidFields(devices.FieldError{Field: "body", Code: "type", Message: "the body must be a JSON object"})
		}
		return invalidFields(devices.FieldError{Field: field, Code: "type", Message: "must be " + jsonKind(te.Type.Kind().String())})
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidFields(devices.FieldError{Field: "body", Code: "malformed", Message: "the body is not valid JSON"})
	}
	return invalidFields(devices.FieldError{Field: "body", Code: "malformed", Message: "the body is not valid JSON"})
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}

// fieldCheck collects field problems.
type fieldCheck struct {
	fields []devices.FieldError
}

// required refuses an empty or over-long string.
func (v *fieldCheck) required(name, value string) {
	if strings.TrimSpace(value) == "" {
		v.fields = append(v.fields, devices.FieldError{Field: name, Code: "required", Message: "is required"})
		return
	}
	v.maxLen(name, value)
}

// maxLen refuses an over-long string.
func (v *fieldCheck) maxLen(name, value string) {
	if len(value) > maxField {
		v.fields = append(v.fields, devices.FieldError{Field: name, Code: "too_long", Message: fmt.Sprintf("must be at most %d bytes", maxField)})
	}
}

// --- the request bodies of API.md ---------------------------------------

type enrollRequest struct {
	Email       string            `json:"email"`
	Password    string            `json:"password"`
	WarehouseID string            `json:"warehouse_id"`
	Device      *enrollDeviceInfo `json:"device"`
}

type enrollDeviceInfo struct {
	Serial     string `json:"serial"`
	Model      string `json:"model"`
	OSVersion  string `json:"os_version"`
	AppVersion string `json:"app_version"`
	Label      string `json:"label"`
}

func (q *enrollRequest) check(v *fieldCheck) {
	v.required("email", q.Email)
	v.required("password", q.Password)
	v.required("warehouse_id", q.WarehouseID)
	if q.Device == nil {
		v.fields = append(v.fields, devices.FieldError{Field: "device", Code: "required", Message: "is required"})
		return
	}
	v.required("device.serial", q.Device.Serial)
	v.maxLen("device.model", q.Device.Model)
	v.maxLen("device.os_version", q.Device.OSVersion)
	v.maxLen("device.app_version", q.Device.AppVersion)
	v.maxLen("device.label", q.Device.Label)
}

type loginRequest struct {
	Username string `json:"username"`
	PIN      string `json:"pin"`
	// AppVersion is optional (an addition to API.md): the app's version
	// now, when it has been updated since enrollment.
	AppVersion string `json:"app_version"`
}

func (q *loginRequest) check(v *fieldCheck) {
	v.required("username", q.Username)
	v.required("pin", q.PIN)
	v.maxLen("app_version", q.AppVersion)
}

type pinRequest struct {
	CurrentPIN string `json:"current_pin"`
	NewPIN     string `json:"new_pin"`
}

func (q *pinRequest) check(v *fieldCheck) {
	v.required("current_pin", q.CurrentPIN)
	v.required("new_pin", q.NewPIN)
}

type introspectRequest struct {
	Token string `json:"token"`
}

func (q *introspectRequest) check(v *fieldCheck) {
	v.required("token", q.Token)
}
