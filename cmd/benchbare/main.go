// Command benchbare runs the bare comparisons of docs/BENCHMARKS.md: the
// same work as Floorgate's hot paths with nothing of Floorgate around it,
// so that each figure of Floorgate can be set beside what the libraries
// alone allow on the same machine in the same run. It never imports
// Floorgate's packages.
//
//	benchbare ws-server -addr 127.0.0.1:9090 -duration 10m
//	    a gorilla websocket server with 1 KiB buffers and a shared
//	    write-buffer pool, its reader in its own goroutine (the handler
//	    returns at once); it sends {"type":"welcome"} on connect and
//	    echoes text frames. GET /metrics shows go_memstats_heap_inuse_bytes.
//	benchbare argon2 -memory-kib 19456 -time 2 -concurrency 2 -duration 10s
//	    argon2id over an HMAC-SHA256 of a PIN, as fast as it goes.
//	benchbare argon2-http -addr 127.0.0.1:25090
//	    POST /v1/login answered after one such hash, no store: devicesim
//	    logins -bare measures it as it measures Floorgate's logins.
//	benchbare redis-get -addr 127.0.0.1:6379 -concurrency 64 -duration 10s
//	    a go-redis GET loop on a few keys.
//	benchbare redis-pubsub -addr 127.0.0.1:6379 -count 1000
//	    PUBLISH a timestamp, receive it on another connection; latency.
//	benchbare http-redis -addr 127.0.0.1:19091
//	    POST /v1/introspect answered with one GET: HTTP's own cost.
package main

import "github.com/floorgate/floorgate/cmd/internal/cli"

func main() {
	cli.MainModes("benchbare", usage, map[string]cli.Mode{
		"ws-server":    runWSServer,
		"argon2":       runArgon2,
		"argon2-http":  runArgon2HTTP,
		"redis-get":    runRedisGet,
		"redis-pubsub": runRedisPubSub,
		"http-redis":   runHTTPRedis,
		"pg-schema":    runPGSchema,
		"redis-clean":  runRedisClean,
	})
}

const usage = `usage: benchbare <mode> [flags]

modes:
  ws-server     bare gorilla websocket server (1 KiB buffers, reader in its own goroutine)
  argon2        bare argon2id rate with given parameters and concurrency
  argon2-http   bare net/http server answering POST /v1/login with one argon2id hash
  redis-get     bare go-redis GET loop at a given concurrency
  redis-pubsub  bare Redis PUBLISH-to-receive latency loop
  http-redis    bare net/http server answering POST /v1/introspect with one go-redis GET
  pg-schema     create (or -drop) the benchmark's PostgreSQL schema
  redis-clean   delete the benchmark's Redis keys (one prefix)
`
