package web_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/pantry"
)

// The staff app is driven as pantry staff use it: two tablets signed in,
// an attendee ordering, one tablet working the ticket while the other
// follows. PANTRY_SCREENSHOTS=DIR saves what the tablets showed.

// tabletWidth and tabletHeight are a 10-inch tablet in landscape.
const tabletWidth, tabletHeight = 1280, 800

// signIn opens /staff and signs the demo tablet in from the form, as a
// person does, choosing station.
func signIn(tb testing.TB, b *browser, n *edgetest.Node, station string) {
	tb.Helper()
	b.open(tb, "/staff")
	if got := eval[[]string](tb, b, unnamedFieldsJS); len(got) > 0 {
		tb.Errorf("sign-in fields without a label: %q", got)
	}
	b.do(tb,
		chromedp.SendKeys(`input[name=username]`, n.Demo.Tablet.Username),
		chromedp.SendKeys(`input[name=password]`, n.Demo.Tablet.Password),
		chromedp.SetValue(`select[name=station]`, station),
	)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(`form.signin-form button[type=submit]`))
	if err != nil || resp.Status != http.StatusOK {
		tb.Fatalf("sign in: %v (status %v)", err, resp)
	}
	b.waitFor(tb, "the app", `document.body.hasAttribute("data-staff-app")`)
}

// waitFor waits, within the test's deadline, until js is true on the page.
func (b *browser) waitFor(tb testing.TB, what, js string) {
	tb.Helper()
	for b.ctx.Err() == nil {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("waited in vain for %s (%s)", what, js)
}

// ticketJS is a condition on the ticket of order id.
func ticketJS(id, cond string) string {
	return fmt.Sprintf(`(t => !!t && (%s))(document.querySelector('[data-order-id=%s]'))`, cond, jsString(id))
}

// placeOrder orders as an attendee of room 0 and returns the order.
func placeOrder(tb testing.TB, n *edgetest.Node, lines []map[string]any, note string) pantry.Order {
	tb.Helper()
	sess := n.Session(tb, 0)
	r := n.Do(tb, "POST", "/api/v1/orders", sess, map[string]any{"lines": lines, "note": note, "deliver_to": "room"},
		"Idempotency-Key", pantry.NewSecret(16))
	if r.Status != http.StatusCreated {
		tb.Fatalf("place order: %d %s", r.Status, r.Body)
	}
	var o pantry.Order
	r.Decode(tb, &o)
	return o
}

func (b *browser) screenshot(tb testing.TB, name string) {
	tb.Helper()
	dir := os.Getenv("PANTRY_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestBrowserStaffAppTwoTablets(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	a := newBrowserAt(t, n, true, tabletWidth, tabletHeight, false)
	b := newBrowserAt(t, n, true, tabletWidth, tabletHeight, false)
	signIn(t, a, n, "all")
	signIn(t, b, n, "all")
	for _, br := range []*browser{a, b} {
		br.waitFor(t, "the live connection", `!document.querySelector('[data-banner="edge"]') && document.querySelector("[data-empty]") !== null`)
	}

	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	o := placeOrder(t, n, []map[string]any{{"item_id": menu[0].ID, "quantity": 2, "note": "oat milk"}}, "<script>alert(1)</script> by 10")
	for _, br := range []*browser{a, b} {
		br.waitFor(t, "the new ticket", ticketJS(o.ID, `t.dataset.status === "placed"`))
	}
	if got := a.text(t, fmt.Sprintf(`[data-order-id=%q] .order-note`, o.ID)); !strings.Contains(got, "<script>") {
		t.Errorf("order note shows %q, want the text with <script> as text", got)
	}
	a.screenshot(t, "staff-tablet")

	a.do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=advance]`, o.ID)))
	for _, br := range []*browser{a, b} {
		br.waitFor(t, "the accepted ticket", ticketJS(o.ID, `t.dataset.status === "accepted"`))
	}
	if got := openStatus(t, n, o.ID); got != pantry.StatusAccepted {
		t.Fatalf("the edge has the order %s, want accepted", got)
	}

	// A phone orders from its room; both tablets get the ticket, and the
	// phone's order page follows tablet B's tap.
	phone := newBrowser(t, n, true)
	phone.open(t, "/q/"+n.Demo.Rooms[1].Code)
	phone.do(t, chromedp.SendKeys(quantity("Green tea"), "1"))
	if got, want := phone.submit(t), http.StatusOK; got != want {
		t.Fatalf("phone order: status %d, want %d", got, want)
	}
	id := phone.orderID(t)
	phone.waitEvents(t, 1)
	for _, br := range []*browser{a, b} {
		br.waitFor(t, "the phone's ticket", ticketJS(id, `t.dataset.status === "placed"`))
	}
	b.do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=advance]`, id)))
	a.waitFor(t, "the phone's ticket accepted", ticketJS(id, `t.dataset.status === "accepted"`))
	phone.waitText(t, "#status", "Accepted")
	for _, br := range []*browser{a, b, phone} {
		br.noProblems(t)
	}
}

// openStatus is the order's status as the edge holds it.
func openStatus(tb testing.TB, n *edgetest.Node, id string) pantry.OrderStatus {
	tb.Helper()
	r := n.Do(tb, "GET", "/api/v1/staff/orders/"+id, n.StaffToken(tb), nil)
	var o pantry.Order
	r.Decode(tb, &o)
	return o.Status
}

// TestBrowserStaffAppLayout: at a tablet's and a phone's size, with
// tickets of long names and notes, nothing scrolls sideways and no ticket,
// button or banner overlaps another.
func TestBrowserStaffAppLayout(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		placeOrder(t, n, []map[string]any{
			{"item_id": menu[i%len(menu)].ID, "quantity": i + 1, "note": strings.Repeat("extra hot, no sugar ", i)},
			{"item_id": menu[(i+3)%len(menu)].ID, "quantity": 1},
		}, strings.Repeat("Please bring napkins. ", i))
	}
	for _, size := range []struct {
		name   string
		w, h   int64
		mobile bool
	}{{"tablet", tabletWidth, tabletHeight, false}, {"phone", phoneWidth, phoneHeight, true}} {
		t.Run(size.name, func(t *testing.T) {
			b := newBrowserAt(t, n, true, size.w, size.h, size.mobile)
			signIn(t, b, n, "all")
			b.waitFor(t, "five tickets", `document.querySelectorAll("[data-order-id]").length === 5`)
			b.screenshot(t, "staff-"+size.name)
			if w := eval[[]int](t, b, `[document.documentElement.clientWidth, document.documentElement.scrollWidth]`); w[1] > w[0] {
				t.Errorf("content is %d px wide in a %d px viewport: the page scrolls sideways", w[1], w[0])
			}
			if got := eval[[]string](t, b, overlapsJS); len(got) > 0 {
				t.Errorf("elements overlap: %q", got)
			}
			if got := eval[[]string](t, b, smallTargetsJS); len(got) > 0 {
				t.Errorf("touch targets under 44 px: %q", got)
			}
			b.noProblems(t)
		})
	}
}

// overlapsJS lists pairs of tickets, buttons and banners whose boxes
// intersect (a button inside a ticket is not an overlap).
const overlapsJS = `(() => {
	const els = Array.from(document.querySelectorAll("[data-order-id], button, [data-banner]")).filter(e => e.offsetParent !== null);
	const out = [];
	for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++) {
		const a = els[i], b = els[j];
		if (a.contains(b) || b.contains(a)) continue;
		const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
		if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)
			out.push(a.outerHTML.slice(0, 60) + " / " + b.outerHTML.slice(0, 60));
	}
	return out;
})()`

// smallTargetsJS lists visible buttons smaller than 44×44 CSS pixels.
const smallTargetsJS = `Array.from(document.querySelectorAll("button, select, input:not([type=hidden]):not([type=radio])"))
	.filter(e => e.offsetParent !== null)
	.filter(e => { const r = e.getBoundingClientRect(); return r.width < 44 || r.height < 44; })
	.map(e => e.outerHTML.slice(0, 80))`

// TestBrowserStaffAppStation: a tablet signed in for a station sees the
// tickets with a line of its station, and counts only those lines.
func TestBrowserStaffAppStation(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byStation := map[string]pantry.Item{}
	for _, it := range menu {
		if _, ok := byStation[it.Station]; !ok {
			byStation[it.Station] = it
		}
	}
	drink, food := byStation["drinks"], byStation["food"]
	if drink.ID == "" || food.ID == "" {
		t.Fatalf("the demo menu has no drinks or food item: %+v", byStation)
	}
	onlyFood := placeOrder(t, n, []map[string]any{{"item_id": food.ID, "quantity": 1}}, "")
	mixed := placeOrder(t, n, []map[string]any{{"item_id": food.ID, "quantity": 2}, {"item_id": drink.ID, "quantity": 3}}, "")

	b := newBrowserAt(t, n, true, tabletWidth, tabletHeight, false)
	signIn(t, b, n, "drinks")
	b.waitFor(t, "the drinks ticket", ticketJS(mixed.ID, "true"))
	if got := eval[bool](t, b, ticketJS(onlyFood.ID, "true")); got {
		t.Errorf("the drinks tablet shows an order of food only")
	}
	b.screenshot(t, "staff-tablet-drinks")
	if got, want := b.text(t, "[data-allday]"), drink.Name+" ×3"; got != want {
		t.Errorf("all-day counts %q, want %q", got, want)
	}
	b.noProblems(t)
}

// TestBrowserStaffAppCancelAndRecall: staff cancel with a reason from
// the list, and recall a ticket they bumped by mistake.
func TestBrowserStaffAppCancelAndRecall(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cancelled := placeOrder(t, n, []map[string]any{{"item_id": menu[0].ID, "quantity": 1}}, "")
	bumped := placeOrder(t, n, []map[string]any{{"item_id": menu[1].ID, "quantity": 1}}, "")
	b := newBrowserAt(t, n, true, tabletWidth, tabletHeight, false)
	signIn(t, b, n, "all")
	b.waitFor(t, "both tickets", ticketJS(cancelled.ID, "true")+" && "+ticketJS(bumped.ID, "true"))

	b.do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=cancel]`, cancelled.ID)),
		chromedp.Click(`dialog input[value="Room is empty"]`),
		chromedp.Click(`dialog button[value=confirm]`))
	b.waitFor(t, "the cancelled ticket to go", "!document.querySelector('[data-order-id="+jsString(cancelled.ID)+"]')")
	r := n.Do(t, "GET", "/api/v1/staff/orders/"+cancelled.ID, n.StaffToken(t), nil)
	var o pantry.Order
	r.Decode(t, &o)
	if o.Status != pantry.StatusCancelled || o.CancelReason != "Room is empty" {
		t.Fatalf("cancelled order: %s (%q), want cancelled because the room is empty", o.Status, o.CancelReason)
	}

	b.do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=advance]`, bumped.ID)))
	b.waitFor(t, "the accepted ticket", ticketJS(bumped.ID, `t.dataset.status === "accepted"`))
	b.waitFor(t, "recall to be offered", `!document.querySelector('[data-action="recall"]').disabled`)
	b.do(t, chromedp.Click(`[data-action=recall]`))
	b.waitFor(t, "the recalled ticket", ticketJS(bumped.ID, `t.dataset.status === "placed"`))
	if got := openStatus(t, n, bumped.ID); got != pantry.StatusPlaced {
		t.Fatalf("the edge has the recalled order %s, want placed", got)
	}
	b.noProblems(t)
}

// TestBrowserStaffAppSurvivesEdgeRestart: the edge goes away under open
// tablets and comes back on the same address; the tablet says so while it
// is gone, recovers by itself, and shows what happened meanwhile, with no
// reload.
func TestBrowserStaffAppSurvivesEdgeRestart(t *testing.T) {
	t.Parallel()
	dir, httpAddr, wsAddr := t.TempDir(), edgetest.FreePort(t), edgetest.FreePort(t)
	same := func(c *edge.Config) { c.DataDir, c.HTTPAddr, c.MQTTWSAddr = dir, httpAddr, wsAddr }
	n := edgetest.Start(t, same)
	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	before := placeOrder(t, n, []map[string]any{{"item_id": menu[0].ID, "quantity": 1}}, "")
	b := newBrowserAt(t, n, true, tabletWidth, tabletHeight, false)
	signIn(t, b, n, "all")
	b.waitFor(t, "the first ticket", ticketJS(before.ID, "true"))

	n.Stop(t)
	b.waitFor(t, "the edge banner", `!!document.querySelector('[data-banner="edge"]')`)
	n = edgetest.Start(t, same)
	b.node = n
	b.waitFor(t, "the edge banner to go", `!document.querySelector('[data-banner="edge"]')`)
	after := placeOrder(t, n, []map[string]any{{"item_id": menu[1].ID, "quantity": 2}}, "")
	b.waitFor(t, "the order placed after the restart", ticketJS(after.ID, "true")+" && "+ticketJS(before.ID, "true"))
}
