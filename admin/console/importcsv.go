package console

import (
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/floorgate/floorgate/admin"
)

// importData is the import page: the form, then a dry run's report
// with the file kept in the page for the real import.
type importData struct {
	Report *admin.ImportReport
	CSV    string
	Mode   string
	Done   bool // the report is of a real import
}

func (c *Console) importPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.render(w, r, http.StatusOK, "import", view{Title: "Import users", Nav: "users", S: s, Data: &importData{Mode: admin.ModeAllOrNothing}})
}

// importUsers runs a dry run (step "check": the file uploaded or pasted)
// or the import itself (step "import": the file the dry run kept in the
// page, in the mode the manager chose).
func (c *Console) importUsers(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxUpload+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return c.render(w, r, http.StatusRequestEntityTooLarge, "import", view{Title: "Import users", Nav: "users", S: s,
				Error: "The file is too large for the console (at most " + byteSize(c.cfg.MaxUpload) + "). Split it, or send it to the API. Nothing was imported.",
				Data:  &importData{Mode: admin.ModeAllOrNothing}})
		}
		return badForm(err)
	}
	if r.PostForm == nil {
		if err := r.ParseForm(); err != nil {
			return badForm(err)
		}
	}
	mode := r.FormValue("mode")
	if mode != admin.ModeValidOnly {
		mode = admin.ModeAllOrNothing
	}
	d := &importData{Mode: mode}
	data := r.FormValue("csv")
	if file, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(io.LimitReader(file, c.cfg.MaxUpload+1))
		file.Close()
		if err != nil {
			return badForm(err)
		}
		if len(b) > 0 {
			data = string(b)
		}
	}
	if int64(len(data)) > c.cfg.MaxUpload {
		return c.render(w, r, http.StatusRequestEntityTooLarge, "import", view{Title: "Import users", Nav: "users", S: s,
			Error: "The file is too large for the console (at most " + byteSize(c.cfg.MaxUpload) + "). Nothing was imported.", Data: d})
	}
	if data == "" {
		return c.render(w, r, http.StatusBadRequest, "import", view{Title: "Import users", Nav: "users", S: s,
			Error: "Choose a CSV file (or paste its text). Nothing was imported.", Data: d})
	}
	dry := r.FormValue("step") != "import"
	q := url.Values{"mode": {mode}}
	if dry {
		q.Set("dry_run", "true")
	}
	var rep admin.ImportReport
	err := c.do(r.Context(), r, s.token, "POST", "/users/import?"+q.Encode(), csvBody(data), &rep)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		msg := problemMessage(ae)
		if len(ae.Rows) > 0 {
			rep = admin.ImportReport{DryRun: dry, Mode: mode, Report: ae.Rows}
			d.Report = &rep
		}
		return c.render(w, r, ae.Status, "import", view{Title: "Import users", Nav: "users", S: s, Error: "The file was refused: " + msg + " Nothing was imported.", Data: d})
	}
	if err != nil {
		return err
	}
	d.Report, d.CSV, d.Done = &rep, data, !dry
	return c.render(w, r, http.StatusOK, "import", view{Title: "Import users", Nav: "users", S: s, Data: d})
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}
