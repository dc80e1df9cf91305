package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

// TestCapRace: 50 concurrent logins of one user with cap 3, through 3
// Stores sharing one Redis and prefix (as 3 instances would), 100 rounds.
// Exactly 3 sessions survive every round, every other token fails
// Validate, and after EndUser no key of the user is left behind.
//
// "No key left behind" means: once the user's sessions have ended, the
// only keys under the prefix are the logout command records
// (Prefix{bucket}c:<command id>) and the devices' command queues
// (Prefix{d:<device>}q), which the forced-logout contract keeps until the
// device acknowledges or for 24 hours, and each of those carries a TTL.
// No session, token index, user set, device or warehouse index, deadline
// entry, outbox or journal entry remains.
func TestCapRace(t *testing.T) {
	c := testenv.Redis(t)
	ctx := context.Background()
	const (
		rounds  = 100
		logins  = 50
		userCap = 3
	)
	rounds_ := rounds
	if testing.Short() {
		rounds_ = 10
	}
	p := sessions.Policy{Cap: userCap, Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
	for round := range rounds_ {
		// A prefix per round keeps the key check of each round small.
		prefix := testenv.RedisPrefix(t, c)
		stores := make([]*sredis.Store, 3)
		for i := range stores {
			stores[i] = sredis.New(c, sredis.Options{Prefix: prefix})
		}
		user := fmt.Sprintf("u%d", round)
		tokens := make([]sessions.Token, logins)
		var wg sync.WaitGroup
		errs := make(chan error, logins)
		for i := range logins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cr, err := stores[i%len(stores)].Create(ctx, sessions.NewSession{
					UserID: user, Username: user, DeviceID: fmt.Sprintf("r%d-d%d", round, i), WarehouseID: "w1",
				}, p)
				if err != nil {
					errs <- fmt.Errorf("Create(login %d) = %v", i, err)
					return
				}
				tokens[i] = cr.Token
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}

		live, err := stores[round%3].ByUser(ctx, user)
		if err != nil {
			t.Fatalf("round %d: ByUser() = %v", round, err)
		}
		if len(live) != userCap {
			t.Fatalf("round %d: ByUser() has %d sessions; want %d", round, len(live), userCap)
		}
		valid := 0
		for i, tok := range tokens {
			_, err := stores[i%3].Validate(ctx, tok)
			switch {
			case err == nil:
				valid++
			case !errors.Is(err, sessions.ErrNotFound):
				t.Fatalf("round %d: Validate(login %d) = %v", round, i, err)
			}
		}
		if valid != userCap {
			t.Fatalf("round %d: %d tokens validate; want %d", round, valid, userCap)
		}

		cmds, err := stores[(round+1)%3].EndUser(ctx, user, sessions.ReasonAdmin)
		if err != nil {
			t.Fatalf("round %d: EndUser() = %v", round, err)
		}
		if len(cmds) != userCap {
			t.Errorf("round %d: EndUser() made %d commands; want %d", round, len(cmds), userCap)
		}
		for i, tok := range tokens {
			if _, err := stores[0].Validate(ctx, tok); !errors.Is(err, sessions.ErrNotFound) {
				t.Fatalf("round %d: Validate(login %d) after EndUser = %v; want ErrNotFound", round, i, err)
			}
		}
		checkOnlyCommandsLeft(t, prefix, round)
	}
}

// checkOnlyCommandsLeft fails on any key under prefix other than command
// records and device queues, and on any key without a TTL.
func checkOnlyCommandsLeft(t *testing.T, prefix string, round int) {
	t.Helper()
	c := testenv.Redis(t)
	keys := testenv.RedisKeys(t, c, prefix)
	ttls := make([]*goredis.DurationCmd, len(keys))
	if _, err := c.Pipelined(context.Background(), func(p goredis.Pipeliner) error {
		for i, k := range keys {
			ttls[i] = p.PTTL(context.Background(), k)
		}
		return nil
	}); err != nil {
		t.Fatalf("round %d: PTTL: %v", round, err)
	}
	for i, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		isCommand := strings.HasPrefix(rest, "{") && strings.Contains(rest, "}c:cmd_")
		isQueue := strings.HasPrefix(rest, "{d:") && strings.HasSuffix(rest, "}q")
		if !isCommand && !isQueue {
			t.Fatalf("round %d: key %q left behind after EndUser", round, k)
		}
		if ttl := ttls[i].Val(); ttl <= 0 {
			t.Fatalf("round %d: key %q has no TTL (%v)", round, k, ttl)
		}
	}
}
