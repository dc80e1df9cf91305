package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// managersStore is a devices.Store that answers Managers only: what
// loadPepper asks before generating a pepper.
type managersStore struct {
	devices.Store
	managers []devices.Manager
}

func (s managersStore) Managers(ctx context.Context, f devices.ManagerFilter) ([]devices.Manager, error) {
	return s.managers, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestReadPepper(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string // "" when refused
	}{
		{"hex with newline", strings.Repeat("ab", 32) + "\n", strings.Repeat("ab", 32)},
		{"crlf trimmed", "0123456789abcdef\r\n", "0123456789abcdef"},
		{"exactly 14 bytes", "0123456789abcd", "0123456789abcd"},
		{"raw bytes kept", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\xff", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\xff"},
		{"13 bytes refused", "0123456789abc", ""},
		{"13 bytes and newline refused", "0123456789abc\n", ""},
		{"empty refused", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pepper")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readPepper(path)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "at least 14 bytes") {
					t.Errorf("readPepper(%q) = %q, %v; want an error asking for at least 14 bytes", tt.content, got, err)
				}
				if err != nil && strings.Contains(err.Error(), tt.content) && tt.content != "" {
					t.Errorf("readPepper error %q quotes the pepper", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("readPepper(%q) = %q, %v; want %q", tt.content, got, err, tt.want)
			}
		})
	}
}

func TestLoadPepperGenerates(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	c := config{DataDir: dir}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))

	p1, err := loadPepper(ctx, c, managersStore{}, log)
	if err != nil {
		t.Fatalf("loadPepper (first start) = %v", err)
	}
	if len(p1) < 32 {
		t.Errorf("generated pepper has %d bytes; want at least 32", len(p1))
	}
	fi, err := os.Stat(filepath.Join(dir, "pepper"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("pepper file mode = %v; want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v, %v; want 0700", di.Mode().Perm(), err)
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "pepper") {
		t.Errorf("first start logged %q; want a WARN about the generated pepper", logs.String())
	}
	if strings.Contains(logs.String(), string(p1)) {
		t.Errorf("the log holds the pepper")
	}

	// Second start: the same pepper, even though accounts exist now.
	logs.Reset()
	withAdmin := managersStore{managers: []devices.Manager{{ID: "m1"}}}
	p2, err := loadPepper(ctx, c, withAdmin, log)
	if err != nil || !bytes.Equal(p1, p2) {
		t.Errorf("loadPepper (second start) = %q, %v; want the first pepper %q", p2, err, p1)
	}
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("second start logged %q; want no warning", logs.String())
	}
}

func TestLoadPepperRefusesToReplaceALostOne(t *testing.T) {
	c := config{DataDir: t.TempDir()}
	withAdmin := managersStore{managers: []devices.Manager{{ID: "m1"}}}
	_, err := loadPepper(context.Background(), c, withAdmin, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "-pepper-file") {
		t.Errorf("loadPepper with accounts and no pepper = %v; want a refusal pointing at -pepper-file", err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "pepper")); err == nil {
		t.Errorf("a pepper file was written although the start was refused")
	}
}

func TestLoadPepperFromFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config{DataDir: filepath.Join(dir, "data"), PepperFile: path}
	if _, err := loadPepper(context.Background(), c, managersStore{}, discardLogger()); err == nil {
		t.Errorf("loadPepper with a 5-byte pepper file = nil; want a refusal")
	}
	if _, err := os.Stat(c.DataDir); err == nil {
		t.Errorf("the data dir was created although -pepper-file was set")
	}

	c.PepperFile = filepath.Join(dir, "missing")
	if _, err := loadPepper(context.Background(), c, managersStore{}, discardLogger()); err == nil {
		t.Errorf("loadPepper with a missing -pepper-file = nil; want an error (never a generated pepper)")
	}
}
