package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// The benchmark script runs Floorgate on a schema and a Redis key prefix
// of its own, so that it never touches anyone else's data; these two
// modes create and remove them without needing psql or redis-cli.

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// runPGSchema creates or drops one schema.
func runPGSchema(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	url := fs.String("url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL")
	name := fs.String("name", "", "schema name (lower case letters, digits, _)")
	drop := fs.Bool("drop", false, "drop the schema and everything in it instead of creating it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !schemaName.MatchString(*name) || !strings.HasPrefix(*name, "bench_") {
		return fmt.Errorf("-name %q: want bench_ followed by lower case letters, digits or _", *name)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, *url)
	if err != nil {
		return fmt.Errorf("connect postgres: %w", err)
	}
	defer conn.Close(ctx)
	q := "CREATE SCHEMA " + *name
	if *drop {
		q = "DROP SCHEMA IF EXISTS " + *name + " CASCADE"
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	fmt.Fprintln(out, q)
	return nil
}

// runRedisClean deletes every key under one prefix.
func runRedisClean(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:6379", "Redis address")
	prefix := fs.String("prefix", "", "key prefix to delete (must start with fgbench)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(*prefix, "fgbench") || strings.ContainsAny(*prefix, "*?[]\\") {
		return errors.New("-prefix must start with fgbench and hold no glob characters")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: *addr})
	defer rdb.Close()
	n := 0
	var cursor uint64
	for i := 0; i < 1_000_000; i++ {
		keys, next, err := rdb.Scan(ctx, cursor, *prefix+"*", 1000).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("unlink: %w", err)
			}
			n += len(keys)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	fmt.Fprintf(out, "deleted %d keys under %s\n", n, *prefix)
	return nil
}
