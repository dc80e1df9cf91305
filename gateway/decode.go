package gateway

import (
	"net/http"

	"github.com/floorgate/floorgate/internal/problem"
)

// maxBody caps every request body: the largest legitimate one (enroll) is
// well under 1 KiB.
const maxBody = 16 << 10

// maxField caps the length of any one string field, so that nothing huge
// reaches a hash or a store.
const maxField = 256

// bodies is the device API's body decoder: at most maxBody bytes, one
// JSON object. Unknown fields are ignored, so that a newer app can talk
// to an older server (docs/DEVICE-API.md lets fields be added).
var bodies = problem.Decoder{MaxBytes: maxBody, AllowUnknown: true}

// decodeRequest reads r's body into dst and checks its fields. Every
// problem is a 400 invalid_request whose errors name the fields.
func decodeRequest(w http.ResponseWriter, r *http.Request, dst problem.Checker) error {
	return bodies.Decode(w, r, dst)
}

func invalidFields(fs ...problem.FieldError) error { return problem.Invalid(fs...) }

// --- the request bodies of docs/DEVICE-API.md ---------------------------------------

type enrollRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	WarehouseID string `json:"warehouse_id"`
	// EnrollmentToken (an addition to docs/DEVICE-API.md: zero-touch enrollment)
	// stands in for email and password; warehouse_id is then optional
	// (the token's warehouse applies).
	EnrollmentToken string            `json:"enrollment_token"`
	Device          *enrollDeviceInfo `json:"device"`
}

type enrollDeviceInfo struct {
	Serial     string `json:"serial"`
	Model      string `json:"model"`
	OSVersion  string `json:"os_version"`
	AppVersion string `json:"app_version"`
	Label      string `json:"label"`
}

func (q *enrollRequest) Check(v *problem.Fields) {
	if q.EnrollmentToken != "" {
		v.MaxLen("enrollment_token", q.EnrollmentToken, maxField)
		if q.Email != "" || q.Password != "" {
			v.Add("enrollment_token", "exclusive", "send enrollment_token or email and password, not both")
		}
		v.MaxLen("warehouse_id", q.WarehouseID, maxField)
	} else {
		required(v, "email", q.Email)
		required(v, "password", q.Password)
		required(v, "warehouse_id", q.WarehouseID)
	}
	if q.Device == nil {
		v.Add("device", "required", "device is required")
		return
	}
	required(v, "device.serial", q.Device.Serial)
	v.MaxLen("device.model", q.Device.Model, maxField)
	v.MaxLen("device.os_version", q.Device.OSVersion, maxField)
	v.MaxLen("device.app_version", q.Device.AppVersion, maxField)
	v.MaxLen("device.label", q.Device.Label, maxField)
}

type loginRequest struct {
	Username string `json:"username"`
	// Badge (an addition to docs/DEVICE-API.md: badge sign-in) stands in for
	// username: the value the user's badge carries.
	Badge string `json:"badge"`
	PIN   string `json:"pin"`
	// AppVersion is optional (an addition to docs/DEVICE-API.md): the app's version
	// now, when it has been updated since enrollment.
	AppVersion string `json:"app_version"`
}

func (q *loginRequest) Check(v *problem.Fields) {
	switch {
	case q.Badge == "":
		required(v, "username", q.Username)
	case q.Username != "":
		v.Add("badge", "exclusive", "send badge or username, not both")
	default:
		v.MaxLen("badge", q.Badge, maxField)
	}
	required(v, "pin", q.PIN)
	v.MaxLen("app_version", q.AppVersion, maxField)
}

type pinRequest struct {
	CurrentPIN string `json:"current_pin"`
	NewPIN     string `json:"new_pin"`
}

func (q *pinRequest) Check(v *problem.Fields) {
	required(v, "current_pin", q.CurrentPIN)
	required(v, "new_pin", q.NewPIN)
}

type introspectRequest struct {
	Token string `json:"token"`
}

func (q *introspectRequest) Check(v *problem.Fields) {
	required(v, "token", q.Token)
}

// required refuses an empty or over-long string.
func required(v *problem.Fields, name, value string) {
	if v.Required(name, value) {
		v.MaxLen(name, value, maxField)
	}
}
