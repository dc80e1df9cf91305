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

// exportList downloads the CSV export at path+"/export" with the
// filters of the page's query.
func (c *Console) exportList(w http.ResponseWriter, r *http.Request, s *session, path string, filters func(url.Values) (url.Values, map[string]string)) error {
	api, bad := filters(r.URL.Query())
	if len(bad) > 0 {
		return &formError{msg: "Check the filters: a time is not a date and time. Nothing was exported."}
	}
	return c.download(w, r, s.token, path+"/export?"+api.Encode())
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
