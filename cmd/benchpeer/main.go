// Command benchpeer drives Centrifugo, the real-time server
// docs/BENCHMARKS.md measures Floorgate beside, through its JSON client
// protocol over a websocket and its HTTP server API, so that each
// Floorgate figure has the peer's figure from the same run on the same
// machine and Redis. deploy/bench/run.sh installs Centrifugo into its
// temporary directory and runs it; Centrifugo is never a dependency of
// this module, and benchpeer speaks the protocol itself (a connect
// command with an HS256 JWT, pings answered, pushes read).
//
//	benchpeer hold -ws ws://127.0.0.1:18500/connection/websocket -secret S -from 0 -count 5000 -source 127.0.0.11
//	    opens count connections for users u<from>..u<from+count-1>, each
//	    subscribed by the server to its personal channel, prints READY,
//	    and holds them (answering pings) until -duration or a signal.
//	benchpeer connect -ws URL -secret S -concurrency 32 -duration 10s
//	    connects (the connect reply with the personal channel) and
//	    disconnects, as fast as it goes: connects per second.
//	benchpeer latency -ws URL -api http://127.0.0.1:18600/api -key K -secret S -clients 300 -count 1000
//	    holds clients connections on one node and publishes to their
//	    personal channels through another node's HTTP API, one at a
//	    time: publish call -> push received, and how many were lost.
package main

import "github.com/floorgate/floorgate/cmd/internal/cli"

func main() {
	cli.MainModes("benchpeer", usage, map[string]cli.Mode{
		"hold":    hold,
		"connect": connectRate,
		"latency": publishLatency,
	})
}

const usage = `usage: benchpeer <mode> [flags]

modes:
  hold     open and hold connections, each subscribed to its personal channel
  connect  connects and disconnects per second at a concurrency
  latency  publish through one node's HTTP API to clients held on another: publish -> push
`
