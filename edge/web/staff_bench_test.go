package web_test

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
)

// BenchmarkOrderToTicket measures what staff wait for: from the moment an
// attendee's order is sent to the moment its ticket is in a real headless
// Chromium tablet's page (a MutationObserver notes it), at 5 orders a
// second, PANTRY_BENCH_TICKETS orders (default 500); then how long a
// reload takes to show the whole queue again, live. Node, browser and
// benchmark share the machine. Run with -benchtime 1x.
func BenchmarkOrderToTicket(b *testing.B) {
	total := 500
	if s := os.Getenv("PANTRY_BENCH_TICKETS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("PANTRY_BENCH_TICKETS=%q", s)
		}
		total = n
	}
	const every = 200 * time.Millisecond
	n := edgetest.Start(b)
	menu, err := n.Store().Menu(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	staff := n.StaffToken(b)
	for _, it := range menu {
		if r := n.Do(b, "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": it.ID, "delta": 10000, "reason": "restock"}); r.Status >= 300 {
			b.Fatalf("restock: %d %s", r.Status, r.Body)
		}
	}
	br := newBrowserAt(b, n, true, browsertest.Tablet)
	signIn(b, br, n, "all")
	br.WaitFor(b, "the live connection", `!document.querySelector('[data-banner="edge"]')`)
	browsertest.Eval[bool](b, br.Browser, `(() => { window.__seen = {};
		new MutationObserver(() => { for (const t of document.querySelectorAll("[data-order-id]")) if (!(t.dataset.orderId in __seen)) __seen[t.dataset.orderId] = Date.now(); })
			.observe(document.querySelector("[data-queue]"), {childList: true, subtree: true}); return true; })()`)
	sess := n.Session(b, 0)
	for range b.N {
		sent := map[string]time.Time{}
		tick := time.NewTicker(every)
		for i := range total {
			at := time.Now()
			r := n.Do(b, "POST", "/api/v1/orders", sess, map[string]any{"lines": []map[string]any{{"item_id": menu[i%len(menu)].ID, "quantity": 1}}},
				"Idempotency-Key", pantry.NewSecret(16))
			if r.Status != http.StatusCreated {
				b.Fatalf("order %d: %d %s", i, r.Status, r.Body)
			}
			var o pantry.Order
			r.Decode(b, &o)
			sent[o.ID] = at
			<-tick.C
		}
		tick.Stop()
		br.WaitFor(b, "every ticket", strconv.Itoa(total)+` <= Object.keys(window.__seen).length`)
		seen := browsertest.Eval[map[string]int64](b, br.Browser, `window.__seen`)
		var ms []float64
		for id, at := range sent {
			ms = append(ms, float64(seen[id]-at.UnixMilli()))
		}
		slices.Sort(ms)
		b.ReportMetric(ms[len(ms)/2], "p50-ms")
		b.ReportMetric(ms[len(ms)*99/100], "p99-ms")
		b.ReportMetric(ms[len(ms)-1], "max-ms")

		// A tablet coming back to the whole queue: reload, and wait for
		// every ticket and the live connection.
		start := time.Now()
		browsertest.Eval[bool](b, br.Browser, `(() => { location.reload(); return true; })()`)
		time.Sleep(50 * time.Millisecond) // let the old page go
		br.WaitFor(b, "every ticket after a reload", strconv.Itoa(total)+` <= document.querySelectorAll("[data-order-id]").length && !!window.mqtt && !document.querySelector('[data-banner="edge"]')`)
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "reload-ms")
	}
}
