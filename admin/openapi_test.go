package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIValidates loads the served document into a Go OpenAPI
// validator (kin-openapi), which must report no error, and checks what
// the Redocly lint in clients/js also checks from outside: servers,
// contact and license, and a required list on every schema.
func TestOpenAPIValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	r := e.expect(http.StatusOK, "", "GET", "/openapi.json", nil)
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("openapi.json does not validate: %v", err)
	}
	if len(doc.Servers) == 0 || doc.Info.Contact == nil || doc.Info.License == nil {
		t.Errorf("servers %v, contact %v, license %v; want all three", doc.Servers, doc.Info.Contact, doc.Info.License)
	}

	var raw struct {
		Components struct {
			Schemas map[string]map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	r.decode(t, &raw)
	for name, s := range raw.Components.Schemas {
		var req []string
		if err := json.Unmarshal(s["required"], &req); err != nil || req == nil {
			t.Errorf("schema %s has required %s; want a list", name, s["required"])
		}
		var props map[string]json.RawMessage
		_ = json.Unmarshal(s["properties"], &props)
		for _, f := range req {
			if _, ok := props[f]; !ok {
				t.Errorf("schema %s requires %q, which is not among its properties", name, f)
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Description == "" || op.OperationID == "" {
				t.Errorf("%s %s: description %q, operationId %q; want both", method, path, op.Description, op.OperationID)
			}
		}
	}
}

// TestOpenAPIRequestBodiesListRequired: every route's request body type
// says which of its fields are required (requestRequired), so that a new
// route cannot document a body whose required fields are a guess.
func TestOpenAPIRequestBodiesListRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	for _, rt := range e.api.routes {
		if rt.Body == nil {
			continue
		}
		if _, ok := requestRequired[reflect.TypeOf(rt.Body)]; !ok {
			t.Errorf("%s %s: body %T has no entry in requestRequired (openapi.go); add its required fields (none for a patch)", rt.Method, rt.Path, rt.Body)
		}
	}
}
