package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/crypto/argon2"
)

// runArgon2HTTP serves POST /v1/login the bare way: decode the JSON body,
// one argon2id hash of the PIN with Floorgate's construction and
// parameters, encode a JSON answer with a random token. No store, no
// throttle, no bound on the hashes at once. devicesim logins -bare drives
// it as it drives Floorgate's login storm, so that the two rates are
// measured through the same client and HTTP.
func runArgon2HTTP(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:25090", "listen address")
	mem := fs.Uint("memory-kib", 19456, "argon2id memory, KiB (Floorgate's default: 19456)")
	passes := fs.Uint("time", 2, "argon2id passes (Floorgate's default: 2)")
	duration := fs.Duration("duration", 10*time.Minute, "stop after this long (bounded)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	pepper := make([]byte, 32)
	rand.Read(pepper)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/login", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Username string `json:"username"`
			PIN      string `json:"pin"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		salt := make([]byte, 16)
		rand.Read(salt)
		mac := hmac.New(sha256.New, pepper)
		mac.Write([]byte(req.PIN))
		argon2.IDKey(mac.Sum(nil), salt, uint32(*passes), uint32(*mem), 1, 32)
		tok := make([]byte, 32)
		rand.Read(tok)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"session_token": base64.RawURLEncoding.EncodeToString(tok), "session_id": "bare",
			"expires_at": time.Now().Add(8 * time.Hour).UTC(), "pin_change_required": false,
			"user": map[string]string{"id": "u", "username": req.Username}, "evicted": []any{}})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "bare argon2-http m=%d t=%d listening on %s\n", *mem, *passes, ln.Addr())
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
