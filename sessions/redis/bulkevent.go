package redis

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// The compact warehouse event. A KindWarehouseEnded event of 6,333
// commands was 1.5 MB of JSON (about 250 bytes per command, most of it
// field names, the warehouse, the reason and the time repeated), and
// every instance spent half of its fan-out watcher's CPU in
// encoding/json decoding it while its devices waited for their frames.
// What an instance needs of each command is its session, user and
// device: the command id follows from the session id (commandIDOf), and
// the warehouse, reason and time are the same for all of them. So the
// event goes out as
//
//	"FGB1" | str(warehouse) | str(reason) | uvarint(created µs) | uvarint(n)
//	       | n × (str(session id) | str(user id) | str(device id))
//
// where str is a uvarint length followed by the bytes, about 100 bytes
// per command; decoding slices the payload (no copy per field) and makes
// every command id in one buffer. A JSON event starts with '{', so the
// two cannot be confused; an instance of the previous version fails to
// parse the compact form and drops it with a warning (see doc.go).
//
// Publish uses the compact form for every KindWarehouseEnded event whose
// commands it can carry exactly (one warehouse, reason and time to the
// microsecond, no by, no marks, ids as the end script makes them), and
// JSON otherwise.

// bulkMagic starts a compact warehouse event.
const bulkMagic = "FGB1"

// maxBulkMicros bounds the time of a compact event (far beyond any
// clock), so that it always fits an int64 when read back.
const maxBulkMicros = 1 << 62

// errBulk says a compact warehouse event is malformed.
var errBulk = errors.New("malformed warehouse event")

// encodeEvent is the payload Publish sends for e.
func encodeEvent(e sessions.Event) ([]byte, error) {
	if b, ok := encodeBulk(e); ok {
		return b, nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}

// decodeEvent reads a payload Publish (of this version or the previous
// one) sent.
func decodeEvent(payload string) (sessions.Event, error) {
	if strings.HasPrefix(payload, bulkMagic) {
		return decodeBulk(payload)
	}
	var e sessions.Event
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return sessions.Event{}, err
	}
	return e, nil
}

// compactable reports whether every command of a warehouse event can be
// carried by the compact form and read back the same.
func compactable(e sessions.Event) bool {
	if e.Kind != sessions.KindWarehouseEnded || len(e.Commands) == 0 || e.Command != nil || e.Warning != nil ||
		e.DeviceID != "" || e.Origin != "" || e.Ref != "" || e.UserID != "" || e.ManagerID != "" {
		return false
	}
	first := e.Commands[0]
	if first.CreatedAt.IsZero() || first.CreatedAt.UnixMicro() < 0 || first.CreatedAt.UnixMicro() > maxBulkMicros ||
		!first.CreatedAt.Equal(redisval.FromMicros(first.CreatedAt.UnixMicro())) {
		return false
	}
	for i := range e.Commands {
		c := &e.Commands[i]
		if c.WarehouseID != e.WarehouseID || c.Reason != first.Reason || !c.CreatedAt.Equal(first.CreatedAt) ||
			c.By != nil || c.DeliveredAt != nil || c.AckedAt != nil ||
			c.SessionID == "" || c.DeviceID == "" || c.ID != commandIDOf(c.SessionID) {
			return false
		}
	}
	return true
}

// encodeBulk is the compact form of e; false when e is not a warehouse
// event it can carry exactly.
func encodeBulk(e sessions.Event) ([]byte, bool) {
	if !compactable(e) {
		return nil, false
	}
	first := e.Commands[0]
	size := len(bulkMagic) + 3*binary.MaxVarintLen64 + len(e.WarehouseID) + len(first.Reason)
	for i := range e.Commands {
		c := &e.Commands[i]
		size += 3*binary.MaxVarintLen64 + len(c.SessionID) + len(c.UserID) + len(c.DeviceID)
	}
	b := make([]byte, 0, size)
	b = append(b, bulkMagic...)
	b = appendStr(b, e.WarehouseID)
	b = appendStr(b, string(first.Reason))
	b = binary.AppendUvarint(b, uint64(first.CreatedAt.UnixMicro()))
	b = binary.AppendUvarint(b, uint64(len(e.Commands)))
	for i := range e.Commands {
		c := &e.Commands[i]
		b = appendStr(b, c.SessionID)
		b = appendStr(b, c.UserID)
		b = appendStr(b, c.DeviceID)
	}
	return b, true
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// bulkReader reads the fields of a compact event; err sticks at the
// first fault, so that a caller checks once.
type bulkReader struct {
	p   string
	err error
}

func (r *bulkReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	// binary.Uvarint reads a []byte; a varint is at most 10 bytes, so
	// only those are converted (no copy of the payload).
	var head [binary.MaxVarintLen64]byte
	n := copy(head[:], r.p)
	v, k := binary.Uvarint(head[:n])
	if k <= 0 {
		r.err = errBulk
		return 0
	}
	r.p = r.p[k:]
	return v
}

func (r *bulkReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.p)) {
		r.err = errBulk
		return ""
	}
	s := r.p[:n]
	r.p = r.p[n:]
	return s
}

// decodeBulk reads a compact warehouse event. Every field is a slice of
// payload; the command ids share one string. It refuses a truncated
// payload, one with bytes after the last command, a count its bytes
// cannot hold, a time out of range and a command without a session or
// a device.
func decodeBulk(payload string) (sessions.Event, error) {
	r := &bulkReader{p: strings.TrimPrefix(payload, bulkMagic)}
	if len(r.p) == len(payload) {
		return sessions.Event{}, errBulk
	}
	wh := r.str()
	reason := sessions.Reason(r.str())
	at := r.uvarint()
	n := r.uvarint()
	// Each command takes three bytes at least: a count beyond that is a
	// lie, refused before it sizes anything.
	if r.err != nil || at > maxBulkMicros || n == 0 || n > uint64(len(r.p))/3 {
		return sessions.Event{}, errBulk
	}
	created := redisval.FromMicros(int64(at))
	cmds := make([]sessions.Command, n)
	idLen := 0
	for i := range cmds {
		c := &cmds[i]
		c.SessionID, c.UserID, c.DeviceID = r.str(), r.str(), r.str()
		if r.err != nil || c.SessionID == "" || c.DeviceID == "" {
			return sessions.Event{}, errBulk
		}
		c.WarehouseID, c.Reason, c.CreatedAt = wh, reason, created
		idLen += len("cmd_") + len(strings.TrimPrefix(c.SessionID, "ses_"))
	}
	if len(r.p) != 0 {
		return sessions.Event{}, errBulk
	}
	// The command ids, built into one string and sliced: one allocation
	// for all of them instead of one each.
	var ids strings.Builder
	ids.Grow(idLen)
	for i := range cmds {
		ids.WriteString("cmd_")
		ids.WriteString(strings.TrimPrefix(cmds[i].SessionID, "ses_"))
	}
	all, off := ids.String(), 0
	for i := range cmds {
		k := len("cmd_") + len(strings.TrimPrefix(cmds[i].SessionID, "ses_"))
		cmds[i].ID = all[off : off+k]
		off += k
	}
	return sessions.Event{Kind: sessions.KindWarehouseEnded, WarehouseID: wh, Commands: cmds}, nil
}
