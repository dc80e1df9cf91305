package main

import (
	"bufio"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConsoleLiveAcrossInstances: the board served by one instance
// shows, within a second and without a reload, a login made on another
// instance's gateway and its forced logout (the fan-out every instance
// receives, teed to the console).
func TestConsoleLiveAcrossInstances(t *testing.T) {
	fleet := startFleet(t, 2)
	fg1, fg2 := fleet[0], fleet[1]
	f := setUpFloor(t, fg1)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	form := url.Values{"email": {e2eAdminEmail}, "password": {e2eAdminPassword}, "next": {"/board"}}
	req, _ := http.NewRequest("POST", fg1.AdminURL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/board" {
		t.Fatalf("console sign-in on fg1 ended at %d %s; want the board", res.StatusCode, res.Request.URL)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", fg1.AdminURL+"/board/events?warehouse="+url.QueryEscape(f.warehouseID), nil)
	req.Header.Set("Accept", "text/event-stream")
	stream := &http.Client{Jar: jar} // no timeout: the stream stays open
	res, err = stream.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	type event struct {
		name, data string
		at         time.Time
	}
	events := make(chan event, 32)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev event
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				ev.at = time.Now()
				events <- ev
				ev = event{}
			}
		}
	}()
	holders := func(want string) time.Time {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("the board's stream ended before holders with %q", want)
				}
				if ev.name == "holders" && strings.Contains(ev.data, want) {
					return ev.at
				}
			case <-timeout:
				t.Fatalf("no holders event with %q within 10s", want)
			}
		}
	}
	holders("Nobody is signed in")

	d := f.enroll(t, fg2, "S21-0900")
	s := dial(t, fg2, d, "device on fg2")
	s.welcome(t, d)
	f.login(t, fg2, d)
	answered := time.Now()
	if lag := holders("Jo Smith").Sub(answered); lag > pushWait {
		t.Errorf("fg1's board showed fg2's login %v after it; want within %v", lag, pushWait)
	} else {
		t.Logf("fg1's board showed fg2's login %v after it", lag)
	}

	call(t, "POST", fg2.AdminURL+"/admin/v1/devices/"+d.ID+"/logout", f.adminToken, nil, nil, http.StatusOK)
	ended := time.Now()
	lo := s.expect(t, 5*time.Second, "logout")
	s.ack(t, lo.CommandID)
	if lag := holders("Nobody is signed in").Sub(ended); lag > pushWait {
		t.Errorf("fg1's board showed the logout %v after it; want within %v", lag, pushWait)
	}
}
