package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
)

// pages holds one parsed template set per page: the layout, the shared
// parts and the page's own file.
type pages struct {
	set map[string]*template.Template
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return "—"
	},
	"iso": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format(time.RFC3339)
		case *time.Time:
			if v != nil {
				return v.UTC().Format(time.RFC3339)
			}
		}
		return ""
	},
	// took is how long from a to b ("" when b is not set).
	"took": func(a time.Time, b *time.Time) string {
		if b == nil {
			return ""
		}
		return shortDuration(b.Sub(a))
	},
	"ago": func(now time.Time, t any) string {
		var tt time.Time
		switch v := t.(type) {
		case time.Time:
			tt = v
		case *time.Time:
			if v == nil {
				return "never"
			}
			tt = *v
		}
		if tt.IsZero() {
			return "never"
		}
		return shortDuration(now.Sub(tt)) + " ago"
	},
	"restoreBy": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Add(devices.RestoreWindow).UTC().Format("2006-01-02")
	},
	"join": strings.Join,
	// dict builds the argument of a shared part: dict "Key" value ...
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"add": func(a, b int) int { return a + b },
}

// shortDuration prints d in its largest unit or two: "850ms", "12s",
// "3m 20s", "5h 2m", "3d 4h".
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

func parsePages() (*pages, error) {
	names, err := fs.Glob(files, "templates/page_*.html")
	if err != nil {
		return nil, err
	}
	ps := &pages{set: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path.Base(n), "page_"), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		ps.set[name] = t
	}
	return ps, nil
}

// view is what every page template receives.
type view struct {
	Title  string
	Nav    string // the menu entry to mark current
	S      *session
	Flash  *flash
	Error  string            // what went wrong, at the top of the page
	Fields map[string]string // field name -> what is wrong with it
	Form   url.Values        // what the manager typed, to fill the form again
	Data   any
	Now    time.Time
	Menu   []menuItem
	// FlashCmds are the logout commands the last change made, followed
	// live at the top of the page.
	FlashCmds *commandsData
	// refs names the audit references the page shows (Ref).
	refs *refs
}

// WH names a warehouse by id: "Name (CODE)", or the id when the
// manager's roles do not cover it.
func (v view) WH(id string) string {
	if v.S != nil {
		for _, w := range v.S.warehouses {
			if w.ID == id {
				return w.Name + " (" + w.Code + ")"
			}
		}
	}
	return id
}

// Warehouses lists the manager's warehouses.
func (v view) Warehouses() []devices.Warehouse {
	if v.S == nil {
		return nil
	}
	return v.S.warehouses
}

// E returns what is wrong with field name ("" when nothing).
func (v view) E(name string) string { return v.Fields[name] }

// F returns what the manager typed in field name.
func (v view) F(name string) string { return v.Form.Get(name) }

// render writes page name with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) error {
	t := c.pages.set[name]
	if t == nil {
		return fmt.Errorf("console: no page %q", name)
	}
	v.Now = c.now()
	if v.S != nil {
		if _, err := c.loadWarehouses(r.Context(), r, v.S); err != nil {
			return err
		}
		v.Menu = menu(v.S)
		v.refs = c.newRefs(r, v.S)
	}
	if v.Flash == nil {
		v.Flash = c.takeFlash(w, r)
	}
	if v.Flash != nil && len(v.Flash.Commands) > 0 && v.S != nil {
		d := &commandsData{IDs: v.Flash.Commands, Live: commandsURL(v.Flash.Commands, "")}
		if err := c.loadCommands(r.Context(), r, v.S, d); err == nil {
			v.FlashCmds = d
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	defaultRetryAfter(h, status)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// retryAfter sets the Retry-After of an answer that passes on the admin
// API's 429 or 503: the API's wait (defaultRetryAfter's when it named
// none).
func retryAfter(h http.Header, ae *apiError) {
	if ae.RetryAfter > 0 && (ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusTooManyRequests) {
		h.Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	defaultRetryAfter(h, ae.Status)
}

// defaultRetryAfter gives a 429 or 503 without a Retry-After the error
// layer's default wait: every 429 and 503 of both listeners carries one.
func defaultRetryAfter(h http.Header, status int) {
	if h.Get("Retry-After") != "" {
		return
	}
	switch status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(int(problem.DefaultRetry503/time.Second)))
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(int(problem.DefaultRetry429/time.Second)))
	}
}

// fragment renders one named part of a page's template set with dot
// (a view's Now is set).
func (c *Console) fragment(page, part string, dot any) (string, error) {
	t := c.pages.set[page]
	if t == nil {
		return "", fmt.Errorf("console: no page %q", page)
	}
	if v, ok := dot.(view); ok {
		v.Now = c.now()
		dot = v
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, part, dot); err != nil {
		return "", fmt.Errorf("console: render %s/%s: %w", page, part, err)
	}
	return buf.String(), nil
}

// renderError writes the error page; it never fails.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := view{Title: http.StatusText(status), Error: msg, Data: status}
	if err := c.render(w, r, status, "error", v); err != nil {
		c.log.ErrorContext(r.Context(), "console: render the error page", "err", err)
		defaultRetryAfter(w.Header(), status)
		http.Error(w, msg, status)
	}
}

// problemMessage turns a problem the API answered into a sentence for
// the page: its detail, and what each named field needs.
func problemMessage(ae *apiError) string {
	msg := ae.Detail
	switch ae.Code {
	case "forbidden":
		msg = "Your roles do not allow this. Nothing was changed."
	case "unavailable":
		msg = "A store cannot be reached right now. Nothing was assumed; try again in a moment."
	case "weak_pin":
		msg = "The PIN was refused: " + ae.Detail
	case "conflict":
		if msg == "" {
			msg = "That conflicts with what is there already."
		}
	case "too_many_attempts":
		msg = "Too many attempts; try again later."
	}
	if msg == "" {
		msg = http.StatusText(ae.Status)
	}
	var parts []string
	for _, f := range ae.Errors {
		if f.Message != "" && !strings.Contains(msg, f.Message) {
			parts = append(parts, f.Message)
		}
	}
	msg = sentence(msg)
	if len(parts) > 0 {
		msg = strings.TrimSuffix(msg, ".") + ": " + strings.Join(parts, "; ") + "."
	}
	return msg
}

// sentence starts s with a capital and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}

// flash is a message for the next page, carried in a short-lived
// cookie across the redirect after a change.
type flash struct {
	Kind     string   `json:"k"` // ok or error
	Text     string   `json:"t"`
	Commands []string `json:"c,omitempty"` // logout commands the change made
	More     int      `json:"m,omitempty"` // commands beyond those listed
}

const flashCookie = "fg_flash"

// maxFlashCommands bounds the command ids a flash carries.
const maxFlashCommands = 40

// redirect sends the browser to target with a flash message.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, target string, f flash) {
	if len(f.Commands) > maxFlashCommands {
		f.More = len(f.Commands) - maxFlashCommands
		f.Commands = f.Commands[:maxFlashCommands]
	}
	b, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.cfg.Secure(r)})
	http.Redirect(w, r, localPath(target), http.StatusSeeOther)
}

func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.cfg.Secure(r)})
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(b, &f) != nil || f.Text == "" {
		return nil
	}
	return &f
}
