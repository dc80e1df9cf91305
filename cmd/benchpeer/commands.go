package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/cmd/internal/latency"
	"github.com/floorgate/floorgate/cmd/internal/loadloop"
)

// hold opens -count connections and keeps them until -duration ends.
func hold(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	url := fs.String("ws", "", "Centrifugo's websocket endpoint")
	secret := fs.String("secret", "", "the HMAC secret of connection tokens")
	from := fs.Int("from", 0, "first user number")
	count := fs.Int("count", 1000, "connections to hold (at most 60,000 from one source)")
	source := fs.String("source", "", "local address to dial from (spreads ports over loopback addresses)")
	conc := fs.Int("concurrency", 32, "connects in flight while opening")
	duration := fs.Duration("duration", 20*time.Minute, "how long to hold")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *secret == "" || *count < 1 || *count > 60000 || *conc < 1 {
		return errors.New("hold needs -ws, -secret and 1 <= -count <= 60000")
	}
	d, err := dialer(*source)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var (
		next    atomic.Int64
		held    atomic.Int64
		failed  atomic.Int64
		wg      sync.WaitGroup
		readers sync.WaitGroup
		mu      sync.Mutex
		conns   []*peerConn
		lastErr error
	)
	for range *conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= *count {
					return
				}
				p, err := dialPeer(ctx, d, *url, *secret, "u"+strconv.Itoa(*from+i), 30*time.Second)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					lastErr = err
					mu.Unlock()
					continue
				}
				held.Add(1)
				mu.Lock()
				conns = append(conns, p)
				mu.Unlock()
				readers.Go(func() { _ = p.readLoop(nil) })
			}
		})
	}
	wg.Wait()
	fmt.Fprintf(out, "READY peer held=%d failed=%d\n", held.Load(), failed.Load())
	if lastErr != nil {
		fmt.Fprintf(out, "hold: last error: %v\n", lastErr)
	}
	<-ctx.Done()
	for _, p := range conns {
		p.conn.Close()
	}
	readers.Wait()
	return nil
}

// connectRate connects and disconnects as fast as -concurrency allows.
func connectRate(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	url := fs.String("ws", "", "Centrifugo's websocket endpoint")
	secret := fs.String("secret", "", "the HMAC secret of connection tokens")
	conc := fs.Int("concurrency", 32, "connects in flight")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	users := fs.Int("users", 10000, "users to cycle through")
	label := fs.String("label", "centrifugo", "label of the RESULT line")
	sources := fs.Int("sources", 8, "loopback source addresses to spread the ports over (127.0.0.51...)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *secret == "" || *conc < 1 || *users < 1 || *sources < 1 || *sources > 100 {
		return errors.New("connect needs -ws, -secret, -concurrency >= 1, -users >= 1, 1 <= -sources <= 100")
	}
	dialers := make([]*websocket.Dialer, *sources)
	for i := range dialers {
		d, err := dialer("127.0.0." + strconv.Itoa(51+i))
		if err != nil {
			return err
		}
		dialers[i] = d
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	res := loadloop.Run(ctx, *conc, func(ctx context.Context, w, i int) (func(), error) {
		p, err := dialPeer(ctx, dialers[(w+i)%len(dialers)], *url, *secret, "u"+strconv.Itoa((w+i**conc)%*users), 15*time.Second)
		if err != nil {
			return nil, err
		}
		return p.close, nil
	}, nil)
	fmt.Fprintf(out, "RESULT connect %s concurrency=%d connects=%d errors=%d rate=%.0f/s %s\n",
		*label, *conc, len(res.Latencies), res.Errors, float64(len(res.Latencies))/res.Elapsed.Seconds(), latency.Summary(res.Latencies))
	if res.Last != nil {
		fmt.Fprintf(out, "connect %s: last error: %v\n", *label, res.Last)
	}
	return nil
}

// publishLatency publishes to held clients' personal channels through
// another node's HTTP API, one publication at a time.
func publishLatency(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	url := fs.String("ws", "", "websocket endpoint of the node that holds the clients")
	api := fs.String("api", "", "HTTP API base of the node that publishes (…/api)")
	key := fs.String("key", "", "the HTTP API key")
	secret := fs.String("secret", "", "the HMAC secret of connection tokens")
	clients := fs.Int("clients", 300, "connections to hold")
	count := fs.Int("count", 1000, "publications")
	channel := fs.String("channel", "#%s", "personal channel of a user (%s: the user)")
	wait := fs.Duration("wait", 5*time.Second, "how long a publication may take to arrive before it counts as lost")
	label := fs.String("label", "centrifugo", "label of the RESULT line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *api == "" || *key == "" || *secret == "" || *clients < 1 || *clients > 20000 || *count < 1 || *count > 100000 {
		return errors.New("latency needs -ws, -api, -key, -secret, 1 <= -clients <= 20000, 1 <= -count <= 100000")
	}
	d, err := dialer("")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var (
		mu      sync.Mutex
		waiting = map[string]chan time.Time{} // publication id -> arrival
		readers sync.WaitGroup
		conns   []*peerConn
	)
	onPush := func(p push) {
		if p.Pub == nil {
			return
		}
		var body struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(p.Pub.Data, &body) != nil {
			return
		}
		now := time.Now()
		mu.Lock()
		ch := waiting[body.ID]
		mu.Unlock()
		if ch != nil {
			select {
			case ch <- now:
			default:
			}
		}
	}
	for i := range *clients {
		p, err := dialPeer(ctx, d, *url, *secret, "u"+strconv.Itoa(i), 30*time.Second)
		if err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		conns = append(conns, p)
		readers.Go(func() { _ = p.readLoop(onPush) })
	}
	defer func() {
		for _, p := range conns {
			p.conn.Close()
		}
		readers.Wait()
	}()
	hc := &http.Client{Timeout: 10 * time.Second}
	var lat, calls []time.Duration
	lost, failed := 0, 0
	for i := 0; i < *count && ctx.Err() == nil; i++ {
		user := "u" + strconv.Itoa(i%*clients)
		id := "p" + strconv.Itoa(i)
		arrived := make(chan time.Time, 1)
		mu.Lock()
		waiting[id] = arrived
		mu.Unlock()
		body, _ := json.Marshal(map[string]any{"channel": fmt.Sprintf(*channel, user), "data": map[string]string{"id": id}})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, *api+"/publish", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", *key)
		t0 := time.Now()
		res, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("publish: HTTP %d", res.StatusCode)
			}
		}
		if err != nil {
			failed++
			fmt.Fprintf(out, "latency: %v\n", err)
			continue
		}
		calls = append(calls, time.Since(t0))
		select {
		case at := <-arrived:
			lat = append(lat, at.Sub(t0))
		case <-time.After(*wait):
			lost++
		}
		mu.Lock()
		delete(waiting, id)
		mu.Unlock()
	}
	slices.Sort(calls)
	fmt.Fprintf(out, "RESULT publish-single %s issued=%d delivered=%d lost=%d call_errors=%d %s (api call p50=%s)\n",
		*label, len(lat)+lost, len(lat), lost, failed, latency.Summary(lat), latency.MS(latency.Percentile(calls, 50)))
	return nil
}
