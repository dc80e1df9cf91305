package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/floorgate/floorgate/clients/internal/livetest"
)

// TestExample runs the example backend against the real binary: a
// signed-in associate gets their picks, and after a forced logout the
// next request is 401.
func TestExample(t *testing.T) {
	in := livetest.Start(t)
	f := in.SetUp(t)
	u := f.AddUser(t, "jsmith", "4821", "", false)
	token, sessionID := f.Login(t, f.Enroll(t, "S21-0001"), u)

	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"example", "-addr", "127.0.0.1:0", "-floorgate", in.GatewayURL},
			func(k string) string { return map[string]string{"FLOORGATE_SERVICE_KEY": f.ServiceKey}[k] },
			io.Discard, func(a string) { addrc <- a })
	}()
	var url string
	select {
	case a := <-addrc:
		url = "http://" + a + "/v1/picks"
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example did not listen within 30 s")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run = %v; want nil after a clean stop", err)
		}
	}()

	var picks struct {
		Username    string `json:"username"`
		WarehouseID string `json:"warehouse_id"`
	}
	if err := livetest.Do("GET", url, token, nil, &picks, http.StatusOK); err != nil {
		t.Fatal(err)
	}
	if picks.Username != "jsmith" || picks.WarehouseID != f.WarehouseID {
		t.Errorf("picks answered %+v; want jsmith of warehouse %s", picks, f.WarehouseID)
	}
	if err := f.Admin("DELETE", "/sessions/"+sessionID, nil, nil, http.StatusOK); err != nil {
		t.Fatal(err)
	}
	if err := livetest.Do("GET", url, token, nil, nil, http.StatusUnauthorized); err != nil {
		t.Errorf("after a forced logout: %v; want 401", err)
	}
}

func TestRunNeedsKey(t *testing.T) {
	err := run(context.Background(), []string{"example"}, func(string) string { return "" }, io.Discard, nil)
	if err == nil {
		t.Fatal("run without FLOORGATE_SERVICE_KEY = nil; want an error")
	}
}
