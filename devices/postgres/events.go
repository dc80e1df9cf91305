package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floorgate/floorgate/devices"
)

// AppendEvents appends evs to the audit log, all or none.
//
// It is one statement, which PostgreSQL applies whole or not at all:
// one round trip, where a transaction around it took three (BEGIN,
// INSERT, COMMIT) on every login's audit row.
func (s *Store) AppendEvents(ctx context.Context, evs ...devices.Event) error {
	err := insertEvents(ctx, s.pool, evs...)
	if err == nil {
		return nil
	}
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	return translate("append events", err)
}

// execer runs a statement: a transaction, or the pool for a statement
// on its own.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertEvents appends evs within tx (or on their own, when tx is the
// pool) in one statement. An event without an id (the zero Event an
// update that changed nothing returns) is not appended.
func insertEvents(ctx context.Context, tx execer, evs ...devices.Event) error {
	cols, err := eventArrays(evs)
	if err != nil || cols == nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_events
		(id, at, actor, action, subject, warehouse_id, device_id, details)
		SELECT id, at, actor, action, subject, warehouse_id, device_id, details::jsonb
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
			AS e(id, at, actor, action, subject, warehouse_id, device_id, details)`,
		cols...)
	return err
}

// eventArrays are evs as one array per column of audit_events, in the
// order of insertEvents' unnest (eight arguments); nil when no event has
// an id. An error is a callerError.
func eventArrays(evs []devices.Event) ([]any, error) {
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
				return nil, callerError{fmt.Errorf("postgres: event %s details: %w: %v", ev.Action, devices.ErrUnavailable, err)}
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
		return nil, nil
	}
	return []any{ids, ats, actors, actions, subjects, whs, devs, details}, nil
}

const eventColumns = "id, at, actor, action, subject, warehouse_id, device_id, details"

// scanEvent reads one row of eventColumns.
func scanEvent(row pgx.CollectableRow) (devices.Event, error) {
	var ev devices.Event
	var details []byte
	if err := row.Scan(&ev.ID, &ev.At, &ev.Actor, &ev.Action, &ev.Subject, &ev.WarehouseID, &ev.DeviceID, &details); err != nil {
		return ev, err
	}
	return eventFrom(ev, details)
}

// eventFrom finishes an event read from a row: its time in UTC, its
// details from their JSON.
func eventFrom(ev devices.Event, details []byte) (devices.Event, error) {
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

// SealAudit chains up to limit of the rows not yet in the audit chain,
// oldest id first, after the head, which it holds locked meanwhile (a
// sealer of another instance waits); it returns how many it chained.
func (s *Store) SealAudit(ctx context.Context, limit int) (int, error) {
	n := 0
	err := s.inTx(ctx, "seal audit", func(tx pgx.Tx) error {
		var head devices.ChainLink
		if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_chain WHERE id = 1 FOR UPDATE").Scan(&head.Seq, &head.Hash); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT "+eventColumns+" FROM audit_events WHERE seq IS NULL ORDER BY id LIMIT $1", max(limit, 1))
		if err != nil {
			return err
		}
		evs, err := pgx.CollectRows(rows, scanEvent)
		if err != nil || len(evs) == 0 {
			return err
		}
		chained, head := devices.Chain(head, evs)
		ids, seqs, hashes := make([]string, len(chained)), make([]int64, len(chained)), make([][]byte, len(chained))
		for i, c := range chained {
			ids[i], seqs[i], hashes[i] = c.ID, c.Seq, c.Hash
		}
		if _, err := tx.Exec(ctx, `UPDATE audit_events e SET seq = u.seq, hash = u.hash
			FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS u(id, seq, hash)
			WHERE e.id = u.id AND e.seq IS NULL`, ids, seqs, hashes); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE audit_chain SET seq = $1, hash = $2 WHERE id = 1", head.Seq, head.Hash); err != nil {
			return err
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
	err := s.pool.QueryRow(ctx, `SELECT c.seq, c.hash, (SELECT count(*) FROM audit_events WHERE seq IS NULL)
		FROM audit_chain c WHERE c.id = 1`).Scan(&h.Seq, &h.Hash, &h.Pending)
	if err != nil {
		return devices.ChainHead{}, translate("audit head", err)
	}
	return h, nil
}

// AuditChain lists the chained rows after afterSeq in chain order.
func (s *Store) AuditChain(ctx context.Context, afterSeq int64, limit int) ([]devices.ChainedEvent, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+eventColumns+`, seq, hash FROM audit_events
		WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, max(limit, 1))
	if err != nil {
		return nil, translate("audit chain", err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (devices.ChainedEvent, error) {
		var c devices.ChainedEvent
		var details []byte
		if err := row.Scan(&c.ID, &c.At, &c.Actor, &c.Action, &c.Subject, &c.WarehouseID, &c.DeviceID, &details, &c.Seq, &c.Hash); err != nil {
			return c, err
		}
		ev, err := eventFrom(c.Event, details)
		c.Event = ev
		return c, err
	})
	if err != nil {
		return nil, translate("audit chain", err)
	}
	return evs, nil
}
