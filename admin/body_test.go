package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
)

// TestBodyFaults: the JSON endpoints of the admin listener answer the
// shared body faults (testenv.BodyFaults, which the device listener runs
// too) with the same field and code: 400 invalid_request, except a body
// over the limit, which this API answers 413 too_large.
func TestBodyFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	endpoints := []struct {
		method, path, role, field string
	}{
		{"POST", "/login", "", "email"},
		{"POST", "/users", "admin", "first_name"},
		{"PATCH", "/users/" + e.userA.ID, "admin", "last_name"},
		{"PATCH", "/devices/" + e.devA.ID, "admin", "label"},
		{"POST", "/managers", "admin", "email"},
		{"POST", "/service-keys", "admin", "name"},
	}
	for _, ep := range endpoints {
		for _, f := range testenv.BodyFaults(ep.field, maxJSONBody) {
			t.Run(ep.method+" "+ep.path+"/"+f.Name, func(t *testing.T) {
				req, err := http.NewRequest(ep.method, e.srv.URL+BasePath+ep.path, strings.NewReader(f.Body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", f.ContentType)
				if ep.role != "" {
					req.Header.Set("Authorization", "Bearer "+e.tokens[ep.role])
				}
				res, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r := response{status: res.StatusCode, body: body}
				wantStatus, wantCode := 400, "invalid_request"
				if f.Code == "too_large" {
					wantStatus, wantCode = 413, "too_large"
				}
				if r.status != wantStatus || r.code() != wantCode {
					t.Fatalf("%s %s (%s) = %d %.300s; want %d %s", ep.method, ep.path, f.Name, r.status, r.body, wantStatus, wantCode)
				}
				var p Problem
				r.decode(t, &p)
				if len(p.Errors) == 0 || p.Errors[0].Field != f.Field || p.Errors[0].Code != f.Code {
					t.Errorf("%s %s (%s) names %+v; want %s %s", ep.method, ep.path, f.Name, p.Errors, f.Field, f.Code)
				}
			})
		}
	}
}

// brokenStore is a session store whose warehouse listing fails with an
// error that is none of the contract's sentinels.
type brokenStore struct {
	sessions.Store
}

func (brokenStore) ByWarehouse(context.Context, string, sessions.PageRequest) ([]sessions.Session, string, error) {
	return nil, "", errors.New("dial tcp 10.0.0.7:6379: secret detail")
}

// TestUnknownErrorFailsClosed: an error the admin API's table does not
// know is 503 unavailable with Retry-After (as on the device listener),
// and its text stays out of the body.
func TestUnknownErrorFailsClosed(t *testing.T) {
	t.Parallel()
	b := embedded()
	open := b.open
	b.open = func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		ds, ss, th := open(t, now)
		return ds, brokenStore{ss}, th
	}
	e := newEnv(t, b)
	r := e.call("admin", "GET", "/sessions?warehouse_id="+e.whA.ID, nil)
	if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("GET /sessions over a broken store = %d %s (Retry-After %q); want 503 unavailable with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	if strings.Contains(string(r.body), "10.0.0.7") || strings.Contains(string(r.body), "secret") {
		t.Errorf("the 503 body carries the error: %s", r.body)
	}
}
