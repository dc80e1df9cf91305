package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
)

// SetBadgeRequest is the body of PUT /users/{id}/badge.
type SetBadgeRequest struct {
	// Badge is the value the badge's barcode or NFC tag carries: 4 to
	// 128 printable ASCII characters without spaces. It is kept only as
	// a keyed hash and never shown again.
	Badge string `json:"badge"`
}

// Check refuses an empty or malformed badge (the registry checks it
// again).
func (q *SetBadgeRequest) Check(v *problem.Fields) {
	if _, err := devices.ParseBadge(q.Badge); err != nil {
		var ve *devices.ValidationError
		if errors.As(err, &ve) {
			for _, f := range ve.Fields {
				v.Add(f.Field, f.Code, f.Message)
			}
		}
	}
}

// BadgeView says whether a user has a badge, and since when; never its
// value.
type BadgeView struct {
	UserID string     `json:"user_id"`
	Set    bool       `json:"set"`
	SetAt  *time.Time `json:"set_at,omitempty"`
	SetBy  string     `json:"set_by,omitempty"`
}

// BadgeActionResponse answers a badge change: the badge now, and the
// logout commands of the sessions the old badge opened.
type BadgeActionResponse struct {
	Badge           BadgeView `json:"badge"`
	Replaced        bool      `json:"replaced"`
	CommandIDs      []string  `json:"command_ids"`
	SessionsPending bool      `json:"sessions_pending,omitempty"`
}

func badgeView(userID string, b *devices.Badge) BadgeView {
	if b == nil {
		return BadgeView{UserID: userID}
	}
	at := b.SetAt.UTC()
	return BadgeView{UserID: userID, Set: true, SetAt: &at, SetBy: b.SetBy}
}

func (a *API) getBadge(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	b, err := a.reg.Badge(r.Context(), u.ID)
	switch {
	case errors.Is(err, devices.ErrNotFound):
		return writeJSON(w, http.StatusOK, badgeView(u.ID, nil))
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, badgeView(u.ID, &b))
}

func (a *API) setBadge(w http.ResponseWriter, r *http.Request) error {
	var in SetBadgeRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	b, replaced, err := a.reg.SetBadge(r.Context(), p.actor, u.ID, in.Badge)
	if errors.Is(err, devices.ErrExists) {
		return conflict("this badge is held by another user: remove it from its holder first, or give another badge")
	}
	if err != nil {
		return fmt.Errorf("set badge: %w", err)
	}
	resp := BadgeActionResponse{Badge: badgeView(u.ID, &b), Replaced: replaced, CommandIDs: []string{}}
	if replaced {
		resp.CommandIDs, resp.SessionsPending = a.endBadgeSessions(r.Context(), p, u)
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (a *API) removeBadge(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if err := a.reg.RemoveBadge(r.Context(), p.actor, u.ID); err != nil {
		return fmt.Errorf("remove badge: %w", err)
	}
	resp := BadgeActionResponse{Badge: badgeView(u.ID, nil), CommandIDs: []string{}}
	resp.CommandIDs, resp.SessionsPending = a.endBadgeSessions(r.Context(), p, u)
	return writeJSON(w, http.StatusOK, resp)
}

// endBadgeSessions ends the user's live sessions that a badge opened
// (their custody records say so). A failure is logged and reported as
// pending: the badge change already stands, and its old value no longer
// signs anyone in.
func (a *API) endBadgeSessions(ctx context.Context, p *principal, u devices.User) ([]string, bool) {
	now := a.now()
	recs, err := a.reg.Custody(ctx, devices.CustodyFilter{UserID: u.ID, Method: devices.MethodBadge, OpenAt: &now, Limit: 500})
	if err != nil {
		a.log.ErrorContext(ctx, "badge sessions", "user_id", u.ID, "err", err)
		return []string{}, true
	}
	var cmds []sessions.Command
	pending := false
	for _, rec := range recs {
		c, err := a.sess.End(ctx, rec.SessionID, sessions.ReasonAdmin)
		switch {
		case err == nil:
			cmds = append(cmds, c)
		case !errors.Is(err, sessions.ErrNotFound): // already ended: nothing to do
			a.log.ErrorContext(ctx, "end badge session", "session_id", rec.SessionID, "err", err)
			pending = true
		}
	}
	if len(cmds) > 0 {
		a.recordEnd(ctx, p.actor, devices.UserActor(u.ID), u.WarehouseID, sessions.ReasonAdmin, cmds)
	}
	return commandIDs(cmds), pending
}
