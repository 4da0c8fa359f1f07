package route

import "context"

// Table is the routes of one sink, in configuration order.
type Table struct {
	Sink   string
	Routes []*Route
}

// Select returns the first route that matches the event, or nil. A filter
// that fails is an error for the event (a *RenderError naming the route).
func (t *Table) Select(ctx context.Context, ev *Event) (*Route, error) {
	for _, r := range t.Routes {
		ok, err := r.Match(ctx, ev)
		if err != nil {
			return r, err
		}
		if ok {
			return r, nil
		}
	}
	return nil, nil
}

// Lookup returns the route named name, or nil.
func (t *Table) Lookup(name string) *Route {
	for _, r := range t.Routes {
		if r.Name == name {
			return r
		}
	}
	return nil
}
