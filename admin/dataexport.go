package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
)

// UserDataExport is the answer of GET /users/{id}/data-export: what the
// registry holds about one mobile user, for their request to see it
// (GDPR access). It never holds a hash or a secret.
type UserDataExport struct {
	Kind       string    `json:"kind"` // "user"
	ExportedAt time.Time `json:"exported_at"`
	ExportedBy string    `json:"exported_by"` // actor
	devices.UserData
}

// ManagerDataExport is the answer of GET /managers/{id}/data-export.
type ManagerDataExport struct {
	Kind       string    `json:"kind"` // "manager"
	ExportedAt time.Time `json:"exported_at"`
	ExportedBy string    `json:"exported_by"`
	devices.ManagerData
}

// The data exports are for admins only: they gather a person's sign-ins,
// devices and audit trail across every warehouse, more than a warehouse
// role sees. Anyone else is refused 403 before the id is read, so the
// answer says nothing about which ids exist; an admin sees every record
// anyway, and gets 404 for an id that names none.

// exportUserData answers GET /users/{id}/data-export.
func (a *API) exportUserData(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := a.requireAdmin(r, devices.UserActor(id)); err != nil {
		return err
	}
	data, err := a.reg.UserData(r.Context(), id)
	if err != nil {
		return fmt.Errorf("export user data: %w", err)
	}
	p := principalFrom(r.Context())
	out := UserDataExport{Kind: "user", ExportedAt: a.now().UTC(), ExportedBy: p.actor, UserData: data}
	ev := devices.Event{Actor: p.actor, Action: "user.data_export", Subject: devices.UserActor(id), WarehouseID: data.User.WarehouseID,
		Details: dataExportDetails(len(data.Sessions), len(data.Events), data.Truncated)}
	return a.writeExport(w, r, "floorgate-user-"+data.User.ID+".json", ev, out)
}

// exportManagerData answers GET /managers/{id}/data-export.
func (a *API) exportManagerData(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := a.requireAdmin(r, devices.ManagerActor(id)); err != nil {
		return err
	}
	data, err := a.reg.ManagerData(r.Context(), id)
	if err != nil {
		return fmt.Errorf("export manager data: %w", err)
	}
	p := principalFrom(r.Context())
	out := ManagerDataExport{Kind: "manager", ExportedAt: a.now().UTC(), ExportedBy: p.actor, ManagerData: data}
	ev := devices.Event{Actor: p.actor, Action: "manager.data_export", Subject: devices.ManagerActor(id),
		Details: dataExportDetails(-1, len(data.Events), data.Truncated)}
	return a.writeExport(w, r, "floorgate-manager-"+data.Manager.ID+".json", ev, out)
}

func dataExportDetails(sessions, events int, truncated []string) map[string]string {
	d := map[string]string{"events": fmt.Sprint(events)}
	if sessions >= 0 {
		d["sessions"] = fmt.Sprint(sessions)
	}
	if len(truncated) > 0 {
		d["truncated"] = fmt.Sprint(truncated)
	}
	return d
}

// writeExport audits the download, then sends it as a JSON attachment.
// The audit comes first and must succeed: no export leaves unrecorded.
func (a *API) writeExport(w http.ResponseWriter, r *http.Request, filename string, ev devices.Event, v any) error {
	if err := a.reg.Record(r.Context(), ev); err != nil {
		return fmt.Errorf("audit data export: %w", err)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	problem.WriteJSON(w, http.StatusOK, v)
	return nil
}
