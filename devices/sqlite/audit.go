package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/floorgate/floorgate/devices"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// appendEvents inserts evs in tx, skipping events with no id (an update
// that had nothing to record).
func appendEvents(ctx context.Context, tx *sql.Tx, op string, evs ...devices.Event) error {
	for _, ev := range evs {
		if ev.ID == "" {
			continue
		}
		details := "{}"
		if len(ev.Details) > 0 {
			b, err := json.Marshal(ev.Details)
			if err != nil {
				return err
			}
			details = string(b)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events
			(id, at, actor, action, subject, warehouse_id, device_id, details)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.ID, ts(ev.At), ev.Actor, ev.Action, ev.Subject, ev.WarehouseID, ev.DeviceID, details); err != nil {
			return translate(ctx, op+": append event "+ev.Action, err)
		}
	}
	return nil
}

// AppendEvents appends evs in one transaction: all of them or none.
func (s *Store) AppendEvents(ctx context.Context, evs ...devices.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.write(ctx, "append events", func(tx *sql.Tx) error {
		return appendEvents(ctx, tx, "append events", evs...)
	})
}

const eventColumns = `id, at, actor, action, subject, warehouse_id, device_id, details`

func scanEvent(sc scanner) (devices.Event, error) {
	return scanEventAnd(sc)
}

// scanEventAnd reads eventColumns and then into more.
func scanEventAnd(sc scanner, more ...any) (devices.Event, error) {
	var ev devices.Event
	var at int64
	var details string
	if err := sc.Scan(append([]any{&ev.ID, &at, &ev.Actor, &ev.Action, &ev.Subject, &ev.WarehouseID, &ev.DeviceID, &details}, more...)...); err != nil {
		return ev, err
	}
	ev.At = fromTS(at)
	if details != "" && details != "{}" {
		if err := json.Unmarshal([]byte(details), &ev.Details); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// Events lists the audit log newest first (by id, which sorts by time).
func (s *Store) Events(ctx context.Context, f devices.EventFilter) ([]devices.Event, error) {
	var w where
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.Subject != "" {
		w.add("subject = ?", f.Subject)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			// A range, not LIKE: action names may hold '_'.
			w.add("action >= ? AND action < ?", f.Action, f.Action[:len(f.Action)-1]+"/")
		} else {
			w.add("action = ?", f.Action)
		}
	}
	if f.WarehouseIDs != nil {
		if len(f.WarehouseIDs) == 0 {
			return nil, nil
		}
		w.in("warehouse_id", f.WarehouseIDs)
	}
	if !f.From.IsZero() {
		w.add("at >= ?", ts(f.From))
	}
	if !f.To.IsZero() {
		w.add("at < ?", ts(f.To))
	}
	if f.After != "" {
		w.add("id < ?", f.After)
	}
	return list(ctx, s.r, "events", "SELECT "+eventColumns+" FROM audit_events", &w, "id DESC", limit(f.Page), scanEvent)
}

// SealAudit chains up to limit of the rows not yet in the audit chain,
// oldest id first, after the head (the one writer connection serialises
// sealers); it returns how many it chained.
func (s *Store) SealAudit(ctx context.Context, limit int) (int, error) {
	n := 0
	err := s.write(ctx, "seal audit", func(tx *sql.Tx) error {
		var head devices.ChainLink
		if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_chain WHERE id = 1`).Scan(&head.Seq, &head.Hash); err != nil {
			return translate(ctx, "seal audit", err)
		}
		var w where
		w.add("seq IS NULL")
		evs, err := list(ctx, tx, "seal audit", "SELECT "+eventColumns+" FROM audit_events", &w, "id", max(limit, 1), scanEvent)
		if err != nil || len(evs) == 0 {
			return err
		}
		chained, head := devices.Chain(head, evs)
		for _, c := range chained {
			if _, err := tx.ExecContext(ctx, `UPDATE audit_events SET seq = ?, hash = ? WHERE id = ? AND seq IS NULL`, c.Seq, c.Hash, c.ID); err != nil {
				return translate(ctx, "seal audit", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE audit_chain SET seq = ?, hash = ? WHERE id = 1`, head.Seq, head.Hash); err != nil {
			return translate(ctx, "seal audit", err)
		}
		n = len(chained)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// AuditHead reports the chain's head and the rows not yet in it.
func (s *Store) AuditHead(ctx context.Context) (devices.ChainHead, error) {
	var h devices.ChainHead
	err := s.r.QueryRowContext(ctx, `SELECT c.seq, c.hash, (SELECT count(*) FROM audit_events WHERE seq IS NULL)
		FROM audit_chain c WHERE c.id = 1`).Scan(&h.Seq, &h.Hash, &h.Pending)
	if err != nil {
		return devices.ChainHead{}, translate(ctx, "audit head", err)
	}
	return h, nil
}

// AuditChain lists the chained rows after afterSeq in chain order.
func (s *Store) AuditChain(ctx context.Context, afterSeq int64, limit int) ([]devices.ChainedEvent, error) {
	var w where
	w.add("seq > ?", afterSeq)
	return list(ctx, s.r, "audit chain", "SELECT "+eventColumns+", seq, hash FROM audit_events", &w, "seq", max(limit, 1),
		func(sc scanner) (devices.ChainedEvent, error) {
			var c devices.ChainedEvent
			ev, err := scanEventAnd(sc, &c.Seq, &c.Hash)
			c.Event = ev
			return c, err
		})
}
