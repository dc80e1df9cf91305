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

type schemaGen struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

func (g *schemaGen) ref(t reflect.Type) map[string]any {
	return g.schema(t)
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
			g.fields(t, props)
			g.schemas[name] = map[string]any{"type": "object", "properties": props}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// fields adds the JSON properties of struct t, flattening embedded structs.
func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			g.fields(ft, props)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
	}
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
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Body))}}}
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
				s = map[string]any{"type": "object", "properties": map[string]any{
					"items":           map[string]any{"type": "array", "items": s},
					"next_page_token": map[string]any{"type": "string", "description": `empty on the last page`},
				}}
			}
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s}}
		}
		responses[strconv.Itoa(rt.Status)] = ok
		for _, st := range errorStatuses(rt) {
			responses[strconv.Itoa(st)] = map[string]any{"description": http.StatusText(st),
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
				"Errors are application/problem+json with a stable code. Lists use keyset pagination (page_token, page_size up to 500).",
		},
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
	set := map[int]bool{http.StatusInternalServerError: true}
	if !rt.Public {
		set[http.StatusUnauthorized] = true
		set[http.StatusForbidden] = true
		set[http.StatusServiceUnavailable] = true
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

func operationID(rt route) string {
	p := strings.NewReplacer("{", "", "}", "", "/", "_", "-", "_", ".", "_").Replace(strings.Trim(rt.Path, "/"))
	return fmt.Sprintf("%s_%s", strings.ToLower(rt.Method), p)
}
