package devices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Bounds of a data export. A user signs in a few times a day and custody
// is kept 90 days, so a real export holds far fewer; a bound reached is
// said in the export (Truncated), never silently.
const (
	MaxExportSessions = 20000
	MaxExportEvents   = 20000
)

// UserData is what the registry holds about one mobile user, for their
// request to see it: the record (never a hash: the PIN hash, the badge's
// key and the count of badge changes are kept out of JSON), their badge
// (whether, since when, by whom), their warehouse, the devices they used
// and their sessions from custody, and the audit events about them.
type UserData struct {
	User      User      `json:"user"`
	Badge     *Badge    `json:"badge,omitempty"`
	Warehouse Warehouse `json:"warehouse"`
	// Devices are the devices their sessions were on (those still in
	// the registry), in order of id.
	Devices []Device `json:"devices"`
	// Sessions are their custody records, newest first.
	Sessions []Custody `json:"sessions"`
	// Events are the audit events with the user as actor or subject, or
	// naming their username (sign-ins refused under it), newest first.
	Events []Event `json:"events"`
	// Truncated names what reached its bound ("sessions", "events").
	Truncated []string `json:"truncated,omitempty"`
}

// ManagerData is what the registry holds about one manager account: the
// record (never the password hash), their roles and the warehouses these
// name, where their invitation stands, their sign-ins (tokens without
// the token or its hash), and the audit events about them
// (as actor or subject, or naming their email: sign-ins refused under it).
type ManagerData struct {
	Manager    Manager     `json:"manager"`
	Warehouses []Warehouse `json:"warehouses"`
	// SignIns are their API tokens and console sign-ins still stored
	// (expired ones until purged), newest first: when made, last used,
	// when they end; never the token nor its hash.
	SignIns   []ManagerToken `json:"sign_ins"`
	Events    []Event        `json:"events"`
	Truncated []string       `json:"truncated,omitempty"`
}

// UserData gathers what the registry holds about user id (deleted users
// included; ErrNotFound when there is none). It writes nothing: the
// caller audits the export.
func (r *Registry) UserData(ctx context.Context, id string) (UserData, error) {
	u, err := r.store.User(ctx, id)
	if err != nil {
		return UserData{}, fmt.Errorf("user data %s: %w", id, err)
	}
	out := UserData{User: u, Devices: []Device{}}
	b, err := r.store.Badge(ctx, id)
	switch {
	case err == nil:
		out.Badge = &b
	case !errors.Is(err, ErrNotFound):
		return UserData{}, fmt.Errorf("user data %s: badge: %w", id, err)
	}
	if out.Warehouse, err = r.store.Warehouse(ctx, u.WarehouseID); err != nil && !errors.Is(err, ErrNotFound) {
		return UserData{}, fmt.Errorf("user data %s: warehouse: %w", id, err)
	}
	// Sessions, newest first, page by page.
	f := CustodyFilter{UserID: id, Limit: 500}
	for {
		page, err := r.store.Custody(ctx, f)
		if err != nil {
			return UserData{}, fmt.Errorf("user data %s: custody: %w", id, err)
		}
		out.Sessions = append(out.Sessions, page...)
		if len(out.Sessions) >= MaxExportSessions {
			out.Sessions = out.Sessions[:MaxExportSessions]
			out.Truncated = append(out.Truncated, "sessions")
			break
		}
		if len(page) < f.Limit {
			break
		}
		c := CustodyCursorOf(page[len(page)-1])
		f.After = &c
	}
	if out.Sessions == nil {
		out.Sessions = []Custody{}
	}
	var devIDs []string
	for _, c := range out.Sessions {
		devIDs = append(devIDs, c.DeviceID)
	}
	slices.Sort(devIDs)
	for _, d := range slices.Compact(devIDs) {
		dev, err := r.store.Device(ctx, d)
		switch {
		case err == nil:
			out.Devices = append(out.Devices, dev)
		case !errors.Is(err, ErrNotFound):
			return UserData{}, fmt.Errorf("user data %s: device %s: %w", id, d, err)
		}
	}
	subjects := []string{UserActor(id), UserBadgeSubject(id)}
	if u.UsernameKey != "" {
		subjects = append(subjects, "username:"+u.UsernameKey)
	}
	var trunc bool
	out.Events, trunc, err = r.eventsAbout(ctx, UserActor(id), subjects)
	if err != nil {
		return UserData{}, fmt.Errorf("user data %s: %w", id, err)
	}
	if trunc {
		out.Truncated = append(out.Truncated, "events")
	}
	return out, nil
}

// ManagerData gathers what the registry holds about manager id
// (ErrNotFound when there is none). It writes nothing: the caller audits
// the export.
func (r *Registry) ManagerData(ctx context.Context, id string) (ManagerData, error) {
	m, err := r.Manager(ctx, id)
	if err != nil {
		return ManagerData{}, fmt.Errorf("manager data: %w", err)
	}
	out := ManagerData{Manager: m, Warehouses: []Warehouse{}}
	var whIDs []string
	for _, role := range m.Roles {
		if role.WarehouseID != "" {
			whIDs = append(whIDs, role.WarehouseID)
		}
	}
	slices.Sort(whIDs)
	for _, w := range slices.Compact(whIDs) {
		wh, err := r.store.Warehouse(ctx, w)
		switch {
		case err == nil:
			out.Warehouses = append(out.Warehouses, wh)
		case !errors.Is(err, ErrNotFound):
			return ManagerData{}, fmt.Errorf("manager data %s: warehouse %s: %w", id, w, err)
		}
	}
	if out.SignIns, err = r.store.ManagerTokensOf(ctx, id); err != nil {
		return ManagerData{}, fmt.Errorf("manager data %s: sign-ins: %w", id, err)
	}
	subjects := []string{ManagerActor(id)}
	if key, err := EmailKey(m.Email); err == nil {
		subjects = append(subjects, "email:"+key)
	}
	var trunc bool
	out.Events, trunc, err = r.eventsAbout(ctx, ManagerActor(id), subjects)
	if err != nil {
		return ManagerData{}, fmt.Errorf("manager data %s: %w", id, err)
	}
	if trunc {
		out.Truncated = append(out.Truncated, "events")
	}
	return out, nil
}

// eventsAbout lists the events with actor, or with one of subjects,
// without duplicates, newest first (by id, which orders by time), at
// most MaxExportEvents; truncated says more were left out.
func (r *Registry) eventsAbout(ctx context.Context, actor string, subjects []string) ([]Event, bool, error) {
	filters := []EventFilter{{Actor: actor}}
	for _, s := range subjects {
		filters = append(filters, EventFilter{Subject: s})
	}
	seen := map[string]bool{}
	out := []Event{}
	truncated := false
	for _, f := range filters {
		f.Limit = 500
		n := 0
		for {
			page, err := r.store.Events(ctx, f)
			if err != nil {
				return nil, false, fmt.Errorf("events: %w", err)
			}
			for _, ev := range page {
				if !seen[ev.ID] {
					seen[ev.ID] = true
					out = append(out, ev)
				}
			}
			n += len(page)
			if len(page) < f.Limit {
				break
			}
			if n >= MaxExportEvents {
				truncated = true
				break
			}
			f.After = page[len(page)-1].ID
		}
	}
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(b.ID, a.ID) })
	if len(out) > MaxExportEvents {
		out, truncated = out[:MaxExportEvents], true
	}
	return out, truncated, nil
}
