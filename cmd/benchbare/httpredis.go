package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// runHTTPRedis serves POST /v1/introspect the bare way: decode the JSON
// body, one go-redis GET, encode a JSON answer. It separates what HTTP
// itself costs on this machine from what Floorgate adds to it.
func runHTTPRedis(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:19091", "listen address")
	raddr := fs.String("redis", "127.0.0.1:6379", "Redis address")
	duration := fs.Duration("duration", 10*time.Minute, "stop after this long (bounded)")
	keys := fs.Int("keys", 1000, "distinct keys")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: *raddr, PoolSize: 128})
	defer rdb.Close()
	prefix := randomPrefix()
	val := strings.Repeat("x", 400)
	pipe := rdb.Pipeline()
	for i := 0; i < *keys; i++ {
		pipe.Set(ctx, prefix+strconv.Itoa(i), val, *duration+time.Minute)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("seed keys: %w", err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		p := rdb.Pipeline()
		for i := 0; i < *keys; i++ {
			p.Del(dctx, prefix+strconv.Itoa(i))
		}
		p.Exec(dctx)
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/introspect", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		h := 0
		for _, c := range req.Token {
			h = h*31 + int(c)
		}
		if h < 0 {
			h = -h
		}
		v, err := rdb.Get(r.Context(), prefix+strconv.Itoa(h%*keys)).Result()
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"active": true, "session_id": v[:16], "user_id": "u", "username": "bare",
			"warehouse_id": "w", "device_id": "d", "expires_at": time.Now().UTC()})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "bare http-redis listening on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	return srv.Shutdown(sctx)
}
