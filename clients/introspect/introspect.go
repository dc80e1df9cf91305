package introspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultTimeout bounds one introspection when Client.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 64 << 10

// Session is an active session, as Floorgate describes it.
type Session struct {
	ID          string    `json:"session_id"`
	UserID      string    `json:"user_id"`
	Username    string    `json:"username"`
	WarehouseID string    `json:"warehouse_id"`
	DeviceID    string    `json:"device_id"`
	ExpiresAt   time.Time `json:"expires_at"`
}

var (
	// ErrInactive means Floorgate answered that the token is not an
	// active session: unknown, ended, expired, malformed, or a session
	// that may only change its PIN.
	ErrInactive = errors.New("introspect: session not active")

	// ErrUnavailable means Floorgate could not say: it was unreachable,
	// too slow, answered 5xx or something that is not an introspection
	// answer, or refused the service key. Callers fail closed.
	ErrUnavailable = errors.New("introspect: floorgate unavailable")
)

// Client introspects session tokens. Its zero value is not usable: set
// BaseURL and ServiceKey. A Client is safe for concurrent use.
type Client struct {
	// BaseURL is the device listener, such as "https://floorgate.example".
	BaseURL string
	// ServiceKey is a service key (fgk_…) with scope introspect or admin.
	ServiceKey string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds each introspection; zero means DefaultTimeout.
	Timeout time.Duration
}

// UnavailableError is the error behind ErrUnavailable: what went wrong,
// and how long Floorgate asked callers to wait (zero when it did not).
type UnavailableError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *UnavailableError) Error() string {
	return "introspect: floorgate unavailable: " + e.Err.Error()
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func (e *UnavailableError) Unwrap() error { return e.Err }

func unavailable(retry time.Duration, format string, args ...any) error {
	return &UnavailableError{RetryAfter: retry, Err: fmt.Errorf(format, args...)}
}

// Introspect asks Floorgate about token. It returns the session when it
// is active, an error matching ErrInactive when it is not, and one
// matching ErrUnavailable when Floorgate could not say. The token never
// appears in an error.
func (c *Client) Introspect(ctx context.Context, token string) (Session, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(struct {
		Token string `json:"token"`
	}{token})
	if err != nil {
		return Session{}, unavailable(0, "encode request: %w", err)
	}
	url := strings.TrimSuffix(c.BaseURL, "/") + "/v1/introspect"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Session{}, unavailable(0, "build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.ServiceKey)
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Session{}, unavailable(0, "POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Session{}, unavailable(0, "read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		retry := time.Duration(0)
		if s, err := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); err == nil && s > 0 {
			retry = s
		}
		// 401/403 mean this backend's service key is wrong or revoked:
		// the user's session may well be fine, so it is not ErrInactive.
		return Session{}, unavailable(retry, "POST %s answered %d %s", url, resp.StatusCode, problemCode(data))
	}
	var ans struct {
		Active *bool `json:"active"`
		Session
	}
	if err := json.Unmarshal(data, &ans); err != nil || ans.Active == nil {
		return Session{}, unavailable(0, "POST %s answered 200 without an introspection", url)
	}
	if !*ans.Active {
		return Session{}, ErrInactive
	}
	if ans.ID == "" || ans.UserID == "" {
		return Session{}, unavailable(0, "POST %s answered active without a session or user id", url)
	}
	return ans.Session, nil
}

// problemCode returns the code of a problem document, or "".
func problemCode(data []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(data, &p)
	return p.Code
}
