package devices

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id parameters. They are stored with every hash,
// so they can be raised later: old hashes still verify and are rehashed
// on the next successful sign-in.
type HashParams struct {
	MemoryKiB uint32 // 19 MiB = 19456 by default
	Time      uint32 // passes, 2 by default
	Threads   uint8  // 1 by default
}

// DefaultHashParams are OWASP's argon2id minimum: 19 MiB, t=2, p=1.
func DefaultHashParams() HashParams { return HashParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1} }

// Hashes of PINs and passwords are argon2id over HMAC-SHA256(pepper,
// secret), encoded like the PHC string format with their parameters:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// salt (16 random bytes) and hash (32 bytes) in unpadded standard base64.
// The pepper is never stored with the hash, so a copy of the database
// alone does not allow an offline search, even of 4-digit PINs.
const (
	hashSaltLen = 16
	hashKeyLen  = 32
	// minPepper is 112 bits.
	minPepper = 14
)

// Limits on parameters read back from a stored hash, so that a damaged
// row cannot make a verification allocate gigabytes.
const (
	maxStoredMemoryKiB = 1 << 20 // 1 GiB
	maxStoredTime      = 64
)

var errBadHash = errors.New("malformed password hash")

// hasher computes and checks hashes. At most cap(sem) run at once, so
// that a burst of sign-ins cannot allocate MemoryKiB each without bound.
type hasher struct {
	pepper []byte
	params HashParams
	sem    chan struct{}
	// dummy is a hash of a random secret with the current parameters:
	// verifying against it costs what verifying a real hash costs.
	dummy string
}

func newHasher(pepper []byte, p HashParams, concurrency int) (*hasher, error) {
	if len(pepper) < minPepper {
		return nil, fmt.Errorf("pepper has %d bytes; at least %d are required", len(pepper), minPepper)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	h := &hasher{
		pepper: append([]byte(nil), pepper...),
		params: p,
		sem:    make(chan struct{}, concurrency),
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	dummy, err := h.hash(context.Background(), string(secret[:]))
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	h.dummy = dummy
	return h, nil
}

func (p HashParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxStoredTime:
		return fmt.Errorf("hash params: time %d is outside 1..%d", p.Time, maxStoredTime)
	case p.Threads < 1:
		return errors.New("hash params: threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxStoredMemoryKiB:
		return fmt.Errorf("hash params: memory %d KiB is outside %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxStoredMemoryKiB)
	}
	return nil
}

// acquire waits for a hashing slot or for ctx to end.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.sem }

// key is argon2id of the peppered secret.
func (h *hasher) key(secret string, salt []byte, p HashParams, n uint32) []byte {
	mac := hmac.New(sha256.New, h.pepper)
	mac.Write([]byte(secret))
	return argon2.IDKey(mac.Sum(nil), salt, p.Time, p.MemoryKiB, p.Threads, n)
}

// hash returns the encoded hash of secret with the current parameters.
func (h *hasher) hash(ctx context.Context, secret string) (string, error) {
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	k := h.key(secret, salt, h.params, hashKeyLen)
	h.release()
	return encodeHash(h.params, salt, k), nil
}

// verify reports whether secret matches encoded, and whether encoded
// should be replaced by a hash with the current parameters. A malformed
// encoded costs a dummy verification and returns errBadHash.
func (h *hasher) verify(ctx context.Context, encoded, secret string) (ok, rehash bool, err error) {
	p, salt, want, perr := decodeHash(encoded)
	if perr != nil {
		h.verifyDummy(ctx, secret)
		return false, false, perr
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := h.key(secret, salt, p, uint32(len(want)))
	h.release()
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params || len(salt) != hashSaltLen || len(want) != hashKeyLen, nil
}

// verifyDummy does the work of one verification and throws it away, so
// that an unknown account costs the same as a known one.
func (h *hasher) verifyDummy(ctx context.Context, secret string) {
	_, _, _ = h.verify(ctx, h.dummy, secret)
}

// needsRehash reports whether encoded was made with other parameters
// than the current ones (or cannot be read).
func (h *hasher) needsRehash(encoded string) bool {
	p, salt, k, err := decodeHash(encoded)
	return err != nil || p != h.params || len(salt) != hashSaltLen || len(k) != hashKeyLen
}

func encodeHash(p HashParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func decodeHash(s string) (p HashParams, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var m, t, th uint64
	for i, kv := range strings.Split(parts[3], ",") {
		name, val, ok := strings.Cut(kv, "=")
		want := [...]string{"m", "t", "p"}
		if !ok || i >= len(want) || name != want[i] {
			return p, nil, nil, errBadHash
		}
		n, perr := strconv.ParseUint(val, 10, 32)
		if perr != nil {
			return p, nil, nil, errBadHash
		}
		switch i {
		case 0:
			m = n
		case 1:
			t = n
		case 2:
			th = n
		}
	}
	if th > 255 {
		return p, nil, nil, errBadHash
	}
	p = HashParams{MemoryKiB: uint32(m), Time: uint32(t), Threads: uint8(th)}
	if p.validate() != nil {
		return p, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
