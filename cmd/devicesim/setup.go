package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
)

// Admin is a signed-in admin API session used to set up scenarios.
type Admin struct {
	c     *Client
	token string
}

func adminLogin(ctx context.Context, c *Client, email, password string) (*Admin, error) {
	res, err := c.admin(ctx, http.MethodPost, "/login", "", map[string]string{"email": email, "password": password})
	if err != nil {
		return nil, err
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := res.decode(http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	return &Admin{c: c, token: out.Token}, nil
}

// do calls the admin API and decodes a response of the wanted status.
func (a *Admin) do(ctx context.Context, method, path string, body any, want int, out any) error {
	res, err := a.c.admin(ctx, method, path, a.token, body)
	if err != nil {
		return err
	}
	if err := res.decode(want, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

type idOnly struct {
	ID string `json:"id"`
}

func (a *Admin) createWarehouse(ctx context.Context, name, code string) (string, error) {
	var w idOnly
	err := a.do(ctx, http.MethodPost, "/warehouses", map[string]any{"name": name, "code": code}, http.StatusCreated, &w)
	return w.ID, err
}

func (a *Admin) createManager(ctx context.Context, email, password string, roles []map[string]string) (string, error) {
	var m idOnly
	err := a.do(ctx, http.MethodPost, "/managers", map[string]any{
		"email": email, "first_name": "Sim", "last_name": "Manager", "password": password, "roles": roles,
	}, http.StatusCreated, &m)
	return m.ID, err
}

func (a *Admin) createUser(ctx context.Context, username, pin, warehouseID string) (string, error) {
	var u idOnly
	err := a.do(ctx, http.MethodPost, "/users", map[string]any{
		"username": username, "first_name": "Sim", "last_name": "Associate", "pin": pin,
		"warehouse_id": warehouseID, "pin_change_required": false,
	}, http.StatusCreated, &u)
	return u.ID, err
}

func (a *Admin) createServiceKey(ctx context.Context, name, scope string) (string, error) {
	var k struct {
		Key string `json:"key"`
	}
	err := a.do(ctx, http.MethodPost, "/service-keys", map[string]any{"name": name, "scope": scope}, http.StatusCreated, &k)
	return k.Key, err
}

// Command is GET /admin/v1/commands/{id}.
type Command struct {
	ID          string  `json:"command_id"`
	Status      string  `json:"status"`
	CreatedAt   string  `json:"created_at"`
	DeliveredAt *string `json:"delivered_at"`
	AckedAt     *string `json:"acked_at"`
}

func (a *Admin) command(ctx context.Context, id string) (Command, error) {
	var c Command
	err := a.do(ctx, http.MethodGet, "/commands/"+id, nil, http.StatusOK, &c)
	return c, err
}

// commandIDs is the part of every session-ending admin answer we read.
type commandIDs struct {
	CommandIDs []string `json:"command_ids"`
}

func randomSuffix() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b[i] = letters[n.Int64()]
	}
	return string(b)
}

// randomPIN returns a 6-digit PIN that the PIN policy accepts whatever
// the draw: its digits all differ (no repeat, mirror, doubling or
// repeated block), the first is 4 to 9 and the second 0 (no date reads
// it as a day or month, 0 is never the middle of a keypad line, and no
// step of 1 or 2 leads on from it), the third is 2 or more (not a month
// after a two-digit year). docs/REGISTRY.md lists the policy's rules;
// devices.TestSimulatorPINs tries every PIN of this shape.
func randomPIN() string {
	pick := func(from []byte) byte {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(from))))
		return from[n.Int64()]
	}
	p := []byte{pick([]byte("456789")), '0'}
	rest := []byte("23456789")
	for len(p) < 6 {
		var left []byte
		for _, d := range rest {
			if d != p[0] && !bytesContain(p, d) {
				left = append(left, d)
			}
		}
		p = append(p, pick(left))
	}
	return string(p)
}

func bytesContain(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
