package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

// AppendEvents appends evs to the audit log in one transaction.
func (s *Store) AppendEvents(ctx context.Context, evs ...devices.Event) error {
	return s.inTx(ctx, "append events", func(tx pgx.Tx) error {
		return insertEvents(ctx, tx, evs...)
	})
}

// insertEvents appends evs within tx in one statement. An event without
// an id (the zero Event an update that changed nothing returns) is not
// appended.
func insertEvents(ctx context.Context, tx pgx.Tx, evs ...devices.Event) error {
	// One array per column, for unnest.
	var (
		ids, actors, actions, subjects, whs, devs []string
		ats                                       []time.Time
		details                                   []*string
	)
	for _, ev := range evs {
		if ev.ID == "" {
			continue
		}
		var d *string
		if len(ev.Details) > 0 {
			b, err := json.Marshal(ev.Details)
			if err != nil {
				return callerError{fmt.Errorf("postgres: event %s details: %w: %v", ev.Action, devices.ErrUnavailable, err)}
			}
			s := string(b)
			d = &s
		}
		ids = append(ids, ev.ID)
		ats = append(ats, utc(ev.At))
		actors = append(actors, ev.Actor)
		actions = append(actions, ev.Action)
		subjects = append(subjects, ev.Subject)
		whs = append(whs, ev.WarehouseID)
		devs = append(devs, ev.DeviceID)
		details = append(details, d)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_events
		(id, at, actor, action, subject, warehouse_id, device_id, details)
		SELECT id, at, actor, action, subject, warehouse_id, device_id, details::jsonb
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
			AS e(id, at, actor, action, subject, warehouse_id, device_id, details)`,
		ids, ats, actors, actions, subjects, whs, devs, details)
	return err
}

const eventColumns = "id, at, actor, action, subject, warehouse_id, device_id, details"

// scanEvent reads one row of eventColumns.
func scanEvent(row pgx.CollectableRow) (devices.Event, error) {
	var ev devices.Event
	var details []byte
	if err := row.Scan(&ev.ID, &ev.At, &ev.Actor, &ev.Action, &ev.Subject, &ev.WarehouseID, &ev.DeviceID, &details); err != nil {
		return ev, err
	}
	fromDB(&ev.At)
	if len(details) > 0 {
		if err := json.Unmarshal(details, &ev.Details); err != nil {
			return ev, fmt.Errorf("event %s details: %w", ev.ID, err)
		}
		if len(ev.Details) == 0 {
			ev.Details = nil
		}
	}
	return ev, nil
}

// Events lists the audit log newest first (by id, which starts with the
// time); f.After is the last id of the previous page. From is inclusive,
// To exclusive.
func (s *Store) Events(ctx context.Context, f devices.EventFilter) ([]devices.Event, error) {
	if f.WarehouseIDs != nil && len(f.WarehouseIDs) == 0 {
		return []devices.Event{}, nil
	}
	var w where
	if f.Actor != "" {
		w.add("actor = %s", w.arg(f.Actor))
	}
	if f.Subject != "" {
		w.add("subject = %s", w.arg(f.Subject))
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			w.add("action LIKE %s", w.arg(likePrefix(f.Action)))
		} else {
			w.add("action = %s", w.arg(f.Action))
		}
	}
	if f.WarehouseIDs != nil {
		w.add("warehouse_id = ANY(%s)", w.arg(f.WarehouseIDs))
	}
	if !f.From.IsZero() {
		w.add("at >= %s", w.arg(utc(f.From)))
	}
	if !f.To.IsZero() {
		w.add("at < %s", w.arg(utc(f.To)))
	}
	if f.After != "" {
		w.add("id < %s", w.arg(f.After))
	}
	q := "SELECT " + eventColumns + " FROM audit_events" + w.String() +
		fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit(f.Page))
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, translate("list events", err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, translate("list events", err)
	}
	return evs, nil
}
