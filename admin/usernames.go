package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/floorgate/floorgate/devices"
)

// UsernameCheck answers GET /users/username: the username checked (or
// suggested), whether it is free, and when it is not valid, why.
type UsernameCheck struct {
	Username  string `json:"username"`
	Available bool   `json:"available"`
	// Suggested is true when username was made from first_name and
	// last_name because none was given.
	Suggested bool `json:"suggested"`
	// Problem is the field error when the username is not valid.
	Problem *FieldError `json:"problem,omitempty"`
}

// maxSuggestTries bounds the candidates one suggestion looks up.
const maxSuggestTries = 20

// checkUsername checks a username (username given) or suggests a free
// one from the first name and the last name's initial ("Maria Lopez":
// "marial", then "marial2", "marial3"...). A username is taken while
// any user holds it, deleted ones included (their name stays reserved
// for the restore window). Only managers who may create users call it.
func (a *API) checkUsername(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if !p.admin && len(p.userWH) == 0 {
		a.denied(r, "", "", http.StatusForbidden)
		return errForbidden
	}
	q := r.URL.Query()
	ctx := r.Context()
	if name := q.Get("username"); name != "" {
		c, err := a.usernameFree(r, strings.TrimSpace(name))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, c)
	}
	base := suggestUsername(q.Get("first_name"), q.Get("last_name"))
	if base == "" {
		return invalid("first_name", "missing", "give username, or first_name (and last_name) to have one suggested")
	}
	for i := 1; i <= maxSuggestTries && ctx.Err() == nil; i++ {
		cand := base
		if i > 1 {
			cand += strconv.Itoa(i)
		}
		c, err := a.usernameFree(r, cand)
		if err != nil {
			return err
		}
		if c.Available {
			c.Suggested = true
			return writeJSON(w, http.StatusOK, c)
		}
	}
	return writeJSON(w, http.StatusOK, UsernameCheck{Username: base, Suggested: true})
}

// usernameFree reports whether name is a valid username no user holds.
func (a *API) usernameFree(r *http.Request, name string) (UsernameCheck, error) {
	c := UsernameCheck{Username: name}
	if _, err := devices.NormalizeUsername(name); err != nil {
		var ve *devices.ValidationError
		if errors.As(err, &ve) && len(ve.Fields) > 0 {
			fe := FieldError(ve.Fields[0])
			c.Problem = &fe
			return c, nil
		}
		return c, err
	}
	_, err := a.reg.UserByUsername(r.Context(), name)
	switch {
	case errors.Is(err, devices.ErrNotFound):
		c.Available = true
	case err != nil:
		return c, fmt.Errorf("check username: %w", err)
	}
	return c, nil
}

// suggestUsername is the first name and the last name's first letter,
// lower case, with accents dropped and anything but letters and digits
// left out; "" when the first name has none.
func suggestUsername(first, last string) string {
	keep := func(s string, n int) string {
		var b strings.Builder
		for _, r := range norm.NFD.String(strings.TrimSpace(s)) {
			if b.Len() >= 32 || n == 0 {
				break
			}
			switch {
			case unicode.Is(unicode.Mn, r):
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(unicode.ToLower(r))
				n--
			}
		}
		return norm.NFC.String(b.String())
	}
	f := keep(first, -1)
	if f == "" {
		return ""
	}
	return f + keep(last, 1)
}
