package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
)

// The staff app's tools beyond the queue: the stock panel, the sound, and
// tickets of orders wanted at a given time.

// instrument runs js in every page b opens from now on, before the page's
// own scripts: how a test watches what a page cannot show (a chime) or
// moves the page's clock, as fake timers do, without changing the app.
func instrument(tb testing.TB, b *browser, js string) {
	tb.Helper()
	browsertest.Call(tb, b.Browser, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
}

// rings counts the app's chimes: each is one oscillator started.
const countRings = `window.__rings = 0;
(() => {
  const C = window.AudioContext;
  if (!C) return;
  const create = C.prototype.createOscillator;
  C.prototype.createOscillator = function () { window.__rings++; return create.call(this); };
})();`

// skewClock lets a test move the page's clock forward with
// window.__skew (milliseconds).
const skewClock = `window.__skew = 0;
(() => { const now = Date.now; Date.now = () => now() + window.__skew; })();`

func itemByName(tb testing.TB, n *edgetest.Node, name string) pantry.Item {
	tb.Helper()
	menu, err := n.Store().Menu(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range menu {
		if it.Name == name {
			return it
		}
	}
	tb.Fatalf("no %s on the demo menu", name)
	return pantry.Item{}
}

// TestBrowserStaffAppStockPanel: tablet A counts the shelf and marks an
// item sold out, then back; tablet B's open stock panel follows each
// change live, the attendee menu follows the switch, and a movement the
// edge refuses is shown in the dialog, which stays open.
func TestBrowserStaffAppStockPanel(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	platter, tea := itemByName(t, n, "Sandwich platter"), itemByName(t, n, "Green tea")
	a := newBrowserAt(t, n, true, browsertest.Tablet)
	b := newBrowserAt(t, n, true, browsertest.Tablet)
	row := func(id string) string { return fmt.Sprintf(`[data-item-id=%q]`, id) }
	for _, br := range []*browser{a, b} {
		signIn(t, br, n, "all")
		br.Do(t, chromedp.Click(`[data-toggle-stock]`))
		br.WaitFor(t, "the stock rows", fmt.Sprintf(`!!document.querySelector(%s)`, browsertest.JSString(row(platter.ID))))
	}

	// A counts 3 platters on the shelf.
	a.Do(t,
		chromedp.Click(row(platter.ID)+` [data-stock-action=move]`),
		chromedp.Click(`[data-stock-form] input[value=count]`),
		chromedp.SendKeys(`[data-stock-form] input[name=qty]`, "3"),
		chromedp.Click(`[data-stock-form] button[value=save]`),
	)
	for _, br := range []*browser{a, b} {
		br.WaitFor(t, "the counted level", fmt.Sprintf(`(r => r && r.querySelector("[data-level]").textContent.startsWith("3"))(document.querySelector(%s))`, browsertest.JSString(row(platter.ID))))
	}
	if open := browsertest.Eval[bool](t, a.Browser, `document.querySelector("[data-stock-dialog]").open`); open {
		t.Errorf("the stock dialog is still open after a saved count")
	}
	if lvl := stockRow(t, n, n.StaffToken(t), platter.ID).Level; lvl != 3 {
		t.Fatalf("the edge has %d platters after the count, want 3", lvl)
	}

	// Wasting more than there is: refused, said in the dialog, nothing moved.
	a.Do(t,
		chromedp.Click(row(platter.ID)+` [data-stock-action=move]`),
		chromedp.Click(`[data-stock-form] input[value=waste]`),
		chromedp.SendKeys(`[data-stock-form] input[name=qty]`, "5"),
		chromedp.Click(`[data-stock-form] button[value=save]`),
	)
	a.WaitFor(t, "the refusal in the dialog", `(e => !e.hidden && e.textContent.includes("below zero"))(document.querySelector("[data-stock-error]"))`)
	if open := browsertest.Eval[bool](t, a.Browser, `document.querySelector("[data-stock-dialog]").open`); !open {
		t.Errorf("the stock dialog closed on a refused movement")
	}
	a.Do(t, chromedp.Click(`[data-stock-form] button[value=close]`))
	if lvl := stockRow(t, n, n.StaffToken(t), platter.ID).Level; lvl != 3 {
		t.Fatalf("a refused waste moved the level to %d", lvl)
	}

	// Sold out, then back: B's panel and the attendee's menu follow.
	session := n.Session(t, 0)
	for _, soldOut := range []bool{true, false} {
		action := map[bool]string{true: "soldout", false: "back"}[soldOut]
		a.Do(t, chromedp.Click(row(tea.ID)+` [data-stock-action=`+action+`]`))
		for _, br := range []*browser{a, b} {
			br.WaitFor(t, "the switch", fmt.Sprintf(`(r => r && r.hasAttribute("data-sold-out") === %v)(document.querySelector(%s))`, soldOut, browsertest.JSString(row(tea.ID))))
		}
		r := n.Do(t, "POST", "/api/v1/orders", session, orderBody(tea.ID, 1), "Idempotency-Key", pantry.NewSecret(16))
		if soldOut && r.Status != http.StatusConflict {
			t.Errorf("ordering a sold-out item: %d %s, want 409", r.Status, r.Body)
		}
		if !soldOut && r.Status != http.StatusCreated {
			t.Errorf("ordering an item back on the menu: %d %s, want 201", r.Status, r.Body)
		}
	}
	a.Screenshot(t, "staff-stock")
	a.NoProblems(t, func(p browsertest.Problem) bool { // the refused waste, and only it
		return strings.HasSuffix(p.URL, "/api/v1/staff/stock/movements") && strings.Contains(p.Text, "400")
	})
	b.NoProblems(t)
}

// TestBrowserStaffAppSound: until "Start shift" is tapped the app warns
// that sound is off; after it a new order rings; with "Ring until
// accepted" on, the tablet rings again while the ticket waits, and stops
// once it is accepted.
func TestBrowserStaffAppSound(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t, func(c *edge.Config) { c.RingRepeat = time.Second })
	a := newBrowserAt(t, n, true, browsertest.Tablet)
	instrument(t, a, countRings)
	signIn(t, a, n, "all")
	a.WaitFor(t, "the sound warning", `!document.querySelector("[data-sound-warning]").hidden`)

	a.Do(t, chromedp.Click(`[data-sound-unlock]`))
	a.WaitFor(t, "sound on", `document.querySelector("[data-sound-warning]").hidden && window.__rings >= 1`)
	rings := browsertest.Eval[int](t, a.Browser, `window.__rings`)

	o := placeOrder(t, n, []map[string]any{{"item_id": itemByName(t, n, "Espresso").ID, "quantity": 1}}, "")
	a.WaitFor(t, "the new order's chime", fmt.Sprintf(`window.__rings >= %d`, rings+2))

	a.Do(t, chromedp.Click(`[data-sound-repeat]`))
	if p := browsertest.Eval[string](t, a.Browser, `document.querySelector("[data-sound-repeat]").getAttribute("aria-pressed")`); p != "true" {
		t.Fatalf("the repeat switch says aria-pressed=%q after a tap, want true", p)
	}
	rings = browsertest.Eval[int](t, a.Browser, `window.__rings`)
	a.WaitFor(t, "the chime repeating while the order waits", fmt.Sprintf(`window.__rings >= %d`, rings+4))

	a.Do(t, chromedp.Click(fmt.Sprintf(`[data-order-id=%q] [data-action=advance]`, o.ID)))
	a.WaitFor(t, "the accepted ticket", ticketJS(o.ID, `t.dataset.status === "accepted"`))
	// The chime stops: over several repeat periods, at most one that was
	// already due when the tap landed.
	rings = browsertest.Eval[int](t, a.Browser, `window.__rings`)
	a.Do(t, chromedp.Sleep(4*time.Second))
	if after := browsertest.Eval[int](t, a.Browser, `window.__rings`); after > rings+2 {
		t.Errorf("the tablet rang %d more times after the order was accepted", after-rings)
	}

	// The switch is the tablet's: a reload keeps it.
	a.open(t, "/staff")
	a.WaitFor(t, "the repeat switch kept", `document.querySelector("[data-sound-repeat]").getAttribute("aria-pressed") === "true"`)
	a.NoProblems(t)
}

// TestBrowserStaffAppScheduledOrders: an order wanted at a time shows that
// time, sorts by when its work should start (an order for two hours from
// now comes after one placed later for now), turns amber when it is near
// and red ("late") once past, on the live page as on the server's.
func TestBrowserStaffAppScheduledOrders(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	espresso := itemByName(t, n, "Espresso").ID
	a := newBrowserAt(t, n, true, browsertest.Tablet)
	instrument(t, a, skewClock)
	signIn(t, a, n, "drinks")

	order := func(deliverBy time.Time) pantry.Order {
		t.Helper()
		body := map[string]any{"lines": []map[string]any{{"item_id": espresso, "quantity": 1}}, "deliver_to": "room"}
		if !deliverBy.IsZero() {
			body["deliver_by"] = deliverBy.UTC().Format(time.RFC3339)
		}
		r := n.Do(t, "POST", "/api/v1/orders", n.Session(t, 0), body, "Idempotency-Key", pantry.NewSecret(16))
		if r.Status != http.StatusCreated {
			t.Fatalf("place order: %d %s", r.Status, r.Body)
		}
		var o pantry.Order
		r.Decode(t, &o)
		return o
	}
	later := order(time.Now().Add(2 * time.Hour))
	soon := order(time.Now().Add(3 * time.Minute))
	now := order(time.Time{})

	check := func(where string) {
		t.Helper()
		a.WaitFor(t, "the three tickets "+where, fmt.Sprintf(`document.querySelectorAll("[data-queue] [data-order-id]").length === 3 && %s && %s && %s`,
			ticketJS(later.ID, `t.dataset.due === "later" && t.dataset.age === "ok" && t.querySelector(".due").textContent.startsWith("for ")`),
			ticketJS(soon.ID, `t.dataset.due === "soon" && t.dataset.age === "amber"`),
			ticketJS(now.ID, `!t.dataset.due && t.dataset.age === "ok"`)))
		order := browsertest.Eval[[]string](t, a.Browser, `[...document.querySelectorAll("[data-queue] [data-order-id]")].map(t => t.dataset.orderId)`)
		if want := []string{soon.ID, now.ID, later.ID}; fmt.Sprint(order) != fmt.Sprint(want) {
			t.Errorf("%s the queue is %v, want the order due soon, the one for now, then the one for later %v", where, order, want)
		}
	}
	check("live")
	a.open(t, "/staff")
	check("after a reload")

	// Four minutes on, the order due in three is late.
	browsertest.Eval[int](t, a.Browser, `window.__skew = 4 * 60 * 1000`)
	a.WaitFor(t, "the late ticket", ticketJS(soon.ID, `t.dataset.due === "late" && t.dataset.age === "red" && t.querySelector("[data-age-text]").textContent.includes("late")`))
	a.Screenshot(t, "staff-scheduled")
	a.NoProblems(t)
}
