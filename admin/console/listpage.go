package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// listLinks are the links of a filtered list page (audit, custody): its
// first page, the next one ("" on the last), and the CSV export of the
// same filters.
type listLinks struct {
	Next, First string
	Export      string
}

// listPage is a filtered list page of the console (audit, custody):
// its template and menu entry (name), its title, its path (the API's is
// the same), how its query's filters become the API's, and which of
// them it keeps in its links.
type listPage struct {
	name, title, path string
	filters           func(url.Values) (api url.Values, bad map[string]string)
	keys              []string
}

// serveList serves p with data d (whose links are l): filters that are
// not valid are a 400 on the page, else read reads the page of the API's
// query list (q is the page's query, api its filters for the API) into d
// and returns the API's next page token.
func (c *Console) serveList(w http.ResponseWriter, r *http.Request, s *session, p listPage, d any, l *listLinks,
	read func(q, api, list url.Values) (next string, err error)) error {
	q := r.URL.Query()
	api, bad := p.filters(q)
	v := view{Title: p.title, Nav: p.name, S: s, Data: d, Form: q}
	if len(bad) > 0 {
		v.Error, v.Fields = "Check the filters: nothing was searched.", bad
		return c.render(w, r, http.StatusBadRequest, p.name, v)
	}
	own, list := listQuery(q, api, p.keys...)
	next, err := read(q, api, list)
	return c.showList(w, r, p.name, v, err, l, p.path, own, next)
}

// exportList downloads p's CSV export (the API's at p.path+"/export")
// with the filters of the page's query.
func (c *Console) exportList(w http.ResponseWriter, r *http.Request, s *session, p listPage) error {
	api, bad := p.filters(r.URL.Query())
	if len(bad) > 0 {
		return &formError{msg: "Check the filters: a time is not a date and time. Nothing was exported."}
	}
	return c.download(w, r, s.token, p.path+"/export?"+api.Encode())
}

// listQuery is a filtered list page's request: the filters the page
// keeps in its links (own, the query's values of the page's keys) and
// the API's query of one page (the API's filters, page_size, and
// page_token from the page's "page").
func listQuery(q, api url.Values, keys ...string) (own, list url.Values) {
	own = url.Values{}
	for _, k := range keys {
		if x := q.Get(k); x != "" {
			own.Set(k, x)
		}
	}
	list = url.Values{"page_size": {strconv.Itoa(listPageSize)}}
	for k, x := range api {
		list[k] = x
	}
	if p := q.Get("page"); p != "" {
		list.Set("page_token", p)
	}
	return own, list
}

// links are the links of the page at path (the console's and the API's
// export at path+"/export") with the filters own; next is the API's next
// page token.
func (l *listLinks) set(path string, own url.Values, next string) {
	l.First = path + "?" + own.Encode()
	l.Export = path + "/export?" + own.Encode()
	if next != "" {
		n := url.Values{"page": {next}}
		for k, x := range own {
			n[k] = x
		}
		l.Next = path + "?" + n.Encode()
	}
}

// showList renders a filtered list page once its reads are done (err is
// theirs): with a 400 when the API refused a filter, the error as it is
// when another, else the page with its links (the page at path with the
// filters own; next is the API's next page token).
func (c *Console) showList(w http.ResponseWriter, r *http.Request, page string, v view, err error, l *listLinks, path string, own url.Values, next string) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		v.Error, v.Fields = problemMessage(ae), ae.fieldErrors()
		return c.render(w, r, ae.Status, page, v)
	}
	if err != nil {
		return err
	}
	l.set(path, own, next)
	return c.render(w, r, http.StatusOK, page, v)
}

// timeFilters sets api's keys from q's date-times (typed as UTC
// date-times in a datetime-local field, or RFC 3339), and returns the
// keys whose value is not a time.
func timeFilters(q, api url.Values, keys ...string) (bad []string) {
	for _, k := range keys {
		v := q.Get(k)
		if v == "" {
			continue
		}
		t, err := parseWhen(v)
		if err != nil {
			bad = append(bad, k)
			continue
		}
		api.Set(k, t.UTC().Format(time.RFC3339))
	}
	return bad
}

func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a time")
}
