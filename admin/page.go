package admin

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Page is one page of a list: items in keyset order and the token of the
// next page ("" on the last). A page may hold fewer than page_size items
// and still have a next page: continue while next_page_token is not empty.
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token"`
}

const (
	defaultPageSize = 100
	maxPageSize     = 500
)

// pageToken makes the opaque token that resumes a list after id.
func pageToken(id string) string {
	if id == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + id))
}

// pageQuery reads page_token and page_size.
func pageQuery(r *http.Request) (after string, size int, err error) {
	q := r.URL.Query()
	size = defaultPageSize
	if s := q.Get("page_size"); s != "" {
		n, convErr := strconv.Atoi(s)
		if convErr != nil || n < 1 || n > maxPageSize {
			return "", 0, invalid("page_size", "out_of_range", "page_size must be a whole number from 1 to 500")
		}
		size = n
	}
	if t := q.Get("page_token"); t != "" {
		b, decErr := base64.RawURLEncoding.DecodeString(t)
		id, ok := strings.CutPrefix(string(b), "v1:")
		if decErr != nil || !ok || id == "" {
			return "", 0, invalid("page_token", "malformed", "page_token is not one this API issued")
		}
		after = id
	}
	return after, size, nil
}

// nextToken is the token after a page of n items whose last id is last,
// when the page was full.
func nextToken(n, size int, last string) string {
	if n < size {
		return ""
	}
	return pageToken(last)
}

// queryTime reads an RFC 3339 time parameter; zero when absent.
func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid(name, "type", name+" must be an RFC 3339 time, e.g. 2025-01-31T08:00:00Z")
	}
	return t.UTC(), nil
}

// queryBool reads a true/false parameter; nil when absent.
func queryBool(r *http.Request, name string) (*bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, invalid(name, "type", name+" must be true or false")
	}
	return &b, nil
}
