package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
)

// CreateServiceKeyRequest is the body of POST /admin/v1/service-keys.
type CreateServiceKeyRequest struct {
	Name  string        `json:"name"`
	Scope devices.Scope `json:"scope"` // introspect or admin
}

// CreatedServiceKey answers a new key: key is the secret, shown this once.
type CreatedServiceKey struct {
	devices.ServiceKey
	Key string `json:"key"`
}

func (a *API) listServiceKeys(w http.ResponseWriter, r *http.Request) error {
	if err := a.requireAdmin(r, "service_keys"); err != nil {
		return err
	}
	after, size, err := pageQuery(r)
	if err != nil {
		return err
	}
	ks, err := a.reg.ServiceKeys(r.Context(), devices.Page{After: after, Limit: size})
	if err != nil {
		return fmt.Errorf("list service keys: %w", err)
	}
	last := ""
	if len(ks) > 0 {
		last = ks[len(ks)-1].ID
	}
	if ks == nil {
		ks = []devices.ServiceKey{}
	}
	return writeJSON(w, http.StatusOK, Page[devices.ServiceKey]{Items: ks, NextPageToken: nextToken(len(ks), size, last)})
}

func (a *API) createServiceKey(w http.ResponseWriter, r *http.Request) error {
	var in CreateServiceKeyRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	if err := a.requireAdmin(r, "service_key:new"); err != nil {
		return err
	}
	var fields []FieldError
	if strings.TrimSpace(in.Name) == "" {
		fields = append(fields, FieldError{Field: "name", Code: "required", Message: "name is required"})
	}
	if in.Scope != devices.ScopeIntrospect && in.Scope != devices.ScopeAdmin {
		fields = append(fields, FieldError{Field: "scope", Code: "enum", Message: "scope must be introspect or admin"})
	}
	if len(fields) > 0 {
		return &problem.Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Detail: "the request has invalid fields", Fields: fields}
	}
	k, tok, err := a.reg.CreateServiceKey(r.Context(), principalFrom(r.Context()).actor, strings.TrimSpace(in.Name), in.Scope)
	if err != nil {
		return fmt.Errorf("create service key: %w", err)
	}
	return writeJSON(w, http.StatusCreated, CreatedServiceKey{ServiceKey: k, Key: tok.Reveal()})
}

func (a *API) revokeServiceKey(w http.ResponseWriter, r *http.Request) error {
	if err := a.requireAdmin(r, "service_key:"+chi.URLParam(r, "id")); err != nil {
		return err
	}
	k, err := a.reg.RevokeServiceKey(r.Context(), principalFrom(r.Context()).actor, chi.URLParam(r, "id"))
	if err != nil {
		return fmt.Errorf("revoke service key: %w", err)
	}
	return writeJSON(w, http.StatusOK, k)
}
