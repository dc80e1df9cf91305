package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// gatedSessions holds a login's Create until the admin call it races
// has returned, when gate is set: the worst order, in which the admin
// call found no session to end.
type gatedSessions struct {
	sessions.Store
	gate    chan struct{}
	created *atomic.Bool  // the login reached Create (its PIN was right)
	reached chan struct{} // when not nil, closed when the login reaches Create
}

func (g gatedSessions) Create(ctx context.Context, n sessions.NewSession, p sessions.Policy) (sessions.Created, error) {
	g.created.Store(true)
	if g.reached != nil {
		close(g.reached)
	}
	if g.gate != nil {
		<-g.gate
	}
	return g.Store.Create(ctx, n, p)
}

// TestRevocationRacesLogin: a login past its PIN check races an admin
// call that revokes the device, suspends the user or resets the PIN.
// Once both have returned, no session of that device or user is live,
// whatever the order: in every other round the login's session is only
// created after the admin call returned (it found nothing to end), in
// the others the two run freely. 100 rounds of revoke, 20 of each of the
// others. Not parallel: its few hundred logins would crowd the hashing
// slots of the tests that run beside it.
func TestRevocationRacesLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		set, err := e.reg.EffectiveSettings(ctx, e.whA.ID)
		if err != nil {
			t.Fatalf("EffectiveSettings: %v", err)
		}
		kinds := []struct {
			name   string
			rounds int
			call   func(u devices.User, d devices.Device)
			reason sessions.Reason
		}{
			{"revoke", 100, func(_ devices.User, d devices.Device) {
				e.expect(200, "admin", "POST", "/devices/"+d.ID+"/revoke", nil)
			}, sessions.ReasonDeviceRevoked},
			{"suspend", 20, func(u devices.User, _ devices.Device) {
				e.expect(200, "admin", "POST", "/users/"+u.ID+"/suspend", nil)
			}, sessions.ReasonUserSuspended},
			{"reset-pin", 20, func(u devices.User, _ devices.Device) {
				e.expect(200, "admin", "POST", "/users/"+u.ID+"/reset-pin", map[string]any{"pin": "7396"})
			}, sessions.ReasonPINReset},
		}
		for _, k := range kinds {
			late := 0
			for round := range k.rounds {
				u := e.mkUser(fmt.Sprintf("%s%d", k.name, round), e.whA.ID)
				d := e.mkDevice(fmt.Sprintf("SER-%s-%d", k.name, round), e.whA.ID)
				g := gatedSessions{Store: e.sess, created: new(atomic.Bool)}
				if round%2 == 0 {
					g.gate = make(chan struct{})
				}
				p, err := signin.New(signin.Config{Registry: e.reg, Sessions: g, Throttle: e.throttle, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatalf("signin.New: %v", err)
				}
				var (
					wg   sync.WaitGroup
					res  signin.LoginResult
					lerr error
				)
				wg.Go(func() {
					res, lerr = p.Login(ctx, signin.Login{Device: d, Settings: set, Username: u.Username, PIN: "4821"})
				})
				k.call(u, d)
				if g.gate != nil {
					close(g.gate)
				}
				wg.Wait()
				if lerr != nil && g.created.Load() {
					late++
				}
				if lerr == nil {
					if _, err := e.sess.Validate(ctx, res.Created.Token); !errors.Is(err, sessions.ErrNotFound) {
						t.Errorf("%s round %d: the login's session validates after the %s (%v); want it ended", k.name, round, k.name, err)
					}
				}
				byDevice, err := e.sess.ByDevice(ctx, d.ID)
				if err != nil {
					t.Fatalf("ByDevice: %v", err)
				}
				byUser, err := e.sess.ByUser(ctx, u.ID)
				if err != nil {
					t.Fatalf("ByUser: %v", err)
				}
				if n := len(byDevice) + len(byUser); n > 0 {
					t.Errorf("%s round %d: %d sessions live after both returned; want none", k.name, round, n)
				}
				if round%2 == 0 && lerr == nil {
					t.Errorf("%s round %d: a login whose session came after the %s succeeded; want it refused", k.name, round, k.name)
				}
				if round%2 == 0 && g.created.Load() {
					// The refused login's session left its logout, with
					// the reason of what it raced.
					cmds, err := e.sess.Pending(ctx, d.ID)
					if err != nil || len(cmds) == 0 || cmds[len(cmds)-1].Reason != k.reason {
						t.Errorf("%s round %d: pending = %+v, %v; want a %s logout", k.name, round, cmds, err, k.reason)
					}
				}
			}
			t.Logf("%s: %d of %d logins refused after their session was created (then ended)", k.name, late, k.rounds)
		}
	})
}

// TestBadgeChangeRacesLogin: a badge login past its PIN check races the
// replacement or removal of its badge. Once both have returned, no
// session of that user is live, whatever the order: in every other
// round the login's session is only created after the badge change
// returned (it found no badge session to end, and the login's custody
// record did not exist yet), in the others the two run freely. Before
// the re-check compared the user's count of badge changes, each gated
// round left its session live. 60 rounds of replace, 20 of remove.
func TestBadgeChangeRacesLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		set, err := e.reg.EffectiveSettings(ctx, e.whA.ID)
		if err != nil {
			t.Fatalf("EffectiveSettings: %v", err)
		}
		kinds := []struct {
			name   string
			rounds int
			call   func(u devices.User, round int)
		}{
			{"replace", 60, func(u devices.User, round int) {
				e.expect(200, "admin", "PUT", "/users/"+u.ID+"/badge", SetBadgeRequest{Badge: fmt.Sprintf("NEW-%d", round)})
			}},
			{"remove", 20, func(u devices.User, _ int) {
				e.expect(200, "admin", "DELETE", "/users/"+u.ID+"/badge", nil)
			}},
		}
		for _, k := range kinds {
			late := 0
			for round := range k.rounds {
				u := e.mkUser(fmt.Sprintf("b%s%d", k.name, round), e.whA.ID)
				d := e.mkDevice(fmt.Sprintf("SER-B%s-%d", k.name, round), e.whA.ID)
				badge := fmt.Sprintf("OLD-%s-%d", k.name, round)
				e.expect(200, "admin", "PUT", "/users/"+u.ID+"/badge", SetBadgeRequest{Badge: badge})
				g := gatedSessions{Store: e.sess, created: new(atomic.Bool)}
				if round%2 == 0 {
					g.gate, g.reached = make(chan struct{}), make(chan struct{})
				}
				p, err := signin.New(signin.Config{Registry: e.reg, Sessions: g, Throttle: e.throttle, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatalf("signin.New: %v", err)
				}
				var (
					wg   sync.WaitGroup
					res  signin.LoginResult
					lerr error
					done = make(chan struct{})
				)
				wg.Go(func() {
					defer close(done)
					res, lerr = p.Login(ctx, signin.Login{Device: d, Settings: set, Badge: badge, PIN: "4821"})
				})
				if g.gate != nil {
					// The worst order: the login is past its PIN check
					// (at Create) before the badge changes.
					select {
					case <-g.reached:
					case <-done:
						t.Fatalf("%s round %d: the badge login ended before its session (%v)", k.name, round, lerr)
					}
				}
				k.call(u, round)
				if g.gate != nil {
					close(g.gate)
				}
				wg.Wait()
				if lerr != nil && g.created.Load() {
					late++
				}
				if lerr == nil {
					if _, err := e.sess.Validate(ctx, res.Created.Token); !errors.Is(err, sessions.ErrNotFound) {
						t.Errorf("%s round %d: the badge login's session validates after the %s (%v); want it ended", k.name, round, k.name, err)
					}
				}
				byUser, err := e.sess.ByUser(ctx, u.ID)
				if err != nil {
					t.Fatalf("ByUser: %v", err)
				}
				if len(byUser) > 0 {
					t.Errorf("%s round %d: %d sessions live after both returned; want none", k.name, round, len(byUser))
				}
				if round%2 == 0 {
					if lerr == nil {
						t.Errorf("%s round %d: a badge login whose session came after the %s succeeded; want it refused", k.name, round, k.name)
					} else if !errors.Is(lerr, devices.ErrInvalidCredentials) {
						t.Errorf("%s round %d: login = %v; want invalid credentials, as a badge nobody holds", k.name, round, lerr)
					}
				}
			}
			t.Logf("%s: %d of %d badge logins refused after their session was created (then ended)", k.name, late, k.rounds)
		}
	})
}
