package redisval

import (
	"testing"
	"time"
)

func TestValues(t *testing.T) {
	for _, tt := range []struct {
		v    any
		str  string
		want int64
	}{
		{"42", "42", 42}, {int64(7), "7", 7}, {nil, "", 0}, {"x", "x", 0}, {[]byte("9"), "[57]", 0},
	} {
		if got := Str(tt.v); got != tt.str {
			t.Errorf("Str(%#v) = %q; want %q", tt.v, got, tt.str)
		}
		if got := Int(tt.v); got != tt.want {
			t.Errorf("Int(%#v) = %d; want %d", tt.v, got, tt.want)
		}
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)
	if got := FromMicros(Micros(at)); !got.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("FromMicros(Micros(%v)) = %v; want it to the microsecond", at, got)
	}
	if got := TTLMillis(-2 * KeyMargin); got != 1 {
		t.Errorf("TTLMillis(-2h) = %d; want 1", got)
	}
	if got := TTLMillis(time.Second); got != (time.Second + KeyMargin).Milliseconds() {
		t.Errorf("TTLMillis(1s) = %d; want 1s plus the margin", got)
	}
}
