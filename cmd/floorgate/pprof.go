package main

import (
	"net"
	"net/http"
	"net/http/pprof"
)

// pprofHandler serves net/http/pprof under /debug/pprof/ on a mux of its
// own (never http.DefaultServeMux), for the -pprof-addr listener only:
// the device and admin listeners never serve it. /debug/pprof/cmdline is
// left out: the command line may hold -admin-password.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and every named profile: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// isLoopback reports whether a bound host:port is on a loopback address.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
