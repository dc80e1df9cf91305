// Command example is a minimal backend of a handheld app: it serves
// GET /v1/picks to signed-in associates only, checking every request's
// Floorgate session token with the introspect middleware.
//
//	FLOORGATE_SERVICE_KEY=fgk_… go run ./clients/introspect/example -floorgate http://127.0.0.1:8080
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/floorgate/floorgate/clients/introspect"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. listening, when not nil, is told the
// address once the listener is bound (for tests).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, listening func(addr string)) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	base := fs.String("floorgate", "http://127.0.0.1:8080", "Floorgate's device listener")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	key := getenv("FLOORGATE_SERVICE_KEY") // an environment variable, not a flag: flags show in ps
	if key == "" {
		return errors.New("set FLOORGATE_SERVICE_KEY to a service key with scope introspect")
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	fg := &introspect.Client{BaseURL: *base, ServiceKey: key}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(fg, log), ReadHeaderTimeout: 5 * time.Second}
	log.Info("listening", "addr", ln.Addr().String())
	if listening != nil {
		listening(ln.Addr().String())
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler is the backend: every route behind the middleware.
func newHandler(fg *introspect.Client, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/picks", func(w http.ResponseWriter, r *http.Request) {
		s, _ := introspect.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"user_id":      s.UserID,
			"username":     s.Username,
			"warehouse_id": s.WarehouseID,
			"device_id":    s.DeviceID,
			"picks":        []string{}, // a real backend reads them for s.UserID
		})
	})
	return fg.Middleware(log, mux)
}
