package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/internal/problem"
)

// bodySeeds are the request bodies of the table tests.
var bodySeeds = []string{
	`{"username":"alice","pin":"4821"}`,
	`{"username":"alice","pin":"4821","app_version":"4.10.1"}`,
	`{"username":"alice",`,
	`{"username":"alice","pin":"4821"} {}`,
	`{"username":"alice"}`,
	`{"username":"alice","pin":4821}`,
	`[1,2]`,
	``,
	`null`,
	`{"current_pin":"5830","new_pin":"7294"}`,
	`{"token":"fgs_AAAAAAAAAAAAAAAAAAAAAAAA"}`,
	`{"email":"mia@example.com","password":"x","warehouse_id":"w","device":{"serial":"S21-0001"}}`,
	`{"email":"mia@example.com","device":{"serial":7}}`,
	`{"device":null,"email":{"a":1}}`,
	"{\"username\":\"\xff\xfe\",\"pin\":\"\\u0000\"}",
}

// FuzzDecodeBody: every request decoder either accepts a body, with its
// required fields present, or refuses it with a 400 invalid_request that
// names at least one field. It never panics.
func FuzzDecodeBody(f *testing.F) {
	for i, s := range bodySeeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		var dst problem.Checker
		switch kind % 4 {
		case 0:
			dst = &loginRequest{}
		case 1:
			dst = &pinRequest{}
		case 2:
			dst = &introspectRequest{}
		default:
			dst = &enrollRequest{}
		}
		err := bodies.DecodeBytes(body, dst)
		if err == nil {
			var v problem.Fields
			dst.Check(&v)
			if len(v) != 0 {
				t.Fatalf("DecodeBytes(%q) accepted a body with problems %v", body, v)
			}
			return
		}
		var ge *Error
		if !errors.As(err, &ge) || ge.Status != 400 || ge.Code != CodeInvalidRequest || len(ge.Fields) == 0 {
			if p := ProblemOf(err); !errors.Is(err, problem.ErrTooLarge) || p.Status != 400 || len(p.Errors) == 0 {
				t.Fatalf("DecodeBytes(%q) = %v; want 400 invalid_request naming fields", body, err)
			}
		}
		p := ProblemOf(err)
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("problem of %q does not marshal: %v", body, err)
		}
	})
}

// FuzzParseClientMessage: the websocket message parser never panics, and
// whatever it accepts has a type and survives a round trip.
func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"auth","device_token":"fgd_AAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"type":"ack","command_id":"cmd_1"}`,
		`{"type":"nonsense"}`,
		`{"type":"ack","command_id":"` + strings.Repeat("x", 5000) + `"}`,
		`hello`,
		`{}`,
		`{"type":7}`,
		`[]`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseClientMessage(data)
		if err != nil {
			return
		}
		if m.Type == "" {
			t.Fatalf("parseClientMessage(%q) accepted a message without type", data)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal %+v: %v", m, err)
		}
		m2, err := parseClientMessage(again)
		if err != nil || m2 != m {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", data, m2, err, m)
		}
	})
}
