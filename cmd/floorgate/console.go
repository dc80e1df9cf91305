package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/floorgate/floorgate/sessions"
)

// teeWatch is the session store the gateway watches: every event its one
// watcher receives also goes to also (the console's Feed, the admin API's
// manager-token cache), and its ready calls go to ready too, so that
// neither needs a subscription of its own. Both are set before the
// gateway runs.
type teeWatch struct {
	sessions.Store
	also  func(sessions.Event)
	ready func(reset bool)
}

func (t *teeWatch) Watch(ctx context.Context, ready func(reset bool), fn func(sessions.Event)) error {
	return t.Store.Watch(ctx, func(reset bool) {
		ready(reset)
		if t.ready != nil {
			t.ready(reset)
		}
	}, func(e sessions.Event) {
		fn(e)
		t.also(e)
	})
}

// secureRequest reports whether a request reached Floorgate over TLS:
// directly, or (trustProxy: -client-ip-header is set, so a trusted load
// balancer sits in front) through a balancer whose last
// X-Forwarded-Proto says https. The console's cookie is Secure then.
func secureRequest(trustProxy bool) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		if r.TLS != nil {
			return true
		}
		if !trustProxy {
			return false
		}
		vals := r.Header.Values("X-Forwarded-Proto")
		if len(vals) == 0 {
			return false
		}
		last := vals[len(vals)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		return strings.EqualFold(strings.TrimSpace(last), "https")
	}
}
