package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
)

// deliverByRectsJS is where the "Deliver at" field and what follows it
// sit, to tell whether filling it in moves anything.
const deliverByRectsJS = `["#deliver_at", "#deliver_at-hint", "label[for=note]", "#order-form button[type=submit]"]
	.map(s => { const r = document.querySelector(s).getBoundingClientRect(); return [r.left, r.top, r.width, r.height].map(Math.round).join(","); })`

// layoutShiftJS is the page's cumulative layout shift so far (shifts
// right after the person's own input excluded, as Lighthouse counts it).
const layoutShiftJS = `new Promise(resolve => {
	let sum = 0;
	new PerformanceObserver(list => { for (const e of list.getEntries()) if (!e.hadRecentInput) sum += e.value; })
		.observe({type: "layout-shift", buffered: true});
	setTimeout(() => resolve(sum), 300);
})`

// TestBrowserDeliverBy: on a phone without JavaScript, an attendee picks
// a time in the labelled "Deliver at" field, and the order's page says
// "Deliver by" that time on the building's clock; the tablet's API has
// the same instant. A time that has passed shows the form again with the
// error and the time kept. Filling the field in moves nothing, and the
// order page, live with JavaScript, does not shift.
func TestBrowserDeliverBy(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	room := n.Demo.Rooms[4]
	ams, err := time.LoadLocation("Europe/Amsterdam") // the demo site's zone
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Options{NoScript: true})
	b.Open(t, n.URL+"/q/"+room.Code)

	t.Run("Accessible", func(t *testing.T) {
		if unnamed := b.UnnamedFields(t); len(unnamed) > 0 {
			t.Errorf("fields without an accessible name:\n%s", strings.Join(unnamed, "\n"))
		}
		if got, want := b.Text(t, "label[for=deliver_at]"), "Deliver at (optional)"; got != want {
			t.Errorf("label=%q, want %q", got, want)
		}
		if got := browsertest.Eval[string](t, b, `document.getElementById("deliver_at").type`); got != "time" {
			t.Errorf("the field's type is %q, want time", got)
		}
		hint := browsertest.Eval[string](t, b, `document.getElementById(document.getElementById("deliver_at").getAttribute("aria-describedby")).textContent`)
		if !strings.Contains(hint, "as soon as possible") {
			t.Errorf("the field is described by %q, want it to say that empty means as soon as possible", hint)
		}
		if small := b.SmallTargets(t, 44); slices.ContainsFunc(small, func(s string) bool { return strings.Contains(s, "deliver_at") }) {
			t.Errorf("the time field is smaller than a 44 px touch target: %q", small)
		}
		if content, viewport := b.Widths(t); content > viewport {
			t.Errorf("the room page is %d px wide in a %d px viewport", content, viewport)
		}
		// Everything comes from the node, the picker's clock icon
		// included (pantry.css replaces Chromium's). Chromium may still
		// report its own icon, a data: URL of its built-in stylesheet,
		// as a request, when it styles the field before pantry.css is in
		// (always with page scripts off, now and then on a busy machine
		// with them on): that is no load from anywhere, and the
		// Content-Security-Policy allows img-src data:.
		own := strings.TrimPrefix(n.URL, "http://")
		for _, r := range b.Requests() {
			if strings.HasPrefix(r, "data:") {
				continue
			}
			if u, err := url.Parse(r); err != nil || u.Scheme != "http" || u.Host != own {
				t.Errorf("request to %.80s: the page must load everything from the node (%s)", r, own)
			}
		}
	})

	t.Run("PastTimeShowsError", func(t *testing.T) {
		before := deliverByState(t, n)
		past := time.Now().In(ams).Add(-2 * time.Hour).Format("15:04")
		b.Do(t, chromedp.SendKeys(chromedp.CSS(`input[aria-label="Quantity of Espresso"]`), "1"),
			chromedp.SetValue(chromedp.CSS("#deliver_at"), past))
		resp := b.RunResponse(t, "submit the order form", chromedp.Click(chromedp.CSS(`#order-form button[type=submit]`)))
		if got, want := int(resp.Status), http.StatusBadRequest; got != want {
			t.Fatalf("submit status=%d, want %d", got, want)
		}
		if got := b.Text(t, "[role=alert]"); !strings.Contains(got, "Deliver at "+past) || !strings.Contains(got, "ago") {
			t.Fatalf("alert=%q, want it to say %s was hours ago", got, past)
		}
		if got := browsertest.Eval[string](t, b, `document.getElementById("deliver_at").value`); got != past {
			t.Fatalf("the field holds %q after the error, want %q", got, past)
		}
		if after := deliverByState(t, n); after != before {
			t.Fatalf("state changed:\n before %s\n after  %s", before, after)
		}
	})

	var id string
	at := time.Now().In(ams).Add(3 * time.Hour)
	hhmm := at.Format("15:04")
	wantAt := time.Date(at.Year(), at.Month(), at.Day(), at.Hour(), at.Minute(), 0, 0, ams)
	t.Run("Order", func(t *testing.T) {
		b.Open(t, n.URL+"/q/"+room.Code)
		empty := browsertest.Eval[[]string](t, b, deliverByRectsJS)
		b.Do(t, chromedp.SendKeys(chromedp.CSS(`input[aria-label="Quantity of Espresso"]`), "2"),
			chromedp.SetValue(chromedp.CSS("#deliver_at"), hhmm))
		if filled := browsertest.Eval[[]string](t, b, deliverByRectsJS); !slices.Equal(filled, empty) {
			t.Errorf("filling in the time moved the form: %q, then %q", empty, filled)
		}
		b.Screenshot(t, "deliver-by-form-phone")
		resp := b.RunResponse(t, "submit the order form", chromedp.Click(chromedp.CSS(`#order-form button[type=submit]`)))
		if got, want := int(resp.Status), http.StatusOK; got != want {
			t.Fatalf("submit status=%d, want %d", got, want)
		}
		var ok bool
		if id, ok = strings.CutPrefix(b.Path(t), "/orders/"); !ok || !pantry.ValidID(id) {
			t.Fatalf("browser is at %s, want the order's page", b.Path(t))
		}
		want := "Deliver by " + hhmm
		if wantAt.Day() != time.Now().In(ams).Day() {
			want += " on " + wantAt.Format("Mon 2 Jan")
		}
		if got := b.Text(t, "#deliver-by"); got != want {
			t.Fatalf("order page says %q, want %q", got, want)
		}
		attr := browsertest.Eval[string](t, b, `document.getElementById("deliver-by").dataset.deliverBy`)
		if got, want := attr, wantAt.UTC().Format(time.RFC3339); got != want {
			t.Fatalf("data-deliver-by=%q, want %q", got, want)
		}
		r := n.Do(t, "GET", "/api/v1/staff/orders/"+id, n.StaffToken(t), nil)
		if got, want := deliverByOf(t, r.Body), wantAt.UTC().Format(time.RFC3339); got != want {
			t.Fatalf("staff API deliver_by=%q, want %q", got, want)
		}
		if content, viewport := b.Widths(t); content > viewport {
			t.Errorf("the order page is %d px wide in a %d px viewport", content, viewport)
		}
		b.Screenshot(t, "deliver-by-order-phone")
		// The one refusal the test asked for (PastTimeShowsError) is
		// the only problem allowed.
		b.NoProblems(t, func(p browsertest.Problem) bool {
			return strings.Contains(p.Text, "status of 400") && strings.HasSuffix(p.URL, "/q/"+room.Code+"/orders")
		})
	})

	t.Run("LiveOrderPageDoesNotShift", func(t *testing.T) {
		if id == "" {
			t.Skip("no order was placed")
		}
		js := b.NewContext(t, browsertest.Options{})
		js.Open(t, n.URL+"/q/"+room.Code) // the room's cookie, in this tab's own jar
		js.Do(t, chromedp.SendKeys(chromedp.CSS(`input[aria-label="Quantity of Croissant"]`), "1"),
			chromedp.SetValue(chromedp.CSS("#deliver_at"), hhmm))
		if got := int(js.RunResponse(t, "submit", chromedp.Click(chromedp.CSS(`#order-form button[type=submit]`))).Status); got != http.StatusOK {
			t.Fatalf("submit status=%d", got)
		}
		js.WaitEvents(t, 1)
		if !slices.ContainsFunc(js.Requests(), func(r string) bool { return strings.HasSuffix(r, "/static/clock.svg") }) {
			t.Errorf("the time picker's icon is not the node's clock.svg: requests %.300q", js.Requests())
		}
		if got := js.Text(t, "#deliver-by"); !strings.HasPrefix(got, "Deliver by "+hhmm) {
			t.Fatalf("order page says %q, want Deliver by %s", got, hhmm)
		}
		cls, err := chromedp.Run(js.Context(), chromedp.Evaluate[float64](layoutShiftJS, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if cls > 0 {
			t.Errorf("the order page shifted: cumulative layout shift %.4f, want 0", cls)
		}
		js.NoProblems(t)
	})
}
