// Package id makes Floorgate's record ids: a prefix ("usr_", "ses_"),
// then 26 characters of Crockford base32 holding 48 bits of the time in
// milliseconds and 80 random bits, so that ids sort in creation order (to
// the millisecond; keyset pagination lists by id) and never collide.
//
// It imports the standard library only.
package id

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// New returns prefix and 26 characters that sort by now.
func New(prefix string, now time.Time) string { return NewSuffixed(prefix, now, "") }

// NewSuffixed is New with suffix appended (the Redis session store ends
// ids with the user's hash-tag bucket).
func NewSuffixed(prefix string, now time.Time, suffix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("id: crypto/rand failed: " + err.Error())
	}
	// 128 bits, base32 in 26 characters, most significant first.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	out := make([]byte, len(prefix)+26, len(prefix)+26+len(suffix))
	copy(out, prefix)
	for i := 25; i >= 0; i-- {
		out[len(prefix)+i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(append(out, suffix...))
}
