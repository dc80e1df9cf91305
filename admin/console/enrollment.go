package console

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/floorgate/floorgate/admin"
)

// enrollmentData is the enrollment tokens page; Created is the token
// just made, with its QR code, shown this once (never in a cookie or a
// URL: the API keeps only its hash).
type enrollmentData struct {
	Tokens    admin.Page[admin.EnrollmentTokenView]
	Warehouse string
	Created   *admin.CreatedEnrollmentToken
	// QR is the created token's SVG QR code, drawn by the admin API from
	// the QR library's modules (no typed text in it); Config its managed
	// configuration as JSON, for an EMM.
	QR     template.HTML
	Config string
	Next   string
}

func (c *Console) enrollmentTokens(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderEnrollment(w, r, s, http.StatusOK, view{}, nil)
}

func (c *Console) renderEnrollment(w http.ResponseWriter, r *http.Request, s *session, status int, v view, created *admin.CreatedEnrollmentToken) error {
	q := r.URL.Query()
	d := &enrollmentData{Warehouse: q.Get("warehouse"), Created: created}
	if created != nil {
		d.QR = template.HTML(created.QRSVG) // #nosec: the API's own drawing of modules
		b, _ := json.MarshalIndent(created.ManagedConfiguration, "", "  ")
		d.Config = string(b)
	}
	api := url.Values{"page_size": {strconv.Itoa(listPageSize)}}
	if d.Warehouse != "" {
		api.Set("warehouse_id", d.Warehouse)
	}
	if p := q.Get("page"); p != "" {
		api.Set("page_token", p)
	}
	err := c.do(r.Context(), r, s.token, "GET", "/enrollment-tokens?"+api.Encode(), nil, &d.Tokens)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound) {
		v.Error = problemMessage(ae)
		status = ae.Status
	} else if err != nil {
		return err
	}
	if d.Tokens.NextPageToken != "" {
		next := url.Values{"page": {d.Tokens.NextPageToken}}
		if d.Warehouse != "" {
			next.Set("warehouse", d.Warehouse)
		}
		d.Next = "/enrollment-tokens?" + next.Encode()
	}
	v.Title, v.Nav, v.S, v.Data = "Enrollment tokens", "enrollment", s, d
	return c.render(w, r, status, "enrollment", v)
}

func (c *Console) createEnrollmentToken(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	in := admin.EnrollmentTokenRequest{WarehouseID: r.PostForm.Get("warehouse_id"), Name: r.PostForm.Get("name")}
	fields := map[string]string{}
	if u := strings.TrimSpace(r.PostForm.Get("uses")); u != "" {
		n, err := strconv.Atoi(u)
		if err != nil {
			fields["uses"] = "uses is a whole number"
		}
		in.Uses = n
	}
	if h := strings.TrimSpace(r.PostForm.Get("expires_hours")); h != "" {
		n, err := strconv.ParseFloat(h, 64)
		if err != nil || n <= 0 || n > 24*30 {
			fields["expires_hours"] = "hours is a number from 0.02 to 720"
		}
		in.ExpiresInS = int(n * 3600)
	}
	if len(fields) > 0 {
		return c.renderEnrollment(w, r, s, http.StatusBadRequest, view{Error: "Some fields need attention.", Fields: fields, Form: r.PostForm}, nil)
	}
	var out admin.CreatedEnrollmentToken
	err := c.do(r.Context(), r, s.token, "POST", "/enrollment-tokens", in, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		v := view{Error: problemMessage(ae), Fields: ae.fieldErrors(), Form: r.PostForm}
		if v.Fields["expires_in_s"] != "" {
			v.Fields["expires_hours"] = v.Fields["expires_in_s"]
		}
		return c.renderEnrollment(w, r, s, ae.Status, v, nil)
	}
	if err != nil {
		return err
	}
	return c.renderEnrollment(w, r, s, http.StatusCreated, view{}, &out)
}

func (c *Console) revokeEnrollmentToken(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.do(r.Context(), r, s.token, "DELETE", "/enrollment-tokens/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		return err
	}
	c.redirect(w, r, "/enrollment-tokens", flash{Kind: "ok", Text: "Token revoked: no handheld enrolls with it any more. The ones it enrolled stay enrolled."})
	return nil
}
