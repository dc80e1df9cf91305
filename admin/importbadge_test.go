package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
)

// TestImportBadges: the import's badge column on both backends. A dry
// run reports each row as the real run would (a bad badge, one in the
// file twice, one held by another user: row errors) and sets nothing;
// the real run (valid_only) creates the good rows with their badges,
// each audited as user.badge_set, and loses none of them for the bad
// ones; a badge login then works for a created user. The value appears
// in no report and no audit event.
func TestImportBadges(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		if _, _, err := e.reg.SetBadge(ctx, devices.ActorSystem, e.userA.ID, "HELD-BADGE-1"); err != nil {
			t.Fatal(err)
		}
		A := e.whA.ID
		body := "username,first_name,last_name,pin,warehouse_id,badge\n" +
			"ib1,I,One,5829," + A + ",IMPORT-BADGE-1\n" + // line 2: set
			"ib2,I,Two,5829," + A + ",\n" + // 3: no badge
			"ib3,I,Three,5829," + A + ",a b\n" + // 4: invalid
			"ib4,I,Four,5829," + A + ",IMPORT-BADGE-1\n" + // 5: the same as line 2
			"ib5,I,Five,5829," + A + ",HELD-BADGE-1\n" + // 6: held by alice
			"ib6,I,Six,5829," + A + ",\" IMPORT-BADGE-6 \"\n" // 7: set, trimmed
		want := map[int]string{2: "", 3: "", 4: ProblemInvalidBadge, 5: ProblemDuplicateBadge, 6: ProblemBadgeUnavailable, 7: ""}
		check := func(rep ImportReport, ok string) {
			t.Helper()
			if rep.Rows != 6 || rep.Errors != 3 || rep.Valid != 3 {
				t.Errorf("counts = %d rows, %d valid, %d errors; want 6, 3, 3", rep.Rows, rep.Valid, rep.Errors)
			}
			for _, row := range rep.Report {
				code := strings.Join(problemCodes(row), ",")
				switch {
				case want[row.Line] == "" && (row.Outcome != ok || code != ""):
					t.Errorf("line %d = %s %s; want %s", row.Line, row.Outcome, code, ok)
				case want[row.Line] != "" && (row.Outcome != OutcomeError || code != want[row.Line]):
					t.Errorf("line %d = %s %s; want error %s", row.Line, row.Outcome, code, want[row.Line])
				}
			}
		}
		r, rep := e.importCSV("um_a", "?dry_run=true&mode=valid_only", body)
		if r.status != 200 {
			t.Fatalf("dry run = %d %s", r.status, r.body)
		}
		check(rep, OutcomeWouldCreate)
		if strings.Contains(string(r.body), "IMPORT-BADGE") || strings.Contains(string(r.body), "HELD-BADGE") {
			t.Errorf("the dry run's report holds a badge value: %s", r.body)
		}
		if held, err := e.reg.BadgeHeld(ctx, "IMPORT-BADGE-1"); err != nil || held {
			t.Fatalf("after the dry run IMPORT-BADGE-1 held = %v, %v; want free", held, err)
		}

		r, rep = e.importCSV("um_a", "?mode=valid_only", body)
		if r.status != 200 {
			t.Fatalf("import = %d %s", r.status, r.body)
		}
		check(rep, OutcomeCreated)
		if rep.Created != 3 {
			t.Errorf("created = %d; want 3", rep.Created)
		}
		for _, c := range []struct{ badge, pin, username string }{
			{"IMPORT-BADGE-1", "5829", "ib1"}, {"IMPORT-BADGE-6", "5829", "ib6"}, {"HELD-BADGE-1", "4821", "alice"},
		} {
			u, err := e.reg.AuthenticateBadge(ctx, c.badge, c.pin)
			if err != nil || u.Username != c.username {
				t.Errorf("AuthenticateBadge(%s) = %q, %v; want %s", c.badge, u.Username, err, c.username)
			}
		}
		ib2, err := e.reg.UserByUsername(ctx, "ib2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Badge(ctx, ib2.ID); err == nil {
			t.Errorf("ib2 has a badge; its cell was empty")
		}
		for _, name := range []string{"ib3", "ib4", "ib5"} {
			if _, err := e.reg.UserByUsername(ctx, name); err == nil {
				t.Errorf("%s was created; its badge was refused", name)
			}
		}
		// The export says who has a badge, never its value; its
		// badge_set column imports as ignored.
		ex := string(e.expect(200, "um_a", "GET", "/users/export", nil).body)
		if !strings.HasSuffix(strings.SplitN(ex, "\n", 2)[0], ",badge_set") || strings.Contains(ex, "IMPORT-BADGE") {
			t.Errorf("export header or values wrong:\n%s", ex)
		}
		for _, line := range strings.Split(ex, "\n") {
			switch {
			case strings.Contains(line, ",ib1,") && !strings.HasSuffix(line, ",true"),
				strings.Contains(line, ",ib2,") && !strings.HasSuffix(line, ",false"):
				t.Errorf("export line %q: wrong badge_set", line)
			}
		}
		if r, _ := e.importCSV("um_a", "?dry_run=true", strings.Replace(ex, "badge_set", "badge_set,pin", 1)); r.status != 200 {
			t.Errorf("a dry run of the export (with a pin column) = %d %s; want its header read", r.status, r.body)
		}
		evs := e.events(devices.EventFilter{Action: "user.badge_set", Actor: devices.ManagerActor(e.managers["um_a"].ID)})
		if len(evs) != 2 {
			t.Errorf("user.badge_set by um_a = %d events; want 2", len(evs))
		}
		for _, ev := range e.events(devices.EventFilter{}) {
			for k, v := range ev.Details {
				if strings.Contains(v, "IMPORT-BADGE") {
					t.Errorf("event %s detail %s holds the badge value", ev.Action, k)
				}
			}
		}
	})
}

// racingStore gives the first badge of an import's one write to another
// user just before it: the badge taken between the check and the write.
type racingStore struct {
	devices.Store
	thief *string // user id, set once the env exists
}

func (s racingStore) AddBadges(ctx context.Context, bs []devices.Badge, fn func(devices.User) (devices.Event, error)) error {
	if len(bs) > 0 && *s.thief != "" {
		_, err := s.Store.SetBadge(ctx, devices.Badge{UserID: *s.thief, Key: bs[0].Key, SetAt: bs[0].SetAt, SetBy: "system"},
			func(u devices.User) (devices.Event, error) {
				return devices.Event{ID: "evt_race_" + u.ID, At: bs[0].SetAt, Actor: "system", Action: "user.badge_set", Subject: devices.UserActor(u.ID)}, nil
			})
		if err != nil {
			return err
		}
	}
	return s.Store.AddBadges(ctx, bs, fn)
}

// TestImportBadgeTakenMeanwhile: a badge taken by another user between
// the import's check and its write refuses the one write; the badges
// are then set one by one: the raced row is created without its badge
// (badge_not_set), the others get theirs.
func TestImportBadgeTakenMeanwhile(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		thief := new(string)
		open := b.open
		b.open = func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
			ds, ss, th := open(t, now)
			return racingStore{Store: ds, thief: thief}, ss, th
		}
		e := newEnv(t, b)
		*thief = e.userA.ID
		A := e.whA.ID
		r, rep := e.importCSV("admin", "", "username,first_name,last_name,pin,warehouse_id,badge\n"+
			"rc1,R,One,5829,"+A+",RACE-BADGE-1\nrc2,R,Two,5829,"+A+",RACE-BADGE-2\n")
		if r.status != 200 || rep.Created != 2 || len(rep.Report) != 2 {
			t.Fatalf("import = %d %+v; want both rows created", r.status, rep)
		}
		if row := rep.Report[0]; row.Outcome != OutcomeCreated || strings.Join(problemCodes(row), ",") != ProblemBadgeNotSet {
			t.Errorf("raced row = %+v; want created with badge_not_set", row)
		}
		if row := rep.Report[1]; row.Outcome != OutcomeCreated || len(row.Problems) != 0 {
			t.Errorf("other row = %+v; want created", row)
		}
		ctx := context.Background()
		if u, err := e.reg.AuthenticateBadge(ctx, "RACE-BADGE-1", "4821"); err != nil || u.ID != e.userA.ID {
			t.Errorf("RACE-BADGE-1 = %q, %v; want alice's (the race's winner)", u.ID, err)
		}
		if u, err := e.reg.AuthenticateBadge(ctx, "RACE-BADGE-2", "5829"); err != nil || u.Username != "rc2" {
			t.Errorf("RACE-BADGE-2 = %q, %v; want rc2's", u.Username, err)
		}
	})
}
