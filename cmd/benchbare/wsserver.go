package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// runWSServer serves bare websockets until ctx ends or -duration passes.
func runWSServer(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:9090", "listen address")
	duration := fs.Duration("duration", 10*time.Minute, "stop after this long (bounded)")
	inHandler := fs.Bool("reader-in-handler", false, "keep the read loop inside the HTTP handler (the costly pattern, for comparison)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		CheckOrigin:      func(*http.Request) bool { return true },
	}
	var open, total atomic.Int64
	welcome := []byte(`{"type":"welcome","device_id":"bare","session":null}`)
	serve := func(c *websocket.Conn) {
		defer func() { c.Close(); open.Add(-1) }()
		c.SetReadLimit(4096)
		for {
			t, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if t == websocket.TextMessage {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if c.WriteMessage(websocket.TextMessage, data) != nil {
					return
				}
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		open.Add(1)
		total.Add(1)
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if c.WriteMessage(websocket.TextMessage, welcome) != nil {
			c.Close()
			open.Add(-1)
			return
		}
		if *inHandler {
			serve(c)
			return
		}
		go serve(c)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\ngo_goroutines %d\nbare_sockets %d\nbare_upgrades_total %d\n",
			m.HeapInuse, m.StackInuse, runtime.NumGoroutine(), open.Load(), total.Load())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "bare ws-server listening on %s (reader in handler: %v)\n", ln.Addr(), *inHandler)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	fmt.Fprintf(out, "bare ws-server stopped: %d upgrades\n", total.Load())
	return nil
}
