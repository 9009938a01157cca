package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
)

// These tests drive a real Chromium against a real demo edge node at a
// phone's viewport, because the attendee pages make promises that no
// HTTP-level test can check: they work with JavaScript off, update live
// with it on, load nothing from the internet, and every field has a name
// a screen reader can say.

func TestBrowserOrderWithoutJavaScript(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	room := n.Demo.Rooms[0]
	staff := n.StaffToken(t)
	b := newBrowser(t, n, false)

	b.open(t, "/q/"+room.Code)
	if got, want := b.Text(t, "header h1"), room.Name; got != want {
		t.Fatalf("heading=%q, want %q", got, want)
	}
	if got := b.Text(t, "#menu-h + .menu"); !strings.Contains(got, "Espresso") || !strings.Contains(got, "EUR 2.50") {
		t.Fatalf("menu does not show Espresso at EUR 2.50:\n%s", got)
	}

	t.Run("NothingChosenShowsError", func(t *testing.T) {
		before := openQueue(t, n, staff)
		if got, want := b.submit(t), http.StatusBadRequest; got != want {
			t.Fatalf("submit status=%d, want %d", got, want)
		}
		if got := b.Text(t, "[role=alert]"); !strings.Contains(got, "at least one") {
			t.Fatalf("alert=%q, want it to ask for at least one item", got)
		}
		if got, want := len(openQueue(t, n, staff)), len(before); got != want {
			t.Fatalf("open queue=%d orders, want %d", got, want)
		}
	})

	t.Run("Order", func(t *testing.T) {
		b.open(t, "/q/"+room.Code)
		b.Do(t, chromedp.SendKeys(quantity("Espresso"), "2"))
		if got := b.Text(t, "#total"); got != "" {
			t.Fatalf("total=%q: page scripts ran, want them off", got)
		}
		if got, want := b.submit(t), http.StatusOK; got != want {
			t.Fatalf("submit status=%d, want %d", got, want)
		}
		id := b.orderID(t)
		if got, want := b.Text(t, "#status"), "Placed"; got != want {
			t.Fatalf("status=%q, want %q", got, want)
		}
		lines := browsertest.Eval[[][]string](t, b.Browser, `Array.from(document.querySelectorAll("table.lines tbody tr"), tr => Array.from(tr.cells, td => td.textContent.trim()))`)
		if want := [][]string{{"Espresso", "2", "EUR 5.00"}}; !slices.EqualFunc(lines, want, slices.Equal) {
			t.Fatalf("order lines=%q, want %q", lines, want)
		}
		queue := openQueue(t, n, staff)
		i := slices.IndexFunc(queue, func(o pantry.Order) bool { return o.ID == id })
		if i < 0 {
			t.Fatalf("order %s not in the open queue (%d orders)", id, len(queue))
		}
		if o := queue[i]; len(o.Lines) != 1 || o.Lines[0].Name != "Espresso" || o.Lines[0].Quantity != 2 || o.SpaceID != room.ID {
			t.Fatalf("queued order=%+v, want 2 × Espresso for %s", o, room.Name)
		}
	})
}

func TestBrowserOrderPageUpdatesLive(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	b := newBrowser(t, n, true)
	b.open(t, "/q/"+n.Demo.Rooms[1].Code)
	b.Do(t, chromedp.SendKeys(quantity("Green tea"), "1"))
	if got, want := b.submit(t), http.StatusOK; got != want {
		t.Fatalf("submit status=%d, want %d", got, want)
	}
	id := b.orderID(t)
	// The server reads the order, then subscribes to its changes, then
	// sends the order as the stream's first event: a change made before
	// that event arrives could fall between the read and the subscription.
	b.WaitEvents(t, 1)
	browsertest.Eval[chromedp.Void](t, b.Browser, `window.__marker = 1`)

	staff := n.StaffToken(t)
	for _, st := range []string{"accepted", "preparing"} {
		r := n.Do(t, "POST", "/api/v1/staff/orders/"+id+"/status", staff, map[string]string{"status": st})
		if r.Status != http.StatusOK {
			t.Fatalf("-> %s: %d %s", st, r.Status, r.Body)
		}
		want := strings.ToUpper(st[:1]) + st[1:]
		b.WaitText(t, "#status", want)
		if !browsertest.Eval[bool](t, b.Browser, `document.querySelector('#steps li[data-step=`+st+`]').classList.contains("done")`) {
			t.Errorf("step %s not marked done", st)
		}
	}
	if !browsertest.Eval[bool](t, b.Browser, `window.__marker === 1`) {
		t.Fatal("the page reloaded: window.__marker is gone")
	}
	if got, want := b.Path(t), "/orders/"+id; got != want {
		t.Fatalf("path=%q, want %q", got, want)
	}
	b.NoProblems(t)
}

func TestBrowserPagesAreSelfContained(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	b := newBrowser(t, n, true)
	b.open(t, "/q/"+n.Demo.Rooms[2].Code)
	b.checkPage(t)
	if unnamed := b.UnnamedFields(t); len(unnamed) > 0 {
		t.Errorf("fields without an accessible name:\n%s", strings.Join(unnamed, "\n"))
	}

	b.Do(t, chromedp.SendKeys(quantity("Croissant"), "1"))
	if got, want := b.submit(t), http.StatusOK; got != want {
		t.Fatalf("submit status=%d, want %d", got, want)
	}
	id := b.orderID(t)
	b.WaitEvents(t, 1)
	b.checkPage(t)

	requests := b.Requests()
	for _, want := range []string{"/static/pantry.css", "/static/pantry.js", "/api/v1/orders/" + id + "/events"} {
		if !slices.ContainsFunc(requests, func(u string) bool { return strings.HasSuffix(u, want) }) {
			t.Errorf("no request for %s among %q", want, requests)
		}
	}
	own, _ := url.Parse(n.URL)
	for _, r := range requests {
		// A data: URL is inline, not a fetch (Chromium's own time-picker
		// icon is one): it cannot reach the internet.
		if strings.HasPrefix(r, "data:") {
			continue
		}
		if u, err := url.Parse(r); err != nil || u.Scheme != "http" || u.Host != own.Host {
			t.Errorf("request to %s: the pages must load everything from the node (%s)", r, own.Host)
		}
	}
	b.NoProblems(t)
}

func TestBrowserRunningTotal(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	b := newBrowser(t, n, true)
	b.open(t, "/q/"+n.Demo.Rooms[3].Code)
	if got := b.Text(t, "#total"); got != "" {
		t.Fatalf("total before choosing=%q, want empty", got)
	}
	b.Do(t, chromedp.SendKeys(quantity("Espresso"), "2"))
	b.WaitText(t, "#total", "Total EUR 5.00")
	b.Do(t, chromedp.SendKeys(quantity("Flat white"), "1"))
	b.WaitText(t, "#total", "Total EUR 8.50")
	b.NoProblems(t)
}

// browser is a headless Chromium tab (internal/browsertest) that opens
// the pages of one edge node.
type browser struct {
	*browsertest.Browser
	node *edgetest.Node
}

// newBrowser starts Chromium with a phone-sized tab; with js false the tab
// runs no page script at all.
func newBrowser(tb testing.TB, n *edgetest.Node, js bool) *browser {
	tb.Helper()
	return newBrowserAt(tb, n, js, browsertest.Phone)
}

// newBrowserAt is newBrowser with another viewport: browsertest.Tablet for
// the staff app.
func newBrowserAt(tb testing.TB, n *edgetest.Node, js bool, v browsertest.Viewport) *browser {
	tb.Helper()
	return &browser{Browser: browsertest.New(tb, browsertest.Options{Viewport: v, NoScript: !js}), node: n}
}

// open loads a page of the node and fails unless it answers 200.
func (b *browser) open(tb testing.TB, path string) {
	tb.Helper()
	b.Open(tb, b.node.URL+path)
}

// submit taps the order form's button, waits for the page it leads to
// (after any redirect) and returns that page's status.
func (b *browser) submit(tb testing.TB) int {
	tb.Helper()
	resp := b.RunResponse(tb, "submit the order form", chromedp.Click(chromedp.CSS(`#order-form button[type=submit]`)))
	return int(resp.Status)
}

// quantity selects a menu item's quantity field by its accessible label,
// the way a screen-reader user finds it.
func quantity(item string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`input[aria-label="Quantity of %s"]`, item))
}

// orderID is the id of the order page the browser is on.
func (b *browser) orderID(tb testing.TB) string {
	tb.Helper()
	p := b.Path(tb)
	id, ok := strings.CutPrefix(p, "/orders/")
	if !ok || !pantry.ValidID(id) {
		tb.Fatalf("browser is at %s, want an order page /orders/{id}", p)
	}
	return id
}

// checkPage checks what every attendee page needs on a phone: a language,
// a viewport meta, the stylesheet applied, and no sideways scrolling.
func (b *browser) checkPage(tb testing.TB) {
	tb.Helper()
	p := b.Path(tb)
	if lang := browsertest.Eval[string](tb, b.Browser, `document.documentElement.lang`); lang == "" {
		tb.Errorf("%s: <html> has no lang", p)
	}
	if vp := browsertest.Eval[string](tb, b.Browser, `(document.querySelector('meta[name=viewport]') || {}).content || ""`); !strings.Contains(vp, "width=device-width") {
		tb.Errorf("%s: viewport meta=%q, want width=device-width", p, vp)
	}
	size := browsertest.Eval[string](tb, b.Browser, `getComputedStyle(document.body).fontSize`)
	if px, err := strconv.ParseFloat(strings.TrimSuffix(size, "px"), 64); err != nil || px < 16 {
		tb.Errorf("%s: body font-size=%s, want at least 16px (is the stylesheet applied?)", p, size)
	}
	if bg := browsertest.Eval[string](tb, b.Browser, `getComputedStyle(document.querySelector("header")).backgroundColor`); bg == "" || bg == "transparent" || bg == "rgba(0, 0, 0, 0)" {
		tb.Errorf("%s: header background=%q, want the stylesheet's colour", p, bg)
	}
	if content, viewport := b.Widths(tb); content > viewport {
		tb.Errorf("%s: content is %d px wide in a %d px viewport: the page scrolls sideways", p, content, viewport)
	}
}

// openQueue is the staff view of the open orders.
func openQueue(tb testing.TB, n *edgetest.Node, staff string) []pantry.Order {
	tb.Helper()
	var queue struct{ Orders []pantry.Order }
	r := n.Do(tb, "GET", "/api/v1/staff/orders?status=open", staff, nil)
	if r.Status != http.StatusOK {
		tb.Fatalf("staff queue: %d %s", r.Status, r.Body)
	}
	r.Decode(tb, &queue)
	return queue.Orders
}
