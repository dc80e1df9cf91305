package devices

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/token"
)

// EnrollmentTokenPrefix is the prefix of an enrollment token: the secret
// a handheld presents to POST /v1/enroll in place of a manager's email
// and password (zero-touch enrollment).
const EnrollmentTokenPrefix = "fge_"

// Limits of an enrollment token.
const (
	DefaultEnrollmentUses   = 1
	MaxEnrollmentUses       = 10_000
	DefaultEnrollmentExpiry = time.Hour
	MinEnrollmentExpiry     = time.Minute
	MaxEnrollmentExpiry     = 30 * 24 * time.Hour
)

// EnrollmentToken lets handhelds enroll into one warehouse without a
// manager's password: a mobile manager scans its QR code, or an EMM
// pushes it as managed configuration. Only the SHA-256 of the token is
// kept; the token itself is shown once, when it is made.
type EnrollmentToken struct {
	ID          string     `json:"id"`
	WarehouseID string     `json:"warehouse_id"`
	Name        string     `json:"name"`
	MaxUses     int        `json:"max_uses"`
	Uses        int        `json:"uses"`
	CreatedBy   string     `json:"created_by"` // actor: manager:<id> or service_key:<id>
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	Hash        string     `json:"-"`
}

// Enrollment token states, as EnrollmentToken.State says them.
const (
	EnrollmentActive  = "active"
	EnrollmentExpired = "expired"
	EnrollmentUsedUp  = "used_up"
	EnrollmentRevoked = "revoked"
)

// State is the token's state at now: revoked, used_up, expired or active,
// the first that applies.
func (t EnrollmentToken) State(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return EnrollmentRevoked
	case t.Uses >= t.MaxUses:
		return EnrollmentUsedUp
	case !now.Before(t.ExpiresAt):
		return EnrollmentExpired
	}
	return EnrollmentActive
}

// UsesLeft is how many more enrollments the token allows (0 once it is
// revoked or used up; an expired token keeps its count).
func (t EnrollmentToken) UsesLeft() int {
	if t.RevokedAt != nil {
		return 0
	}
	return max(t.MaxUses-t.Uses, 0)
}

// EnrollmentTokenSubject names a token in audit events.
func EnrollmentTokenSubject(id string) string { return "enrollment_token:" + id }

// EnrollmentTokenFilter narrows a token list (by id, oldest first).
type EnrollmentTokenFilter struct {
	WarehouseIDs []string // nil: every warehouse
	// ActiveAt, when set, keeps tokens that may still be used at that
	// time: not revoked, not used up, not expired.
	ActiveAt *time.Time
	Page
}

// EnrollmentTokenInput makes an enrollment token. Zero Uses and
// ExpiresInS take the defaults (single use, one hour).
type EnrollmentTokenInput struct {
	WarehouseID string `json:"warehouse_id"`
	Name        string `json:"name"`
	Uses        int    `json:"uses"`
	ExpiresInS  int    `json:"expires_in_s"`
}

// ParseEnrollmentToken reads an enrollment token as typed or scanned:
// the prefix fge_ and a well-formed body, surrounding white space
// ignored. Anything else is not a token, and never reaches a store.
func ParseEnrollmentToken(s string) (Token, bool) {
	return token.Parse(EnrollmentTokenPrefix, strings.TrimSpace(s))
}

// CreateEnrollmentToken makes a token for a warehouse; the token is
// returned once. The caller has checked that actor may enroll devices
// there.
func (r *Registry) CreateEnrollmentToken(ctx context.Context, actor string, in EnrollmentTokenInput) (EnrollmentToken, Token, error) {
	if err := checkActor(actor); err != nil {
		return EnrollmentToken{}, "", err
	}
	v := &ValidationError{}
	whID := strings.TrimSpace(in.WarehouseID)
	if err := r.warehouseExists(ctx, v, "warehouse_id", whID); err != nil {
		return EnrollmentToken{}, "", fmt.Errorf("create enrollment token: %w", err)
	}
	name := checkText(v, "name", in.Name, false, maxNameLength)
	uses := in.Uses
	switch {
	case uses == 0:
		uses = DefaultEnrollmentUses
	case uses < 1 || uses > MaxEnrollmentUses:
		v.Add("uses", "out_of_range", "uses is from 1 to "+strconv.Itoa(MaxEnrollmentUses))
	}
	expiry := time.Duration(in.ExpiresInS) * time.Second
	switch {
	case in.ExpiresInS == 0:
		expiry = DefaultEnrollmentExpiry
	case in.ExpiresInS < 0 || expiry < MinEnrollmentExpiry || expiry > MaxEnrollmentExpiry:
		v.Add("expires_in_s", "out_of_range", fmt.Sprintf("expires_in_s is from %d to %d", int(MinEnrollmentExpiry/time.Second), int(MaxEnrollmentExpiry/time.Second)))
	}
	if err := v.Err(); err != nil {
		return EnrollmentToken{}, "", err
	}
	now := r.clock()
	tok := token.New(EnrollmentTokenPrefix)
	t := EnrollmentToken{
		ID:          id.New("ent_", now),
		WarehouseID: whID,
		Name:        name,
		MaxUses:     uses,
		CreatedBy:   actor,
		CreatedAt:   now,
		ExpiresAt:   now.Add(expiry),
		Hash:        tok.Hash(),
	}
	ev := event(now, actor, "enrollment_token.create", EnrollmentTokenSubject(t.ID))
	ev.WarehouseID = whID
	ev.Details = map[string]string{"uses": strconv.Itoa(uses), "expires_at": t.ExpiresAt.Format(time.RFC3339)}
	if err := r.store.CreateEnrollmentToken(ctx, t, ev); err != nil {
		return EnrollmentToken{}, "", fmt.Errorf("create enrollment token: %w", err)
	}
	return t, tok, nil
}

// EnrollmentToken reads one token.
func (r *Registry) EnrollmentToken(ctx context.Context, id string) (EnrollmentToken, error) {
	t, err := r.store.EnrollmentToken(ctx, id)
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("enrollment token %s: %w", id, err)
	}
	return t, nil
}

// EnrollmentTokens lists tokens.
func (r *Registry) EnrollmentTokens(ctx context.Context, f EnrollmentTokenFilter) ([]EnrollmentToken, error) {
	ts, err := r.store.EnrollmentTokens(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", err)
	}
	return ts, nil
}

// RevokeEnrollmentToken ends a token: no handheld enrolls with it any
// more. Revoking a revoked token changes nothing.
func (r *Registry) RevokeEnrollmentToken(ctx context.Context, actor, id string) (EnrollmentToken, error) {
	if err := checkActor(actor); err != nil {
		return EnrollmentToken{}, err
	}
	now := r.clock()
	t, err := r.store.UpdateEnrollmentToken(ctx, id, func(t *EnrollmentToken) (Event, error) {
		if t.RevokedAt != nil {
			return Event{}, errUnchanged
		}
		at := now
		t.RevokedAt = &at
		ev := event(now, actor, "enrollment_token.revoke", EnrollmentTokenSubject(t.ID))
		ev.WarehouseID = t.WarehouseID
		ev.Details = map[string]string{"uses": strconv.Itoa(t.Uses)}
		return ev, nil
	})
	if errors.Is(err, errUnchanged) {
		t, err = r.store.EnrollmentToken(ctx, id)
	}
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("revoke enrollment token %s: %w", id, err)
	}
	return t, nil
}

// TokenRefusal is why an enrollment token was refused. It matches
// ErrInvalidCredentials: the device gets one answer for all of them,
// and the reason goes to the audit log.
type TokenRefusal struct {
	// Reason: unknown, revoked, used_up, expired.
	Reason string
	// Token is the refused token (zero for unknown).
	Token EnrollmentToken
}

func (e *TokenRefusal) Error() string { return "enrollment token refused: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidCredentials) true.
func (e *TokenRefusal) Is(target error) bool { return target == ErrInvalidCredentials }

// TokenEnrollment is what EnrollWithToken needs besides the token.
type TokenEnrollment struct {
	// WarehouseID, when not empty, must be the token's warehouse
	// (ErrForbidden otherwise, nothing spent).
	WarehouseID string
	Device      EnrollInput // its WarehouseID is ignored: the token's applies
	// RemoteAddr is recorded with the use.
	RemoteAddr string
}

// ErrWrongTokenWarehouse: the enrollment named another warehouse than
// its token's.
var ErrWrongTokenWarehouse = errors.New("the enrollment token is for another warehouse")

// EnrollWithToken spends one use of tok and registers a handheld in the
// token's warehouse, in one transaction: two handhelds racing for the
// last use get one enrollment and one refusal. The device's fields are
// checked first (a *ValidationError spends nothing). A token that is
// unknown, revoked, used up or expired is a *TokenRefusal (matching
// ErrInvalidCredentials); one for another warehouse than
// in.WarehouseID is ErrWrongTokenWarehouse. Both spend nothing. The use
// is audited (device.enroll with the token's id, and
// enrollment_token.use), and a serial that was enrolled is replaced as
// Enroll does.
func (r *Registry) EnrollWithToken(ctx context.Context, tok Token, in TokenEnrollment) (EnrollmentToken, Device, Token, *Device, error) {
	if _, ok := token.Parse(EnrollmentTokenPrefix, tok.Reveal()); !ok {
		return EnrollmentToken{}, Device{}, "", nil, &TokenRefusal{Reason: "unknown"}
	}
	v := &ValidationError{}
	d := r.checkDevice(v, in.Device)
	if err := v.Err(); err != nil {
		return EnrollmentToken{}, Device{}, "", nil, err
	}
	now := r.clock()
	devTok := token.New(DeviceTokenPrefix)
	d.ID = id.New("dev_", now)
	d.EnrolledAt = now
	d.Status = DeviceActive
	d.TokenHash = devTok.Hash()
	want := strings.TrimSpace(in.WarehouseID)
	et, d, replaced, err := r.store.EnrollWithToken(ctx, tok.Hash(), func(t *EnrollmentToken) (Device, []Event, error) {
		if s := t.State(now); s != EnrollmentActive {
			return Device{}, nil, &TokenRefusal{Reason: s, Token: *t}
		}
		if want != "" && want != t.WarehouseID {
			return Device{}, nil, ErrWrongTokenWarehouse
		}
		t.Uses++
		at := now
		t.LastUsedAt = &at
		d.WarehouseID = t.WarehouseID
		// EnrolledBy names a manager by id, as a password enrollment
		// does; a token made by a service key names the key.
		d.EnrolledBy = strings.TrimPrefix(t.CreatedBy, "manager:")
		enroll := event(now, t.CreatedBy, "device.enroll", DeviceActor(d.ID))
		enroll.WarehouseID, enroll.DeviceID = d.WarehouseID, d.ID
		enroll.Details = map[string]string{"serial": d.Serial, "enrollment_token_id": t.ID, "remote_addr": in.RemoteAddr}
		use := event(now, ActorSystem, "enrollment_token.use", EnrollmentTokenSubject(t.ID))
		use.WarehouseID, use.DeviceID = d.WarehouseID, d.ID
		use.Details = map[string]string{"uses": strconv.Itoa(t.Uses), "uses_left": strconv.Itoa(t.UsesLeft()), "remote_addr": in.RemoteAddr}
		return d, []Event{enroll, use}, nil
	})
	if errors.Is(err, ErrNotFound) {
		return EnrollmentToken{}, Device{}, "", nil, &TokenRefusal{Reason: "unknown"}
	}
	if err != nil {
		return EnrollmentToken{}, Device{}, "", nil, fmt.Errorf("enroll %s with a token: %w", d.Serial, err)
	}
	if replaced != nil {
		r.auditReplaced(ctx, now, et.CreatedBy, *replaced, d.ID)
	}
	return et, d, devTok, replaced, nil
}

// checkDevice checks what a handheld says of itself (not its warehouse)
// and returns the device with those fields set.
func (r *Registry) checkDevice(v *ValidationError, in EnrollInput) Device {
	d := Device{
		Serial:     checkToken(v, "serial", in.Serial, true, maxDeviceField),
		Model:      checkText(v, "model", in.Model, false, maxDeviceField),
		OSVersion:  checkText(v, "os_version", in.OSVersion, false, maxDeviceField),
		AppVersion: checkText(v, "app_version", in.AppVersion, false, maxDeviceField),
		Label:      checkText(v, "label", in.Label, false, maxDeviceField),
	}
	d.EnrolledAppVersion = d.AppVersion
	return d
}

// auditReplaced records the revocation of a registration that a
// re-enrollment of its serial replaced.
func (r *Registry) auditReplaced(ctx context.Context, now time.Time, actor string, replaced Device, by string) {
	rev := event(now, actor, "device.revoke", DeviceActor(replaced.ID))
	rev.WarehouseID = replaced.WarehouseID
	rev.DeviceID = replaced.ID
	rev.Details = map[string]string{"reason": "re_enrolled", "replaced_by": by}
	if err := r.store.AppendEvents(ctx, rev); err != nil {
		r.log.Warn("audit re-enrollment", "device_id", replaced.ID, "err", err)
	}
}
