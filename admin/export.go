package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// userCSVHeader is the header of the user export. It never has a PIN or
// a hash. The columns the import also reads keep the import's names, so
// an export with a pin column added imports again (the import ignores
// id, status, created_at, updated_at, deleted_at and badge_set).
// badge_set says whether the user has a badge: the registry keeps only a
// keyed hash of its value, so no export can carry the value itself.
var userCSVHeader = []string{"id", "username", "first_name", "last_name", "employee_id", "warehouse_id", "warehouse_code", "language", "status", "pin_change_required", "created_at", "updated_at", "deleted_at", "badge_set"}

// exportUsers streams the users the caller may see, with the list's
// filters, as CSV: one registry page at a time, flushed as it goes.
func (a *API) exportUsers(w http.ResponseWriter, r *http.Request) error {
	f, err := a.userFilter(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	f.After, f.Limit = "", maxPageSize
	users, err := a.reg.Users(ctx, f)
	if err != nil {
		return fmt.Errorf("export users: %w", err)
	}
	codes := warehouseCodes{a: a}
	cw := startCSV(w, "users-"+a.now().UTC().Format("20060102T150405Z")+".csv")
	_ = cw.Write(userCSVHeader)
	for page := 0; page < maxExportPages; page++ {
		for _, u := range users {
			deleted := ""
			if u.DeletedAt != nil {
				deleted = u.DeletedAt.UTC().Format(time.RFC3339)
			}
			badge, err := a.hasBadge(ctx, u.ID)
			if err != nil {
				a.log.ErrorContext(ctx, "user export cut short", "err", err)
				panic(http.ErrAbortHandler)
			}
			_ = cw.Write([]string{u.ID, u.Username, u.FirstName, u.LastName, u.EmployeeID, u.WarehouseID, codes.code(ctx, u.WarehouseID),
				u.Language, string(u.Status), strconv.FormatBool(u.PINChangeRequired),
				u.CreatedAt.UTC().Format(time.RFC3339), u.UpdatedAt.UTC().Format(time.RFC3339), deleted, badge})
		}
		cw.Flush()
		flush(w)
		if len(users) < f.Limit {
			return nil
		}
		f.After = users[len(users)-1].ID
		if users, err = a.reg.Users(ctx, f); err != nil {
			a.log.ErrorContext(ctx, "user export cut short", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	return nil
}

// hasBadge is the export's badge_set cell: "true" or "false".
func (a *API) hasBadge(ctx context.Context, userID string) (string, error) {
	_, err := a.reg.Badge(ctx, userID)
	switch {
	case err == nil:
		return "true", nil
	case errors.Is(err, devices.ErrNotFound):
		return "false", nil
	}
	return "", err
}

// warehouseCodes caches warehouse codes by id for one request.
type warehouseCodes struct {
	a     *API
	cache map[string]string
}

func (c *warehouseCodes) code(ctx context.Context, id string) string {
	if c.cache == nil {
		c.cache = map[string]string{}
	}
	if code, ok := c.cache[id]; ok {
		return code
	}
	w, err := c.a.reg.Warehouse(ctx, id)
	if err != nil {
		c.cache[id] = ""
		return ""
	}
	c.cache[id] = w.Code
	return w.Code
}
