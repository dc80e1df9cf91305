package main

import (
	"reflect"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

func TestRedisClient(t *testing.T) {
	tests := []struct {
		url   string
		kind  string   // "client" or "cluster"
		addrs []string // server or seed addresses
		db    int
	}{
		{"redis://127.0.0.1:6379", "client", []string{"127.0.0.1:6379"}, 0},
		{"redis://:secret@10.0.0.5:6380/2", "client", []string{"10.0.0.5:6380"}, 2},
		{"rediss://cache.example:6379/0", "client", []string{"cache.example:6379"}, 0},
		{"redis+cluster://n1:7000?addr=n2:7001&addr=n3:7002", "cluster", []string{"n1:7000", "n2:7001", "n3:7002"}, 0},
		{"rediss+cluster://n1:7000", "cluster", []string{"n1:7000"}, 0},
		{"n1:7000,n2:7001,n3:7002", "cluster", []string{"n1:7000", "n2:7001", "n3:7002"}, 0},
		{"n1:6379", "client", []string{"n1:6379"}, 0},
		{"redis://s1:26379?master_name=mymaster&addr=s2:26379", "client", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := redisClient(tt.url, 0)
			if err != nil {
				t.Fatalf("redisClient(%q) = %v", tt.url, err)
			}
			defer c.Close()
			switch cl := c.(type) {
			case *goredis.Client:
				if tt.kind != "client" {
					t.Fatalf("redisClient(%q) is a %T; want a %s", tt.url, c, tt.kind)
				}
				if tt.addrs != nil && cl.Options().Addr != tt.addrs[0] {
					t.Errorf("redisClient(%q) addr = %q; want %q", tt.url, cl.Options().Addr, tt.addrs[0])
				}
				if cl.Options().DB != tt.db {
					t.Errorf("redisClient(%q) db = %d; want %d", tt.url, cl.Options().DB, tt.db)
				}
			case *goredis.ClusterClient:
				if tt.kind != "cluster" {
					t.Fatalf("redisClient(%q) is a %T; want a %s", tt.url, c, tt.kind)
				}
				if got := cl.Options().Addrs; !reflect.DeepEqual(got, tt.addrs) {
					t.Errorf("redisClient(%q) seeds = %q; want %q", tt.url, got, tt.addrs)
				}
			default:
				t.Fatalf("redisClient(%q) is a %T", tt.url, c)
			}
		})
	}
}

func TestRedisClientErrors(t *testing.T) {
	for _, raw := range []string{
		"http://127.0.0.1:6379",
		"just-a-host",
		",",
		"redis://:hunter2@[::1",
	} {
		t.Run(raw, func(t *testing.T) {
			c, err := redisClient(raw, 0)
			if err == nil {
				c.Close()
				t.Fatalf("redisClient(%q) = nil error; want one", raw)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("redisClient(%q) = %v; the error quotes the password", raw, err)
			}
		})
	}
}
