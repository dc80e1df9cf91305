package console

import (
	"html"
	"net/http"
	"strings"
	"testing"
)

// TestListPageLinks: the audit and custody pages keep their filters in
// their first-page and export links, and a filter that is not a time is
// a 400 on the page.
func TestListPageLinks(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("admin@example.com")
	for _, tt := range []struct{ page, filter string }{
		{"/audit", "actor=system"},
		{"/custody", "warehouse=" + e.whA.ID},
	} {
		p := b.get(tt.page + "?" + tt.filter)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s?%s = %d", tt.page, tt.filter, p.status)
		}
		body := html.UnescapeString(p.body)
		for _, link := range []string{`href="` + tt.page + "?" + tt.filter + `"`, `href="` + tt.page + "/export?" + tt.filter + `"`} {
			if !strings.Contains(body, link) {
				t.Errorf("GET %s?%s has no link %s", tt.page, tt.filter, link)
			}
		}
		if p := b.get(tt.page + "?from=soon"); p.status != http.StatusBadRequest {
			t.Errorf("GET %s?from=soon = %d; want 400", tt.page, p.status)
		}
	}
}
