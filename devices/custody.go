package devices

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Device custody: who had which device from when to when, and how each
// session ended. The sign-in records the start of every session (Start
// Custody), and the end is noted by whoever hears of it (EndCustody): the
// gateway for every end the session store announces, the admin API with
// the manager who forced it. Records are kept CustodyRetention and then
// purged.

// CustodyRetention is how long custody records are kept after their
// session ended (or, for one whose end was never heard, after it began).
const CustodyRetention = 90 * 24 * time.Hour

// CustodyLookback bounds how far before a time T the records open at T
// are looked for: no session lives longer than the longest absolute
// timeout, so a record that began earlier and has no end is one whose
// end was lost, and is not reported as open.
const CustodyLookback = time.Duration(MaxAbsoluteTimeoutS)*time.Second + time.Hour

// Sign-in methods of a custody record.
const (
	MethodPIN   = "pin"   // username and PIN
	MethodBadge = "badge" // badge and PIN
)

// Custody is one session of one user on one device.
type Custody struct {
	SessionID   string     `json:"session_id"`
	DeviceID    string     `json:"device_id"`
	UserID      string     `json:"user_id"`
	WarehouseID string     `json:"warehouse_id"`
	Method      string     `json:"method"` // MethodPIN or MethodBadge
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	// EndReason is the session's end reason (logout, evicted, replaced,
	// expired, idle, admin, ...); EndedBy the actor who forced it, when
	// a manager or a service key did.
	EndReason string `json:"end_reason,omitempty"`
	EndedBy   string `json:"ended_by,omitempty"`
}

// CustodyEnd is the end of one session, as heard.
type CustodyEnd struct {
	SessionID string
	At        time.Time
	Reason    string
	By        string // "" when not known (yet)
}

// CustodyCursor is where a page of custody records ends: records are
// listed newest first, by start time then session id.
type CustodyCursor struct {
	StartedAt time.Time
	SessionID string
}

// CustodyFilter narrows custody records, newest first.
type CustodyFilter struct {
	WarehouseIDs []string // nil: every warehouse
	DeviceID     string
	UserID       string
	Method       string
	// From and To keep records whose session overlapped [From, To):
	// began before To and had not ended by From. Zero: open.
	From, To time.Time
	// OpenAt keeps records whose session was open at that time (began
	// at or before it, not ended by then), looking back at most
	// CustodyLookback.
	OpenAt *time.Time
	// After is the cursor of the previous page's last record.
	After *CustodyCursor
	Limit int // 0: 100; at most 500
}

// CustodyCursorOf is the cursor after record c.
func CustodyCursorOf(c Custody) CustodyCursor {
	return CustodyCursor{StartedAt: c.StartedAt, SessionID: c.SessionID}
}

// String is the cursor as ParseCustodyCursor reads it: the start in
// Unix microseconds, a dot, the session id.
func (c CustodyCursor) String() string {
	return strconv.FormatInt(c.StartedAt.UnixMicro(), 10) + "." + c.SessionID
}

// ErrBadCursor: a cursor that CustodyCursor.String did not make.
var ErrBadCursor = fmt.Errorf("%w: malformed custody cursor", ErrInvalid)

// ParseCustodyCursor reads a cursor made by CustodyCursor.String.
func ParseCustodyCursor(s string) (CustodyCursor, error) {
	if len(s) > 200 {
		return CustodyCursor{}, ErrBadCursor
	}
	us, sid, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || n <= 0 || sid == "" || strings.IndexFunc(sid, func(c rune) bool {
		return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-')
	}) >= 0 {
		return CustodyCursor{}, ErrBadCursor
	}
	return CustodyCursor{StartedAt: time.UnixMicro(n).UTC(), SessionID: sid}, nil
}

// StartCustody records the start of a session now. A session recorded
// twice keeps its first record.
func (r *Registry) StartCustody(ctx context.Context, c Custody) error {
	if c.SessionID == "" || c.DeviceID == "" || c.UserID == "" || c.WarehouseID == "" {
		return fieldProblem("session_id", "required", "a custody record names its session, device, user and warehouse")
	}
	if c.Method == "" {
		c.Method = MethodPIN
	}
	if c.StartedAt.IsZero() {
		c.StartedAt = r.clock()
	}
	c.EndedAt, c.EndReason, c.EndedBy = nil, "", ""
	err := r.store.StartCustody(ctx, c)
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("start custody of %s: %w", c.SessionID, err)
	}
	return nil
}

// Custody lists custody records, newest first.
func (r *Registry) Custody(ctx context.Context, f CustodyFilter) ([]Custody, error) {
	cs, err := r.store.Custody(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list custody: %w", err)
	}
	return cs, nil
}

// EndCustody writes ends now (not through the batch of NoteCustodyEnd):
// for each session, what is not yet recorded of its end is filled in
// (so that the manager who forced an end is kept even when the gateway
// heard of it first). Sessions without a record are skipped.
func (r *Registry) EndCustody(ctx context.Context, ends ...CustodyEnd) error {
	if len(ends) == 0 {
		return nil
	}
	now := r.clock()
	for i := range ends {
		if ends[i].At.IsZero() {
			ends[i].At = now
		}
	}
	// In statements of at most custodyEndBatch rows: each statement has
	// the store's deadline (-store-timeout), and one UPDATE of a whole
	// warehouse's 6,000 sessions, waiting on the rows the instances'
	// custody flushers update at the same moment, outlived it and
	// opened the store's breaker (every call of the instance then
	// answered 503 for a moment).
	for len(ends) > 0 {
		n := min(len(ends), custodyEndBatch)
		if err := r.store.EndCustody(ctx, ends[:n]); err != nil {
			return fmt.Errorf("end custody of %d sessions: %w", n, err)
		}
		ends = ends[n:]
	}
	return nil
}

// custodyEndBatch is the most custody records one statement ends.
const custodyEndBatch = 500

// PurgeCustody removes the records older than CustodyRetention.
func (r *Registry) PurgeCustody(ctx context.Context) (int, error) {
	n, err := r.store.PurgeCustody(ctx, r.clock().Add(-CustodyRetention))
	if err != nil {
		return 0, fmt.Errorf("purge custody: %w", err)
	}
	return n, nil
}

// custodyMaxNotes bounds the ends held while the store is failing.
const custodyMaxNotes = 200_000

// custodyNotes holds session ends until they are flushed.
type custodyNotes struct {
	mu    sync.Mutex
	notes map[string]CustodyEnd
}

func (n *custodyNotes) put(e CustodyEnd) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.notes == nil {
		n.notes = map[string]CustodyEnd{}
	}
	old, ok := n.notes[e.SessionID]
	if !ok && len(n.notes) >= custodyMaxNotes {
		return
	}
	if ok {
		if e.By == "" {
			e.By = old.By
		}
		if old.At.Before(e.At) {
			e.At, e.Reason = old.At, old.Reason
		}
	}
	n.notes[e.SessionID] = e
}

func (n *custodyNotes) take() []CustodyEnd {
	n.mu.Lock()
	notes := n.notes
	n.notes = nil
	n.mu.Unlock()
	out := make([]CustodyEnd, 0, len(notes))
	for _, e := range notes {
		out = append(out, e)
	}
	return out
}

// NoteCustodyEnd notes that a session ended, without writing:
// RunCustodyFlusher (or FlushCustody) writes the notes in batches. It
// never blocks, so the fan-out's watcher can call it.
func (r *Registry) NoteCustodyEnd(e CustodyEnd) {
	if e.SessionID == "" {
		return
	}
	if e.At.IsZero() {
		e.At = r.clock()
	}
	r.custody.put(e)
}

// RunCustodyFlusher writes the ends noted by NoteCustodyEnd every
// interval until ctx ends, then once more, as RunSeenFlusher does.
func (r *Registry) RunCustodyFlusher(ctx context.Context, every time.Duration) error {
	return r.runFlusher(ctx, every, "custody", r.FlushCustody)
}

// FlushCustody writes the noted ends; those of a batch that fails are
// kept for the next flush.
func (r *Registry) FlushCustody(ctx context.Context) error {
	notes := r.custody.take()
	var firstErr error
	for i := 0; i < len(notes); i += seenBatch {
		batch := notes[i:min(i+seenBatch, len(notes))]
		if firstErr == nil {
			if err := r.store.EndCustody(ctx, batch); err != nil {
				firstErr = fmt.Errorf("flush the ends of %d sessions: %w", len(batch), err)
			} else {
				continue
			}
		}
		for _, e := range batch {
			r.custody.put(e)
		}
	}
	return firstErr
}
