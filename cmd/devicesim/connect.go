package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/floorgate/floorgate/cmd/internal/latency"
	"github.com/floorgate/floorgate/cmd/internal/loadloop"
	"github.com/gorilla/websocket"
)

// runConnect opens sockets as fast as -concurrency workers can, each
// waiting for welcome and closing, and prints connects per second. With
// -bare no token is sent (a bare websocket server's upgrade rate).
func runConnect(ctx context.Context, cm *common, fs *flag.FlagSet, args []string, out io.Writer) error {
	devicesFile := fs.String("devices-file", "bench-devices.json", "devices written by the setup mode")
	from := fs.Int("from", 0, "first device used")
	count := fs.Int("count", 0, "devices used (0: all from -from on); each worker cycles over its share")
	conc := fs.Int("concurrency", 32, "connects in flight at once")
	duration := fs.Duration("duration", 10*time.Second, "how long to connect (bounded)")
	sources := fs.String("sources", "127.0.0.21,127.0.0.22,127.0.0.23,127.0.0.24", "comma-separated loopback source addresses to rotate through")
	bare := fs.Bool("bare", false, "send no device token (a bare websocket server)")
	label := fs.String("label", "floorgate", "name printed on the result line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var devs []loadDevice
	if !*bare {
		all, err := readLoadDevices(*devicesFile)
		if err != nil {
			return err
		}
		if devs, err = sliceRange(all, *from, *count); err != nil {
			return err
		}
		if len(devs) < *conc {
			return fmt.Errorf("%d devices for %d workers: each worker needs its own devices (one socket per device)", len(devs), *conc)
		}
	}
	var dialers []*websocket.Dialer
	srcs := splitList(*sources)
	if len(srcs) == 0 {
		srcs = []string{""}
	}
	for _, s := range srcs {
		d, err := loadDialer(s)
		if err != nil {
			return err
		}
		dialers = append(dialers, d)
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	kinds := map[string]int{}
	var withSession atomic.Int64 // welcomes that carried the device's session
	res := loadloop.Run(ctx, *conc, func(ctx context.Context, w, i int) (func(), error) {
		token := ""
		if !*bare {
			per := len(devs) / *conc
			token = devs[w+(*conc)*(i%per)].DeviceToken
		}
		conn, wf, err := dialWelcome(ctx, dialers[(w+i)%len(dialers)], cm.gateway, token, 15*time.Second)
		if err != nil {
			return nil, err
		}
		if wf.Session != nil {
			withSession.Add(1)
		}
		return func() {
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			conn.Close()
		}, nil
	}, func(err error) { kinds[errKind(err)]++ })
	fmt.Fprintf(out, "RESULT connect %s concurrency=%d connects=%d errors=%d with_session=%d rate=%.0f/s %s\n",
		*label, *conc, len(res.Latencies), res.Errors, withSession.Load(), rate(len(res.Latencies), res.Elapsed), latency.Summary(res.Latencies))
	if res.Last != nil {
		fmt.Fprintf(out, "connect %s errors by kind: %v; last: %v\n", *label, kinds, res.Last)
	}
	return nil
}

// errKind is an error's text without addresses and ports, to count errors
// by kind.
func errKind(err error) string {
	f := strings.Fields(err.Error())
	for i, w := range f {
		if strings.Contains(w, "127.0.0.") {
			f[i] = "ADDR"
		}
	}
	return strings.Join(f, " ")
}
