package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// The OpenAPI document is made from the route table that Handler
// registers with chi, and the schemas by reflection from the very types
// the handlers encode and decode, so the document cannot drift from the
// code.

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	a.docOnce.Do(func() {
		b, err := json.MarshalIndent(a.OpenAPI(), "", "  ")
		if err != nil {
			panic("admin: OpenAPI document does not encode: " + err.Error())
		}
		a.docBytes = b
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.docBytes)
	return nil
}

// enums lists the values of the string types that have a fixed set.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[devices.UserStatus]():    {"active", "suspended", "deleted"},
	reflect.TypeFor[devices.DeviceStatus]():  {"active", "revoked"},
	reflect.TypeFor[devices.RoleName]():      {"admin", "user_manager", "mobile_manager"},
	reflect.TypeFor[devices.ManagerStatus](): {"active", "disabled"},
	reflect.TypeFor[devices.Scope]():         {"introspect", "admin"},
	reflect.TypeFor[devices.CapPolicy]():     {"evict_oldest", "deny_new"},
	reflect.TypeFor[sessions.Reason](): {"logout", "replaced", "evicted", "admin", "user_suspended", "user_deleted",
		"pin_reset", "device_revoked", "expired", "idle"},
}

// requestRequired lists the required fields of the request body types:
// the fields a handler refuses to go without. Every route's Body type has
// an entry (TestOpenAPIRequestBodiesListRequired), a patch an empty one.
// Every other struct requires the fields it always encodes (no
// omitempty), which is what a response carries.
var requestRequired = map[reflect.Type][]string{
	reflect.TypeFor[LoginRequest]():                 {"email", "password"},
	reflect.TypeFor[devices.WarehouseInput]():       {"name", "code"},
	reflect.TypeFor[devices.WarehousePatch]():       {},
	reflect.TypeFor[devices.ManagerInput]():         {"email", "first_name", "last_name", "roles"},
	reflect.TypeFor[LinkRequest]():                  {"token", "password"},
	reflect.TypeFor[ForgotPasswordRequest]():        {"email"},
	reflect.TypeFor[ManagerPatchRequest]():          {},
	reflect.TypeFor[CreateUserRequest]():            {"username", "first_name", "last_name", "pin", "warehouse_id"},
	reflect.TypeFor[devices.UserPatch]():            {},
	reflect.TypeFor[ResetPINRequest]():              {"pin"},
	reflect.TypeFor[devices.DevicePatch]():          {},
	reflect.TypeFor[devices.SettingsOverride]():     {},
	reflect.TypeFor[CreateServiceKeyRequest]():      {"name", "scope"},
	reflect.TypeFor[devices.EnrollmentTokenInput](): {"warehouse_id"},
	reflect.TypeFor[SetBadgeRequest]():              {"badge"},
}

// requestExamples are example bodies of the main requests.
var requestExamples = map[reflect.Type]any{
	reflect.TypeFor[LoginRequest]():           map[string]any{"email": "mia@example.com", "password": "Forklift-Blue-77"},
	reflect.TypeFor[devices.WarehouseInput](): map[string]any{"name": "Dock North", "code": "DN1", "settings": map[string]any{"session_cap": 2}},
	reflect.TypeFor[devices.ManagerInput](): map[string]any{"email": "mia@example.com", "first_name": "Mia", "last_name": "Berg",
		"password": "Forklift-Blue-77", "roles": []any{map[string]any{"role": "mobile_manager", "warehouse_id": "wh_01J9Z3K4"}}},
	reflect.TypeFor[CreateUserRequest](): map[string]any{"username": "jsmith", "first_name": "Jo", "last_name": "Smith", "pin": "4821",
		"warehouse_id": "wh_01J9Z3K4", "employee_id": "E-1042", "language": "es", "pin_change_required": true},
	reflect.TypeFor[devices.UserPatch]():            map[string]any{"language": "pt-BR"},
	reflect.TypeFor[ResetPINRequest]():              map[string]any{"pin": "7305", "pin_change_required": true},
	reflect.TypeFor[devices.DevicePatch]():          map[string]any{"label": "Dock 3 scanner"},
	reflect.TypeFor[devices.SettingsOverride]():     map[string]any{"session_cap": 3, "cap_policy": "evict_oldest", "idle_timeout_s": 1800},
	reflect.TypeFor[CreateServiceKeyRequest]():      map[string]any{"name": "WMS picks backend", "scope": "introspect"},
	reflect.TypeFor[devices.EnrollmentTokenInput](): map[string]any{"warehouse_id": "wh_01J9Z0", "name": "Dock 3 restock", "uses": 20, "expires_in_s": 86400},
	reflect.TypeFor[SetBadgeRequest]():              map[string]any{"badge": "04A2197FC3"},
}

// exampleCodes is the usual code of each error status, for examples.
var exampleCodes = map[int]string{
	http.StatusBadRequest: codeInvalidRequest, http.StatusUnauthorized: codeInvalidToken, http.StatusForbidden: codeForbidden,
	http.StatusNotFound: codeNotFound, http.StatusConflict: codeConflict, http.StatusRequestEntityTooLarge: codeTooLarge,
	http.StatusUnprocessableEntity: codeWeakPIN, http.StatusTooManyRequests: codeTooManyAttempts,
	http.StatusServiceUnavailable: codeUnavailable,
}

type schemaGen struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

// schema returns the JSON Schema of t, registering named structs as
// components.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		inner := g.schema(t.Elem())
		if ty, ok := inner["type"].(string); ok {
			out := map[string]any{}
			for k, v := range inner {
				out[k] = v
			}
			out["type"] = []string{ty, "null"}
			return out
		}
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}}
	}
	if e, ok := enums[t]; ok {
		return map[string]any{"type": "string", "enum": e}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name, ok := g.names[t]
		if !ok {
			name = t.Name()
			if _, taken := g.schemas[name]; taken || name == "" {
				name = strings.ReplaceAll(t.String(), ".", "_")
			}
			g.names[t] = name
			g.schemas[name] = nil // reserve against recursion
			props := map[string]any{}
			required := g.fields(t, props, nil)
			if list, ok := requestRequired[t]; ok {
				required = list
			}
			if required == nil {
				required = []string{}
			}
			g.schemas[name] = map[string]any{"type": "object", "properties": props, "required": required}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// fields adds the JSON properties of struct t, flattening embedded
// structs, and returns required with the names of those always encoded
// (no omitempty) added.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required []string) []string {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			required = g.fields(ft, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			required = append(required, name)
		}
	}
	return required
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the OpenAPI 3.1 document of every route Handler serves.
func (a *API) OpenAPI() map[string]any {
	g := &schemaGen{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	problem := g.schema(reflect.TypeFor[Problem]())
	paths := map[string]any{}
	for _, rt := range a.routes {
		full := BasePath + rt.Path
		item, _ := paths[full].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[full] = item
		}
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.Summary,
			"description": describe(rt),
			"tags":        []string{rt.Tag},
		}
		if rt.Public {
			op["security"] = []any{}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			s := map[string]any{"type": q.Type}
			if q.Format != "" {
				s["format"] = q.Format
			}
			if q.Enum != nil {
				s["enum"] = q.Enum
			}
			p := map[string]any{"name": q.Name, "in": "query", "required": false, "schema": s}
			if q.Description != "" {
				p["description"] = q.Description
			}
			params = append(params, p)
		}
		if params != nil {
			op["parameters"] = params
		}
		switch {
		case rt.Body != nil:
			media := map[string]any{"schema": g.schema(reflect.TypeOf(rt.Body))}
			if ex, ok := requestExamples[reflect.TypeOf(rt.Body)]; ok {
				media["example"] = ex
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": media}}
		case rt.CSVBody:
			op["requestBody"] = map[string]any{"required": true, "description": "RFC 4180 CSV, UTF-8 with or without BOM; header username,first_name,last_name,pin,warehouse_id (or warehouse_code)[,employee_id][,language][,pin_change_required]; at most 50,000 data rows",
				"content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": http.StatusText(rt.Status)}
		switch {
		case rt.CSVResp:
			ok["content"] = map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}
		case rt.Path == "/openapi.json":
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		case rt.Resp != nil:
			s := g.schema(reflect.TypeOf(rt.Resp))
			if rt.List {
				s = map[string]any{"type": "object", "required": []string{"items"}, "properties": map[string]any{
					"items":           map[string]any{"type": "array", "items": s},
					"next_page_token": map[string]any{"type": "string", "description": `absent or empty on the last page`},
				}}
			}
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s}}
		}
		responses[strconv.Itoa(rt.Status)] = ok
		client := false
		for _, st := range errorStatuses(rt) {
			code := exampleCodes[st]
			if st == http.StatusUnauthorized && rt.Public {
				code = codeInvalidCredentials
			}
			responses[strconv.Itoa(st)] = map[string]any{"description": http.StatusText(st),
				"content": map[string]any{"application/problem+json": map[string]any{"schema": problem, "example": map[string]any{
					"type": "about:blank", "title": http.StatusText(st), "status": st, "code": code}}}}
			client = client || st < 500
		}
		if !client {
			// Only 405 (another method on this path) is left, which is
			// the path's, not the operation's.
			responses["4XX"] = map[string]any{"description": "A client error, such as 405 for another method",
				"content": map[string]any{"application/problem+json": map[string]any{"schema": problem}}}
		}
		op["responses"] = responses
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Floorgate admin API",
			"version": "v1",
			"description": "Manage warehouses, managers, mobile users, devices, sessions, settings, service keys and the audit log. " +
				"Errors are application/problem+json with a stable code. Lists use keyset pagination (page_token, page_size up to 500). " +
				"A manager sees and changes only the warehouses their roles cover; others answer 404. " +
				"The device protocol (the handhelds' API) is described in docs/PROTOCOL.md of the repository.",
			"contact": map[string]any{"name": "Floorgate maintainers", "url": "https://github.com/floorgate/floorgate"},
			"license": map[string]any{"name": "Proprietary", "url": "https://github.com/floorgate/floorgate/blob/main/README.md"},
		},
		// Relative: the admin listener that serves this document
		// (default :8081, -admin-addr); the paths carry /admin/v1.
		"servers": []any{map[string]any{"url": "/",
			"description": "the admin listener that serves this document (default port 8081)"}},
		"security": []any{map[string]any{"bearer": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "a manager token (fgm_…) from POST /admin/v1/login, or a service key (fgk_…) with scope admin",
			}},
		},
	}
}

// errorStatuses are the error statuses a route may answer.
func errorStatuses(rt route) []int {
	// Every route may answer 503: a store that does not answer, or an
	// error the API does not know (it fails closed).
	set := map[int]bool{http.StatusServiceUnavailable: true}
	if !rt.Public {
		set[http.StatusUnauthorized] = true
		set[http.StatusForbidden] = true
		set[http.StatusNotFound] = true // outside the caller's warehouses
	}
	if strings.Contains(rt.Path, "{") {
		set[http.StatusNotFound] = true
	}
	if rt.Body != nil || rt.CSVBody || len(rt.Query) > 0 {
		set[http.StatusBadRequest] = true
	}
	if rt.Body != nil || rt.CSVBody {
		set[http.StatusRequestEntityTooLarge] = true
	}
	for _, s := range rt.Errors {
		set[s] = true
	}
	out := make([]int, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// describe is an operation's description: its summary and who may call it.
func describe(rt route) string {
	switch {
	case rt.Public:
		return rt.Summary + ". No bearer."
	case rt.Tag == "auth":
		return rt.Summary + ". Bearer: a manager token or a service key with scope admin."
	}
	return rt.Summary + ". Bearer: a manager token (the caller's roles decide what it may see and change) or a service key with scope admin."
}

func operationID(rt route) string {
	p := strings.NewReplacer("{", "", "}", "", "/", "_", "-", "_", ".", "_").Replace(strings.Trim(rt.Path, "/"))
	return fmt.Sprintf("%s_%s", strings.ToLower(rt.Method), p)
}
