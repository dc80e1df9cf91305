package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// BenchmarkFlood measures device PIN logins per second on one instance
// with the default hash cost, first alone, then while 200 clients (100
// on POST /v1/enroll, 100 on POST /admin/v1/login, each from its own
// loopback address, random emails and passwords, each sending its next
// request as soon as the last is answered) flood the password sign-ins.
// The rate alone is the mean of a phase before the flood and one after
// it. It reports both rates and their ratio (issue 15, item 2: at least
// 0.8).
//
//	go test -run '^$' -bench BenchmarkFlood -benchtime 1x ./cmd/floorgate
func BenchmarkFlood(b *testing.B) {
	const (
		loginers = 8
		flooders = 200
		phase    = 10 * time.Second
	)
	env := map[string]string{"FLOORGATE_DATA_DIR": b.TempDir(), "FLOORGATE_ADMIN_EMAIL": e2eAdminEmail, "FLOORGATE_ADMIN_PASSWORD": e2eAdminPassword}
	env["FLOORGATE_HASH_MEMORY_KIB"] = fmt.Sprint(devices.DefaultHashParams().MemoryKiB)
	env["FLOORGATE_HASH_TIME"] = fmt.Sprint(devices.DefaultHashParams().Time)
	env["FLOORGATE_LOG_LEVEL"] = "error"
	in := launch(env)
	var a Addrs
	select {
	case a = <-in.ready:
	case err := <-in.done:
		b.Fatalf("run ended: %v\n%s", err, in.Stderr)
	case <-time.After(startWait):
		b.Fatalf("not listening after %v", startWait)
	}
	defer in.Stop()
	gw, adm := "http://"+a.Gateway, "http://"+a.Admin

	post := func(c *http.Client, url, bearer string, body any) (int, []byte) {
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", url, bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := c.Do(req)
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, data
	}
	must := func(status, want int, data []byte, what string) {
		if status != want {
			b.Fatalf("%s = %d %s; want %d", what, status, data, want)
		}
	}
	var out struct {
		Token string `json:"token"`
		ID    string `json:"id"`
	}
	st, data := post(http.DefaultClient, adm+"/admin/v1/login", "", map[string]string{"email": e2eAdminEmail, "password": e2eAdminPassword})
	must(st, 200, data, "admin login")
	_ = json.Unmarshal(data, &out)
	admin := out.Token
	st, data = post(http.DefaultClient, adm+"/admin/v1/warehouses", admin, map[string]string{"name": "Flood", "code": "FLD"})
	must(st, 201, data, "warehouse")
	_ = json.Unmarshal(data, &out)
	wh := out.ID
	st, data = post(http.DefaultClient, adm+"/admin/v1/managers", admin, map[string]any{"email": "mia@example.com", "first_name": "Mia", "last_name": "Berg",
		"password": "Dock-Scanner-Mia-7", "roles": []map[string]string{{"role": "mobile_manager", "warehouse_id": wh}}})
	must(st, 201, data, "manager")
	type handheld struct{ token, username string }
	var hs []handheld
	for i := range loginers {
		st, data = post(http.DefaultClient, adm+"/admin/v1/users", admin, map[string]any{"username": fmt.Sprintf("picker%d", i), "first_name": "P",
			"last_name": "Q", "pin": "740293", "warehouse_id": wh, "pin_change_required": false})
		must(st, 201, data, "user")
		var dev struct {
			DeviceToken string `json:"device_token"`
		}
		for try := 0; try < 30; try++ { // enrollment's share of the pool paces these
			st, data = post(http.DefaultClient, gw+"/v1/enroll", "", map[string]any{"email": "mia@example.com", "password": "Dock-Scanner-Mia-7",
				"warehouse_id": wh, "device": map[string]string{"serial": fmt.Sprintf("FLD-%d", i), "model": "TC52", "os_version": "13", "app_version": "4.2.0"}})
			if st != http.StatusTooManyRequests {
				break
			}
			time.Sleep(time.Second)
		}
		must(st, 201, data, "enroll")
		_ = json.Unmarshal(data, &dev)
		hs = append(hs, handheld{dev.DeviceToken, fmt.Sprintf("picker%d", i)})
	}

	// logins runs the device logins for one phase and returns their rate.
	logins := func() float64 {
		var n atomic.Int64
		var wg sync.WaitGroup
		end := time.Now().Add(phase)
		for _, h := range hs {
			wg.Go(func() {
				c := &http.Client{Timeout: 10 * time.Second}
				for time.Now().Before(end) {
					if st, _ := post(c, gw+"/v1/login", h.token, map[string]string{"username": h.username, "pin": "740293"}); st == 200 {
						n.Add(1)
					} else {
						time.Sleep(10 * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		return float64(n.Load()) / phase.Seconds()
	}

	alone := logins()

	ctx, stop := context.WithCancel(context.Background())
	var fwg sync.WaitGroup
	statuses := make([]atomic.Int64, 600)
	for i := range flooders {
		from := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i))}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext:         (&net.Dialer{LocalAddr: from}).DialContext,
			MaxIdleConnsPerHost: 1,
		}}
		url, body := gw+"/v1/enroll", func() any {
			return map[string]any{"email": rand.Text() + "@example.com", "password": rand.Text(), "warehouse_id": wh,
				"device": map[string]string{"serial": "X" + rand.Text()[:8], "model": "TC52", "os_version": "13", "app_version": "4.2.0"}}
		}
		if i%2 == 1 {
			url, body = adm+"/admin/v1/login", func() any { return map[string]string{"email": rand.Text() + "@example.com", "password": rand.Text()} }
		}
		fwg.Go(func() {
			for ctx.Err() == nil {
				st, _ := post(c, url, "", body())
				statuses[st].Add(1)
			}
		})
	}
	time.Sleep(time.Second) // the flood's bursts are spent
	flooded := logins()
	stop()
	fwg.Wait()
	alone = (alone + logins()) / 2 // before and after the flood: the machine may be shared
	var seen []string
	for st := range statuses {
		if n := statuses[st].Load(); n > 0 {
			seen = append(seen, fmt.Sprintf("%d: %d", st, n))
		}
	}
	b.ReportMetric(alone, "logins/s-alone")
	b.ReportMetric(flooded, "logins/s-flooded")
	b.ReportMetric(flooded/alone, "ratio")
	b.Logf("device logins: %.1f/s alone, %.1f/s under the flood (%.0f%%); flood answers by status: %v", alone, flooded, 100*flooded/alone, seen)
}
