package redis

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// bulkOf is a warehouse event of n commands as StartEndWarehouse makes
// them.
func bulkOf(n int) sessions.Event {
	at := time.Date(2030, 1, 2, 8, 0, 0, 123456000, time.UTC)
	cmds := make([]sessions.Command, n)
	for i := range cmds {
		// Ids as long as the registry's and the store's.
		sid := fmt.Sprintf("ses_%026dAbc", i)
		cmds[i] = sessions.Command{
			ID: commandIDOf(sid), SessionID: sid, UserID: fmt.Sprintf("usr_%026d", i), DeviceID: fmt.Sprintf("dev_%026d", i),
			WarehouseID: "wh_1", Reason: sessions.ReasonAdmin, CreatedAt: at,
		}
	}
	return sessions.Event{Kind: sessions.KindWarehouseEnded, WarehouseID: "wh_1", Commands: cmds}
}

// TestBulkEventRoundTrip: a warehouse event goes out compact and reads
// back exactly; an event the compact form cannot carry exactly goes out
// as JSON and reads back the same; the previous version's JSON warehouse
// event still reads.
func TestBulkEventRoundTrip(t *testing.T) {
	e := bulkOf(3)
	b, err := encodeEvent(e)
	if err != nil || !strings.HasPrefix(string(b), bulkMagic) {
		t.Fatalf("encodeEvent(warehouse) = %q, %v; want the compact form", b, err)
	}
	got, err := decodeEvent(string(b))
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("decodeEvent(compact) = %+v, %v; want %+v", got, err, e)
	}
	old, _ := json.Marshal(e)
	if got, err := decodeEvent(string(old)); err != nil || len(got.Commands) != 3 || got.Commands[2].ID != e.Commands[2].ID {
		t.Errorf("decodeEvent(JSON warehouse event) = %+v, %v; want its 3 commands", got, err)
	}
	if 2*len(b) > len(old) {
		t.Errorf("compact event = %d bytes, its JSON %d; want less than half", len(b), len(old))
	}

	for name, change := range map[string]func(*sessions.Event){
		"another warehouse": func(e *sessions.Event) { e.Commands[1].WarehouseID = "wh_2" },
		"another reason":    func(e *sessions.Event) { e.Commands[1].Reason = sessions.ReasonLogout },
		"another time":      func(e *sessions.Event) { e.Commands[1].CreatedAt = e.Commands[1].CreatedAt.Add(time.Microsecond) },
		"nanoseconds": func(e *sessions.Event) {
			for i := range e.Commands {
				e.Commands[i].CreatedAt = e.Commands[i].CreatedAt.Add(time.Nanosecond)
			}
		},
		"a by":             func(e *sessions.Event) { e.Commands[0].By = &sessions.By{DeviceID: "dev_x"} },
		"an id of its own": func(e *sessions.Event) { e.Commands[2].ID = "cmd_other" },
		"no device":        func(e *sessions.Event) { e.Commands[0].DeviceID = "" },
		"an origin":        func(e *sessions.Event) { e.Origin = "gw_1" },
	} {
		e := bulkOf(3)
		change(&e)
		b, err := encodeEvent(e)
		if err != nil || strings.HasPrefix(string(b), bulkMagic) {
			t.Errorf("%s: encodeEvent = %q, %v; want JSON", name, b, err)
			continue
		}
		want, _ := json.Marshal(e)
		got, err := decodeEvent(string(b))
		back, _ := json.Marshal(got)
		if err != nil || string(back) != string(want) {
			t.Errorf("%s: decodeEvent = %s, %v; want %s", name, back, err, want)
		}
	}
}

// TestBulkEventMalformed: every cut of a compact event, a count larger
// than its bytes can hold, and bytes after the last command are refused.
func TestBulkEventMalformed(t *testing.T) {
	b, _ := encodeEvent(bulkOf(2))
	for n := len(bulkMagic); n < len(b); n++ {
		if _, err := decodeEvent(string(b[:n])); !errors.Is(err, errBulk) {
			t.Errorf("decodeEvent(first %d of %d bytes) = %v; want errBulk", n, len(b), err)
		}
	}
	if _, err := decodeEvent(string(b) + "x"); !errors.Is(err, errBulk) {
		t.Errorf("decodeEvent(trailing byte) = %v; want errBulk", err)
	}
	huge := []byte(bulkMagic)
	huge = appendStr(huge, "wh_1")
	huge = appendStr(huge, "admin")
	huge = binary.AppendUvarint(huge, 1)
	huge = binary.AppendUvarint(huge, 1<<40)
	huge = append(huge, "\x01s\x01u\x01d"...)
	if _, err := decodeEvent(string(huge)); !errors.Is(err, errBulk) {
		t.Errorf("decodeEvent(count 2^40) = %v; want errBulk", err)
	}
}

// FuzzDecodeBulk: no input makes decodeEvent panic; whatever it reads as
// a warehouse event encodes back to an event that reads the same.
func FuzzDecodeBulk(f *testing.F) {
	for _, n := range []int{1, 2, 5} {
		b, _ := encodeEvent(bulkOf(n))
		f.Add(string(b))
	}
	f.Add(bulkMagic)
	f.Add(bulkMagic + "\x00\x00\x00\x01\x01s\x00\x01d")
	f.Add(`{"kind":"warehouse_ended","commands":[]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		e, err := decodeEvent(payload)
		if err != nil || !strings.HasPrefix(payload, bulkMagic) {
			return
		}
		if e.Kind != sessions.KindWarehouseEnded || len(e.Commands) == 0 {
			t.Fatalf("decodeEvent(%q) = %+v; want a warehouse event with commands", payload, e)
		}
		b, err := encodeEvent(e)
		if err != nil {
			t.Fatalf("encodeEvent(decoded) = %v", err)
		}
		again, err := decodeEvent(string(b))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", e, again, err)
		}
	})
}

// BenchmarkDecodeWarehouseEvent: what every instance's watcher spends
// reading one warehouse's event of 6,333 commands (the issue's
// warehouse), as the JSON of the previous version and in the compact
// form.
//
//	go test -run '^$' -bench DecodeWarehouseEvent -count 6 ./sessions/redis
func BenchmarkDecodeWarehouseEvent(b *testing.B) {
	e := bulkOf(6333)
	js, err := json.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	compact, ok := encodeBulk(e)
	if !ok {
		b.Fatal("encodeBulk refused the event")
	}
	for _, f := range []struct{ name, payload string }{{"json", string(js)}, {"compact", string(compact)}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.payload)))
			for b.Loop() {
				if got, err := decodeEvent(f.payload); err != nil || len(got.Commands) != len(e.Commands) {
					b.Fatalf("decodeEvent = %d commands, %v", len(got.Commands), err)
				}
			}
		})
	}
}
