package introspect_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"

	"github.com/floorgate/floorgate/clients/introspect"
)

// A backend of the handheld app checks the session of every request.
func ExampleClient_Middleware() {
	fg := &introspect.Client{
		BaseURL:    "https://floorgate.example",
		ServiceKey: "fgk_…", // from POST /admin/v1/service-keys, scope introspect; keep it in a secret store
	}
	picks := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := introspect.FromContext(r.Context()) // always there behind the middleware
		fmt.Fprintf(w, "picks of %s in warehouse %s\n", s.Username, s.WarehouseID)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /picks", fg.Middleware(slog.Default(), picks))
	log.Fatal(http.ListenAndServe("127.0.0.1:9000", mux))
}

// A caller that is not an HTTP handler checks a token itself.
func ExampleClient_Introspect() {
	fg := &introspect.Client{BaseURL: "https://floorgate.example", ServiceKey: "fgk_…"}
	s, err := fg.Introspect(context.Background(), "fgs_…")
	switch {
	case errors.Is(err, introspect.ErrInactive):
		fmt.Println("signed out: refuse the request")
	case err != nil:
		fmt.Println("cannot tell now: refuse, and retry later")
	default:
		fmt.Println("active:", s.Username)
	}
}
