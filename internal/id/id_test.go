package id

import (
	"strings"
	"testing"
	"time"
)

func TestNewSorts(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	prev := ""
	for i := range 100 {
		id := New("ses_", t0.Add(time.Duration(i)*time.Millisecond))
		if len(id) != 30 || id <= prev || !strings.HasPrefix(id, "ses_") {
			t.Fatalf("New #%d = %q after %q; want ses_ and 26 characters, ascending", i, id, prev)
		}
		prev = id
	}
	if a, b := New("x_", t0), New("x_", t0); a == b {
		t.Errorf("two ids of the same millisecond are equal: %q", a)
	}
	if id := NewSuffixed("ses_", t0, "AbC"); len(id) != 33 || !strings.HasSuffix(id, "AbC") {
		t.Errorf("NewSuffixed = %q; want 30 characters and the suffix", id)
	}
}
