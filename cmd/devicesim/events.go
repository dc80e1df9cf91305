package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Load modes run in several processes (one process may open only about
// 20,000 files). Each hold process appends what its sockets see to an
// event file, one line per event, "<kind> <unix_ns> <fields…>", flushed
// every 100 ms; the modes that measure read every file of a directory.
// All processes run on one machine, so their wall clocks agree.
const (
	evUp      = "up"      // device_id gateway_index: welcome received
	evDown    = "down"    // device_id gateway_index: socket ended
	evSession = "session" // session_id device_id: the device holds this session
	evLogout  = "logout"  // session_id command_id: logout frame received
)

// eventLog is an append-only event file shared by a process's sockets.
type eventLog struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func openEventLog(path string) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("event log: %w", err)
	}
	l := &eventLog{f: f, w: bufio.NewWriterSize(f, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.mu.Lock()
				l.w.Flush()
				l.mu.Unlock()
			case <-l.stop:
				return
			}
		}
	}()
	return l, nil
}

// add writes one event stamped now.
func (l *eventLog) add(kind string, fields ...string) {
	if l == nil {
		return
	}
	ns := strconv.FormatInt(time.Now().UnixNano(), 10)
	l.mu.Lock()
	l.w.WriteString(kind)
	l.w.WriteByte(' ')
	l.w.WriteString(ns)
	for _, f := range fields {
		l.w.WriteByte(' ')
		l.w.WriteString(f)
	}
	l.w.WriteByte('\n')
	l.mu.Unlock()
}

func (l *eventLog) Close() error {
	if l == nil {
		return nil
	}
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Flush()
	return l.f.Close()
}

// event is one parsed line.
type event struct {
	Kind   string
	At     time.Time
	Fields []string
}

// readEvents reads every *.events file of dir, in no particular order
// across files and in order within each. A torn last line is skipped.
func readEvents(dir string) ([]event, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.events"))
	if err != nil {
		return nil, err
	}
	var out []event
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, parseEvents(string(data))...)
	}
	return out, nil
}

// parseEvents parses complete lines; malformed ones are skipped.
func parseEvents(s string) []event {
	var out []event
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break // torn: being written
		}
		line := s[:i]
		s = s[i+1:]
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, event{Kind: f[0], At: time.Unix(0, ns), Fields: f[2:]})
	}
	return out
}
