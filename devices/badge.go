package devices

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of a badge value.
const (
	MinBadgeLength = 4
	MaxBadgeLength = 128
)

// Badge is a user's badge: the value their badge's barcode or NFC tag
// carries, so that they sign in by scanning it and typing their PIN. The
// registry keeps only Key, an HMAC of the value under the pepper: a copy
// of the database holds nothing that can be printed on a badge or
// written to a tag. A badge belongs to one user across the organisation.
type Badge struct {
	UserID string    `json:"user_id"`
	Key    string    `json:"-"`
	SetAt  time.Time `json:"set_at"`
	SetBy  string    `json:"set_by"` // actor
}

// ParseBadge reads a badge value as scanned or typed: surrounding white
// space is ignored; the rest is 4 to 128 printable ASCII characters
// without spaces (what barcodes and NFC tag readers send). Anything else
// is a *ValidationError naming the field "badge", and never reaches a
// store.
func ParseBadge(s string) (string, error) {
	s = strings.TrimSpace(s)
	v := &ValidationError{}
	switch {
	case s == "":
		v.Add("badge", "required", "badge is required")
	case len(s) > MaxBadgeLength:
		v.Add("badge", "too_long", "badge has at most "+strconv.Itoa(MaxBadgeLength)+" characters")
	case strings.IndexFunc(s, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0:
		v.Add("badge", "invalid", "badge is printable ASCII without spaces")
	case len(s) < MinBadgeLength:
		v.Add("badge", "too_short", "badge has at least "+strconv.Itoa(MinBadgeLength)+" characters")
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return s, nil
}

// badgeKey is the key a badge value is kept and looked up by:
// HMAC-SHA256 under the pepper, in unpadded URL-safe base64.
func (r *Registry) badgeKey(badge string) string {
	m := hmac.New(sha256.New, r.hash.pepper)
	m.Write([]byte("floorgate badge\x00"))
	m.Write([]byte(badge))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// UserBadgeSubject names a user's badge in audit events.
func UserBadgeSubject(userID string) string { return "badge:" + userID }

// Badge returns the user's badge (ErrNotFound when they have none).
func (r *Registry) Badge(ctx context.Context, userID string) (Badge, error) {
	b, err := r.store.Badge(ctx, userID)
	if err != nil {
		return Badge{}, fmt.Errorf("badge of %s: %w", userID, err)
	}
	return b, nil
}

// SetBadge gives user userID the badge value (set or replace). A value
// held by another user is ErrExists (whoever holds it: the answer names
// nobody); a bad value a *ValidationError. replaced says a badge was
// replaced: the caller ends the sessions the old badge opened. The
// change is audited (user.badge_set), never with the value.
func (r *Registry) SetBadge(ctx context.Context, actor, userID, badge string) (b Badge, replaced bool, err error) {
	if err := checkActor(actor); err != nil {
		return Badge{}, false, err
	}
	value, err := ParseBadge(badge)
	if err != nil {
		return Badge{}, false, err
	}
	now := r.clock()
	b = Badge{UserID: userID, Key: r.badgeKey(value), SetAt: now, SetBy: actor}
	replaced, err = r.store.SetBadge(ctx, b, func(u User) (Event, error) {
		if u.Status == UserDeleted {
			return Event{}, ErrNotFound
		}
		ev := event(now, actor, "user.badge_set", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		return ev, nil
	})
	if err != nil {
		return Badge{}, false, fmt.Errorf("set badge of %s: %w", userID, err)
	}
	return b, replaced, nil
}

// NewBadge is one user's first badge, for AddBadges.
type NewBadge struct {
	UserID string
	Badge  string // the value, as SetBadge takes it
}

// AddBadges gives users their first badges in one write, all or none
// (a CSV import's new users), each audited as user.badge_set as
// SetBadge does, never with the value. A bad value is a
// *ValidationError; a user named twice ErrInvalid; a user who has a
// badge, or a value someone holds (or given twice), ErrExists; a
// missing or deleted user ErrNotFound. No badge is replaced, so no
// session is to end.
func (r *Registry) AddBadges(ctx context.Context, actor string, nbs []NewBadge) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	now := r.clock()
	bs := make([]Badge, 0, len(nbs))
	users := make(map[string]bool, len(nbs))
	for _, nb := range nbs {
		value, err := ParseBadge(nb.Badge)
		if err != nil {
			return err
		}
		if users[nb.UserID] {
			return fmt.Errorf("add badges: user %s named twice: %w", nb.UserID, ErrInvalid)
		}
		users[nb.UserID] = true
		bs = append(bs, Badge{UserID: nb.UserID, Key: r.badgeKey(value), SetAt: now, SetBy: actor})
	}
	err := r.store.AddBadges(ctx, bs, func(u User) (Event, error) {
		if u.Status == UserDeleted {
			return Event{}, ErrNotFound
		}
		ev := event(now, actor, "user.badge_set", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		return ev, nil
	})
	if err != nil {
		return fmt.Errorf("add %d badges: %w", len(bs), err)
	}
	return nil
}

// RemoveBadge takes the user's badge away (ErrNotFound when they have
// none); audited as user.badge_remove. The caller ends the sessions it
// opened.
func (r *Registry) RemoveBadge(ctx context.Context, actor, userID string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	now := r.clock()
	err := r.store.RemoveBadge(ctx, userID, func(u User) (Event, error) {
		ev := event(now, actor, "user.badge_remove", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		return ev, nil
	})
	if err != nil {
		return fmt.Errorf("remove badge of %s: %w", userID, err)
	}
	return nil
}

// BadgeHolder is the name a badge sign-in is throttled and audited under
// before its PIN is checked: the holder's username, or, for a badge
// nobody holds (or a value that is no badge), a name no username can
// take ("#badge:" and the start of its key), so that it is counted like
// an unknown username. Only a store that does not answer is an error.
func (r *Registry) BadgeHolder(ctx context.Context, badge string) (string, error) {
	value, err := ParseBadge(badge)
	if err != nil {
		return unknownBadgeName(r.badgeKey(strings.TrimSpace(badge))), nil
	}
	key := r.badgeKey(value)
	u, err := r.store.UserByBadge(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return unknownBadgeName(key), nil
	case err != nil:
		return "", fmt.Errorf("badge holder: %w", err)
	}
	return u.Username, nil
}

// BadgeHeld reports whether a user holds badge (a value ParseBadge
// refuses is a *ValidationError). It names nobody: a CSV import checks
// its rows' badges with it before it writes.
func (r *Registry) BadgeHeld(ctx context.Context, badge string) (bool, error) {
	value, err := ParseBadge(badge)
	if err != nil {
		return false, err
	}
	_, err = r.store.UserByBadge(ctx, r.badgeKey(value))
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("badge held: %w", err)
	}
	return true, nil
}

func unknownBadgeName(key string) string { return "#badge:" + key[:16] }

// AuthenticateBadge checks a badge and a PIN as AuthenticateUser checks
// a username and a PIN, with the same answers after the same work: an
// unknown badge (or a value that is no badge) is ErrInvalidCredentials
// after hashing a dummy, as an unknown username is.
func (r *Registry) AuthenticateBadge(ctx context.Context, badge, pin string) (User, error) {
	_, c, err := r.LookupBadge(ctx, badge)
	if err != nil {
		return User{}, err
	}
	return r.VerifyPIN(ctx, c, pin)
}

// LookupBadge is BadgeHolder and LookupUser in one read: the name the
// badge's sign-in is throttled and audited under (BadgeHolder's) and
// the Candidate VerifyPIN checks the PIN against (nobody for a badge
// nobody holds or a value that is no badge). Only a store that does not
// answer is an error.
func (r *Registry) LookupBadge(ctx context.Context, badge string) (string, Candidate, error) {
	value, err := ParseBadge(badge)
	if err != nil {
		return unknownBadgeName(r.badgeKey(strings.TrimSpace(badge))), Candidate{}, nil
	}
	key := r.badgeKey(value)
	u, err := r.store.UserByBadge(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return unknownBadgeName(key), Candidate{}, nil
	case err != nil:
		return "", Candidate{}, fmt.Errorf("badge holder: %w", err)
	}
	return u.Username, Candidate{user: u, found: true}, nil
}
