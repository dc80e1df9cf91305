package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/internal/problem"
)

// apiError is a problem document the admin API answered.
type apiError struct {
	Status int
	admin.Problem
}

func (e *apiError) Error() string {
	return fmt.Sprintf("admin API %d %s: %s", e.Status, e.Code, e.Detail)
}

// fieldErrors maps each named field to its first message.
func (e *apiError) fieldErrors() map[string]string {
	m := map[string]string{}
	for _, f := range e.Errors {
		if _, ok := m[f.Field]; !ok {
			m[f.Field] = f.Message
		}
	}
	return m
}

// forwarded are the request headers an in-process API call keeps: the
// request id, and what a trusted proxy says about the client (the API
// decides whether to trust it, as for any request).
var forwarded = []string{"X-Request-Id", "X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Forwarded-Proto", "User-Agent"}

// apiRequest builds an in-process request to the admin API on behalf of
// the browser's request r.
func apiRequest(ctx context.Context, r *http.Request, token, method, path string, body io.Reader, ctype string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, admin.BasePath+path, body)
	if err != nil {
		return nil, fmt.Errorf("console: API request %s %s: %w", method, path, err)
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	for _, h := range forwarded {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req, nil
}

// recorder keeps an in-process answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *recorder) Flush() {}

// do sends one request to the admin API and returns its answer: out
// decoded from a 2xx JSON body, or an *apiError.
func (c *Console) do(ctx context.Context, r *http.Request, token, method, path string, body any, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case csvBody:
		rd, ctype = strings.NewReader(string(b)), "text/csv"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("console: encode %s %s: %w", method, path, err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := apiRequest(ctx, r, token, method, path, rd, ctype)
	if err != nil {
		return err
	}
	rec := &recorder{header: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 300 {
		return problemOf(rec.status, rec.body.Bytes())
	}
	if out == nil || rec.status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("console: decode %s %s: %w", method, path, err)
	}
	return nil
}

// csvBody is a request body sent as text/csv.
type csvBody string

func problemOf(status int, body []byte) *apiError {
	e := &apiError{Status: status}
	if err := json.Unmarshal(body, &e.Problem); err != nil || e.Code == "" {
		e.Problem = admin.Problem{Problem: problem.Problem{Status: status, Code: "internal", Detail: http.StatusText(status)}}
	}
	return e
}

// stream sends one request to the admin API and passes a successful
// answer (a CSV download) straight to w. A refusal is returned as an
// *apiError with nothing written to w.
func (c *Console) download(w http.ResponseWriter, r *http.Request, token, path string) error {
	req, err := apiRequest(r.Context(), r, token, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	pw := &passWriter{w: w, header: http.Header{}}
	c.api.ServeHTTP(pw, req)
	if pw.failed {
		return problemOf(pw.status, pw.body.Bytes())
	}
	if pw.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// passWriter passes a 2xx answer through to w (its content headers
// included) and keeps any other.
type passWriter struct {
	w      http.ResponseWriter
	header http.Header
	status int
	failed bool
	body   bytes.Buffer
}

func (p *passWriter) Header() http.Header { return p.header }

func (p *passWriter) WriteHeader(code int) {
	if p.status != 0 {
		return
	}
	p.status = code
	if code >= 300 {
		p.failed = true
		return
	}
	for _, h := range []string{"Content-Type", "Content-Disposition", "Cache-Control"} {
		if v := p.header.Get(h); v != "" {
			p.w.Header().Set(h, v)
		}
	}
	p.w.WriteHeader(code)
}

func (p *passWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if p.failed {
		return p.body.Write(b)
	}
	return p.w.Write(b)
}

func (p *passWriter) Flush() {
	if !p.failed && p.status != 0 {
		_ = http.NewResponseController(p.w).Flush()
	}
}
