package console

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// TestDataExportButtons: an admin finds "Download data" on a user's and
// a manager's page and gets the API's JSON attachment through it; a
// user manager sees no button and is refused the download.
func TestDataExportButtons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{Username: "dx", FirstName: "Dee", LastName: "Ex", WarehouseID: e.whA.ID, PIN: "4821"})
	if err != nil {
		t.Fatal(err)
	}
	m := e.mkManager("mm-dx@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: e.whA.ID})
	a := e.signIn("admin@example.com")
	for _, c := range []struct{ page, kind, id string }{{"/users/" + u.ID, "user", u.ID}, {"/managers/" + m.ID, "manager", m.ID}} {
		link := `href="` + c.page + `/data-export" download>Download data</a>`
		if p := a.get(c.page); p.status != 200 || !strings.Contains(p.body, link) {
			t.Errorf("%s as admin = %d; want a Download data link\n%.800s", c.page, p.status, pageText(p.body))
		}
		p := a.get(c.page + "/data-export")
		if p.status != 200 || p.header.Get("Content-Type") != "application/json" ||
			p.header.Get("Content-Disposition") != `attachment; filename="floorgate-`+c.kind+`-`+c.id+`.json"` {
			t.Errorf("GET %s/data-export as admin = %d %v; want the JSON attachment", c.page, p.status, p.header)
		}
		var got struct{ Kind string }
		if err := json.Unmarshal([]byte(p.body), &got); err != nil || got.Kind != c.kind {
			t.Errorf("GET %s/data-export: kind %q, %v; want %s", c.page, got.Kind, err, c.kind)
		}
	}
	if evs, err := e.reg.Events(ctx, devices.EventFilter{Action: "user.data_export"}); err != nil || len(evs) != 1 {
		t.Errorf("user.data_export events = %d, %v; want 1", len(evs), err)
	}

	um := e.signIn("um-a@example.com")
	if p := um.get("/users/" + u.ID); p.status != 200 || strings.Contains(p.body, "Download data") {
		t.Errorf("user page as a user manager = %d; want no Download data", p.status)
	}
	if p := um.get("/users/" + u.ID + "/data-export"); p.status != 403 || strings.Contains(p.body, u.Username) {
		t.Errorf("GET data-export as a user manager = %d; want 403 without the data\n%.300s", p.status, pageText(p.body))
	}
}
