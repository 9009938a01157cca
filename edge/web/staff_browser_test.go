package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
)

// The staff app is driven as pantry staff use it: two tablets signed in,
// an attendee ordering, one tablet working the ticket while the other
// follows. PANTRY_SCREENSHOTS=DIR saves what the tablets showed.

// signIn opens /staff and signs the demo tablet in from the form, as a
// person does, choosing station.
func signIn(tb testing.TB, b *browser, n *edgetest.Node, station string) {
	tb.Helper()
	b.open(tb, "/staff")
	if got := b.UnnamedFields(tb); len(got) > 0 {
		tb.Errorf("sign-in fields without a label: %q", got)
	}
	b.Do(tb,
		chromedp.SendKeys(`input[name=username]`, n.Demo.Tablet.Username),
		chromedp.SendKeys(`input[name=password]`, n.Demo.Tablet.Password),
		chromedp.SetValue(`select[name=station]`, station),
	)
	if resp := b.RunResponse(tb, "sign in", chromedp.Click(`form.signin-form button[type=submit]`)); resp.Status != http.StatusOK {
		tb.Fatalf("sign in: status %d", resp.Status)
	}
	b.WaitFor(tb, "the app", `document.body.hasAttribute("data-staff-app")`)
}

// ticketJS is a condition on the ticket of order id.
func ticketJS(id, cond string) string {
	return fmt.Sprintf(`(t => !!t && (%s))(document.querySelector('[data-order-id=%s]'))`, cond, browsertest.JSString(id))
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

func TestBrowserStaffAppTwoTablets(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	a := newBrowserAt(t, n, true, browsertest.Tablet)
	b := newBrowserAt(t, n, true, browsertest.Tablet)
	signIn(t, a, n, "all")
	signIn(t, b, n, "all")
	for _, br := range []*browser{a, b} {
		br.WaitFor(t, "the live connection", `!document.querySelector('[data-banner="edge"]') && document.querySelector("[data-empty]") !== null`)
	}

	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	o := placeOrder(t, n, []map[string]any{{"item_id": menu[0].ID, "quantity": 2, "note": "oat milk"}}, "<script>alert(1)</script> by 10")
	for _, br := range []*browser{a, b} {
		br.WaitFor(t, "the new ticket", ticketJS(o.ID, `t.dataset.status === "placed"`))
	}
	if got := a.Text(t, fmt.Sprintf(`[data-order-id=%q] .order-note`, o.ID)); !strings.Contains(got, "<script>") {
		t.Errorf("order note shows %q, want the text with <script> as text", got)
	}
	a.Screenshot(t, "staff-tablet")

	a.Do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=advance]`, o.ID)))
	for _, br := range []*browser{a, b} {
		br.WaitFor(t, "the accepted ticket", ticketJS(o.ID, `t.dataset.status === "accepted"`))
	}
	if got := openStatus(t, n, o.ID); got != pantry.StatusAccepted {
		t.Fatalf("the edge has the order %s, want accepted", got)
	}

	// A phone orders from its room; both tablets get the ticket, and the
	// phone's order page follows tablet B's tap.
	phone := newBrowser(t, n, true)
	phone.open(t, "/q/"+n.Demo.Rooms[1].Code)
	phone.Do(t, chromedp.SendKeys(quantity("Green tea"), "1"))
	if got, want := phone.submit(t), http.StatusOK; got != want {
		t.Fatalf("phone order: status %d, want %d", got, want)
	}
	id := phone.orderID(t)
	phone.WaitEvents(t, 1)
	for _, br := range []*browser{a, b} {
		br.WaitFor(t, "the phone's ticket", ticketJS(id, `t.dataset.status === "placed"`))
	}
	b.Do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=advance]`, id)))
	a.WaitFor(t, "the phone's ticket accepted", ticketJS(id, `t.dataset.status === "accepted"`))
	phone.WaitText(t, "#status", "Accepted")
	for _, br := range []*browser{a, b, phone} {
		br.NoProblems(t)
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
		name     string
		viewport browsertest.Viewport
	}{{"tablet", browsertest.Tablet}, {"phone", browsertest.Phone}} {
		t.Run(size.name, func(t *testing.T) {
			b := newBrowserAt(t, n, true, size.viewport)
			signIn(t, b, n, "all")
			b.WaitFor(t, "five tickets", `document.querySelectorAll("[data-order-id]").length === 5`)
			b.Screenshot(t, "staff-"+size.name)
			if content, viewport := b.Widths(t); content > viewport {
				t.Errorf("content is %d px wide in a %d px viewport: the page scrolls sideways", content, viewport)
			}
			if got := b.Overlaps(t, "[data-order-id], button, [data-banner]"); len(got) > 0 {
				t.Errorf("elements overlap: %q", got)
			}
			if got := b.SmallTargets(t, 44); len(got) > 0 {
				t.Errorf("touch targets under 44 px: %q", got)
			}
			b.NoProblems(t)
		})
	}
}

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

	b := newBrowserAt(t, n, true, browsertest.Tablet)
	signIn(t, b, n, "drinks")
	b.WaitFor(t, "the drinks ticket", ticketJS(mixed.ID, "true"))
	if got := browsertest.Eval[bool](t, b.Browser, ticketJS(onlyFood.ID, "true")); got {
		t.Errorf("the drinks tablet shows an order of food only")
	}
	b.Screenshot(t, "staff-tablet-drinks")
	if got, want := b.Text(t, "[data-allday]"), drink.Name+" ×3"; got != want {
		t.Errorf("all-day counts %q, want %q", got, want)
	}
	b.NoProblems(t)
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
	b := newBrowserAt(t, n, true, browsertest.Tablet)
	signIn(t, b, n, "all")
	b.WaitFor(t, "both tickets", ticketJS(cancelled.ID, "true")+" && "+ticketJS(bumped.ID, "true"))

	b.Do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=cancel]`, cancelled.ID)),
		chromedp.Click(`dialog input[value="Room is empty"]`),
		chromedp.Click(`dialog button[value=confirm]`))
	b.WaitFor(t, "the cancelled ticket to go", "!document.querySelector('[data-order-id="+browsertest.JSString(cancelled.ID)+"]')")
	r := n.Do(t, "GET", "/api/v1/staff/orders/"+cancelled.ID, n.StaffToken(t), nil)
	var o pantry.Order
	r.Decode(t, &o)
	if o.Status != pantry.StatusCancelled || o.CancelReason != "Room is empty" {
		t.Fatalf("cancelled order: %s (%q), want cancelled because the room is empty", o.Status, o.CancelReason)
	}

	b.Do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=advance]`, bumped.ID)))
	b.WaitFor(t, "the accepted ticket", ticketJS(bumped.ID, `t.dataset.status === "accepted"`))
	b.WaitFor(t, "recall to be offered", `!document.querySelector('[data-action="recall"]').disabled`)
	b.Do(t, chromedp.Click(`[data-action=recall]`))
	b.WaitFor(t, "the recalled ticket", ticketJS(bumped.ID, `t.dataset.status === "placed"`))
	if got := openStatus(t, n, bumped.ID); got != pantry.StatusPlaced {
		t.Fatalf("the edge has the recalled order %s, want placed", got)
	}
	b.NoProblems(t)
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
	b := newBrowserAt(t, n, true, browsertest.Tablet)
	signIn(t, b, n, "all")
	b.WaitFor(t, "the first ticket", ticketJS(before.ID, "true"))

	n.Stop(t)
	b.WaitFor(t, "the edge banner", `!!document.querySelector('[data-banner="edge"]')`)
	n = edgetest.Start(t, same)
	b.node = n
	b.WaitFor(t, "the edge banner to go", `!document.querySelector('[data-banner="edge"]')`)
	after := placeOrder(t, n, []map[string]any{{"item_id": menu[1].ID, "quantity": 2}}, "")
	b.WaitFor(t, "the order placed after the restart", ticketJS(after.ID, "true")+" && "+ticketJS(before.ID, "true"))
}
