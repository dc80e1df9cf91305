package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
)

// statements counts the statements a store sends, BEGIN and COMMIT
// included.
type statements struct{ n atomic.Int64 }

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	s.n.Add(1)
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestAppendEventsOneStatement: appending audit events (a login's
// success and the sessions it ended) is one statement, one round trip,
// and the rows are all there.
func TestAppendEventsOneStatement(t *testing.T) {
	t.Parallel()
	schema, _ := newSchema(t)
	counted := &statements{}
	s, err := Open(context.Background(), testURL(), Options{Schema: schema, MaxConns: 2, Tracer: counted})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	at := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	evs := []devices.Event{
		{ID: "evt_1", At: at, Actor: "user:u1", Action: "login.success", Subject: "user:u1", Details: map[string]string{"session_id": "s1"}},
		{ID: "evt_2", At: at, Actor: "user:u1", Action: "sessions.end", Subject: "user:u1"},
	}
	counted.n.Store(0)
	if err := s.AppendEvents(ctx, evs...); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("AppendEvents sent %d statements; want 1", n)
	}
	got, err := s.Events(ctx, devices.EventFilter{})
	if err != nil || len(got) != 2 {
		t.Fatalf("Events = %d events, %v; want 2", len(got), err)
	}
	// All or none: a batch with one row the table refuses (an id already
	// there) appends nothing.
	err = s.AppendEvents(ctx, devices.Event{ID: "evt_3", At: at, Actor: "system", Action: "x"}, devices.Event{ID: "evt_1", At: at, Actor: "system", Action: "x"})
	if err == nil {
		t.Fatal("AppendEvents with a duplicate id = nil; want an error")
	}
	if got, _ := s.Events(ctx, devices.EventFilter{}); len(got) != 2 {
		t.Errorf("events after a refused batch = %d; want 2", len(got))
	}
}
