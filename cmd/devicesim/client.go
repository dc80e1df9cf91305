package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Problem is an RFC 9457 error body as docs/DEVICE-API.md defines it.
type Problem struct {
	Status     int    `json:"status"`
	Code       string `json:"code"`
	Title      string `json:"title"`
	Detail     string `json:"detail"`
	RetryAfter int    `json:"retry_after"`
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
}

// Client speaks the HTTP side of docs/DEVICE-API.md: the device endpoints on the
// gateway and, for setting up scenarios, the admin API.
type Client struct {
	Gateway string // e.g. http://127.0.0.1:8080
	Admin   string // e.g. http://127.0.0.1:8081
	HTTP    *http.Client
}

func newClient(gateway, admin string, conns int) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{
		Gateway: strings.TrimRight(gateway, "/"),
		Admin:   strings.TrimRight(admin, "/"),
		HTTP:    &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
}

// Response is what one call answered.
type Response struct {
	Status  int
	Header  http.Header
	Body    []byte
	Problem *Problem // set for every status >= 400 with a problem body
}

// call sends one request. body is JSON-encoded unless it is []byte (sent
// as is, with contentType). A transport error is returned as err; an HTTP
// error status is not an err, the caller inspects Response.
func (c *Client) call(ctx context.Context, method, url, bearer string, body any, contentType string) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(buf)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	r := &Response{Status: res.StatusCode, Header: res.Header, Body: data}
	if res.StatusCode >= 400 {
		p := new(Problem)
		if json.Unmarshal(data, p) == nil {
			r.Problem = p
		}
	}
	return r, nil
}

// decode unmarshals a successful response into out, or says why it can't.
func (r *Response) decode(want int, out any) error {
	if r.Status != want {
		if r.Problem != nil {
			return fmt.Errorf("status %d, want %d: %w", r.Status, want, r.Problem)
		}
		return fmt.Errorf("status %d, want %d: %.200s", r.Status, want, r.Body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("decode %d body: %w: %.200s", r.Status, err, r.Body)
	}
	return nil
}

// DeviceInfo is the device object of POST /v1/enroll.
type DeviceInfo struct {
	Serial     string `json:"serial"`
	Model      string `json:"model"`
	OSVersion  string `json:"os_version"`
	AppVersion string `json:"app_version"`
	Label      string `json:"label"`
}

// Enrolled is the 201 body of POST /v1/enroll.
type Enrolled struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
	WarehouseID string `json:"warehouse_id"`
}

func (c *Client) Enroll(ctx context.Context, email, password, warehouseID string, d DeviceInfo) (*Response, error) {
	return c.call(ctx, http.MethodPost, c.Gateway+"/v1/enroll", "", map[string]any{
		"email": email, "password": password, "warehouse_id": warehouseID, "device": d,
	}, "")
}

// EnrollWithToken is POST /v1/enroll with an enrollment token
// (zero-touch enrollment) in place of a manager's email and password.
func (c *Client) EnrollWithToken(ctx context.Context, token, warehouseID string, d DeviceInfo) (*Response, error) {
	return c.call(ctx, http.MethodPost, c.Gateway+"/v1/enroll", "", map[string]any{
		"enrollment_token": token, "warehouse_id": warehouseID, "device": d,
	}, "")
}

// LoggedIn is the 200 body of POST /v1/login.
type LoggedIn struct {
	SessionToken      string `json:"session_token"`
	SessionID         string `json:"session_id"`
	ExpiresAt         string `json:"expires_at"`
	PINChangeRequired bool   `json:"pin_change_required"`
	User              struct {
		ID          string `json:"id"`
		Username    string `json:"username"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		WarehouseID string `json:"warehouse_id"`
		Language    string `json:"language"`
	} `json:"user"`
	Evicted []struct {
		SessionID string `json:"session_id"`
		DeviceID  string `json:"device_id"`
	} `json:"evicted"`
}

func (c *Client) Login(ctx context.Context, deviceToken, username, pin string) (*Response, error) {
	return c.call(ctx, http.MethodPost, c.Gateway+"/v1/login", deviceToken,
		map[string]string{"username": username, "pin": pin}, "")
}

func (c *Client) ChangePIN(ctx context.Context, sessionToken, current, next string) (*Response, error) {
	return c.call(ctx, http.MethodPost, c.Gateway+"/v1/pin", sessionToken,
		map[string]string{"current_pin": current, "new_pin": next}, "")
}

func (c *Client) Logout(ctx context.Context, sessionToken string) (*Response, error) {
	return c.call(ctx, http.MethodPost, c.Gateway+"/v1/logout", sessionToken, nil, "")
}

func (c *Client) Session(ctx context.Context, sessionToken string) (*Response, error) {
	return c.call(ctx, http.MethodGet, c.Gateway+"/v1/session", sessionToken, nil, "")
}

func (c *Client) Introspect(ctx context.Context, serviceKey, token string) (*Response, error) {
	return c.call(ctx, http.MethodPost, c.Gateway+"/v1/introspect", serviceKey,
		map[string]string{"token": token}, "")
}

// admin sends a request to the admin API (path below /admin/v1).
func (c *Client) admin(ctx context.Context, method, path, bearer string, body any) (*Response, error) {
	return c.call(ctx, method, c.Admin+"/admin/v1"+path, bearer, body, "")
}
