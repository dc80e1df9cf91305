package gateway

import (
	"encoding/json"
	"testing"

	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/internal/testenv"
)

// firstField is the first field error of a problem answer.
func firstField(t *testing.T, r response) problem.FieldError {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil || len(p.Errors) == 0 {
		t.Fatalf("answer %s: %v; want a problem with field errors", r.body, err)
	}
	return p.Errors[0]
}

// TestBodyFaults: every JSON endpoint of the device listener answers the
// shared body faults (testenv.BodyFaults, which the admin listener runs
// too) with 400 invalid_request and the same field and code; invalid
// UTF-8 names the field that holds it.
func TestBodyFaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-BODY")
	h.user("max", h.wh.ID)
	sess, _ := h.mustLogin(d, "max")
	endpoints := []struct {
		path, token, field string
	}{
		{"/v1/enroll", "", "device.label"},
		{"/v1/login", d.token, "username"},
		{"/v1/pin", sess, "new_pin"},
		{"/v1/introspect", h.svcKey, "token"},
	}
	for _, ep := range endpoints {
		for _, f := range testenv.BodyFaults(ep.field, maxBody) {
			t.Run(ep.path+"/"+f.Name, func(t *testing.T) {
				r := h.rawPost(ep.path, ep.token, f.ContentType, f.Body)
				if r.status != 400 || r.code() != CodeInvalidRequest {
					t.Fatalf("POST %s (%s) = %d %.300s; want 400 invalid_request", ep.path, f.Name, r.status, r.body)
				}
				if got := firstField(t, r); got.Field != f.Field || got.Code != f.Code {
					t.Errorf("POST %s (%s) names %s %s; want %s %s", ep.path, f.Name, got.Field, got.Code, f.Field, f.Code)
				}
			})
		}
	}
}
