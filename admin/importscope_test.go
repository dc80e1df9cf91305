package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// TestImportDryRunScope: a user manager's import tells a username (or
// employee id) held in a warehouse beyond their roles exactly as it
// tells every other cause they may not see (held by an active, a
// suspended or a deleted user there): one fixed problem, the same
// bytes. A holder they manage is named; an admin sees every holder
// named. A small file and one of over 200 rows (once checked another
// way) answer the same, and the dry run is audited.
func TestImportDryRunScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	ctx := context.Background()
	mk := func(username, wh, emp string) devices.User {
		u, err := e.reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{
			Username: username, FirstName: "F", LastName: "L", PIN: "5829", WarehouseID: wh, EmployeeID: emp})
		if err != nil {
			t.Fatalf("CreateUser %s: %v", username, err)
		}
		return u
	}
	mk("activeb", e.whB.ID, "EMP-B")
	sus := mk("suspendedb", e.whB.ID, "")
	if _, err := e.reg.SuspendUser(ctx, devices.ActorSystem, sus.ID); err != nil {
		t.Fatal(err)
	}
	del := mk("deletedb", e.whB.ID, "")
	if _, err := e.reg.DeleteUser(ctx, devices.ActorSystem, del.ID); err != nil {
		t.Fatal(err)
	}
	mine := mk("minea", e.whA.ID, "EMP-A")

	A := e.whA.ID
	probes := "activeb,X,Y,5829," + A + ",\n" +
		"suspendedb,X,Y,5829," + A + ",\n" +
		"deletedb,X,Y,5829," + A + ",\n" +
		"nobodyhas,X,Y,5829," + A + ",EMP-B\n" +
		"minea,X,Y,5829," + A + ",\n" +
		"freshname,X,Y,5829," + A + ",EMP-A\n"
	var filler strings.Builder
	for i := range 210 {
		fmt.Fprintf(&filler, "filler%d,X,Y,5829,%s,\n", i, A)
	}
	problemsOf := func(t *testing.T, role, body string) map[string]string {
		t.Helper()
		r, rep := e.importCSV(role, "?dry_run=true&mode=valid_only", importHeader+body)
		if r.status != 200 {
			t.Fatalf("dry run as %s = %d %s; want 200", role, r.status, r.body)
		}
		out := map[string]string{}
		for _, row := range rep.Report {
			b, _ := json.Marshal(row.Problems)
			out[row.Username] = string(b)
		}
		return out
	}
	for _, size := range []string{"small", "large"} {
		t.Run(size, func(t *testing.T) {
			body := probes
			if size == "large" {
				body += filler.String()
			}
			um := problemsOf(t, "um_a", body)
			unavailable := `[{"code":"username_unavailable","field":"username","message":"this username cannot be used: choose another"}]`
			for _, name := range []string{"activeb", "suspendedb", "deletedb"} {
				if um[name] != unavailable {
					t.Errorf("user manager of A, %s (held in B): problems %s; want exactly %s", name, um[name], unavailable)
				}
			}
			if want := `[{"code":"employee_id_unavailable","field":"employee_id","message":"this employee id cannot be used: choose another"}]`; um["nobodyhas"] != want {
				t.Errorf("user manager of A, an employee id held in B: %s; want %s", um["nobodyhas"], want)
			}
			if !strings.Contains(um["minea"], `"code":"username_taken"`) || !strings.Contains(um["minea"], mine.ID) {
				t.Errorf("user manager of A, a name held in A: %s; want username_taken naming %s", um["minea"], mine.ID)
			}
			if !strings.Contains(um["freshname"], `"code":"employee_id_taken"`) || !strings.Contains(um["freshname"], mine.ID) {
				t.Errorf("user manager of A, an employee id held in A: %s; want employee_id_taken naming %s", um["freshname"], mine.ID)
			}
			adm := problemsOf(t, "admin", body)
			for _, name := range []string{"activeb", "suspendedb", "deletedb"} {
				if !strings.Contains(adm[name], `"code":"username_taken"`) || !strings.Contains(adm[name], e.whB.ID) {
					t.Errorf("admin, %s: %s; want username_taken naming warehouse B", name, adm[name])
				}
			}
			if !strings.Contains(adm["deletedb"], "restore") {
				t.Errorf("admin, a deleted holder: %s; want the restore hint", adm["deletedb"])
			}
		})
	}
	evs := e.events(devices.EventFilter{Action: "users.import_dry_run"})
	if len(evs) == 0 || evs[0].Details["unavailable"] == "" || evs[0].Actor == "" {
		t.Fatalf("dry runs recorded %+v; want users.import_dry_run events with an unavailable count", evs)
	}
}
