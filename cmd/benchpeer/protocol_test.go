package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	tok := token("s3cret", "u7", exp)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts; want 3", tok, len(parts))
	}
	enc := base64.RawURLEncoding
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if got, want := parts[2], enc.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature %q; want %q", got, want)
	}
	raw, err := enc.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("claims: %v", err)
	}
	var claims struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub != "u7" || claims.Exp != exp.Unix() {
		t.Errorf("claims = %s (%v); want sub u7, exp %d", raw, err, exp.Unix())
	}
}

func TestParseReplies(t *testing.T) {
	frame := `{"id":1,"connect":{"client":"c1","subs":{"#u1":{}},"ping":25,"pong":true}}` + "\n" +
		`{}` + "\n" + `{"push":{"channel":"#u1","pub":{"data":{"id":"p3"}}}}` + "\n" + `not json`
	rs := parseReplies([]byte(frame))
	if len(rs) != 3 {
		t.Fatalf("got %d replies; want 3 (the line that is not JSON skipped)", len(rs))
	}
	if rs[0].ID != 1 || rs[0].Connect == nil || !rs[0].Connect.Pong || rs[0].Connect.Subs["#u1"] == nil {
		t.Errorf("connect reply = %+v", rs[0])
	}
	if rs[1].ID != 0 || string(rs[1].Raw) != "{}" {
		t.Errorf("ping = %+v; want an empty reply", rs[1])
	}
	if p := rs[2].Push; p == nil || p.Channel != "#u1" || p.Pub == nil || string(p.Pub.Data) != `{"id":"p3"}` {
		t.Errorf("push = %+v", rs[2].Push)
	}
}
