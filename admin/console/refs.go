package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// maxRefs bounds the names one page looks up; the rest show their ids.
const maxRefs = 64

// refLink is an audit actor or subject ("manager:<id>", "user:<id>",
// "device:<id>", "warehouse:<id>", "system", ...) as a page shows it: a
// name where the manager's roles let them read it, else the reference
// itself, and a link to the thing's page where there is one.
type refLink struct {
	Ref  string // as the audit log holds it, for the title and filters
	Name string // what to show
	Href string // "" when the console has no page for it
}

// refs names a page's audit references, each looked up once through
// the admin API with the manager's own token, so that a name is shown
// only to someone who may read it.
type refs struct {
	c     *Console
	ctx   context.Context
	r     *http.Request
	token string
	seen  map[string]refLink
}

func (c *Console) newRefs(r *http.Request, s *session) *refs {
	if s == nil {
		return nil
	}
	return &refs{c: c, ctx: r.Context(), r: r, token: s.token, seen: map[string]refLink{}}
}

// Ref names an audit reference for the page (see refLink).
func (v view) Ref(ref string) refLink {
	if v.refs == nil {
		return refLink{Ref: ref, Name: ref}
	}
	return v.refs.name(ref)
}

func (rs *refs) name(ref string) refLink {
	if l, ok := rs.seen[ref]; ok {
		return l
	}
	l := refLink{Ref: ref, Name: ref}
	kind, id, ok := strings.Cut(ref, ":")
	if ok && id != "" && len(rs.seen) < maxRefs {
		l = rs.lookup(kind, id, l)
	}
	rs.seen[ref] = l
	return l
}

// lookup reads the thing behind kind:id; any refusal (not found, not
// in the manager's warehouses) leaves the reference as it is.
func (rs *refs) lookup(kind, id string, l refLink) refLink {
	var path string
	switch kind {
	case "manager":
		path = "/managers/"
	case "user":
		path = "/users/"
	case "device":
		path = "/devices/"
	case "warehouse":
		path = "/warehouses/"
	default:
		return l
	}
	path += url.PathEscape(id)
	var got struct {
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Username  string `json:"username"`
		Email     string `json:"email"`
		Label     string `json:"label"`
		Serial    string `json:"serial"`
		Name      string `json:"name"`
		Code      string `json:"code"`
	}
	if err := rs.c.do(rs.ctx, rs.r, rs.token, http.MethodGet, path, nil, &got); err != nil {
		return l
	}
	full := strings.TrimSpace(got.FirstName + " " + got.LastName)
	switch kind {
	case "manager":
		l.Name = firstOf(full, got.Email)
		if full != "" && got.Email != "" {
			l.Name = full + " (" + got.Email + ")"
		}
	case "user":
		l.Name = firstOf(full, got.Username)
		if full != "" && got.Username != "" {
			l.Name = full + " (" + got.Username + ")"
		}
	case "device":
		l.Name = firstOf(got.Label, got.Serial)
	case "warehouse":
		l.Name = got.Name
		if got.Code != "" {
			l.Name += " (" + got.Code + ")"
		}
	}
	if l.Name == "" {
		l.Name = l.Ref
	}
	l.Href = path
	return l
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
