package console

import (
	"context"
	"net/http"
	"net/url"
	"sync"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/sessions"
)

// commandsData is a list of logout commands followed live: the ones an
// action made (ids), or a warehouse's unacknowledged ones.
type commandsData struct {
	IDs       []string
	Warehouse string
	Items     []admin.CommandView
	Missing   int // ids the API no longer knows (expired and forgotten)
	Live      string
}

// commandsQuery reads ?id=…&id=… (at most maxFlashCommands) and
// ?warehouse=.
func commandsQuery(r *http.Request) (ids []string, wh string) {
	q := r.URL.Query()
	for _, id := range q["id"] {
		if id != "" && len(ids) < maxFlashCommands {
			ids = append(ids, id)
		}
	}
	return ids, q.Get("warehouse")
}

func commandsURL(ids []string, wh string) string {
	q := url.Values{}
	for _, id := range ids {
		q.Add("id", id)
	}
	if wh != "" {
		q.Set("warehouse", wh)
	}
	return "/commands/events?" + q.Encode()
}

// loadCommands reads the commands named, at a few at once, then the
// warehouse's unacknowledged ones.
func (c *Console) loadCommands(ctx context.Context, r *http.Request, s *session, d *commandsData) error {
	items := make([]admin.CommandView, len(d.IDs))
	errs := make([]error, len(d.IDs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, id := range d.IDs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = c.do(ctx, r, s.token, "GET", "/commands/"+url.PathEscape(id), nil, &items[i])
		})
	}
	wg.Wait()
	d.Items, d.Missing = d.Items[:0], 0
	for i, err := range errs {
		if ae, ok := err.(*apiError); ok && ae.Status == http.StatusNotFound {
			d.Missing++
			continue
		}
		if err != nil {
			return err
		}
		d.Items = append(d.Items, items[i])
	}
	if d.Warehouse != "" {
		var p admin.Page[admin.CommandView]
		if err := c.do(ctx, r, s.token, "GET", "/warehouses/"+url.PathEscape(d.Warehouse)+"/commands?page_size=200", nil, &p); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, it := range d.Items {
			seen[it.CommandID] = true
		}
		for _, it := range p.Items {
			if !seen[it.CommandID] {
				d.Items = append(d.Items, it)
			}
		}
	}
	return nil
}

func (c *Console) commands(w http.ResponseWriter, r *http.Request, s *session) error {
	ids, wh := commandsQuery(r)
	d := &commandsData{IDs: ids, Warehouse: wh, Live: commandsURL(ids, wh)}
	if err := c.loadCommands(r.Context(), r, s, d); err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "commands", view{Title: "Logout commands", Nav: "sessions", S: s, Data: d})
}

// commandEvents streams a list of commands as they are delivered and
// acknowledged.
func (c *Console) commandEvents(w http.ResponseWriter, r *http.Request, s *session) error {
	ids, wh := commandsQuery(r)
	d := &commandsData{IDs: ids, Warehouse: wh}
	if err := c.loadCommands(r.Context(), r, s, d); err != nil {
		return err
	}
	if _, err := c.loadWarehouses(r.Context(), r, s); err != nil {
		return err
	}
	var mu sync.Mutex
	whs := map[string]bool{wh: wh != ""}
	track := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range d.Items {
			whs[it.WarehouseID] = true
		}
	}
	track()
	return c.live(w, r, liveSource{
		relevant: func(e sessions.Event) bool {
			mu.Lock()
			defer mu.Unlock()
			switch e.Kind {
			case sessions.KindActivity:
				return whs[e.WarehouseID]
			case sessions.KindEnded:
				return e.Command != nil && whs[e.Command.WarehouseID]
			}
			return false
		},
		render: func(ctx context.Context) (map[string]string, error) {
			if err := c.loadCommands(ctx, r, s, d); err != nil {
				return nil, err
			}
			track()
			html, err := c.fragment("commands", "commandrows", d)
			if err != nil {
				return nil, err
			}
			return map[string]string{"commands": html}, nil
		},
	})
}
