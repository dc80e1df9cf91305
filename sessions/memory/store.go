package memory

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/sessions"
)

// Options configure a Store. The zero value works.
type Options struct {
	// Now is the clock (default time.Now). Every expiry is decided
	// against it.
	Now func() time.Time
	// TouchEvery is the least time between two writes of a session's
	// LastActiveAt by Validate (default 5s).
	TouchEvery time.Duration
	// CommandRetention is how long a logout command stays readable by id
	// after it was created (default 2 × sessions.CommandTTL). It leaves
	// Pending after sessions.CommandTTL whatever this says.
	CommandRetention time.Duration
	// WatchBuffer is how many events a Watch may fall behind before
	// Publish drops events for it (default 4096).
	WatchBuffer int
	// Logger receives warnings about dropped events (default: discarded).
	Logger *slog.Logger
}

// Store is the in-process sessions.Store. Create one with New; it is safe
// for concurrent use.
type Store struct {
	now        func() time.Time
	touchEvery time.Duration
	retention  time.Duration
	log        *slog.Logger

	mu          sync.RWMutex
	byID        map[string]*entry
	byHash      map[string]*entry            // token hash -> session
	byUser      map[string]map[string]*entry // user id -> session id -> session
	byDevice    map[string]map[string]*entry
	byWarehouse map[string][]string // warehouse id -> sorted session ids
	due         deadlines
	commands    map[string]*sessions.Command
	queues      map[string][]string // device id -> command ids, oldest first
	cmdOrder    []string            // every kept command id, oldest first
	cmdHead     int                 // cmdOrder[:cmdHead] are purged

	presMu      sync.Mutex
	presence    map[string]presence
	presSweptAt time.Time
	fan         fanout
}

// entry is one live session.
type entry struct {
	s      sessions.Session
	hash   string
	warned bool
	end    *deadline // idle-or-absolute end (may lag a touch: see Sweep)
	warn   *deadline // absolute end minus WarningLead; nil once handled
}

var _ sessions.Store = (*Store)(nil)

// New returns an empty Store.
func New(opts Options) *Store {
	s := &Store{
		now:         opts.Now,
		touchEvery:  opts.TouchEvery,
		retention:   opts.CommandRetention,
		log:         opts.Logger,
		byID:        map[string]*entry{},
		byHash:      map[string]*entry{},
		byUser:      map[string]map[string]*entry{},
		byDevice:    map[string]map[string]*entry{},
		byWarehouse: map[string][]string{},
		commands:    map[string]*sessions.Command{},
		queues:      map[string][]string{},
		presence:    map[string]presence{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.touchEvery <= 0 {
		s.touchEvery = 5 * time.Second
	}
	if s.retention <= 0 {
		s.retention = 2 * sessions.CommandTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.fan.buffer = opts.WatchBuffer
	if s.fan.buffer <= 0 {
		s.fan.buffer = 4096
	}
	s.fan.log = s.log
	return s
}

// Ping always succeeds: the store is in this process.
func (s *Store) Ping(ctx context.Context) error { return live(ctx) }

// expired reports whether a session's idle or absolute end has come.
func expired(ss *sessions.Session, now time.Time) bool { return !now.Before(ss.EndsAt()) }

// expiryReason says which end came first.
func expiryReason(ss *sessions.Session) sessions.Reason {
	if !ss.ExpiresAt.After(ss.IdleExpiresAt()) {
		return sessions.ReasonExpired
	}
	return sessions.ReasonIdle
}

// insertLocked adds a new session to every index.
func (s *Store) insertLocked(e *entry) {
	id := e.s.ID
	s.byID[id] = e
	s.byHash[e.hash] = e
	addIndex(s.byUser, e.s.UserID, e)
	addIndex(s.byDevice, e.s.DeviceID, e)
	list := s.byWarehouse[e.s.WarehouseID]
	i := sort.SearchStrings(list, id)
	list = append(list, "")
	copy(list[i+1:], list[i:])
	list[i] = id
	s.byWarehouse[e.s.WarehouseID] = list
	e.end = s.due.add(e.s.EndsAt(), e, false)
	e.warn = s.due.add(e.s.ExpiresAt.Add(-sessions.WarningLead), e, true)
}

// endLocked removes a session from every index and queues its logout
// command. The caller publishes the command once it has unlocked.
func (s *Store) endLocked(e *entry, r sessions.Reason, by *sessions.By, now time.Time) sessions.Command {
	sid := e.s.ID
	delete(s.byID, sid)
	delete(s.byHash, e.hash)
	dropIndex(s.byUser, e.s.UserID, sid)
	dropIndex(s.byDevice, e.s.DeviceID, sid)
	list := s.byWarehouse[e.s.WarehouseID]
	if i := sort.SearchStrings(list, sid); i < len(list) && list[i] == sid {
		list = append(list[:i], list[i+1:]...)
	}
	if len(list) == 0 {
		delete(s.byWarehouse, e.s.WarehouseID)
	} else {
		s.byWarehouse[e.s.WarehouseID] = list
	}
	s.due.remove(e.end)
	s.due.remove(e.warn)
	e.end, e.warn = nil, nil

	c := &sessions.Command{
		ID:          id.New("cmd_", now),
		SessionID:   sid,
		UserID:      e.s.UserID,
		DeviceID:    e.s.DeviceID,
		WarehouseID: e.s.WarehouseID,
		Reason:      r,
		By:          by,
		CreatedAt:   now,
	}
	s.commands[c.ID] = c
	s.queues[c.DeviceID] = append(s.queues[c.DeviceID], c.ID)
	s.cmdOrder = append(s.cmdOrder, c.ID)
	return cloneCommand(c)
}

func addIndex(m map[string]map[string]*entry, key string, e *entry) {
	set := m[key]
	if set == nil {
		set = map[string]*entry{}
		m[key] = set
	}
	set[e.s.ID] = e
}

func dropIndex(m map[string]map[string]*entry, key, id string) {
	set := m[key]
	delete(set, id)
	if len(set) == 0 {
		delete(m, key)
	}
}

// byCreated sorts sessions oldest-created first, then by id.
func byCreated(a, b *entry) int {
	if c := a.s.CreatedAt.Compare(b.s.CreatedAt); c != 0 {
		return c
	}
	switch {
	case a.s.ID < b.s.ID:
		return -1
	case a.s.ID > b.s.ID:
		return 1
	}
	return 0
}

func cloneCommand(c *sessions.Command) sessions.Command {
	out := *c
	if c.By != nil {
		by := *c.By
		out.By = &by
	}
	if c.DeliveredAt != nil {
		t := *c.DeliveredAt
		out.DeliveredAt = &t
	}
	if c.AckedAt != nil {
		t := *c.AckedAt
		out.AckedAt = &t
	}
	return out
}

// publishEnded fans out one KindEnded event per command.
func (s *Store) publishEnded(cmds []sessions.Command) {
	for i := range cmds {
		c := cmds[i]
		s.fan.publish(sessions.Event{Kind: sessions.KindEnded, Command: &c})
	}
}

// live is nil while ctx runs, and ErrUnavailable once it has ended: like
// every error of a Store, one of the package's sentinels.
func live(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", sessions.ErrUnavailable, err)
	}
	return nil
}
