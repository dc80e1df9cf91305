package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/testenv"
)

// Sizes of the custody benchmark: issue 13's warehouse of 10,000
// devices with 90 days of history, two shifts a day on every device
// (1.8 million custody records), plus a second warehouse a tenth of its
// size, so that the warehouse filters have something to leave out.
const (
	benchDevices  = 10_000
	benchDays     = 90
	benchShifts   = 2
	benchUsers    = 3_000
	benchOtherDev = 1_000
)

// seedCustody fills a fresh schema by COPY: the two warehouses, their
// devices (a tenth not seen for two days) and their custody records;
// the last shift of each device is still open. It returns the store,
// the big warehouse's id and the time the history ends.
func seedCustody(b *testing.B) (*Store, string, time.Time) {
	b.Helper()
	ctx := context.Background()
	schema := testenv.PostgresSchema(b)
	s, err := Open(ctx, testURL(), Options{Schema: schema, MaxConns: 4})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	end := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	start := end.Add(-benchDays * 24 * time.Hour)
	whs := []struct {
		id string
		n  int
	}{{"wh_big", benchDevices}, {"wh_other", benchOtherDev}}
	for _, w := range whs {
		if _, err := s.pool.Exec(ctx, `INSERT INTO warehouses (id, name, code, settings, created_at, updated_at) VALUES ($1, $1, $1, '{}', $2, $2)`, w.id, start); err != nil {
			b.Fatalf("warehouse: %v", err)
		}
		_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"devices"},
			[]string{"id", "serial", "warehouse_id", "label", "model", "os_version", "app_version", "enrolled_by", "enrolled_at", "last_seen_at", "status", "token_hash"},
			pgx.CopyFromSlice(w.n, func(i int) ([]any, error) {
				seen := end.Add(-time.Duration(i%7) * time.Minute)
				if i%10 == 0 {
					seen = end.Add(-48 * time.Hour)
				}
				id := fmt.Sprintf("dev_%s_%05d", w.id, i)
				return []any{id, id, w.id, "Scanner", "TC52", "13", "4.2.0", "mgr_x", start, seen, "active", "h_" + id}, nil
			}))
		if err != nil {
			b.Fatalf("devices: %v", err)
		}
		rows := w.n * benchDays * benchShifts
		_, err = s.pool.CopyFrom(ctx, pgx.Identifier{"custody"},
			[]string{"session_id", "device_id", "user_id", "warehouse_id", "method", "started_at", "ended_at", "end_reason", "ended_by"},
			pgx.CopyFromSlice(rows, func(k int) ([]any, error) {
				dev, rest := k%w.n, k/w.n
				day, shift := rest/benchShifts, rest%benchShifts
				began := start.Add(time.Duration(day)*24*time.Hour + time.Duration(6+8*shift)*time.Hour + time.Duration(dev%600)*time.Second)
				var ended *time.Time
				var reason, by *string
				if day < benchDays-1 || shift == 0 {
					e := began.Add(7*time.Hour + time.Duration(dev%3600)*time.Second)
					r := []string{"logout", "idle", "replaced", "expired", "admin"}[k%5]
					ended, reason = &e, &r
					if r == "admin" {
						m := "manager:mgr_lead"
						by = &m
					}
				}
				method := devices.MethodPIN
				if dev%4 == 0 {
					method = devices.MethodBadge
				}
				return []any{fmt.Sprintf("ses_%s_%09d", w.id, k), fmt.Sprintf("dev_%s_%05d", w.id, dev), fmt.Sprintf("usr_%04d", (dev+day*7+shift)%benchUsers),
					w.id, method, began, ended, reason, by}, nil
			}))
		if err != nil {
			b.Fatalf("custody: %v", err)
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE custody; ANALYZE devices"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
	return s, "wh_big", end
}

// BenchmarkCustody times the custody reads of the admin API on
// PostgreSQL against 1.8 million records of one warehouse (each must
// answer within 300 ms; docs/BENCHMARKS.md has the figures):
//
//	go test ./devices/postgres -run '^$' -bench Custody -benchtime 20x
func BenchmarkCustody(b *testing.B) {
	s, wh, end := seedCustody(b)
	ctx := context.Background()
	whs := []string{wh}
	mid := end.Add(-45*24*time.Hour + 15*time.Hour) // mid-afternoon, 45 days back
	notSeen := end.Add(-24 * time.Hour)
	night := mid.Add(12 * time.Hour)
	cases := []struct {
		name string
		f    devices.CustodyFilter
	}{
		{"warehouse_newest", devices.CustodyFilter{WarehouseIDs: whs}},
		{"warehouse_day_45_days_back", devices.CustodyFilter{WarehouseIDs: whs, From: mid.Add(-15 * time.Hour), To: mid.Add(9 * time.Hour), Limit: 500}},
		{"warehouse_badge_sessions", devices.CustodyFilter{WarehouseIDs: whs, Method: devices.MethodBadge, Limit: 500}},
		{"device_90_days", devices.CustodyFilter{WarehouseIDs: whs, DeviceID: "dev_wh_big_04321", Limit: 500}},
		{"user_90_days", devices.CustodyFilter{UserID: "usr_1234", Limit: 500}},
		{"signed_in_now", devices.CustodyFilter{WarehouseIDs: whs, OpenAt: &end, Limit: 500}},
		{"signed_in_past_15h_45_days_back", devices.CustodyFilter{WarehouseIDs: whs, OpenAt: &mid, Limit: 500}},
		// At 03:00 no one is signed in: the worst case scans the whole
		// look-back of a week.
		{"signed_in_at_night_none", devices.CustodyFilter{WarehouseIDs: whs, OpenAt: &night, Limit: 500}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				cs, err := s.Custody(ctx, c.f)
				if err != nil {
					b.Fatal(err)
				}
				n = len(cs)
			}
			if n == 0 && c.f.OpenAt != &night {
				b.Fatalf("%s found nothing", c.name)
			}
			b.ReportMetric(float64(n), "rows")
		})
	}
	b.Run("devices_not_seen_24h", func(b *testing.B) {
		n := 0
		for b.Loop() {
			ds, err := s.Devices(ctx, devices.DeviceFilter{WarehouseIDs: whs, NotSeenSince: &notSeen, Page: devices.Page{Limit: 500}})
			if err != nil {
				b.Fatal(err)
			}
			n = len(ds)
		}
		if n == 0 {
			b.Fatal("no device not seen")
		}
		b.ReportMetric(float64(n), "rows")
	})
}
