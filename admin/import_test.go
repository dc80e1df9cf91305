package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
)

const importHeader = "username,first_name,last_name,pin,warehouse_id,employee_id\n"

func (e *env) importCSV(role, query, body string) (response, ImportReport) {
	e.t.Helper()
	r := e.call(role, "POST", "/users/import"+query, body)
	var rep ImportReport
	if r.status == 200 {
		r.decode(e.t, &rep)
	}
	return r, rep
}

func problemCodes(row ImportRow) []string {
	var cs []string
	for _, p := range row.Problems {
		cs = append(cs, p.Code)
	}
	return cs
}

// TestImportProblems has one file per problem code, each with a good row
// beside the bad one, checked in a dry run.
func TestImportProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	if _, err := e.reg.CreateUser(context.Background(), devices.ActorSystem, devices.UserInput{
		Username: "emma", FirstName: "E", LastName: "M", PIN: "5829", WarehouseID: e.whA.ID, EmployeeID: "EMP-9"}); err != nil {
		t.Fatal(err)
	}
	emma, err := e.reg.UserByUsername(context.Background(), "emma")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.reg.SetBadge(context.Background(), devices.ActorSystem, emma.ID, "EMMA-BADGE"); err != nil {
		t.Fatal(err)
	}
	A, B := e.whA.ID, e.whB.ID
	good := "okuser,Ok,User,5829," + A + ",\n"
	// With a badge column in place of employee_id: good's last cell is
	// an empty badge.
	const badgeHeader = "username,first_name,last_name,pin,warehouse_id,badge\n"
	tests := []struct {
		name, role, body string
		line             int
		code             string
	}{
		{"wrong column count", "admin", importHeader + "xx,X,Y,5829\n" + good, 2, ProblemWrongColumnCount},
		{"missing field", "admin", importHeader + "xx,,Y,5829," + A + ",\n" + good, 2, ProblemMissingField},
		{"missing warehouse", "admin", importHeader + "xx,X,Y,5829,,\n" + good, 2, ProblemMissingField},
		{"weak pin", "admin", importHeader + "xx,X,Y,1234," + A + ",\n" + good, 2, ProblemWeakPIN},
		{"invalid username", "admin", importHeader + "a b,X,Y,5829," + A + ",\n" + good, 2, ProblemInvalidUsername},
		{"duplicate username", "admin", importHeader + good + "OKUSER,X,Y,5829," + A + ",\n", 3, ProblemDuplicateUsername},
		{"duplicate employee id", "admin", importHeader + "u1,X,Y,5829," + A + ",E1\nu2,X,Y,5829," + A + ",E1\n" + good, 3, ProblemDuplicateEmployeeID},
		{"username taken", "admin", importHeader + "Emma,X,Y,5829," + A + ",\n" + good, 2, ProblemUsernameTaken},
		{"employee id taken", "admin", importHeader + "xx,X,Y,5829," + A + ",EMP-9\n" + good, 2, ProblemEmployeeIDTaken},
		{"unknown warehouse", "admin", importHeader + "xx,X,Y,5829,wh_nope,\n" + good, 2, ProblemUnknownWarehouse},
		{"warehouse outside the caller's roles", "um_a", importHeader + "xx,X,Y,5829," + B + ",\n" + good, 2, ProblemUnknownWarehouse},
		{"forbidden warehouse", "um_a_mm_b", importHeader + "xx,X,Y,5829," + B + ",\n" + good, 2, ProblemForbiddenWarehouse},
		{"malformed csv", "admin", importHeader + "xx,X\"Y,Z,5829," + A + ",\n" + good, 2, ProblemMalformedCSV},
		{"invalid utf-8", "admin", importHeader + "xx,J\xffo,Y,5829," + A + ",\n" + good, 2, ProblemInvalidUTF8},
		{"invalid badge", "admin", badgeHeader + "xx,X,Y,5829," + A + ",a b\n" + good, 2, ProblemInvalidBadge},
		{"short badge", "admin", badgeHeader + "xx,X,Y,5829," + A + ",abc\n" + good, 2, ProblemInvalidBadge},
		{"duplicate badge", "admin", badgeHeader + "u1,X,Y,5829," + A + ",B-0001\nu2,X,Y,5829," + A + ", B-0001 \n" + good, 3, ProblemDuplicateBadge},
		{"badge held by another user", "admin", badgeHeader + "xx,X,Y,5829," + A + ",EMMA-BADGE\n" + good, 2, ProblemBadgeUnavailable},
		{"badge held, asked by a user manager", "um_a", badgeHeader + "xx,X,Y,5829," + A + ",EMMA-BADGE\n" + good, 2, ProblemBadgeUnavailable},
		{"bad pin_change_required", "admin", "username,first_name,last_name,pin,warehouse_id,pin_change_required\nx,X,Y,5829," + A + ",maybe\n" + good[:len(good)-1] + "\n", 2, ProblemInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, rep := e.importCSV(tc.role, "?dry_run=true&mode=valid_only", tc.body)
			if r.status != 200 {
				t.Fatalf("import = %d %s; want 200", r.status, r.body)
			}
			var bad *ImportRow
			for i := range rep.Report {
				if rep.Report[i].Line == tc.line {
					bad = &rep.Report[i]
				}
			}
			if bad == nil || bad.Outcome != OutcomeError || !strings.Contains(strings.Join(problemCodes(*bad), ","), tc.code) {
				t.Fatalf("report = %+v; want line %d in error with %s", rep.Report, tc.line, tc.code)
			}
			if rep.Errors != 1 || rep.Valid != rep.Rows-1 || rep.Created != 0 {
				t.Errorf("counts = %d rows, %d valid, %d errors, %d created; want one error and nothing created", rep.Rows, rep.Valid, rep.Errors, rep.Created)
			}
			for _, row := range rep.Report {
				if row.Line != tc.line && row.Outcome != OutcomeWouldCreate {
					t.Errorf("row %+v; want would_create", row)
				}
			}
		})
	}
}

// TestImportInvalidUTF8: a cell that is not UTF-8 text refuses its row,
// naming the row's line and the column, and nothing of it is written.
func TestImportInvalidUTF8(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	A := e.whA.ID
	body := importHeader + "okuser,Ok,User,5829," + A + ",\n" + "badrow,Jo,Sm\xc3,5829," + A + ",E\xff\xfe\n"
	r, rep := e.importCSV("admin", "?mode=valid_only", body)
	if r.status != 200 || rep.Created != 1 || rep.Errors != 1 {
		t.Fatalf("import = %d %+v; want 200, one created, one error", r.status, rep)
	}
	var fields []string
	for _, row := range rep.Report {
		if row.Line == 3 {
			for _, p := range row.Problems {
				if p.Code == ProblemInvalidUTF8 {
					fields = append(fields, p.Field)
				}
			}
		}
	}
	if strings.Join(fields, ",") != "last_name,employee_id" {
		t.Errorf("line 3 invalid_utf8 problems name %v; want last_name and employee_id", fields)
	}
	if _, err := e.reg.UserByUsername(context.Background(), "badrow"); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("UserByUsername(badrow) = %v; want ErrNotFound (nothing written)", err)
	}
}

func TestImportBadHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	for _, body := range []string{
		"",
		"username,first_name,last_name,pin\nx,X,Y,5829\n",
		"username,first_name,last_name,pin,warehouse_id,shoe_size\n",
		"username,username,first_name,last_name,pin,warehouse_id\n",
	} {
		r, _ := e.importCSV("admin", "", body)
		if r.status != 400 || r.code() != "invalid_request" || !strings.Contains(string(r.body), ProblemBadHeader) {
			t.Errorf("import %q = %d %s; want 400 with bad_header", body, r.status, r.body)
		}
	}
}

// TestImportFormats: a BOM, CRLF, quoted fields with commas and newlines,
// empty lines, warehouse codes, and physical line numbers.
func TestImportFormats(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	body := "\ufeffUsername,First_Name,last_name,pin,warehouse_code,language\r\n" +
		"\r\n" +
		"ana,\"Ana, María\",\"Lopez Garcia\",5829,alp,es\r\n" +
		"dan,\"Dan\",\"two\nlines\",5829,alp,es\r\n" +
		"\r\n" +
		",,,,,\r\n" +
		"ben,Ben,Ode,5830,ALP,\r\n" +
		"cat,Cat,Ode,1111,ALP,\r\n"
	r, rep := e.importCSV("admin", "?mode=valid_only", body)
	if r.status != 200 {
		t.Fatalf("import = %d %s", r.status, r.body)
	}
	want := []struct {
		line     int
		username string
		outcome  string
	}{{3, "ana", OutcomeCreated}, {4, "dan", OutcomeError}, {8, "ben", OutcomeCreated}, {9, "cat", OutcomeError}}
	if len(rep.Report) != len(want) {
		t.Fatalf("report = %+v; want %d rows", rep.Report, len(want))
	}
	for i, w := range want {
		if g := rep.Report[i]; g.Line != w.line || g.Username != w.username || g.Outcome != w.outcome {
			t.Errorf("row %d = %+v; want line %d %s %s", i, g, w.line, w.username, w.outcome)
		}
	}
	u, err := e.reg.UserByUsername(context.Background(), "ana")
	if err != nil {
		t.Fatalf("UserByUsername(ana): %v", err)
	}
	if u.FirstName != "Ana, María" || u.LastName != "Lopez Garcia" || u.Language != "es" || u.WarehouseID != e.whA.ID || !u.PINChangeRequired {
		t.Errorf("ana = %+v; want the quoted names, es, warehouse A, pin change required", u)
	}
}

func TestImportTooManyRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	var b bytes.Buffer
	b.WriteString(importHeader)
	for i := range DefaultMaxImportRows + 1 {
		fmt.Fprintf(&b, "u%d,F,L,5829,%s,\n", i, e.whA.ID)
	}
	r := e.call("admin", "POST", "/users/import", b.Bytes())
	if r.status != 413 || r.code() != "too_large" || !strings.Contains(string(r.body), "more than 50000 data rows") {
		t.Errorf("import of 50,001 rows = %d %s; want 413 saying more than 50000 data rows", r.status, r.body)
	}
	if us, _ := e.reg.Users(context.Background(), devices.UserFilter{}); len(us) != 2 {
		t.Errorf("users after refused import = %d; want the 2 of the fixture", len(us))
	}
}

// TestImportAllOrNothing: one bad row in 10,000 and nothing is written.
func TestImportAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	var b bytes.Buffer
	b.WriteString(importHeader)
	for i := range 10000 {
		pin := "5829"
		if i == 7777 {
			pin = "12"
		}
		fmt.Fprintf(&b, "bulk%d,F,L,%s,%s,E%d\n", i, pin, e.whA.ID, i)
	}
	r, rep := e.importCSV("admin", "?mode=all_or_nothing", b.String())
	if r.status != 200 || rep.Errors != 1 || rep.Created != 0 || rep.Valid != 9999 {
		t.Fatalf("all_or_nothing = %d, %d errors, %d created; want 200, 1 error, 0 created", r.status, rep.Errors, rep.Created)
	}
	if row := rep.Report[7777]; row.Line != 7779 || row.Outcome != OutcomeError || problemCodes(row)[0] != ProblemWeakPIN {
		t.Errorf("bad row = %+v; want line 7779 weak_pin", row)
	}
	if row := rep.Report[0]; row.Outcome != OutcomeSkipped {
		t.Errorf("good row = %+v; want skipped", row)
	}
	if us, _ := e.reg.Users(context.Background(), devices.UserFilter{Q: "bulk"}); len(us) != 0 {
		t.Fatalf("all_or_nothing wrote %d users; want none", len(us))
	}
}

// TestExportNeverHasPINs exports users and looks for any PIN or hash.
func TestExportNeverHasPINs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.expect(201, "admin", "POST", "/users", CreateUserRequest{Username: "pat", FirstName: "=cmd", LastName: "P", PIN: "9164", WarehouseID: e.whA.ID})
	r := e.expect(200, "admin", "GET", "/users/export", nil)
	body := string(r.body)
	if !strings.HasPrefix(body, strings.Join(userCSVHeader, ",")+"\n") {
		t.Errorf("export header = %q", strings.SplitN(body, "\n", 2)[0])
	}
	for _, bad := range []string{"9164", "4821", "argon2", "pin_hash", ",pin,"} {
		if strings.Contains(body, bad) {
			t.Errorf("export contains %q:\n%s", bad, body)
		}
	}
	if !strings.Contains(body, ",'=cmd,") {
		t.Errorf("export does not defuse a formula: %s", body)
	}
	if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, "text/csv") {
		t.Errorf("Content-Type = %q; want text/csv", got)
	}
}

// FuzzParseImport feeds the CSV parser arbitrary files: it never panics,
// and the rows it reports are in order, after the header.
func FuzzParseImport(f *testing.F) {
	f.Add([]byte(importHeader + "xx,X,Y,5829,wh,\n"))
	f.Add([]byte("\ufeffusername,first_name,last_name,pin,warehouse_code\r\n\"a\nb\",\"c,d\",e,1234,ALP\r\n\r\n"))
	f.Add([]byte(importHeader + "xx,X\"Y,Z,5829,w,\n\"unterminated"))
	f.Add([]byte("username,username\n"))
	f.Add([]byte(""))
	f.Add([]byte("username,first_name,last_name,pin,warehouse_id,badge\nxx,X,Y,5829,wh, 04:A2:19 \nyy,X,Y,5829,wh,a b\nzz,X,Y,5829,wh,'=1+2\n"))
	f.Add([]byte("username,first_name,last_name,pin,warehouse_id,language,employee_id,pin_change_required\n" +
		"Zoë,\"a,b\",c,48213,wh,pt-br,E 1,yes\n\"x\ny\",\u2028,c,１２３４,wh,zz-!!,,no\n"))
	// ValidateUser reads no store: a registry over none checks every
	// row the parser lets through.
	reg, err := devices.NewRegistry(noStore{}, devices.Options{Pepper: []byte("a test pepper of enough bits"), Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		f.Fatalf("NewRegistry: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := parseImport(bytes.NewReader(data), 100)
		if err != nil {
			var he *problem.Error
			if !errors.As(err, &he) || he.Status >= 500 {
				t.Fatalf("parseImport refused the file with %v; want a 4xx", err)
			}
			return
		}
		for _, rec := range recs {
			// A badge the parser keeps is one the badge route takes, as
			// it would store it.
			if rec.badge != "" {
				if v, err := devices.ParseBadge(rec.badge); err != nil || v != rec.badge {
					t.Fatalf("line %d: badge %q kept; ParseBadge = %q, %v", rec.line, rec.badge, v, err)
				}
				if len(rec.problems) > 0 && slices.ContainsFunc(rec.problems, func(p ImportProblem) bool { return p.Field == "badge" }) {
					t.Fatalf("line %d: badge %q kept with a badge problem", rec.line, rec.badge)
				}
			}
			if len(rec.problems) > 0 {
				continue
			}
			var wh *devices.Warehouse
			if id := strings.TrimSpace(rec.in.WarehouseID); id != "" {
				wh = &devices.Warehouse{ID: id}
			}
			u, err := reg.ValidateUser(rec.in, devices.DefaultSettings(), wh)
			if err != nil {
				if perr := rowProblems(rec, err); perr != nil {
					t.Fatalf("line %d: ValidateUser = %v; want a row problem", rec.line, err)
				}
				if len(rec.problems) == 0 {
					t.Fatalf("line %d: ValidateUser = %v with no row problem", rec.line, err)
				}
				continue
			}
			rec.user = u
		}
		markDuplicates(recs)
		last := 1
		for _, rec := range recs {
			if rec.line <= last-0 && rec.line < 2 {
				t.Fatalf("row at line %d; want after the header", rec.line)
			}
			if rec.line < last {
				t.Fatalf("row at line %d after line %d", rec.line, last)
			}
			last = rec.line
		}
		if len(recs) > 100 {
			t.Fatalf("%d rows; want at most 100", len(recs))
		}
	})
}

// noStore is a devices.Store that no call may reach.
type noStore struct{ devices.Store }

// countingStore counts the reads an import should make once.
type countingStore struct {
	devices.Store
	settings, warehouses atomic.Int64
}

func (s *countingStore) Settings(ctx context.Context) (devices.Settings, error) {
	s.settings.Add(1)
	return s.Store.Settings(ctx)
}

func (s *countingStore) Warehouse(ctx context.Context, id string) (devices.Warehouse, error) {
	s.warehouses.Add(1)
	return s.Store.Warehouse(ctx, id)
}

func (s *countingStore) WarehouseByCode(ctx context.Context, code string) (devices.Warehouse, error) {
	s.warehouses.Add(1)
	return s.Store.WarehouseByCode(ctx, code)
}

// TestImportReadsOncePerImport: the settings are read once and each
// warehouse once, whatever the number of rows.
func TestImportReadsOncePerImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	cs := &countingStore{Store: e.store}
	api := e.apiOver(cs)
	e.srv.Config.Handler = api.Handler()
	for _, n := range []int{50, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e.t = t
			var b strings.Builder
			b.WriteString("username,first_name,last_name,pin,warehouse_id,warehouse_code\n")
			for i := range n {
				switch i % 3 {
				case 0:
					fmt.Fprintf(&b, "r%d_%d,F,L,5829,%s,\n", n, i, e.whA.ID)
				case 1:
					fmt.Fprintf(&b, "r%d_%d,F,L,5829,,brv\n", n, i)
				default:
					fmt.Fprintf(&b, "r%d_%d,F,L,5829,%s,\n", n, i, e.whB.ID)
				}
			}
			cs.settings.Store(0)
			cs.warehouses.Store(0)
			_, rep := e.importCSV("admin", "?mode=valid_only", b.String())
			if rep.Created != n {
				t.Fatalf("import of %d rows created %d: %+v", n, rep.Created, rep.Report[:min(3, len(rep.Report))])
			}
			if got := cs.settings.Load(); got != 1 {
				t.Errorf("import of %d rows read the settings %d times; want 1", n, got)
			}
			// A by id, B by code, B by id: three lookups at most.
			if got := cs.warehouses.Load(); got > 3 {
				t.Errorf("import of %d rows read warehouses %d times; want at most 3", n, got)
			}
		})
	}
}

// TestImportHashesOnlyWhatItWrites: a dry run and an all_or_nothing
// import with an error hash no PIN; a write hashes each written row once,
// and the hashes verify.
func TestImportHashesOnlyWhatItWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	var hashes atomic.Int64
	real := e.api.hashPIN
	e.api.hashPIN = func(ctx context.Context, u *devices.User, pin string) error {
		hashes.Add(1)
		return real(ctx, u, pin)
	}
	good := importHeader + "h1,F,L,5829," + e.whA.ID + ",\nh2,F,L,5830," + e.whA.ID + ",\nh3,F,L,5831," + e.whA.ID + ",\n"
	bad := good + "h4,F,L,12," + e.whA.ID + ",\n"
	tests := []struct {
		name, query, body string
		hashes, created   int
		outcome           string // of the first row
	}{
		{"dry run", "?dry_run=true", good, 0, 0, OutcomeWouldCreate},
		{"dry run valid_only with an error", "?dry_run=true&mode=valid_only", bad, 0, 0, OutcomeWouldCreate},
		{"all_or_nothing with an error", "?mode=all_or_nothing", bad, 0, 0, OutcomeSkipped},
		{"valid_only with an error", "?mode=valid_only", bad, 3, 3, OutcomeCreated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			hashes.Store(0)
			r, rep := e.importCSV("admin", tc.query, tc.body)
			if r.status != 200 || rep.Created != tc.created || rep.Report[0].Outcome != tc.outcome {
				t.Fatalf("import%s = %d, created %d, first row %+v; want 200, %d, %s", tc.query, r.status, rep.Created, rep.Report[0], tc.created, tc.outcome)
			}
			if got := hashes.Load(); got != int64(tc.hashes) {
				t.Errorf("import%s hashed %d PINs; want %d", tc.query, got, tc.hashes)
			}
		})
	}
	for user, pin := range map[string]string{"h1": "5829", "h3": "5831"} {
		if _, err := e.reg.AuthenticateUser(context.Background(), user, pin); err != nil {
			t.Errorf("AuthenticateUser(%q) after import = %v; want nil", user, err)
		}
	}
}

// TestImportHashesInParallel: the PINs of one import are hashed on
// several goroutines at once (ImportWorkers, GOMAXPROCS by default).
func TestImportHashesInParallel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.api.cfg.ImportWorkers = 4
	var mu sync.Mutex
	inFlight, most := 0, 0
	together := make(chan struct{})
	var once sync.Once
	real := e.api.hashPIN
	e.api.hashPIN = func(ctx context.Context, u *devices.User, pin string) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == 4 {
			once.Do(func() { close(together) })
		}
		mu.Unlock()
		// Wait for the others (bounded: a serial pool would end here).
		select {
		case <-together:
		case <-time.After(5 * time.Second):
		}
		err := real(ctx, u, pin)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return err
	}
	var b strings.Builder
	b.WriteString(importHeader)
	for i := range 40 {
		fmt.Fprintf(&b, "par%d,F,L,5829,%s,\n", i, e.whA.ID)
	}
	_, rep := e.importCSV("admin", "", b.String())
	if rep.Created != 40 {
		t.Fatalf("import created %d; want 40", rep.Created)
	}
	if most != 4 {
		t.Errorf("at most %d PINs hashed at once; want 4 (ImportWorkers)", most)
	}
}
