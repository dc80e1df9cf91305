package gateway

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestWelcomeJSONAsMarshal: the welcome frame written by hand is, byte for
// byte, json.Marshal of welcomeFrame, for strings that need no escaping
// and strings that do (quotes, backslashes, HTML characters, control
// characters, non-ASCII, U+2028, invalid UTF-8), times with and without
// nanoseconds and outside the years MarshalJSON takes, and no session.
func TestWelcomeJSONAsMarshal(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 7, 50, 1, 123456000, time.UTC)
	view := func(s string, created time.Time) *sessionView {
		return &sessionView{
			SessionID: "ses_" + s, DeviceID: "dev_01J" + s,
			User:      userView{ID: "usr_1", Username: s, FirstName: s + "x", LastName: "Ng" + s, WarehouseID: "wh_" + s, Language: "de"},
			CreatedAt: created, ExpiresAt: created.Add(8 * time.Hour), IdleExpiresAt: created.Add(30 * time.Minute),
			PINChangeRequired: len(s)%2 == 1,
		}
	}
	check := func(deviceID string, v *sessionView) {
		t.Helper()
		want, err := json.Marshal(welcomeFrame{Type: msgWelcome, DeviceID: deviceID, Session: v})
		if got := welcomeJSON(deviceID, v); err == nil && !bytes.Equal(got, want) || err != nil && got != nil {
			t.Errorf("welcomeJSON\n%s\njson.Marshal (%v)\n%s", got, err, want)
		}
	}
	check("dev_01JABC", nil)
	check(`dev_"<x>"`, nil)
	strs := []string{"", "kim", "Zoë", "李", `a"b`, `a\b`, "<script>", "a&b", "tab\there", "nl\n", "\x00", "\x7f", "\u2028\u2029", "\xff\xfe", "e\u0301", "😀"}
	for _, s := range strs {
		check("dev_1", view(s, at))
	}
	for _, created := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 2*3600)),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC), // expires past 9999: json.Marshal fails
		{},
	} {
		check("dev_1", view("kim", created))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09 _-.\"\\<>&\x01\x1f\x7f\x80\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80")
	for range 2000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		check(string(b), view(string(b), at.Add(time.Duration(rng.Int64N(1e12)))))
	}
}

// BenchmarkWelcomeJSON compares the welcome frame of a signed-in device
// through encoding/json (as before) and written by hand (welcomeJSON):
//
//	go test -run '^$' -bench WelcomeJSON -benchmem ./gateway
func BenchmarkWelcomeJSON(b *testing.B) {
	at := time.Date(2026, 12, 3, 7, 50, 1, 123456789, time.UTC)
	v := &sessionView{
		SessionID: "ses_01JEXAMPLE0000000000000abc", DeviceID: "dev_01JEXAMPLE0000000000000abc",
		User:      userView{ID: "usr_01JEXAMPLE0000000000000abc", Username: "kim.ng", FirstName: "Kim", LastName: "Ng", WarehouseID: "wh_01JEXAMPLE0000000000000abc", Language: "en"},
		CreatedAt: at, ExpiresAt: at.Add(8 * time.Hour), IdleExpiresAt: at.Add(30 * time.Minute),
	}
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(welcomeFrame{Type: msgWelcome, DeviceID: v.DeviceID, Session: v})
		}
	})
	b.Run("by_hand", func(b *testing.B) {
		for b.Loop() {
			_ = welcomeJSON(v.DeviceID, v)
		}
	})
}
