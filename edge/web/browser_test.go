package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/edge/edgetest"
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
	if got, want := b.text(t, "header h1"), room.Name; got != want {
		t.Fatalf("heading=%q, want %q", got, want)
	}
	if got := b.text(t, "#menu-h + .menu"); !strings.Contains(got, "Espresso") || !strings.Contains(got, "EUR 2.50") {
		t.Fatalf("menu does not show Espresso at EUR 2.50:\n%s", got)
	}

	t.Run("NothingChosenShowsError", func(t *testing.T) {
		before := openQueue(t, n, staff)
		if got, want := b.submit(t), http.StatusBadRequest; got != want {
			t.Fatalf("submit status=%d, want %d", got, want)
		}
		if got := b.text(t, "[role=alert]"); !strings.Contains(got, "at least one") {
			t.Fatalf("alert=%q, want it to ask for at least one item", got)
		}
		if got, want := len(openQueue(t, n, staff)), len(before); got != want {
			t.Fatalf("open queue=%d orders, want %d", got, want)
		}
	})

	t.Run("Order", func(t *testing.T) {
		b.open(t, "/q/"+room.Code)
		b.do(t, chromedp.SendKeys(quantity("Espresso"), "2"))
		if got := b.text(t, "#total"); got != "" {
			t.Fatalf("total=%q: page scripts ran, want them off", got)
		}
		if got, want := b.submit(t), http.StatusOK; got != want {
			t.Fatalf("submit status=%d, want %d", got, want)
		}
		id := b.orderID(t)
		if got, want := b.text(t, "#status"), "Placed"; got != want {
			t.Fatalf("status=%q, want %q", got, want)
		}
		lines := eval[[][]string](t, b, `Array.from(document.querySelectorAll("table.lines tbody tr"), tr => Array.from(tr.cells, td => td.textContent.trim()))`)
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
	b.do(t, chromedp.SendKeys(quantity("Green tea"), "1"))
	if got, want := b.submit(t), http.StatusOK; got != want {
		t.Fatalf("submit status=%d, want %d", got, want)
	}
	id := b.orderID(t)
	// The server reads the order, then subscribes to its changes, then
	// sends the order as the stream's first event: a change made before
	// that event arrives could fall between the read and the subscription.
	b.waitEvents(t, 1)
	eval[chromedp.Void](t, b, `window.__marker = 1`)

	staff := n.StaffToken(t)
	for _, st := range []string{"accepted", "preparing"} {
		r := n.Do(t, "POST", "/api/v1/staff/orders/"+id+"/status", staff, map[string]string{"status": st})
		if r.Status != http.StatusOK {
			t.Fatalf("-> %s: %d %s", st, r.Status, r.Body)
		}
		want := strings.ToUpper(st[:1]) + st[1:]
		b.waitText(t, "#status", want)
		if !eval[bool](t, b, `document.querySelector('#steps li[data-step=`+st+`]').classList.contains("done")`) {
			t.Errorf("step %s not marked done", st)
		}
	}
	if !eval[bool](t, b, `window.__marker === 1`) {
		t.Fatal("the page reloaded: window.__marker is gone")
	}
	if got, want := b.path(t), "/orders/"+id; got != want {
		t.Fatalf("path=%q, want %q", got, want)
	}
	b.noProblems(t)
}

func TestBrowserPagesAreSelfContained(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	b := newBrowser(t, n, true)
	b.open(t, "/q/"+n.Demo.Rooms[2].Code)
	b.checkPage(t)
	if unnamed := eval[[]string](t, b, unnamedFieldsJS); len(unnamed) > 0 {
		t.Errorf("fields without an accessible name:\n%s", strings.Join(unnamed, "\n"))
	}

	b.do(t, chromedp.SendKeys(quantity("Croissant"), "1"))
	if got, want := b.submit(t), http.StatusOK; got != want {
		t.Fatalf("submit status=%d, want %d", got, want)
	}
	id := b.orderID(t)
	b.waitEvents(t, 1)
	b.checkPage(t)

	requests := b.requestURLs()
	for _, want := range []string{"/static/pantry.css", "/static/pantry.js", "/api/v1/orders/" + id + "/events"} {
		if !slices.ContainsFunc(requests, func(u string) bool { return strings.HasSuffix(u, want) }) {
			t.Errorf("no request for %s among %q", want, requests)
		}
	}
	own, _ := url.Parse(n.URL)
	for _, r := range requests {
		if u, err := url.Parse(r); err != nil || u.Scheme != "http" || u.Host != own.Host {
			t.Errorf("request to %s: the pages must load everything from the node (%s)", r, own.Host)
		}
	}
	b.noProblems(t)
}

func TestBrowserRunningTotal(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	b := newBrowser(t, n, true)
	b.open(t, "/q/"+n.Demo.Rooms[3].Code)
	if got := b.text(t, "#total"); got != "" {
		t.Fatalf("total before choosing=%q, want empty", got)
	}
	b.do(t, chromedp.SendKeys(quantity("Espresso"), "2"))
	b.waitText(t, "#total", "Total EUR 5.00")
	b.do(t, chromedp.SendKeys(quantity("Flat white"), "1"))
	b.waitText(t, "#total", "Total EUR 8.50")
	b.noProblems(t)
}

// browserTimeout bounds each browser test, Chromium's start included.
const browserTimeout = 60 * time.Second

// phoneWidth and phoneHeight are the emulated viewport, in CSS pixels.
const phoneWidth, phoneHeight = 390, 844

// chromiumPath finds the browser. A machine without one fails the test
// rather than skipping it, so CI cannot quietly stop testing the pages.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const fallback = "/usr/bin/chromium"
	if _, err := os.Stat(fallback); err != nil {
		tb.Fatalf("no chromium in PATH or at %s: install Chromium (`apt-get install chromium`) to run the browser tests", fallback)
	}
	return fallback
}

// browser is one headless Chromium with one tab that emulates a phone.
type browser struct {
	ctx  context.Context
	node *edgetest.Node

	mu       sync.Mutex
	requests []string // every URL the tab requested
	events   []string // every Server-Sent Event the tab received
	problems []string // uncaught exceptions, console errors, browser log errors
}

// newBrowser starts Chromium with a fresh profile and no background
// traffic of its own, and opens a phone-sized tab; with js false the tab
// runs no page script at all.
func newBrowser(tb testing.TB, n *edgetest.Node, js bool) *browser {
	tb.Helper()
	return newBrowserAt(tb, n, js, phoneWidth, phoneHeight, true)
}

// newBrowserAt is newBrowser with a viewport of w×h CSS pixels, a phone's
// (touch, portrait) if mobile, else a tablet's or a desktop's.
func newBrowserAt(tb testing.TB, n *edgetest.Node, js bool, w, h int64, mobile bool) *browser {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(tb)),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.NoSandbox, // CI and dev containers run tests as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(int(w), int(h)),
	)
	timeout := browserTimeout
	if _, ok := tb.(*testing.B); ok {
		timeout = 10 * time.Minute // a benchmark runs for minutes, not seconds
	}
	ctx, cancelTimeout := context.WithTimeout(tb.Context(), timeout)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	ctx, cancelTab := chromedp.NewContext(ctx)
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for Chromium to exit, before TempDir's cleanup
		cancelTimeout()
	})
	b := &browser{ctx: ctx, node: n}
	b.do(tb) // starts Chromium and attaches to its tab, with Network and Log on
	if err := chromedp.Listen(ctx, b.record); err != nil {
		tb.Fatalf("listen to the tab: %v", err)
	}
	if mobile {
		b.do(tb, chromedp.EmulateViewport(w, h, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch))
	} else {
		b.do(tb, chromedp.EmulateViewport(w, h, chromedp.EmulateLandscape, chromedp.EmulateTouch))
	}
	if !js {
		callCDP(tb, b, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	}
	return b
}

// record runs in the tab's event loop: it must return fast and send nothing.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *network.EventEventSourceMessageReceived:
		b.events = append(b.events, ev.Data)
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, fmt.Sprintf("exception: %s %s:%d", ev.ExceptionDetails.Text, ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber+1))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.problems = append(b.problems, fmt.Sprintf("console.%s called", ev.Type))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			b.problems = append(b.problems, fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func (b *browser) requestURLs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests)
}

// noProblems fails the test if a page threw, logged an error or had a
// request refused (a Content-Security-Policy violation shows up here).
func (b *browser) noProblems(tb testing.TB) {
	tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		tb.Errorf("the browser reported:\n%s", strings.Join(b.problems, "\n"))
	}
}

func (b *browser) do(tb testing.TB, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		tb.Fatalf("browser: %v", err)
	}
}

func callCDP[P, R any](tb testing.TB, b *browser, cmd cdp.Command[P, R], params P) R {
	tb.Helper()
	res, err := chromedp.Call(b.ctx, cmd, params)
	if err != nil {
		tb.Fatalf("%s: %v", cmd.Method, err)
	}
	return res
}

func eval[T any](tb testing.TB, b *browser, js string) T {
	tb.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// open loads a page of the node and fails unless it answers 200.
func (b *browser) open(tb testing.TB, path string) {
	tb.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.node.URL+path))
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	if resp.Status != http.StatusOK {
		tb.Fatalf("open %s: status %d", path, resp.Status)
	}
}

// submit taps the order form's button, waits for the page it leads to
// (after any redirect) and returns that page's status.
func (b *browser) submit(tb testing.TB) int {
	tb.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(`#order-form button[type=submit]`)))
	if err != nil {
		tb.Fatalf("submit the order form: %v", err)
	}
	return int(resp.Status)
}

// quantity selects a menu item's quantity field by its accessible label,
// the way a screen-reader user finds it.
func quantity(item string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`input[aria-label="Quantity of %s"]`, item))
}

func (b *browser) text(tb testing.TB, sel string) string {
	tb.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		tb.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) path(tb testing.TB) string {
	tb.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		tb.Fatalf("location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		tb.Fatalf("location %q: %v", loc, err)
	}
	return u.Path
}

// orderID is the id of the order page the browser is on.
func (b *browser) orderID(tb testing.TB) string {
	tb.Helper()
	p := b.path(tb)
	id, ok := strings.CutPrefix(p, "/orders/")
	if !ok || !pantry.ValidID(id) {
		tb.Fatalf("browser is at %s, want an order page /orders/{id}", p)
	}
	return id
}

// waitText waits, within the test's deadline, until the element's text is
// want.
func (b *browser) waitText(tb testing.TB, sel, want string) {
	tb.Helper()
	js := fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ""`, jsString(sel))
	var got string
	for b.ctx.Err() == nil {
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
		if got = strings.TrimSpace(s); err == nil && got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%s text=%q, want %q", sel, got, want)
}

// waitEvents waits, within the test's deadline, until the tab has received
// at least n Server-Sent Events.
func (b *browser) waitEvents(tb testing.TB, n int) {
	tb.Helper()
	for b.ctx.Err() == nil {
		b.mu.Lock()
		got := len(b.events)
		b.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("the page received fewer than %d Server-Sent Events", n)
}

// checkPage checks what every attendee page needs on a phone: a language,
// a viewport meta, the stylesheet applied, and no sideways scrolling.
func (b *browser) checkPage(tb testing.TB) {
	tb.Helper()
	p := b.path(tb)
	if lang := eval[string](tb, b, `document.documentElement.lang`); lang == "" {
		tb.Errorf("%s: <html> has no lang", p)
	}
	if vp := eval[string](tb, b, `(document.querySelector('meta[name=viewport]') || {}).content || ""`); !strings.Contains(vp, "width=device-width") {
		tb.Errorf("%s: viewport meta=%q, want width=device-width", p, vp)
	}
	size := eval[string](tb, b, `getComputedStyle(document.body).fontSize`)
	if px, err := strconv.ParseFloat(strings.TrimSuffix(size, "px"), 64); err != nil || px < 16 {
		tb.Errorf("%s: body font-size=%s, want at least 16px (is the stylesheet applied?)", p, size)
	}
	if bg := eval[string](tb, b, `getComputedStyle(document.querySelector("header")).backgroundColor`); bg == "" || bg == "transparent" || bg == "rgba(0, 0, 0, 0)" {
		tb.Errorf("%s: header background=%q, want the stylesheet's colour", p, bg)
	}
	if w := eval[[]int](tb, b, `[document.documentElement.clientWidth, document.documentElement.scrollWidth]`); w[1] > w[0] {
		tb.Errorf("%s: content is %d px wide in a %d px viewport: the page scrolls sideways", p, w[1], w[0])
	}
}

// unnamedFieldsJS lists the form fields a screen reader could not name:
// no <label for>, no wrapping <label>, no aria-label or aria-labelledby.
const unnamedFieldsJS = `Array.from(document.querySelectorAll("input:not([type=hidden]), textarea, select"))
	.filter(el => !Array.from(el.labels || []).some(l => l.textContent.trim())
		&& !(el.getAttribute("aria-label") || "").trim()
		&& !(el.getAttribute("aria-labelledby") || "").split(/\s+/).some(id => id && document.getElementById(id)))
	.map(el => el.outerHTML)`

func jsString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
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
