package devices

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// EndedSession is one session an action ended, for RecordSessionsEnded:
// the session, its logout command, when and why it ended.
type EndedSession struct {
	SessionID string
	CommandID string
	At        time.Time
	Reason    string
}

// RecordSessionsEnded records the sessions actor ended, for reason, on
// subject (a user, a device, a warehouse, a session) of warehouseID:
// who ended them, in their custody records, and one sessions.end audit
// event with the reason, the count and, up to 20, the commands' ids.
// The sessions have ended already, so what records it is finished even
// if the caller goes away (ctx's cancellation is not followed), each
// write is tried up to three times, each within 2 s, 100 ms apart, and
// what still fails is logged (Options.Logger), not returned: the ends
// stand all the same, and the gateway notes them in custody too (without
// who).
func (r *Registry) RecordSessionsEnded(ctx context.Context, actor, subject, warehouseID, reason string, ended []EndedSession) {
	r.RecordCustodyEnds(ctx, actor, ended)
	r.AuditSessionsEnded(ctx, actor, subject, warehouseID, reason, ended)
}

// RecordCustodyEnds is RecordSessionsEnded's first half: who ended the
// sessions, in their custody records (one row each).
func (r *Registry) RecordCustodyEnds(ctx context.Context, actor string, ended []EndedSession) {
	ctx = context.WithoutCancel(ctx)
	ends := make([]CustodyEnd, 0, len(ended))
	for _, e := range ended {
		ends = append(ends, CustodyEnd{SessionID: e.SessionID, At: e.At, Reason: e.Reason, By: actor})
	}
	if err := retryRecord(ctx, func(ctx context.Context) error { return r.EndCustody(ctx, ends...) }); err != nil {
		r.log.ErrorContext(ctx, "record custody ends", "count", len(ends), "err", err)
	}
}

// AuditSessionsEnded is RecordSessionsEnded's second half: the one
// sessions.end audit event. A caller that answers before the custody
// records are written (a warehouse logout) writes it before answering,
// so that an answered end is audited even if the process dies next.
func (r *Registry) AuditSessionsEnded(ctx context.Context, actor, subject, warehouseID, reason string, ended []EndedSession) {
	ctx = context.WithoutCancel(ctx)
	ids := make([]string, 0, len(ended))
	for _, e := range ended {
		ids = append(ids, e.CommandID)
	}
	d := map[string]string{"reason": reason, "count": strconv.Itoa(len(ids))}
	if len(ids) <= 20 {
		d["command_ids"] = strings.Join(ids, ",")
	}
	ev := Event{Actor: actor, Action: "sessions.end", Subject: subject, WarehouseID: warehouseID, Details: d}
	if err := retryRecord(ctx, func(ctx context.Context) error { return r.Record(ctx, ev) }); err != nil {
		r.log.ErrorContext(ctx, "audit record failed", "action", ev.Action, "count", len(ids), "err", err)
	}
}

// recordAttempts and recordWait bound retryRecord: three tries, each
// within recordWait, 100 ms apart.
const (
	recordAttempts = 3
	recordWait     = 2 * time.Second
)

// retryRecord writes what records a change already made: up to
// recordAttempts tries, each bounded by recordWait.
func retryRecord(ctx context.Context, write func(context.Context) error) error {
	var err error
	for i := range recordAttempts {
		if i > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		wctx, cancel := context.WithTimeout(ctx, recordWait)
		err = write(wctx)
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}
