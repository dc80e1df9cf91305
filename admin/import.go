package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
)

// DefaultMaxImportRows is the most data rows one import may hold.
const DefaultMaxImportRows = 50000

// maxImportBytes bounds an import body: 50,000 rows of about 1 KiB.
const maxImportBytes = 64 << 20

// Import modes.
const (
	ModeAllOrNothing = "all_or_nothing" // any error writes nothing
	ModeValidOnly    = "valid_only"     // the valid rows are written
)

// Row outcomes.
const (
	OutcomeCreated     = "created"      // written
	OutcomeWouldCreate = "would_create" // valid; dry run
	OutcomeError       = "error"        // see problems
	OutcomeSkipped     = "skipped"      // valid, but all_or_nothing and another row has an error
)

// Problem codes of an import row.
const (
	ProblemBadHeader           = "bad_header"
	ProblemWrongColumnCount    = "wrong_column_count"
	ProblemMalformedCSV        = "malformed_csv"
	ProblemMissingField        = "missing_field"
	ProblemWeakPIN             = "weak_pin"
	ProblemDuplicateUsername   = "duplicate_username"
	ProblemDuplicateEmployeeID = "duplicate_employee_id"
	ProblemUsernameTaken       = "username_taken"    // held by a user the caller manages (named in the message)
	ProblemEmployeeIDTaken     = "employee_id_taken" // the same for an employee id
	// ProblemUsernameUnavailable and ProblemEmployeeIDUnavailable are
	// the one answer for a value the caller may not use for any reason
	// they may not see (held in a warehouse beyond their roles).
	ProblemUsernameUnavailable   = "username_unavailable"
	ProblemEmployeeIDUnavailable = "employee_id_unavailable"
	ProblemUnknownWarehouse      = "unknown_warehouse"
	ProblemForbiddenWarehouse    = "forbidden_warehouse"
	ProblemInvalidUsername       = "invalid_username"
	ProblemInvalidValue          = "invalid_value"
	ProblemInvalidUTF8           = "invalid_utf8" // a cell that is not valid UTF-8 text
	ProblemInvalidBadge          = "invalid_badge"
	ProblemDuplicateBadge        = "duplicate_badge"
	// ProblemBadgeUnavailable is a badge another user holds: the row
	// names no holder, as PUT /users/{id}/badge names none.
	ProblemBadgeUnavailable = "badge_unavailable"
	// ProblemBadgeNotSet is a created row whose badge was taken between
	// the check and the write: the user exists without it.
	ProblemBadgeNotSet = "badge_not_set"
)

// ImportProblem is one thing wrong with a row.
type ImportProblem struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ImportRow reports one data row: line is the physical line of the file
// where the record starts (1 is the header).
type ImportRow struct {
	Line     int             `json:"line"`
	Username string          `json:"username"`
	Outcome  string          `json:"outcome"`
	Problems []ImportProblem `json:"problems"`
}

// ImportReport answers an import: counts and one entry per data row.
type ImportReport struct {
	DryRun  bool        `json:"dry_run"`
	Mode    string      `json:"mode"`
	Rows    int         `json:"rows"`    // data rows read (empty lines are not rows)
	Valid   int         `json:"valid"`   // rows without a problem
	Errors  int         `json:"errors"`  // rows with a problem
	Created int         `json:"created"` // users written (0 on a dry run)
	Report  []ImportRow `json:"report"`
}

// Columns of the import header. username, first_name, last_name, pin and
// one of warehouse_id or warehouse_code are required.
var (
	importRequired = []string{"username", "first_name", "last_name", "pin"}
	importOptional = []string{"warehouse_id", "warehouse_code", "employee_id", "language", "pin_change_required", "badge"}
	// importIgnored are the export's columns that an import reads past.
	importIgnored = []string{"id", "status", "created_at", "updated_at", "deleted_at", "badge_set"}
)

// importRecord is one parsed data row.
type importRecord struct {
	line          int
	in            devices.UserInput
	warehouseCode string
	wh            *devices.Warehouse // resolved, when the caller may use it
	badge         string             // the badge value (ParseBadge's form); "" for none
	late          []ImportProblem    // problems of a row already written (its badge)
	problems      []ImportProblem
	user          devices.User // validated (hashed before it is written)
}

func (rec *importRecord) add(code, field, msg string) {
	rec.problems = append(rec.problems, ImportProblem{Code: code, Field: field, Message: msg})
}

// parseImport reads a CSV import: UTF-8 with or without a BOM, CRLF or
// LF, RFC 4180 quoting, empty lines (and rows of empty fields) skipped.
// It checks the header and each row's shape; it returns a *problem.Error for
// a file refused as a whole (bad header, more than maxRows data rows).
func parseImport(body io.Reader, maxRows int) ([]*importRecord, error) {
	br := bufio.NewReader(body)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, headerError("the file is empty: the first row must be the header")
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, headerError(fmt.Sprintf("the header row is not valid CSV: %v", pe.Err))
		}
		return nil, fmt.Errorf("read import header: %w", err)
	}
	col, err := importColumns(header)
	if err != nil {
		return nil, err
	}
	var recs []*importRecord
	for rows := 0; ; {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			rows++
			if rows > maxRows {
				return nil, tooManyRows(maxRows)
			}
			rec := &importRecord{line: pe.StartLine}
			rec.add(ProblemMalformedCSV, "", fmt.Sprintf("not valid CSV: %v", pe.Err))
			recs = append(recs, rec)
			continue
		case err != nil:
			return nil, fmt.Errorf("read import: %w", err)
		}
		if blank(fields) {
			continue
		}
		rows++
		if rows > maxRows {
			return nil, tooManyRows(maxRows)
		}
		line, _ := cr.FieldPos(0)
		recs = append(recs, parseRow(line, fields, header, col))
	}
	return recs, nil
}

func blank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func headerError(msg string) error {
	return &problem.Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Detail: msg,
		Fields: []FieldError{{Field: "header", Code: ProblemBadHeader, Message: msg}},
		Extra:  map[string]any{"rows": []ImportRow{{Line: 1, Outcome: OutcomeError, Problems: []ImportProblem{{Code: ProblemBadHeader, Message: msg}}}}}}
}

func tooManyRows(max int) error {
	msg := fmt.Sprintf("the file has more than %d data rows: split it into files of at most %d rows; nothing was written", max, max)
	return &problem.Error{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Detail: msg,
		Fields: []FieldError{{Field: "body", Code: "too_many_rows", Message: msg}}}
}

// importColumns maps column names to their index, refusing unknown,
// repeated and missing columns.
func importColumns(header []string) (map[string]int, error) {
	known := map[string]bool{}
	for _, c := range importRequired {
		known[c] = true
	}
	for _, c := range importOptional {
		known[c] = true
	}
	ignored := map[string]bool{}
	for _, c := range importIgnored {
		ignored[c] = true
	}
	col := map[string]int{}
	var problems []string
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case ignored[name]:
		case !known[name]:
			problems = append(problems, fmt.Sprintf("unknown column %q", h))
		case col[name] != 0:
			problems = append(problems, fmt.Sprintf("column %q appears twice", name))
		default:
			col[name] = i + 1 // 0 means absent
		}
	}
	for _, c := range importRequired {
		if col[c] == 0 {
			problems = append(problems, fmt.Sprintf("missing column %q", c))
		}
	}
	if col["warehouse_id"] == 0 && col["warehouse_code"] == 0 {
		problems = append(problems, `missing column "warehouse_id" (or "warehouse_code")`)
	}
	if len(problems) > 0 {
		return nil, headerError("bad header: " + strings.Join(problems, "; ") +
			"; expected username,first_name,last_name,pin,warehouse_id (or warehouse_code) and optionally employee_id,language,pin_change_required,badge")
	}
	return col, nil
}

// parseRow turns one record into an importRecord with its shape problems.
func parseRow(line int, fields, header []string, col map[string]int) *importRecord {
	rec := &importRecord{line: line, in: devices.UserInput{PINChangeRequired: true}}
	width := len(header)
	// A cell the export quoted against formulas (csvCell) reads as it
	// was before.
	get := func(name string) string {
		i := col[name]
		if i == 0 || i > len(fields) {
			return ""
		}
		return strings.TrimSpace(csvUnquote(strings.TrimSpace(fields[i-1])))
	}
	rec.in.Username = get("username")
	if len(fields) != width {
		rec.add(ProblemWrongColumnCount, "", fmt.Sprintf("the row has %d fields; the header has %d", len(fields), width))
		return rec
	}
	// A cell that is not UTF-8 text refuses the row, naming its column:
	// nothing of it reaches the registry.
	for i, f := range fields {
		if !utf8.ValidString(f) {
			name := strings.ToLower(strings.TrimSpace(header[i]))
			rec.add(ProblemInvalidUTF8, name, fmt.Sprintf("column %d (%s) is not valid UTF-8 text", i+1, name))
		}
	}
	if len(rec.problems) > 0 {
		rec.in.Username = ""
		return rec
	}
	rec.in.FirstName = get("first_name")
	rec.in.LastName = get("last_name")
	rec.in.PIN = get("pin")
	rec.in.WarehouseID = get("warehouse_id")
	rec.warehouseCode = get("warehouse_code")
	rec.in.EmployeeID = get("employee_id")
	rec.in.Language = get("language")
	for _, c := range importRequired {
		if get(c) == "" {
			rec.add(ProblemMissingField, c, c+" is empty")
		}
	}
	if rec.in.WarehouseID == "" && rec.warehouseCode == "" {
		field := "warehouse_id"
		if col["warehouse_id"] == 0 {
			field = "warehouse_code"
		}
		rec.add(ProblemMissingField, field, field+" is empty")
	}
	if s := get("pin_change_required"); s != "" {
		b, err := parseYesNo(s)
		if err != nil {
			rec.add(ProblemInvalidValue, "pin_change_required", "pin_change_required must be true or false")
		}
		rec.in.PINChangeRequired = b
	}
	// The badge cell: empty for none; otherwise a value as the badge
	// route takes it. A bad one is this row's problem only.
	if s := get("badge"); s != "" {
		v, err := devices.ParseBadge(s)
		var ve *devices.ValidationError
		switch {
		case errors.As(err, &ve) && len(ve.Fields) > 0:
			rec.add(ProblemInvalidBadge, "badge", ve.Fields[0].Message)
		case err != nil:
			rec.add(ProblemInvalidBadge, "badge", "badge is not a badge value")
		default:
			rec.badge = v
		}
	}
	return rec
}

func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "y":
		return true, nil
	case "no", "n":
		return false, nil
	}
	return strconv.ParseBool(s)
}

// importUsers serves POST /admin/v1/users/import.
func (a *API) importUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	dry, err := queryBool(r, "dry_run")
	if err != nil {
		return err
	}
	mode := q.Get("mode")
	switch mode {
	case "":
		mode = ModeAllOrNothing
	case ModeAllOrNothing, ModeValidOnly:
	default:
		return invalid("mode", "enum", "mode must be all_or_nothing or valid_only")
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if ct != "" && !strings.HasPrefix(ct, "text/csv") && !strings.HasPrefix(ct, "application/csv") && !strings.HasPrefix(ct, "text/plain") {
		return invalid("Content-Type", "unsupported", "the body must be sent as text/csv")
	}
	p := principalFrom(r.Context())
	if !p.admin && len(p.userWH) == 0 {
		a.denied(r, "users:import", "", http.StatusForbidden)
		return errForbidden
	}
	recs, err := parseImport(http.MaxBytesReader(w, r.Body, maxImportBytes), a.cfg.MaxImportRows)
	if err != nil {
		return err
	}
	rep := ImportReport{DryRun: dry != nil && *dry, Mode: mode, Rows: len(recs), Report: make([]ImportRow, 0, len(recs))}
	ctx := r.Context()
	// The settings and the warehouses are read once for the whole file.
	org, err := a.reg.Settings(ctx)
	if err != nil {
		return fmt.Errorf("import: settings: %w", err)
	}
	if err := a.resolveWarehouses(r, recs); err != nil {
		return err
	}
	if err := a.validateRows(ctx, recs, org); err != nil {
		return err
	}
	markDuplicates(recs)
	var valid []*importRecord
	for _, rec := range recs {
		if len(rec.problems) == 0 {
			valid = append(valid, rec)
			rep.Valid++
		} else {
			rep.Errors++
		}
	}
	// PINs are hashed only when the rows are written: a dry run, or an
	// all_or_nothing import with an error, costs no hash at all.
	write := !rep.DryRun && len(valid) > 0 && (mode == ModeValidOnly || rep.Errors == 0)
	if write {
		users, err := a.hashRows(ctx, valid)
		if err != nil {
			return err
		}
		if err := a.reg.CreateUsers(ctx, p.actor, users); err != nil {
			if errors.Is(err, devices.ErrExists) {
				return conflict("a username or employee id was taken while the import ran; nothing was written: run it again")
			}
			return fmt.Errorf("import users: %w", err)
		}
		rep.Created = len(users)
		a.setImportBadges(ctx, p.actor, valid)
	}
	for _, rec := range recs {
		row := ImportRow{Line: rec.line, Username: rec.in.Username, Problems: append(rec.problems, rec.late...)}
		switch {
		case len(rec.problems) > 0:
			row.Outcome = OutcomeError
		case write:
			row.Outcome = OutcomeCreated
		case mode == ModeAllOrNothing && rep.Errors > 0:
			row.Outcome = OutcomeSkipped
		default:
			row.Outcome = OutcomeWouldCreate
		}
		if row.Problems == nil {
			row.Problems = []ImportProblem{}
		}
		rep.Report = append(rep.Report, row)
	}
	// A dry run is recorded too, with how many values it found
	// unavailable: a manager probing names in bulk leaves a trace.
	action, details := "users.import", map[string]string{"mode": mode, "rows": strconv.Itoa(rep.Rows), "errors": strconv.Itoa(rep.Errors), "created": strconv.Itoa(rep.Created)}
	if rep.DryRun {
		action = "users.import_dry_run"
		details["unavailable"] = strconv.Itoa(countProblems(recs, ProblemUsernameUnavailable, ProblemEmployeeIDUnavailable, ProblemBadgeUnavailable))
		delete(details, "created")
	}
	a.record(ctx, devices.Event{Actor: p.actor, Action: action, Subject: "users", Details: details})
	return writeJSON(w, http.StatusOK, rep)
}

// resolveWarehouses fills in each row's warehouse id from its id or code
// and checks the caller's right to it: a warehouse outside the caller's
// roles reads as unknown, one they see without user_manager as forbidden.
func (a *API) resolveWarehouses(r *http.Request, recs []*importRecord) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	byID, byCode := map[string]*devices.Warehouse{}, map[string]*devices.Warehouse{}
	forbidden := 0
	for _, rec := range recs {
		if len(rec.problems) > 0 && rec.in.WarehouseID == "" && rec.warehouseCode == "" {
			continue
		}
		var wh *devices.Warehouse
		var key string
		switch {
		case rec.in.WarehouseID != "":
			key = rec.in.WarehouseID
			var seen bool
			if wh, seen = byID[key]; !seen {
				w, err := a.reg.Warehouse(ctx, key)
				switch {
				case err == nil:
					wh = &w
				case !errors.Is(err, devices.ErrNotFound):
					return fmt.Errorf("import: warehouse %s: %w", key, err)
				}
				byID[key] = wh
			}
		case rec.warehouseCode != "":
			key = strings.ToUpper(rec.warehouseCode)
			var seen bool
			if wh, seen = byCode[key]; !seen {
				w, err := a.reg.WarehouseByCode(ctx, key)
				switch {
				case err == nil:
					wh = &w
				case !errors.Is(err, devices.ErrNotFound):
					return fmt.Errorf("import: warehouse code %s: %w", key, err)
				}
				byCode[key] = wh
			}
		default:
			continue
		}
		field := "warehouse_id"
		if rec.in.WarehouseID == "" {
			field = "warehouse_code"
		}
		switch {
		case wh == nil || !p.visible(wh.ID):
			rec.add(ProblemUnknownWarehouse, field, fmt.Sprintf("no warehouse %q", key))
		case !p.can(capUsers, wh.ID):
			rec.add(ProblemForbiddenWarehouse, field, "you do not manage the users of this warehouse")
			forbidden++
		default:
			rec.in.WarehouseID = wh.ID
			rec.wh = wh
		}
	}
	if forbidden > 0 {
		a.denied(r, "users:import", "", http.StatusForbidden)
	}
	return nil
}

// validateRows checks the rows that have no problem yet against the
// settings and warehouses read once for the import (no store read, no
// hash per row), then against the usernames and employee ids in use,
// looked up for the valid rows together (takenBy). A store failure stops
// the import.
func (a *API) validateRows(ctx context.Context, recs []*importRecord, org devices.Settings) error {
	n := 0
	for _, rec := range recs {
		if len(rec.problems) > 0 {
			continue
		}
		u, err := a.reg.ValidateUser(rec.in, org, rec.wh)
		if err != nil {
			if err := rowProblems(rec, err); err != nil {
				return err
			}
			continue
		}
		rec.user = u
		n++
	}
	if n == 0 {
		return nil
	}
	taken, err := a.takenBy(ctx, recs)
	if err != nil {
		return err
	}
	p := principalFrom(ctx)
	for _, rec := range recs {
		if len(rec.problems) > 0 {
			continue
		}
		checkTaken(p, rec, taken)
		if rec.badge != "" {
			held, err := a.reg.BadgeHeld(ctx, rec.badge)
			if err != nil {
				return fmt.Errorf("import line %d: %w", rec.line, err)
			}
			if held {
				rec.add(ProblemBadgeUnavailable, "badge", "this badge is held by another user: remove it from its holder first, or give another")
			}
		}
	}
	return nil
}

// setImportBadges gives the created users of recs their badges, each
// audited (user.badge_set) as the badge route does: in one write, or,
// when that is refused (a badge taken since the check), one by one. The
// users are new: no badge is replaced and no session ends. A badge
// taken since the check, or a store that does not answer, leaves its
// user without it, said in the row (badge_not_set): the users are
// created either way.
func (a *API) setImportBadges(ctx context.Context, actor string, recs []*importRecord) {
	var nbs []devices.NewBadge
	for _, rec := range recs {
		if rec.badge != "" {
			nbs = append(nbs, devices.NewBadge{UserID: rec.user.ID, Badge: rec.badge})
		}
	}
	if len(nbs) == 0 {
		return
	}
	err := a.reg.AddBadges(ctx, actor, nbs)
	if err == nil {
		return
	}
	a.log.WarnContext(ctx, "import: badges in one write refused; one by one", "err", err)
	for _, rec := range recs {
		if rec.badge == "" {
			continue
		}
		_, _, err := a.reg.SetBadge(ctx, actor, rec.user.ID, rec.badge)
		switch {
		case err == nil:
		case errors.Is(err, devices.ErrExists) || errors.Is(err, devices.ErrInvalid) || errors.Is(err, devices.ErrNotFound):
			rec.late = append(rec.late, ImportProblem{Code: ProblemBadgeNotSet, Field: "badge",
				Message: "the user was created without the badge: another user took it meanwhile; give another on the user's page"})
		default:
			a.log.ErrorContext(ctx, "import: set badge", "user_id", rec.user.ID, "err", err)
			rec.late = append(rec.late, ImportProblem{Code: ProblemBadgeNotSet, Field: "badge",
				Message: "the user was created without the badge: the registry did not answer; set it on the user's page"})
		}
	}
}

// rowProblems turns ValidateUser's refusal into the row's problems; any
// other error is returned.
func rowProblems(rec *importRecord, err error) error {
	var ve *devices.ValidationError
	var pe *devices.PolicyError
	switch {
	case errors.As(err, &pe):
		rec.add(ProblemWeakPIN, "pin", pe.Reason)
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			rec.add(problemCode(f), f.Field, f.Message)
		}
	case errors.Is(err, devices.ErrInvalid):
		rec.add(ProblemInvalidValue, "", "invalid row")
	default:
		return fmt.Errorf("import line %d: %w", rec.line, err)
	}
	return nil
}

// hashRows hashes the PINs of the rows to write on ImportWorkers
// goroutines (GOMAXPROCS by default; the registry's hashing pool bounds
// them too) and returns the users in file order.
func (a *API) hashRows(ctx context.Context, recs []*importRecord) ([]devices.User, error) {
	workers := a.cfg.ImportWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(recs))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan *importRecord)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rec := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if err := a.hashPIN(ctx, &rec.user, rec.in.PIN); err != nil {
					cancel(fmt.Errorf("import line %d: %w", rec.line, err))
				}
			}
		}()
	}
feed:
	for _, rec := range recs {
		select {
		case jobs <- rec:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	users := make([]devices.User, len(recs))
	for i, rec := range recs {
		users[i] = rec.user
	}
	return users, nil
}

// takenSet holds the username keys and employee ids of an import's rows
// that are in use, each with the user holding it.
type takenSet struct {
	usernames, employeeIDs map[string]devices.User
}

// takenBy looks up the holders of the username keys and employee ids of
// the rows without a problem, deleted users included (they keep their
// name for the restore window), by index: what it reads follows the
// rows of the file, never the users of the registry. (It once read
// every user for a file over 200 rows, which made devicesim setup's
// import of 50,000 users in blocks of 1,000 quadratic: docs/BENCHMARKS.md,
// Side findings.)
func (a *API) takenBy(ctx context.Context, recs []*importRecord) (*takenSet, error) {
	var keys, emps []string
	for _, rec := range recs {
		if len(rec.problems) > 0 {
			continue
		}
		keys = append(keys, rec.user.UsernameKey)
		if rec.user.EmployeeID != "" {
			emps = append(emps, rec.user.EmployeeID)
		}
	}
	holders, err := a.reg.UsersHolding(ctx, keys, emps)
	if err != nil {
		return nil, fmt.Errorf("import: read users in use: %w", err)
	}
	ts := &takenSet{usernames: map[string]devices.User{}, employeeIDs: map[string]devices.User{}}
	for _, u := range holders {
		ts.usernames[u.UsernameKey] = u
		if u.EmployeeID != "" {
			ts.employeeIDs[u.EmployeeID] = u
		}
	}
	return ts, nil
}

// checkTaken flags a validated row whose username or employee id is in
// use (taken). What the row is told depends on the caller's scope, never
// on where the holder is beyond it (takenProblem).
func checkTaken(p *principal, rec *importRecord, taken *takenSet) {
	u := rec.user
	if h, ok := taken.usernames[u.UsernameKey]; ok {
		rec.problems = append(rec.problems, takenProblem(p, "username", h))
	}
	if h, ok := taken.employeeIDs[u.EmployeeID]; ok && u.EmployeeID != "" {
		rec.problems = append(rec.problems, takenProblem(p, "employee_id", h))
	}
}

// takenProblem is what an import row is told about a username or an
// employee id that holder has. A holder the caller may manage (an
// admin: any) is named, with its warehouse and whether it is deleted,
// so that the caller can restore or rename it. Any other holder, in
// another warehouse, active or suspended or deleted and keeping its
// name for the restore window, is answered with one fixed problem,
// the same for every cause the caller may not see: the row says the
// value cannot be used and nothing else, so a dry run tells a user
// manager nothing about the users of the warehouses beyond their roles
// (usernames are unique across the organisation, so that the value is
// unavailable is all any create would tell them too).
func takenProblem(p *principal, field string, holder devices.User) ImportProblem {
	what := "username"
	if field == "employee_id" {
		what = "employee id"
	}
	if !p.can(capUsers, holder.WarehouseID) {
		code := ProblemUsernameUnavailable
		if field == "employee_id" {
			code = ProblemEmployeeIDUnavailable
		}
		return ImportProblem{Code: code, Field: field, Message: "this " + what + " cannot be used: choose another"}
	}
	code := ProblemUsernameTaken
	if field == "employee_id" {
		code = ProblemEmployeeIDTaken
	}
	msg := fmt.Sprintf("user %s (%s) of warehouse %s has this %s", holder.ID, holder.Username, holder.WarehouseID, what)
	if holder.Status == devices.UserDeleted {
		msg += "; the user is deleted and keeps it for 30 days: restore the user, or choose another"
	}
	return ImportProblem{Code: code, Field: field, Message: msg}
}

// countProblems counts the problems with one of codes across recs.
func countProblems(recs []*importRecord, codes ...string) int {
	n := 0
	for _, rec := range recs {
		for _, pr := range rec.problems {
			if slices.Contains(codes, pr.Code) {
				n++
			}
		}
	}
	return n
}

// problemCode maps a registry field error to an import problem code.
func problemCode(f devices.FieldError) string {
	switch {
	case f.Code == "required":
		return ProblemMissingField
	case f.Field == "username" && (f.Code == "taken" || f.Code == "exists"):
		return ProblemUsernameTaken
	case f.Field == "username":
		return ProblemInvalidUsername
	case f.Field == "pin":
		return ProblemWeakPIN
	case f.Field == "warehouse_id":
		return ProblemUnknownWarehouse
	case f.Field == "employee_id" && (f.Code == "taken" || f.Code == "exists"):
		return ProblemEmployeeIDTaken
	}
	return ProblemInvalidValue
}

// markDuplicates flags the second and later rows of a username, an
// employee id or a badge within the file.
func markDuplicates(recs []*importRecord) {
	users, emps, badges := map[string]int{}, map[string]int{}, map[string]int{}
	for _, rec := range recs {
		if rec.badge != "" {
			if first, ok := badges[rec.badge]; ok {
				rec.add(ProblemDuplicateBadge, "badge", fmt.Sprintf("the same badge as line %d", first))
			} else {
				badges[rec.badge] = rec.line
			}
		}
		if rec.user.UsernameKey == "" {
			continue
		}
		if first, ok := users[rec.user.UsernameKey]; ok {
			rec.add(ProblemDuplicateUsername, "username", fmt.Sprintf("the same username as line %d", first))
		} else {
			users[rec.user.UsernameKey] = rec.line
		}
		if e := rec.user.EmployeeID; e != "" {
			if first, ok := emps[e]; ok {
				rec.add(ProblemDuplicateEmployeeID, "employee_id", fmt.Sprintf("the same employee id as line %d", first))
			} else {
				emps[e] = rec.line
			}
		}
	}
}
