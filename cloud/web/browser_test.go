package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The dashboard driven as a facility admin uses it, in headless Chromium.
// PANTRY_SCREENSHOTS=DIR keeps what the pages showed.

// browserSignIn opens the dashboard signed out, is sent to the sign-in
// page, and signs in from the form.
func browserSignIn(tb testing.TB, b *browsertest.Browser, s *cloudtest.Server, email string) {
	tb.Helper()
	b.Open(tb, s.URL+"/login")
	if got := b.UnnamedFields(tb); len(got) > 0 {
		tb.Errorf("sign-in fields without a label: %q", got)
	}
	b.Do(tb,
		chromedp.SendKeys(`input[name=email]`, email),
		chromedp.SendKeys(`input[name=password]`, cloudtest.Password),
	)
	if resp := b.RunResponse(tb, "sign in", chromedp.Click(`form button[type=submit]`)); resp.Status != http.StatusOK {
		tb.Fatalf("sign in: status %d", resp.Status)
	}
	b.WaitFor(tb, "the signed-in page", `!!document.querySelector("[data-signed-in]")`)
}

// checkLayout asserts what every page must be at any size: nothing
// scrolls sideways (tables scroll in their own box), no two controls
// overlap, every field has a name, and the page reported no problem.
func checkLayout(tb testing.TB, b *browsertest.Browser, name string) {
	tb.Helper()
	if content, viewport := b.Widths(tb); content > viewport {
		tb.Errorf("%s: the page is %d px wide in a %d px viewport", name, content, viewport)
	}
	if o := b.Overlaps(tb, "a, button, input, select, h1, .health, .status"); len(o) > 0 {
		tb.Errorf("%s: overlapping elements:\n%s", name, strings.Join(o, "\n"))
	}
	if got := b.UnnamedFields(tb); len(got) > 0 {
		tb.Errorf("%s: fields without a label: %q", name, got)
	}
	if small := b.SmallTargets(tb, 44); len(small) > 0 {
		tb.Errorf("%s: touch targets under 44 px: %q", name, small)
	}
	b.Screenshot(tb, name)
}

// followLink clicks the link sel and waits for the page at path, as a
// person does: a click that did not take (the live list redrew the row
// under the pointer) is made again, twice at most. It fails saying where
// the browser is and what the page shows.
func followLink(tb testing.TB, b *browsertest.Browser, sel, path string) {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		b.Do(tb, chromedp.Click(sel))
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if at, err := chromedp.Run(b.Context(), chromedp.Evaluate[string](`location.pathname`)); err == nil && at == path {
				return
			}
		}
		if attempt == 3 {
			at, _ := chromedp.Run(b.Context(), chromedp.Evaluate[string](`location.pathname`))
			h1, _ := chromedp.Run(b.Context(), chromedp.Evaluate[string](`(document.querySelector("h1") || {}).textContent || ""`))
			tb.Fatalf("clicked %s three times and the browser is at %s (%q), want %s", sel, at, h1, path)
		}
	}
}

// TestBrowserDashboardSignInAndPages: a person opens the dashboard, is
// sent to sign in, signs in, sees the fleet with the edge node of their
// site, opens the live orders and an order, at phone and desktop sizes.
func TestBrowserDashboardSignInAndPages(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	for _, size := range []struct {
		name string
		v    browsertest.Viewport
	}{{"phone", browsertest.Phone}, {"desktop", browsertest.Tablet}} {
		t.Run(size.name, func(t *testing.T) {
			b := browsertest.New(t, browsertest.Options{Viewport: size.v})
			b.Open(t, s.URL+"/")
			if p := b.Path(t); p != "/login" {
				t.Fatalf("signed out, / shows %s, want /login", p)
			}
			browserSignIn(t, b, s, a.Org.OwnerEmail)
			b.WaitFor(t, "the fleet row of A's node", fmt.Sprintf(`!!document.querySelector('[data-node-id=%s][data-health]')`, browsertest.JSString(a.Node)))
			checkLayout(t, b, "dashboard-fleet-"+size.name)

			b.Do(t, chromedp.Click(`nav a[href="/orders"]`))
			b.WaitFor(t, "the order row", fmt.Sprintf(`!!document.querySelector('[data-order-id=%s][data-status=placed]')`, browsertest.JSString(a.Order)))
			checkLayout(t, b, "dashboard-orders-"+size.name)

			followLink(t, b, fmt.Sprintf(`[data-order-id=%q] a`, a.Order), "/orders/"+a.Order)
			b.WaitFor(t, "the order page", `document.querySelector("h1").textContent.startsWith("Order in")`)
			if got := b.Text(t, "table.lines tbody"); !strings.Contains(got, a.Names[0]+" coffee") {
				t.Errorf("the order's lines show %q, want the coffee", got)
			}
			checkLayout(t, b, "dashboard-order-"+size.name)

			b.Do(t, chromedp.Click(`form[action="/logout"] button`))
			b.WaitFor(t, "the sign-in page", `location.pathname === "/login"`)
			b.NoProblems(t)
		})
	}
}

// TestBrowserDashboardLiveOrders: with two cloud instances on one
// database, a person watching the live orders page of one sees an order
// stored through the other appear, and then its status change pushed by
// the building's edge node, without reloading.
func TestBrowserDashboardLiveOrders(t *testing.T) {
	t.Parallel()
	one := cloudtest.Start(t)
	two := cloudtest.StartOn(t, one.DBURL)
	a := cloudtest.SeedTenant(t, one, "acme")
	b := browsertest.New(t, browsertest.Options{Viewport: browsertest.Tablet})
	browserSignIn(t, b, two, a.Org.OwnerEmail)
	b.Open(t, two.URL+"/orders")
	b.WaitFor(t, "the live note", `!document.querySelector("[data-live]").hidden`)
	browsertest.Eval[int](t, b, `window.__notReloaded = 1`)

	id := cloudtest.InsertOrder(t, one, a)
	b.WaitFor(t, "the new order's row", fmt.Sprintf(`!!document.querySelector('[data-orders] [data-order-id=%s][data-status=placed]')`, browsertest.JSString(id)))
	if got := browsertest.Eval[int](t, b, `window.__notReloaded || 0`); got != 1 {
		t.Fatalf("the page reloaded to show the order")
	}

	// The building accepts it: the edge pushes the status change.
	change, _ := json.Marshal(syncproto.StatusChanged{ID: pantry.NewID(), OrderID: id, From: "placed", To: "accepted", Actor: "tablet", At: time.Now().UTC()})
	push := syncproto.PushRequest{Version: syncproto.Version, NodeID: a.Node, SoftwareVersion: "test", SentAt: time.Now().UTC(),
		Events: []syncproto.Event{{Seq: 2, ID: pantry.NewID(), Type: syncproto.EventOrderStatusChanged, Schema: 1, EntityID: id,
			Payload: change, CreatedAt: time.Now().UTC()}}}
	if r := one.Do(t, "POST", syncproto.PathPush, a.NodeCredential, push); r.Status != http.StatusOK {
		t.Fatalf("push the status change: %d %s", r.Status, r.Body)
	}
	b.WaitFor(t, "the accepted row", fmt.Sprintf(`!!document.querySelector('[data-orders] [data-order-id=%s][data-status=accepted]')`, browsertest.JSString(id)))
	if got := browsertest.Eval[int](t, b, `window.__notReloaded || 0`); got != 1 {
		t.Fatalf("the page reloaded to show the change")
	}
	b.Screenshot(t, "dashboard-live-orders")
	b.NoProblems(t)
}
