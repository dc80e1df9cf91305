package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleScreenshots writes a screenshot of each console page into
// the directory $FLOORGATE_SCREENSHOTS (docs/console holds the ones the
// README shows): a small floor set up through the APIs, every page at
// desktop width and the pages a mobile manager uses at phone width. It
// makes pictures, not checks, so it runs only when asked:
//
//	FLOORGATE_SCREENSHOTS=$PWD/docs/console go test ./cmd/floorgate -run TestConsoleScreenshots
func TestConsoleScreenshots(t *testing.T) {
	dir := os.Getenv("FLOORGATE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set FLOORGATE_SCREENSHOTS to a directory to write the console's screenshots")
	}
	browser := newBrowser(t)
	in := startFloorgate(t, e2eEnv(t))
	f := setUpFloor(t, in)
	base := in.AdminURL
	tok := f.adminToken

	// A floor: another warehouse, people, devices, then a minimum app
	// version the devices are below.
	var south struct {
		ID string `json:"id"`
	}
	call(t, "POST", base+"/admin/v1/warehouses", tok, map[string]string{"name": "Dock South", "code": "DS2"}, &south, http.StatusCreated)
	people := [][3]string{{"amina", "Amina", "Diallo"}, {"bruno", "Bruno", "Costa"}, {"chen", "Chen", "Wei"}, {"dara", "Dara", "Novak"},
		{"elif", "Elif", "Yilmaz"}, {"femi", "Femi", "Adeyemi"}, {"greta", "Greta", "Lind"}, {"hugo", "Hugo", "Martin"}}
	var ids []string
	for i, p := range people {
		var u struct {
			ID string `json:"id"`
		}
		call(t, "POST", base+"/admin/v1/users", tok, map[string]any{"username": p[0], "first_name": p[1], "last_name": p[2], "pin": "4821",
			"warehouse_id": f.warehouseID, "employee_id": fmt.Sprintf("B-%04d", 1200+i), "pin_change_required": false}, &u, http.StatusCreated)
		ids = append(ids, u.ID)
	}
	var devs []device
	for i := range 7 {
		d := f.enroll(t, in, fmt.Sprintf("TC52-%04d", 310+i))
		devs = append(devs, d)
		if i < 5 {
			s := dial(t, in, d, "handheld")
			s.welcome(t, d)
		}
		if i < 4 {
			call(t, "POST", in.GatewayURL+"/v1/login", d.Token, map[string]string{"username": people[i][0], "pin": "4821"}, nil, http.StatusOK)
		}
	}
	// A logout the offline device has not acknowledged yet.
	call(t, "POST", in.GatewayURL+"/v1/login", devs[6].Token, map[string]string{"username": people[5][0], "pin": "4821"}, nil, http.StatusOK)
	call(t, "POST", base+"/admin/v1/devices/"+devs[6].ID+"/logout", tok, nil, nil, http.StatusOK)
	call(t, "POST", base+"/admin/v1/users/"+ids[6]+"/suspend", tok, nil, nil, http.StatusOK)
	call(t, "DELETE", base+"/admin/v1/users/"+ids[7], tok, nil, nil, http.StatusOK)
	call(t, "PATCH", base+"/admin/v1/warehouses/"+f.warehouseID, tok, map[string]any{"settings": map[string]any{"min_app_version": "4.3.0"}}, nil, http.StatusOK)
	call(t, "POST", base+"/admin/v1/service-keys", tok, map[string]string{"name": "wms-backend", "scope": "introspect"}, nil, http.StatusCreated)

	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(ctx context.Context, name string, width, height int64, path string) {
		t.Helper()
		do(t, ctx, "open "+path, chromedp.EmulateViewport(width, height), chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		png := value(t, ctx, "screenshot "+path, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	visitor := person(t, browser)
	shot(visitor, "signin", 1280, 800, "/signin")
	admin := person(t, browser)
	signInAs(t, admin, base, e2eAdminEmail, e2eAdminPassword)
	pages := []struct{ name, path string }{
		{"board", "/board?warehouse=" + f.warehouseID},
		{"users", "/users"},
		{"user", "/users/" + ids[0]},
		{"user-suspended", "/users/" + ids[6]},
		{"user-new", "/users/new"},
		{"import", "/users/import"},
		{"devices", "/devices"},
		{"device", "/devices/" + devs[0].ID},
		{"sessions", "/sessions?warehouse=" + f.warehouseID},
		{"commands", "/commands?warehouse=" + f.warehouseID},
		{"managers", "/managers"},
		{"warehouses", "/warehouses"},
		{"warehouse", "/warehouses/" + f.warehouseID},
		{"settings", "/settings"},
		{"service-keys", "/service-keys"},
		{"audit", "/audit"},
	}
	for _, p := range pages {
		shot(admin, p.name, 1280, 800, p.path)
	}
	// The import's dry-run report.
	do(t, admin, "dry run", chromedp.Navigate(base+"/users/import"),
		chromedp.SetValue(chromedp.CSS("#csv"), "username,first_name,last_name,pin,warehouse_code\nines,Ines,Ruiz,4821,DN1\nkofi,Kofi,Mensah,1234,DN1\namina,Amina,D,5820,DN1\n"),
		chromedp.Submit(chromedp.CSS("#csv")), chromedp.WaitVisible(chromedp.CSS("table.report")))
	png := value(t, admin, "screenshot the report", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, "import-report.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	// Phone width: what a mobile manager does on the floor.
	for _, p := range []struct{ name, path string }{
		{"phone-board", "/board?warehouse=" + f.warehouseID},
		{"phone-user", "/users/" + ids[1]},
		{"phone-device", "/devices/" + devs[1].ID},
	} {
		shot(admin, p.name, 390, 844, p.path)
	}
}
