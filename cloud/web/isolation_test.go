package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
)

// dashboardRoute reports whether route ("GET /path") is a dashboard page:
// neither the API's, nor the sync protocol's, nor health.
func dashboardRoute(route string) bool {
	path := strings.Fields(route)[1]
	for _, p := range []string{"/api/", "/sync/"} {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return false
	}
	return true
}

// signedOut are the dashboard's routes that need no session.
var signedOut = map[string]bool{"GET /login": true, "POST /login": true}

// pageAttack is how organization B's signed-in owner aims a dashboard
// route at organization A's data.
type pageAttack struct {
	path string
	form url.Values // for a POST; the CSRF token of B's session is added
	// stream is an event stream: A's and B's new orders are stored while
	// B listens, and B must hear of its own and not of A's.
	stream bool
	// want is the status the attack must get.
	want int
}

// attackSets are the attacks of each area of the dashboard: an area's
// test file adds its own in an init function, next to its pages' tests.
var attackSets = []func(a cloudtest.Tenant) map[string]pageAttack{pageAttacks}

// allAttacks merges every area's attacks.
func allAttacks(tb testing.TB, a cloudtest.Tenant) map[string]pageAttack {
	tb.Helper()
	out := map[string]pageAttack{}
	for _, set := range attackSets {
		for route, at := range set(a) {
			if _, dup := out[route]; dup {
				tb.Fatalf("two attacks for %s", route)
			}
			out[route] = at
		}
	}
	return out
}

func pageAttacks(a cloudtest.Tenant) map[string]pageAttack {
	return map[string]pageAttack{
		"GET /":                     {path: "/", want: http.StatusOK},
		"GET /orders":               {path: "/orders?site=" + a.Site, want: http.StatusOK}, // B's own list, filtered to nothing
		"GET /orders/events":        {path: "/orders/events", stream: true, want: http.StatusOK},
		"GET /orders/:order_id":     {path: "/orders/" + a.Order, want: http.StatusNotFound},
		"GET /orders/:order_id/row": {path: "/orders/" + a.Order + "/row", want: http.StatusNotFound},
		"POST /logout":              {path: "/logout", form: url.Values{}, want: http.StatusSeeOther},
	}
}

// TestDashboardTenantIsolation aims every dashboard page, signed in as
// organization B's owner, at organization A's ids: each answers 404 (or,
// for B's own lists, shows only B's data), never shows any of A's data,
// and A's rows are exactly as they were. A page added without an attack
// here fails the test.
func TestDashboardTenantIsolation(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "alpha")
	b := cloudtest.SeedTenant(t, s, "beta")
	table := allAttacks(t, a)
	var missing []string
	for _, route := range s.Routes() {
		if _, ok := table[route]; dashboardRoute(route) && !ok && !signedOut[route] {
			missing = append(missing, route)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("dashboard routes without a tenant-isolation attack:\n  %s", strings.Join(missing, "\n  "))
	}
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	for route, at := range table {
		t.Run(route, func(t *testing.T) {
			c := newClient(t, s)
			if p := c.signIn(t, b.Org.OwnerEmail, cloudtest.Password); p.Status != http.StatusSeeOther {
				t.Fatalf("B signs in: %d", p.Status)
			}
			var p page
			if at.stream {
				p = listenWhile(t, c, at.path, func() {
					cloudtest.InsertOrder(t, s, a)
					cloudtest.InsertOrder(t, s, b)
				}, `"site_id":"`+b.Site+`"`)
			} else if at.form != nil {
				form := url.Values{"csrf": {csrf(t, c.get(t, "/"))}}
				for k, v := range at.form {
					form[k] = v
				}
				p = c.do(t, "POST", at.path, form)
			} else {
				p = c.get(t, at.path)
			}
			if p.Status != at.want {
				t.Fatalf("B on A's %s: %d, want %d\n%s", route, p.Status, at.want, p.Body)
			}
			for _, leak := range append(a.IDs(), a.Names...) {
				if strings.Contains(p.Body, leak) && !strings.Contains(at.path, leak) {
					t.Fatalf("B's page shows A's data (%s):\n%s", leak, p.Body)
				}
			}
		})
	}
	if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
		t.Fatalf("A's data changed under B's attacks:\n before %s\n after  %s", before, after)
	}
}

// listenWhile opens the event stream at path, runs act, and reads the
// stream until it has carried until (or 20 s have passed), then returns
// what it read.
func listenWhile(tb testing.TB, c *client, path string, act func(), until string) page {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	p := page{Status: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		return p
	}
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil { // the stream is open: the first comment
		tb.Fatalf("read %s: %v", path, err)
	}
	act()
	var got strings.Builder
	for !strings.Contains(got.String(), until) {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			tb.Fatalf("the stream ended (%v) before it carried %s; it carried:\n%s", err, until, got.String())
		}
	}
	p.Body = got.String()
	return p
}
