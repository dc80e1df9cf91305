package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// Feed passes the fan-out events this instance receives to the live
// pages watching them. cmd/floorgate calls Publish from the gateway's
// one watcher (no second subscription). Publish never blocks: a page
// that is behind misses events and catches up on its next refresh.
type Feed struct {
	mu   sync.Mutex
	subs map[chan sessions.Event]struct{}
	done chan struct{} // closed by Close
	once sync.Once
}

// NewFeed returns an empty Feed.
func NewFeed() *Feed {
	return &Feed{subs: map[chan sessions.Event]struct{}{}, done: make(chan struct{})}
}

// Publish hands e to every live page.
func (f *Feed) Publish(e sessions.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Close ends every live stream (call it when the server stops, so that
// a graceful stop does not wait for open pages).
func (f *Feed) Close() { f.once.Do(func() { close(f.done) }) }

func (f *Feed) subscribe() (<-chan sessions.Event, func()) {
	ch := make(chan sessions.Event, 64)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

// liveSource is one live page: whether an event concerns it, and its
// parts rendered now (name -> HTML).
type liveSource struct {
	relevant func(e sessions.Event) bool
	render   func(ctx context.Context) (map[string]string, error)
}

// live serves a live page's server-sent events: each part that
// changed, as an event named after it, after a relevant event
// (coalesced) or every RefreshEvery. It ends when the client goes away,
// the manager's token stops working (event "signedout") or the Feed is
// closed.
func (c *Console) live(w http.ResponseWriter, r *http.Request, src liveSource) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	_ = rc.Flush()

	var events <-chan sessions.Event
	var done <-chan struct{}
	if c.cfg.Feed != nil {
		ch, cancel := c.cfg.Feed.subscribe()
		defer cancel()
		events, done = ch, c.cfg.Feed.done
	}
	ctx := r.Context()
	last := map[string]string{}
	refresh := time.NewTimer(0) // the first refresh sends every part
	defer refresh.Stop()
	tick := time.NewTicker(c.cfg.RefreshEvery)
	defer tick.Stop()
	pending := false
	var notBefore time.Time // the next refresh, at the earliest
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		case e := <-events:
			if !pending && src.relevant(e) {
				pending = true
				refresh.Reset(max(c.cfg.Coalesce, time.Until(notBefore)))
			}
			continue
		case <-tick.C:
		case <-refresh.C:
		}
		pending = false
		began := time.Now()
		parts, err := src.render(ctx)
		notBefore = time.Now().Add(refreshGap(time.Since(began)))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
				_, _ = fmt.Fprint(w, "event: signedout\ndata: {}\n\n")
				_ = rc.Flush()
				return nil
			}
			// An outage: say so, and try again at the next tick.
			c.log.WarnContext(ctx, "console: live refresh failed", "path", r.URL.Path, "err", err)
			_, _ = fmt.Fprint(w, "event: stale\ndata: {}\n\n")
			_ = rc.Flush()
			continue
		}
		sent := false
		for name, html := range parts {
			if last[name] == html {
				continue
			}
			last[name] = html
			writeEvent(w, name, html)
			sent = true
		}
		if !sent {
			_, _ = fmt.Fprint(w, ": quiet\n\n")
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// refreshGap is how long a live page waits after a refresh that took
// took before the next one: three times as long (a page of a very large
// warehouse takes a tenth of a second, so a busy floor costs at most a
// quarter of a core per open page), but never more than maxRefreshGap,
// so that a change still shows within a second.
func refreshGap(took time.Duration) time.Duration { return min(3*took, maxRefreshGap) }

const maxRefreshGap = 500 * time.Millisecond

// writeEvent writes one server-sent event whose data is html, one data
// line per line.
func writeEvent(w http.ResponseWriter, name, html string) {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteByte('\n')
	for line := range strings.SplitSeq(html, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, _ = w.Write([]byte(b.String()))
}
