package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/postgres"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/memory"
	sessredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/throttle"
	thmemory "github.com/floorgate/floorgate/throttle/memory"
	thredis "github.com/floorgate/floorgate/throttle/redis"
)

// registryFileName is the embedded registry's name inside the data dir.
const registryFileName = "registry.db"

// openRegistryStore opens the registry's store: PostgreSQL when a URL is
// configured (migrations applied under an advisory lock, so several
// instances may start at once), else the SQLite file in the data dir.
//
// With PostgreSQL, every call is bounded by -store-timeout and goes
// through the guards' breaker.
func openRegistryStore(ctx context.Context, c config, g *storeGuards, log *slog.Logger) (devices.Store, error) {
	if c.PostgresURL != "" {
		s, err := postgres.Open(ctx, c.PostgresURL, postgres.Options{CallTimeout: g.timeout, Breaker: g.registry, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open postgres registry: %w", err)
		}
		log.Info("registry", "backend", "postgres")
		return s, nil
	}
	if err := ensureDataDir(c.DataDir); err != nil {
		return nil, err
	}
	path := filepath.Join(c.DataDir, registryFileName)
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite registry: %w", err)
	}
	log.Info("registry", "backend", "sqlite", "path", path)
	return s, nil
}

// sessionStores are the live-session store and the sign-in throttle, and
// what closes them.
type sessionStores struct {
	Store    sessions.Store
	Throttle throttle.Throttle
	close    func() error
}

// openSessions opens the session store and throttle: Redis when a URL is
// configured, else in process (one instance only; sessions end on
// restart). With Redis, every command is bounded by -store-timeout and
// goes through the guards' breaker (one client, so one breaker, for the
// sessions and the throttle).
func openSessions(ctx context.Context, c config, g *storeGuards, log *slog.Logger) (sessionStores, error) {
	if c.RedisURL != "" {
		client, err := redisClient(c.RedisURL, g.timeout)
		if err != nil {
			return sessionStores{}, err
		}
		client.AddHook(redisGuard{timeout: g.timeout, br: g.sessions})
		opts := sessredis.Options{Prefix: c.RedisPrefix, Logger: log.With("component", "sessions")}
		st := sessredis.New(client, opts)
		th := thredis.New(client, thredis.Options{Prefix: c.RedisPrefix})
		// The client connects lazily: a Redis that is down at start is
		// reported here and by /readyz, and logins fail closed until it
		// answers.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := client.Ping(pctx).Err(); err != nil {
			log.Warn("redis does not answer yet", "err", err)
		}
		cancel()
		log.Info("sessions", "backend", "redis", "prefix", c.RedisPrefix)
		return sessionStores{Store: st, Throttle: th, close: func() error {
			return errors.Join(closeIfCloser(st), closeIfCloser(th), client.Close())
		}}, nil
	}
	st := memory.New(memory.Options{})
	th := thmemory.New(thmemory.Options{})
	log.Info("sessions", "backend", "memory")
	return sessionStores{Store: st, Throttle: th, close: func() error {
		return errors.Join(closeIfCloser(st), closeIfCloser(th))
	}}, nil
}

// closeIfCloser closes v when it has a Close method.
func closeIfCloser(v any) error {
	if c, ok := v.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// ensureDataDir creates the data dir, readable by its owner only.
func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	return nil
}
