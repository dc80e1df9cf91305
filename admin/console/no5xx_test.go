package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestNoServerErrorFromInput drives every console route with junk path
// values, queries and forms, as each kind of manager and signed out: no
// answer is a 5xx (the stores answer, so a 5xx would be the console's
// fault).
func TestNoServerErrorFromInput(t *testing.T) {
	e := newEnv(t)
	u := e.mkUser("victim", "Vic", e.whA.ID)
	d := e.mkDevice("SER-J", e.whA.ID)
	s := e.mkSession(u, d)
	ids := []string{"usr_nope", u.ID, d.ID, s.Session.ID, e.whA.ID, strings.Repeat("z", 3000), "a%2Fb<script>"}
	queries := []url.Values{
		{},
		{"page": {"!!"}, "warehouse": {"../x"}, "hours": {"-1"}, "q": {"<b>"}, "status": {"zzz"}, "online": {"maybe"},
			"id": {"cmd_x", "", strings.Repeat("c", 500)}, "from": {"yesterday"}, "to": {"2025-13-45T99:99"}, "type": {"%"}},
		{"warehouse": {e.whA.ID}, "page": {"djE6"}, "hours": {"99999999999999999999"}, "username": {"a b"}, "first_name": {"!!"}, "next": {"//evil"}},
	}
	forms := []url.Values{
		{},
		{"name": {strings.Repeat("n", 5000)}, "code": {"<>"}, "pin": {"abc"}, "warehouse_id": {"wh_x"}, "session_cap": {"1e9"}, "cap_policy": {"x"},
			"role_user_manager": {"wh_x"}, "role_admin": {"1"}, "status": {"gone"}, "scope": {"x"}, "label": {strings.Repeat("l", 500)},
			"step": {"import"}, "mode": {"x"}, "csv": {"\"unterminated\n"}, "confirm": {"yes"}, "back": {"https://evil.example"},
			"pin_change_required": {"x"}, "email": {"@"}, "password": {"x"}, "password2": {"y"}, "min_app_version": {"v!"}},
		{"username": {"\x00"}, "first_name": {"\xff\xfe"}, "employee_id": {strings.Repeat("e", 100)}, "language": {"xx-invalid-tag-too-long-for-bcp47-really"}},
	}
	people := []*browser{e.signIn("admin@example.com"), e.signIn("um-a@example.com"), e.signIn("mm-b@example.com"), e.browser()}
	requests := 0
	for _, rt := range e.cons.routes() {
		if rt.Path == "/static/" || rt.Path == "/signout" || strings.HasSuffix(rt.Path, "/events") {
			continue
		}
		for pi, b := range people {
			// The admin gets every junk value; the others, who are
			// refused earlier, a few.
			some := ids
			qs, fs := queries, forms
			if pi > 0 {
				some, qs, fs = []string{u.ID, "x"}, queries[:2], forms[:2]
			}
			paths := []string{rt.Path}
			if strings.Contains(rt.Path, "{id}") {
				paths = paths[:0]
				for _, id := range some {
					paths = append(paths, strings.Replace(rt.Path, "{id}", url.PathEscape(id), 1))
				}
			}
			for _, p := range paths {
				p = strings.Replace(p, "{$}", "", 1)
				if rt.Method == "GET" {
					for _, q := range qs {
						requests++
						if got := b.get(p + "?" + q.Encode()); got.status >= 500 {
							t.Errorf("GET %s?%s = %d: %s", p, q.Encode(), got.status, pageText(got.body))
						}
					}
					continue
				}
				for _, f := range fs {
					requests++
					if got := b.post(p, f); got.status >= 500 {
						t.Errorf("%s %s %v = %d: %s", rt.Method, p, f, got.status, pageText(got.body))
					}
				}
			}
		}
	}
	// Bodies that are not forms at all.
	b := people[0]
	for _, ct := range []string{"multipart/form-data; boundary=x", "multipart/form-data", "application/json", "text/plain"} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/users/import", strings.NewReader("--x\r\nbroken"))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		requests++
		if got := b.send(req); got.status >= 500 {
			t.Errorf("POST /users/import as %s = %d: %s", ct, got.status, pageText(got.body))
		}
	}
	t.Logf("%d requests", requests)
}
