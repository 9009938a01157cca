package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/server"
)

// TestLiveStreamOutlivesItsRechecks: a live orders stream rechecks its
// session while it runs, long after the request that opened it has
// returned. It once did so through the recycled request and brought the
// whole server down at the first recheck (a minute in). With rechecks
// every 100 ms the stream still delivers an order after many of them,
// and once the person signs out it says so and ends.
func TestLiveStreamOutlivesItsRechecks(t *testing.T) {
	t.Parallel()
	const recheck = 100 * time.Millisecond
	s := cloudtest.Start(t, func(cfg *server.Config) { cfg.LiveRecheck = recheck })
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/orders/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	events := make(chan string, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- line
			}
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before %s", what)
			}
			return ev
		case <-time.After(time.Minute):
			t.Fatalf("no %s within a minute", what)
		}
		return ""
	}

	time.Sleep(20 * recheck) // twenty rechecks of a live session
	if got := s.Do(t, "GET", "/healthz", "", nil); got.Status != http.StatusOK {
		t.Fatalf("the server after its rechecks: %d", got.Status)
	}
	cloudtest.InsertOrder(t, s, a)
	if ev := next("the order's event"); ev != "order" {
		t.Fatalf("event %q, want order", ev)
	}
	if p := adminPost(t, c, "/", "/logout", url.Values{}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.Status)
	}
	if ev := next("the signed-out event"); ev != "signed-out" {
		t.Fatalf("event %q after signing out, want signed-out", ev)
	}
	if _, open := <-events; open {
		t.Fatal("the stream went on after signing out")
	}
}
