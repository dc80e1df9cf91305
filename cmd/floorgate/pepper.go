package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/floorgate/floorgate/devices"
)

// minPepperBytes is the shortest pepper accepted: 112 bits, the least key
// strength still accepted for a new key (NIST SP 800-131A).
const minPepperBytes = 14

// pepperFileName is the generated pepper's name inside the data dir.
const pepperFileName = "pepper"

// readPepper reads a pepper file: its bytes less trailing line ends, so
// that `openssl rand -hex 32 > pepper` works as well as raw bytes.
func readPepper(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pepper file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < minPepperBytes {
		return nil, fmt.Errorf("pepper file %s holds %d bytes: a pepper needs at least %d bytes (112 bits), e.g. from `openssl rand -hex 32`",
			path, len(b), minPepperBytes)
	}
	return b, nil
}

// loadPepper returns the pepper: from c.PepperFile when set, otherwise
// from <data dir>/pepper, generating that file (256 random bits,
// hex-encoded, mode 0600) on first start. It refuses to generate a new
// pepper for a registry that already holds accounts, since every hash in
// it was made with another pepper and none would verify again.
func loadPepper(ctx context.Context, c config, store devices.Store, log *slog.Logger) ([]byte, error) {
	if c.PepperFile != "" {
		return readPepper(c.PepperFile)
	}
	path := filepath.Join(c.DataDir, pepperFileName)
	p, err := readPepper(path)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	ms, err := store.Managers(ctx, devices.ManagerFilter{Page: devices.Page{Limit: 1}})
	if err != nil {
		return nil, fmt.Errorf("check registry before generating a pepper: %w", err)
	}
	if len(ms) > 0 {
		return nil, fmt.Errorf("no pepper at %s but the registry already holds accounts: "+
			"set -pepper-file to the pepper their hashes were made with", path)
	}

	if err := ensureDataDir(c.DataDir); err != nil {
		return nil, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generate pepper: %w", err)
	}
	p = []byte(hex.EncodeToString(raw[:]))
	// O_EXCL: when two processes share a data dir, one writes and the
	// other reads what it wrote.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readPepper(path)
	}
	if err != nil {
		return nil, fmt.Errorf("write pepper: %w", err)
	}
	if _, err := f.Write(append(p, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pepper: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write pepper: %w", err)
	}
	log.Warn("generated a new hashing pepper in the data dir; keep it safe and back it up with the registry, "+
		"losing it makes every PIN and password unusable; in production set -pepper-file",
		"path", path)
	return p, nil
}
