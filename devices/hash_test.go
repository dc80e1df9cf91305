package devices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/internal/token"
)

var testParams = HashParams{MemoryKiB: 64, Time: 1, Threads: 1}

func newTestHasher(t *testing.T, pepper string, p HashParams) *hasher {
	t.Helper()
	h, err := newHasher([]byte(pepper), p, 2)
	if err != nil {
		t.Fatalf("newHasher() = %v", err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, "pepper-one-0123456789", testParams)
	enc, err := h.hash(ctx, "4821")
	if err != nil {
		t.Fatalf("hash() = %v", err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash() = %q; want the PHC form with its parameters", enc)
	}
	if strings.Contains(enc, "4821") {
		t.Errorf("hash() = %q; it holds the PIN", enc)
	}
	for _, tt := range []struct {
		secret string
		want   bool
	}{
		{"4821", true},
		{"4822", false},
		{"", false},
		{"48210", false},
	} {
		ok, rehash, err := h.verify(ctx, enc, tt.secret)
		if err != nil || ok != tt.want || rehash {
			t.Errorf("verify(%q) = %v, %v, %v; want %v, false, nil", tt.secret, ok, rehash, err, tt.want)
		}
	}
	again, _ := h.hash(ctx, "4821")
	if again == enc {
		t.Errorf("two hashes of one PIN are equal; want different salts")
	}
}

func TestHashOtherPepperNeverVerifies(t *testing.T) {
	ctx := context.Background()
	a := newTestHasher(t, "pepper-one-0123456789", testParams)
	b := newTestHasher(t, "pepper-two-0123456789", testParams)
	for _, pin := range []string{"4821", "0000", "806142937155", "Correct-Horse-42"} {
		enc, err := a.hash(ctx, pin)
		if err != nil {
			t.Fatalf("hash() = %v", err)
		}
		if ok, _, _ := a.verify(ctx, enc, pin); !ok {
			t.Errorf("verify(%q) with the same pepper = false; want true", pin)
		}
		if ok, _, _ := b.verify(ctx, enc, pin); ok {
			t.Errorf("verify(%q) with another pepper = true; want false", pin)
		}
	}
}

func TestHashRehash(t *testing.T) {
	ctx := context.Background()
	old := newTestHasher(t, "pepper-one-0123456789", testParams)
	raised := newTestHasher(t, "pepper-one-0123456789", HashParams{MemoryKiB: 128, Time: 2, Threads: 1})
	enc, _ := old.hash(ctx, "4821")
	ok, rehash, err := raised.verify(ctx, enc, "4821")
	if err != nil || !ok || !rehash {
		t.Fatalf("verify() of an old-parameter hash = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	if !raised.needsRehash(enc) || old.needsRehash(enc) {
		t.Errorf("needsRehash() = %v (raised), %v (old); want true, false", raised.needsRehash(enc), old.needsRehash(enc))
	}
	ok, rehash, _ = raised.verify(ctx, enc, "4822")
	if ok || rehash {
		t.Errorf("verify() of a wrong PIN = %v, %v; want false, false", ok, rehash)
	}
}

func TestHashMalformed(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, "pepper-one-0123456789", testParams)
	good, _ := h.hash(ctx, "4821")
	parts := strings.Split(good, "$")
	for _, enc := range []string{
		"",
		"4821",
		"$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$t=1,m=64,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		good + "$",
	} {
		ok, _, err := h.verify(ctx, enc, "4821")
		if ok || !errors.Is(err, errBadHash) {
			t.Errorf("verify(%q) = %v, %v; want false, errBadHash", enc, ok, err)
		}
	}
}

func TestHashWaitsForContext(t *testing.T) {
	h := newTestHasher(t, "pepper-one-0123456789", testParams)
	for range cap(h.sem) {
		h.sem <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.hash(ctx, "4821"); !errors.Is(err, context.Canceled) {
		t.Errorf("hash() with every slot taken and a cancelled context = %v; want context.Canceled", err)
	}
}

func TestNewHasherRefuses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		pepper string
		p      HashParams
	}{
		{"short pepper", "13-bytes-long", testParams},
		{"empty pepper", "", testParams},
		{"zero time", "pepper-one-0123456789", HashParams{MemoryKiB: 64, Time: 0, Threads: 1}},
		{"zero threads", "pepper-one-0123456789", HashParams{MemoryKiB: 64, Time: 1, Threads: 0}},
		{"tiny memory", "pepper-one-0123456789", HashParams{MemoryKiB: 4, Time: 1, Threads: 1}},
	} {
		if _, err := newHasher([]byte(tt.pepper), tt.p, 1); err == nil {
			t.Errorf("newHasher(%s) = nil error; want one", tt.name)
		}
	}
	if _, err := newHasher([]byte("14-bytes-long!"), testParams, 1); err != nil {
		t.Errorf("newHasher(14-byte pepper) = %v; want nil", err)
	}
}

// nilStore satisfies Store for constructor tests that never reach it.
type nilStore struct{ Store }

func TestNewRegistryPepper(t *testing.T) {
	if _, err := NewRegistry(nilStore{}, Options{Pepper: []byte("short"), Hash: testParams}); err == nil {
		t.Errorf("NewRegistry(5-byte pepper) = nil error; want one")
	}
	if _, err := NewRegistry(nilStore{}, Options{Hash: testParams}); err == nil {
		t.Errorf("NewRegistry(no pepper) = nil error; want one")
	}
	if _, err := NewRegistry(nilStore{}, Options{Pepper: []byte("pepper-one-0123456789"), Hash: testParams}); err != nil {
		t.Errorf("NewRegistry(21-byte pepper) = %v; want nil", err)
	}
	if _, err := NewRegistry(nilStore{}, Options{Pepper: []byte("pepper-one-0123456789"), Hash: testParams,
		Password: PasswordPolicy{MinLength: 4, MaxLength: 10}}); err == nil {
		t.Errorf("NewRegistry(password MinLength 4) = nil error; want one")
	}
}

func TestTokenRedacted(t *testing.T) {
	tok := token.New(DeviceTokenPrefix)
	secret := tok.Reveal()
	if !strings.HasPrefix(secret, "fgd_") || len(secret) < 4+43 {
		t.Fatalf("token.New() = %d characters; want fgd_ and 256 bits", len(secret))
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("issued", "token", tok)
	for _, s := range []string{
		tok.String(),
		fmt.Sprint(tok),
		fmt.Sprintf("%v %s %#v", tok, tok, tok),
		tok.LogValue().String(),
		logged.String(),
	} {
		if strings.Contains(s, secret) || !strings.Contains(s, "REDACTED") {
			t.Errorf("printed token = %q; want REDACTED and no secret", s)
		}
	}
	if tok.Hash() == secret || len(tok.Hash()) != 64 {
		t.Errorf("Hash() = %q; want 64 hex digits", tok.Hash())
	}
}
