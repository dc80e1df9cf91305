package devices

import (
	"crypto/sha256"
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/clock"
)

// TestTokenCacheShrinks: a Go map keeps the room of its deleted entries,
// so a sweep that leaves the cache's map mostly empty makes a new one
// (the room of 10,000 lapsed entries, about 1.6 MB, is not kept for an
// instance's life); a sweep that leaves most entries, or a small map, keeps the map.
func TestTokenCacheShrinks(t *testing.T) {
	clk := clock.New(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC))
	c := NewTokenCache(nil, TokenCacheOptions{TTL: time.Minute, Now: clk.Now})
	c.Start()
	mapOf := func() uintptr { return uintptr(reflect.ValueOf(c.byToken).UnsafePointer()) }
	put := func(from, n int, until time.Time) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i := from; i < from+n; i++ {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			c.byToken[sha256.Sum256(b[:])] = cachedDevice{id: "dev", warehouseID: "wh", until: until}
			c.peak = max(c.peak, len(c.byToken))
		}
	}

	// Small: kept whatever lapses.
	put(0, minShrink-1, clk.Now().Add(time.Minute))
	small := mapOf()
	clk.Advance(2 * time.Minute)
	c.Sweep()
	if c.Len() != 0 || mapOf() != small {
		t.Fatalf("after the sweep of %d lapsed entries: Len %d, map remade %v; want 0, not remade", minShrink-1, c.Len(), mapOf() != small)
	}

	// 10,000 entries, 3,000 of them fresher: a sweep leaving 30% keeps
	// the map; one leaving none makes a new one.
	now := clk.Now()
	put(0, 7000, now.Add(time.Minute))
	put(7000, 3000, now.Add(3*time.Minute))
	big := mapOf()
	clk.Advance(2 * time.Minute)
	c.Sweep()
	if c.Len() != 3000 || mapOf() != big {
		t.Fatalf("sweep leaving 3,000 of 10,000: Len %d, map remade %v; want 3000, not remade", c.Len(), mapOf() != big)
	}
	clk.Advance(2 * time.Minute)
	c.Sweep()
	if c.Len() != 0 || mapOf() == big {
		t.Fatalf("sweep leaving none of 10,000: Len %d, map remade %v; want 0, remade", c.Len(), mapOf() != big)
	}
	if c.peak != 0 {
		t.Fatalf("peak after the remake = %d; want 0", c.peak)
	}

	// Stop (a lost subscription) empties it: the room goes too.
	put(0, 5000, clk.Now().Add(time.Minute))
	big = mapOf()
	c.Stop()
	if c.Len() != 0 || mapOf() == big {
		t.Fatalf("Stop: Len %d, map remade %v; want 0, remade", c.Len(), mapOf() != big)
	}
}
