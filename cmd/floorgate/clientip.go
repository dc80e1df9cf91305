package main

import (
	"net"
	"net/http"
	"strings"
)

// clientIP returns how the gateway and the admin API learn a client's
// address, which throttles enrollments and admin sign-ins per source.
// With header empty it is the connection's remote address. Behind a load
// balancer every connection comes from the balancer, so header names
// where the balancer puts the client's address (X-Forwarded-For,
// X-Real-IP): the last address of that header, which is the one the
// balancer itself added, whatever a client sent before it. Set it only
// when the listeners are reachable through the balancer alone.
func clientIP(header string) func(r *http.Request) string {
	header = http.CanonicalHeaderKey(strings.TrimSpace(header))
	return func(r *http.Request) string {
		if header != "" {
			vals := r.Header.Values(header)
			if len(vals) > 0 {
				last := vals[len(vals)-1]
				if i := strings.LastIndexByte(last, ','); i >= 0 {
					last = last[i+1:]
				}
				if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
					return ip.String()
				}
			}
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
}
