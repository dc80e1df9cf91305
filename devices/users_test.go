package devices

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestValidateUser checks ValidateUser against settings and a warehouse
// the caller read: it reads no store (the registry's store would panic)
// and computes no hash.
func TestValidateUser(t *testing.T) {
	now := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	r, err := NewRegistry(nilStore{}, Options{Pepper: []byte("pepper-one-0123456789"), Hash: testParams, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	org := DefaultSettings()
	six := 6
	wA := &Warehouse{ID: "wh_a"}
	wLong := &Warehouse{ID: "wh_long", Settings: SettingsOverride{PINMinLength: &six}}
	good := UserInput{Username: " Zoë ", FirstName: "Zoë", LastName: "B", WarehouseID: "wh_a", PIN: "4821", Language: "pt-br", EmployeeID: "E-1", PINChangeRequired: true}
	with := func(f func(*UserInput)) UserInput { in := good; f(&in); return in }

	tests := []struct {
		name   string
		in     UserInput
		wh     *Warehouse
		fields map[string]string // field -> code of a *ValidationError
		rule   string            // Rule of a *PolicyError
		bug    bool              // ErrInvalid
	}{
		{name: "valid", in: good, wh: wA},
		{name: "no warehouse", in: with(func(in *UserInput) { in.WarehouseID = " " }), fields: map[string]string{"warehouse_id": "required"}},
		{name: "unknown warehouse", in: with(func(in *UserInput) { in.WarehouseID = "wh_nope" }), fields: map[string]string{"warehouse_id": "unknown"}},
		{name: "weak pin only", in: with(func(in *UserInput) { in.PIN = "1234" }), wh: wA, rule: "sequence"},
		{name: "warehouse pin length", in: with(func(in *UserInput) { in.WarehouseID = "wh_long"; in.PIN = "48213" }), wh: wLong, rule: "too_short"},
		{name: "warehouse pin length met", in: with(func(in *UserInput) { in.WarehouseID = "wh_long"; in.PIN = "482137" }), wh: wLong},
		{name: "every problem", in: UserInput{Username: "a b", WarehouseID: "wh_nope", PIN: "12", Language: "not a tag!"},
			fields: map[string]string{"username": "", "first_name": "required", "last_name": "required", "warehouse_id": "unknown", "language": "invalid", "pin": "too_short"}},
		{name: "wrong warehouse given", in: good, wh: wLong, bug: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := r.ValidateUser(tt.in, org, tt.wh)
			var ve *ValidationError
			var pe *PolicyError
			switch {
			case tt.bug:
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("ValidateUser(%+v) = %v; want ErrInvalid", tt.in, err)
				}
			case tt.rule != "":
				if !errors.As(err, &pe) || pe.Rule != tt.rule {
					t.Errorf("ValidateUser(%+v) = %v; want a *PolicyError %s", tt.in, err, tt.rule)
				}
			case tt.fields != nil:
				if !errors.As(err, &ve) {
					t.Fatalf("ValidateUser(%+v) = %v; want a *ValidationError", tt.in, err)
				}
				got := map[string]string{}
				for _, f := range ve.Fields {
					got[f.Field] = f.Code
				}
				for field, code := range tt.fields {
					if c, ok := got[field]; !ok || (code != "" && c != code) {
						t.Errorf("ValidateUser field %s = %q (all %v); want %q", field, c, got, code)
					}
				}
				if len(got) != len(tt.fields) {
					t.Errorf("ValidateUser fields = %v; want exactly %v", got, tt.fields)
				}
			case err != nil:
				t.Fatalf("ValidateUser(%+v) = %v; want nil", tt.in, err)
			default:
				if u.PINHash != "" {
					t.Errorf("ValidateUser hashed the PIN: %q", u.PINHash)
				}
				if !strings.HasPrefix(u.ID, "usr_") || u.Status != UserActive || !u.CreatedAt.Equal(now) || !u.PINChangeRequired {
					t.Errorf("ValidateUser = %+v; want a new active user created now", u)
				}
				if tt.name == "valid" && (u.Username != "Zoë" || u.UsernameKey == "" || u.Language != "pt-BR" || u.WarehouseID != "wh_a" || u.EmployeeID != "E-1") {
					t.Errorf("ValidateUser = %+v; want trimmed name, a key, pt-BR, wh_a, E-1", u)
				}
			}
		})
	}
}

// TestHashUserPIN checks that the hash HashUserPIN sets verifies the PIN
// and that a cancelled context waiting for a slot is an error.
func TestHashUserPIN(t *testing.T) {
	r, err := NewRegistry(nilStore{}, Options{Pepper: []byte("pepper-one-0123456789"), Hash: testParams, HashConcurrency: 1})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	ctx := context.Background()
	u, err := r.ValidateUser(UserInput{Username: "kim", FirstName: "K", LastName: "L", WarehouseID: "wh_a", PIN: "5829"}, DefaultSettings(), &Warehouse{ID: "wh_a"})
	if err != nil {
		t.Fatalf("ValidateUser: %v", err)
	}
	if err := r.HashUserPIN(ctx, &u, "5829"); err != nil {
		t.Fatalf("HashUserPIN: %v", err)
	}
	if ok, _, err := r.hash.verify(ctx, u.PINHash, "5829"); !ok || err != nil {
		t.Errorf("verify(hash of 5829, 5829) = %v, %v; want true", ok, err)
	}
	if strings.Contains(u.PINHash, "5829") {
		t.Errorf("PINHash %q holds the PIN", u.PINHash)
	}
	// Hold the only slot: a cancelled caller gives up.
	if err := r.hash.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	defer r.hash.release()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	v := u
	if err := r.HashUserPIN(cctx, &v, "5829"); !errors.Is(err, context.Canceled) || v.PINHash != u.PINHash {
		t.Errorf("HashUserPIN(cancelled, no slot) = %v, hash changed %v; want context.Canceled, unchanged", err, v.PINHash != u.PINHash)
	}
}
