package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// redisClient makes the client that -redis-url names. Accepted forms:
//
//	redis://[user:password@]host:port[/db][?options]       one server
//	rediss://...                                            the same over TLS
//	redis://[user:password@]sentinel:port?master_name=M[&addr=sentinel2:port]
//	                                                        Sentinel
//	redis+cluster://[user:password@]host:port[?addr=host2:port&addr=...]
//	rediss+cluster://...                                    Cluster (seed nodes)
//	host1:port,host2:port,...                               Cluster, no auth
//
// The options are go-redis's (dial_timeout, pool_size, ...). The socket
// timeouts the URL leaves unset (dial, read, write, pool wait) are
// timeout, and every call honours its context's deadline, so that a
// stalled server fails a call instead of holding it (storeguard.go adds
// the per-call deadline and the breaker); 0 keeps go-redis's defaults.
func redisClient(raw string, timeout time.Duration) (goredis.UniversalClient, error) {
	if !strings.Contains(raw, "://") {
		var addrs []string
		for a := range strings.SplitSeq(raw, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("redis url: %q is neither a URL nor a comma-separated list of host:port", raw)
			}
			addrs = append(addrs, a)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("redis url: %q names no server", raw)
		}
		o := &goredis.UniversalOptions{Addrs: addrs, IsClusterMode: len(addrs) > 1, ContextTimeoutEnabled: true}
		bound(timeout, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
		return goredis.NewUniversalClient(o), nil
	}

	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error repeats the URL, which may hold a password.
		return nil, fmt.Errorf("redis url: not a valid URL")
	}
	switch u.Scheme {
	case "redis+cluster", "rediss+cluster":
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis cluster url: %w", err)
		}
		o.ContextTimeoutEnabled = true
		bound(timeout, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
		return goredis.NewClusterClient(o), nil
	case "redis", "rediss", "unix":
		if u.Query().Has("master_name") {
			o, err := goredis.ParseFailoverURL(raw)
			if err != nil {
				return nil, fmt.Errorf("redis sentinel url: %w", err)
			}
			o.ContextTimeoutEnabled = true
			bound(timeout, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
			return goredis.NewFailoverClient(o), nil
		}
		o, err := goredis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		o.ContextTimeoutEnabled = true
		bound(timeout, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
		return goredis.NewClient(o), nil
	default:
		return nil, fmt.Errorf("redis url: scheme %q: want redis, rediss, redis+cluster or rediss+cluster", u.Scheme)
	}
}

// bound sets each of the timeouts that is still unset (0) to timeout.
func bound(timeout time.Duration, ts ...*time.Duration) {
	if timeout <= 0 {
		return
	}
	for _, t := range ts {
		if *t == 0 {
			*t = timeout
		}
	}
}
