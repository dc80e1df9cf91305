package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// SessionView is a live session as the admin API shows it.
type SessionView struct {
	sessions.Session
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

func sessionView(s sessions.Session) SessionView {
	return SessionView{Session: s, IdleExpiresAt: s.IdleExpiresAt()}
}

// CommandIDsResponse answers a forced logout with the commands it made.
type CommandIDsResponse struct {
	CommandIDs []string `json:"command_ids"`
}

// CommandView is a logout command and where its delivery stands.
type CommandView struct {
	CommandID   string          `json:"command_id"`
	SessionID   string          `json:"session_id"`
	UserID      string          `json:"user_id"`
	DeviceID    string          `json:"device_id"`
	WarehouseID string          `json:"warehouse_id"`
	Reason      sessions.Reason `json:"reason"`
	By          *sessions.By    `json:"by,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	DeliveredAt *time.Time      `json:"delivered_at"`
	AckedAt     *time.Time      `json:"acked_at"`
	Status      string          `json:"status"` // pending, delivered, acked, expired
}

// listSessions lists the live sessions of one user, one device or one
// warehouse (exactly one filter). A caller sees the sessions in the
// warehouses their roles cover.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ctx := r.Context()
	p := principalFrom(ctx)
	userID, deviceID, whID := q.Get("user_id"), q.Get("device_id"), q.Get("warehouse_id")
	n := 0
	for _, s := range []string{userID, deviceID, whID} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return invalid("user_id", "one_of", "give exactly one of user_id, device_id or warehouse_id")
	}
	var (
		list []sessions.Session
		next string
		err  error
	)
	switch {
	case userID != "":
		u, uerr := a.reg.User(ctx, userID)
		if uerr != nil {
			return fmt.Errorf("sessions of user %s: %w", userID, uerr)
		}
		if err := a.authorize(r, capSessions, u.WarehouseID, devices.UserActor(u.ID)); err != nil {
			return err
		}
		list, err = a.sess.ByUser(ctx, userID)
	case deviceID != "":
		d, derr := a.reg.Device(ctx, deviceID)
		if derr != nil {
			return fmt.Errorf("sessions of device %s: %w", deviceID, derr)
		}
		if err := a.authorize(r, capSessions, d.WarehouseID, devices.DeviceActor(d.ID)); err != nil {
			return err
		}
		list, err = a.sess.ByDevice(ctx, deviceID)
	default:
		if err := a.authorize(r, capSessions, whID, devices.WarehouseSubject(whID)); err != nil {
			return err
		}
		after, size, perr := pageQuery(r)
		if perr != nil {
			return perr
		}
		list, next, err = a.sess.ByWarehouse(ctx, whID, sessions.PageRequest{After: after, Limit: size})
		next = pageToken(next)
	}
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	items := make([]SessionView, 0, len(list))
	for _, s := range list {
		if p.visible(s.WarehouseID) {
			items = append(items, sessionView(s))
		}
	}
	return writeJSON(w, http.StatusOK, Page[SessionView]{Items: items, NextPageToken: next})
}

// deleteSession forces one logout. Nothing that the push does not need
// comes before it: an admin (or an admin-scoped key) may end any
// session, so the session is not read first (an unknown one is still
// 404, from End); a manager's session is read for its warehouse, which
// decides. The audit follows the end (recordEnd).
func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	if !principalFrom(ctx).admin {
		s, err := a.sess.Session(ctx, id)
		if err != nil {
			return fmt.Errorf("read session %s: %w", id, err)
		}
		if err := a.authorize(r, capSessions, s.WarehouseID, "session:"+s.ID); err != nil {
			return err
		}
	}
	c, err := a.sess.End(ctx, id, sessions.ReasonAdmin)
	if err != nil {
		return fmt.Errorf("end session %s: %w", id, err)
	}
	a.recordEnd(ctx, principalFrom(ctx).actor, "session:"+c.SessionID, c.WarehouseID, sessions.ReasonAdmin, []sessions.Command{c})
	return writeJSON(w, http.StatusOK, CommandIDsResponse{CommandIDs: []string{c.ID}})
}

func (a *API) logoutWarehouse(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	wh, err := a.warehouseFor(r, capSessions)
	if err != nil {
		return err
	}
	actor, subject := principalFrom(ctx).actor, devices.WarehouseSubject(wh.ID)
	if bs, ok := a.sess.(sessions.WarehouseStarter); ok {
		// The answer follows the one event that told every instance
		// (the tokens are refused and each command reads as pending from
		// then on) and the one audit event. The custody ends and the
		// per-session records follow it; a graceful stop waits for them
		// (Run).
		cmds, finish, err := bs.StartEndWarehouse(ctx, wh.ID, sessions.ReasonAdmin)
		if err != nil {
			return fmt.Errorf("log out warehouse %s: %w", wh.ID, err)
		}
		a.reg.AuditSessionsEnded(ctx, actor, subject, wh.ID, string(sessions.ReasonAdmin), endedSessions(cmds))
		bg := context.WithoutCancel(ctx)
		a.bg.Go(func() {
			// Custody first: this is its one writer (the instances do
			// not note the ends of a warehouse's event), and the store's
			// journal of this end stays until finish has written the
			// records. If this process dies before the custody write,
			// the sweep ends the sessions with a KindEnded event each,
			// which every instance notes for custody as any other end.
			a.reg.RecordCustodyEnds(bg, actor, endedSessions(cmds))
			if _, err := finish(bg); err != nil {
				a.log.ErrorContext(bg, "writing a warehouse logout's records failed; the sweep finishes them",
					"warehouse_id", wh.ID, "err", err)
			}
			// The console's live pages re-read the warehouse now that
			// its sessions are gone (no KindEnded event per session
			// tells them).
			if err := a.sess.Publish(bg, sessions.Event{Kind: sessions.KindActivity, WarehouseID: wh.ID}); err != nil {
				a.log.WarnContext(bg, "publishing a warehouse logout's activity failed", "warehouse_id", wh.ID, "err", err)
			}
		})
		return writeJSON(w, http.StatusOK, CommandIDsResponse{CommandIDs: commandIDs(cmds)})
	}
	cmds, err := a.sess.EndWarehouse(ctx, wh.ID, sessions.ReasonAdmin)
	if err != nil {
		return fmt.Errorf("log out warehouse %s: %w", wh.ID, err)
	}
	a.recordEnd(ctx, actor, subject, wh.ID, sessions.ReasonAdmin, cmds)
	return writeJSON(w, http.StatusOK, CommandIDsResponse{CommandIDs: commandIDs(cmds)})
}

func (a *API) getCommand(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	c, err := a.sess.Command(ctx, id)
	if err != nil {
		return fmt.Errorf("read command %s: %w", id, err)
	}
	if err := a.authorize(r, capSessions, c.WarehouseID, "command:"+c.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, commandView(c, a.now()))
}

func commandView(c sessions.Command, now time.Time) CommandView {
	return CommandView{
		CommandID: c.ID, SessionID: c.SessionID, UserID: c.UserID, DeviceID: c.DeviceID, WarehouseID: c.WarehouseID,
		Reason: c.Reason, By: c.By, CreatedAt: c.CreatedAt, DeliveredAt: c.DeliveredAt, AckedAt: c.AckedAt,
		Status: c.Status(now),
	}
}
