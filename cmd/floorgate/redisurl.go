package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"

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
// The options are go-redis's (dial_timeout, pool_size, ...).
func redisClient(raw string) (goredis.UniversalClient, error) {
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
		return goredis.NewUniversalClient(&goredis.UniversalOptions{Addrs: addrs, IsClusterMode: len(addrs) > 1}), nil
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
		return goredis.NewClusterClient(o), nil
	case "redis", "rediss", "unix":
		if u.Query().Has("master_name") {
			o, err := goredis.ParseFailoverURL(raw)
			if err != nil {
				return nil, fmt.Errorf("redis sentinel url: %w", err)
			}
			return goredis.NewFailoverClient(o), nil
		}
		o, err := goredis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		return goredis.NewClient(o), nil
	default:
		return nil, fmt.Errorf("redis url: scheme %q: want redis, rediss, redis+cluster or rediss+cluster", u.Scheme)
	}
}
