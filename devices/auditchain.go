package devices

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// The audit chain. Rows are appended as they always were, outside the
// chain, so that no login waits for it. A sealer (SealAudit, run by
// housekeeping.Keeper.Run on every instance) then chains them, oldest id
// first: each gets the next number of one sequence (Seq, from 1) and a
// hash, SHA-256 of the previous row's hash (32 zero bytes before the first) and the row's
// canonical bytes (ChainHash). The stores keep the chain's head (the
// last Seq and hash) in a row of their own and hold it while sealing,
// so sealers of several instances make one chain, and allow no change
// to a row but its sealing, once. VerifyAudit walks the chain and names
// the first row that was changed or removed.
//
// The hash is not keyed: someone who can write the tables can also
// rewrite the chain from the changed row on, head included, and a row
// can be changed before it is sealed (within a second or so). Against
// the first, an operator keeps the head VerifyAudit reports somewhere
// the database's users cannot write (docs/OPERATIONS.md), and compares.

// ChainLink is one position of the audit chain: a row's sequence number
// and hash, or the head's (the last row's; Seq 0 and a nil hash before
// the first row).
type ChainLink struct {
	Seq  int64
	Hash []byte
}

// ChainedEvent is an audit row with its place in the chain.
type ChainedEvent struct {
	Event
	ChainLink
}

// ChainHead is what a store reports of its chain: the head, and the
// rows not sealed yet.
type ChainHead struct {
	ChainLink
	Pending int64
}

const chainDomain = "floorgate audit chain v1\x00"

// ChainHash is the hash of the row ev at seq following the row whose
// hash is prev (nil or empty before the first row). The canonical bytes
// are a domain string, seq, and each field length-prefixed: id, the
// time in whole microseconds (what PostgreSQL keeps), actor, action,
// subject, warehouse id, device id, and the details as JSON (keys
// sorted; what both stores keep, so invalid UTF-8 reads back as it is
// hashed). Empty details and none are the same.
func ChainHash(prev []byte, seq int64, ev Event) []byte {
	h := sha256.New()
	var zero [sha256.Size]byte
	if len(prev) == 0 {
		prev = zero[:]
	}
	h.Write(prev)
	h.Write([]byte(chainDomain))
	var n [binary.MaxVarintLen64]byte
	put := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], uint64(seq))
	h.Write(num[:])
	put([]byte(ev.ID))
	binary.BigEndian.PutUint64(num[:], uint64(ev.At.UTC().Truncate(time.Microsecond).UnixMicro()))
	h.Write(num[:])
	for _, s := range []string{ev.Actor, ev.Action, ev.Subject, ev.WarehouseID, ev.DeviceID} {
		put([]byte(s))
	}
	put(detailsJSON(ev.Details))
	return h.Sum(nil)
}

// detailsJSON is the canonical JSON of details: what both stores keep
// and read back. Invalid UTF-8 is stored as U+FFFD (escaped by
// encoding/json on the way in, written as is on the way back), so such
// details are hashed as they read back.
func detailsJSON(details map[string]string) []byte {
	if len(details) == 0 {
		return nil
	}
	// A map of strings always marshals.
	b, _ := json.Marshal(details)
	for k, v := range details {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			var back map[string]string
			_ = json.Unmarshal(b, &back)
			b, _ = json.Marshal(back)
			break
		}
	}
	return b
}

// Chain numbers and hashes evs as the rows after head, skipping events
// without an id, and returns the new head. The stores' SealAudit calls
// it with the head they hold locked.
func Chain(head ChainLink, evs []Event) ([]ChainedEvent, ChainLink) {
	out := make([]ChainedEvent, 0, len(evs))
	for _, ev := range evs {
		if ev.ID == "" {
			continue
		}
		head = ChainLink{Seq: head.Seq + 1, Hash: ChainHash(head.Hash, head.Seq+1, ev)}
		out = append(out, ChainedEvent{Event: ev, ChainLink: head})
	}
	return out, head
}

// The reasons VerifyAudit gives for a break in the chain.
const (
	// AuditChanged: the row's content or hash is not what was written
	// (or, when only the hashes were rewritten, the row before it was
	// changed).
	AuditChanged = "changed"
	// AuditRemoved: the row with that sequence number is gone.
	AuditRemoved = "removed"
)

// AuditBreak is the first place where the chain does not hold.
type AuditBreak struct {
	Seq     int64  `json:"seq"`
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
}

// AuditVerification is what VerifyAudit found.
type AuditVerification struct {
	// Rows is the chained rows read.
	Rows int64 `json:"rows"`
	// HeadSeq and HeadHash are the head the store holds: keep them
	// elsewhere to notice a chain rewritten from some row on.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	// Pending counts the rows not sealed yet (written since the
	// sealer's last run): the chain does not cover them.
	Pending int64 `json:"pending"`
	// Break is the first row where the chain fails; nil: it holds.
	Break *AuditBreak `json:"break,omitempty"`
}

// auditVerifyPage is the rows VerifyAudit reads at a time.
const auditVerifyPage = 1000

// VerifyAudit walks the audit chain from its first row and reports the
// first row that was changed or removed. It seals nothing: call
// SealAudit first to cover every row written so far. An error is a
// store that did not answer.
func (r *Registry) VerifyAudit(ctx context.Context) (AuditVerification, error) {
	head, err := r.store.AuditHead(ctx)
	if err != nil {
		return AuditVerification{}, fmt.Errorf("audit head: %w", err)
	}
	v := AuditVerification{HeadSeq: head.Seq, HeadHash: hex.EncodeToString(head.Hash), Pending: head.Pending}
	brk := func(seq int64, id, reason, detail string) (AuditVerification, error) {
		v.Break = &AuditBreak{Seq: seq, EventID: id, Reason: reason, Detail: detail}
		return v, nil
	}
	var prev ChainLink
	for {
		rows, err := r.store.AuditChain(ctx, prev.Seq, auditVerifyPage)
		if err != nil {
			return AuditVerification{}, fmt.Errorf("audit chain after %d: %w", prev.Seq, err)
		}
		for _, row := range rows {
			want := prev.Seq + 1
			if row.Seq != want {
				return brk(want, "", AuditRemoved,
					fmt.Sprintf("row %d is missing: the chain goes from %d to %d (%s)", want, prev.Seq, row.Seq, row.ID))
			}
			h := ChainHash(prev.Hash, row.Seq, row.Event)
			if !bytes.Equal(h, row.Hash) {
				return brk(row.Seq, row.ID, AuditChanged,
					fmt.Sprintf("row %d (%s) does not hash to what was written after row %d", row.Seq, row.ID, prev.Seq))
			}
			prev = ChainLink{Seq: row.Seq, Hash: h}
			v.Rows++
		}
		if len(rows) < auditVerifyPage {
			break
		}
	}
	switch {
	case prev.Seq < head.Seq:
		return brk(prev.Seq+1, "", AuditRemoved,
			fmt.Sprintf("rows %d to %d are missing: the head says %d", prev.Seq+1, head.Seq, head.Seq))
	case prev.Seq > head.Seq || !bytes.Equal(prev.Hash, head.Hash):
		return brk(prev.Seq, "", AuditChanged,
			fmt.Sprintf("the head (%d, %x) is not the last row's (%d, %x)", head.Seq, head.Hash, prev.Seq, prev.Hash))
	}
	return v, nil
}

// The sealer's pace: a batch is at most sealBatch rows, a run at most
// sealRounds batches (the rest waits for the next run), and runs are
// AuditSealEvery apart by default (housekeeping.Keeper.Run runs them).
const (
	sealBatch      = 1000
	sealRounds     = 50
	AuditSealEvery = time.Second
)

// SealAudit chains the rows written since the last seal, in batches,
// and returns how many it chained. It stops after sealRounds batches;
// what is left waits for the next run.
func (r *Registry) SealAudit(ctx context.Context) (int, error) {
	total := 0
	for range sealRounds {
		n, err := r.store.SealAudit(ctx, sealBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("seal audit: %w", err)
		}
		if n < sealBatch {
			break
		}
	}
	return total, nil
}
