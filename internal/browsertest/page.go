package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// EnvScreenshots names the environment variable that chooses where
// Screenshot saves, so that a person can look at what the tests saw:
// PANTRY_SCREENSHOTS=DIR. Unset, screenshots go to the test's TempDir.
const EnvScreenshots = "PANTRY_SCREENSHOTS"

// pollEvery is how often the waits look again.
const pollEvery = 20 * time.Millisecond

// Open loads the page at rawURL and fails the test unless it answers 200.
func (b *Browser) Open(tb testing.TB, rawURL string) {
	tb.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(rawURL))
	if err != nil {
		tb.Fatalf("open %s: %v", rawURL, err)
	}
	if resp == nil {
		tb.Fatalf("open %s: no page loaded (only the fragment changed?)", rawURL)
	}
	if resp.Status != http.StatusOK {
		tb.Fatalf("open %s: status %d", rawURL, resp.Status)
	}
}

// RunResponse runs steps that lead to another page (a click on a form's
// button, say), waits for that page and returns its response, after any
// redirect. what names the steps in the failure message.
func (b *Browser) RunResponse(tb testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	tb.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
	return resp
}

// Text is the text of the element sel selects (CSS), trimmed; it waits
// for the element to exist.
func (b *Browser) Text(tb testing.TB, sel string) string {
	tb.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		tb.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Path is the path of the page the tab is on.
func (b *Browser) Path(tb testing.TB) string {
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

// WaitFor waits until the JavaScript expression js is true in the page,
// and fails the test, saying what it waited for, if the browser's
// deadline comes first. A page being replaced (a reload) only delays it.
func (b *Browser) WaitFor(tb testing.TB, what, js string) {
	tb.Helper()
	var last error
	for b.ctx.Err() == nil {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		last = err
		sleep(b.ctx, pollEvery)
	}
	if last != nil && b.ctx.Err() == nil {
		tb.Fatalf("waited in vain for %s (%s): %v", what, js, last)
	}
	tb.Fatalf("waited in vain for %s (%s)", what, js)
}

// WaitText waits, within the browser's deadline, until the text of the
// element sel selects is want.
func (b *Browser) WaitText(tb testing.TB, sel, want string) {
	tb.Helper()
	js := fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ""`, JSString(sel))
	var got string
	for b.ctx.Err() == nil {
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
		if got = strings.TrimSpace(s); err == nil && got == want {
			return
		}
		sleep(b.ctx, pollEvery)
	}
	tb.Fatalf("%s text=%q, want %q", sel, got, want)
}

// WaitEvents waits, within the browser's deadline, until the tab has
// received at least n Server-Sent Events.
func (b *Browser) WaitEvents(tb testing.TB, n int) {
	tb.Helper()
	for b.ctx.Err() == nil {
		if len(b.Events()) >= n {
			return
		}
		sleep(b.ctx, pollEvery)
	}
	tb.Fatalf("the page received fewer than %d Server-Sent Events", n)
}

// WaitProblems waits, within the browser's deadline, until the tab has
// reported at least n problems that match: a test that takes a server
// away can wait until the page has tried to reach it, and failed.
func (b *Browser) WaitProblems(tb testing.TB, what string, n int, match func(Problem) bool) {
	tb.Helper()
	for b.ctx.Err() == nil {
		if CountProblems(b.Problems(), match) >= n {
			return
		}
		sleep(b.ctx, pollEvery)
	}
	tb.Fatalf("waited in vain for %d× %s; the tab reported:\n%s", n, what, problemList(b.Problems()))
}

// CountProblems counts the problems that match.
func CountProblems(problems []Problem, match func(Problem) bool) int {
	n := 0
	for _, p := range problems {
		if match(p) {
			n++
		}
	}
	return n
}

func problemList(problems []Problem) string {
	var sb strings.Builder
	for _, p := range problems {
		sb.WriteString(p.String() + "\n")
	}
	return sb.String()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Screenshot saves the whole page as NAME.png in the directory
// PANTRY_SCREENSHOTS names, or in the test's TempDir, and returns the
// file's path.
func (b *Browser) Screenshot(tb testing.TB, name string) string {
	tb.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = tb.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("screenshot directory: %v", err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	return path
}

// Widths returns how wide the page's content is and how wide its viewport
// is, in CSS pixels: content wider than the viewport scrolls sideways,
// which no page of ours may do.
func (b *Browser) Widths(tb testing.TB) (content, viewport int) {
	tb.Helper()
	w := Eval[[]int](tb, b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
	return w[0], w[1]
}

// Overlaps lists the pairs of visible elements that sel (CSS) selects
// whose boxes intersect by more than a pixel; an element inside another
// (a button in a card) is not an overlap.
func (b *Browser) Overlaps(tb testing.TB, sel string) []string {
	tb.Helper()
	return Eval[[]string](tb, b, fmt.Sprintf(overlapsJS, JSString(sel)))
}

const overlapsJS = `(() => {
	const els = Array.from(document.querySelectorAll(%s)).filter(e => e.offsetParent !== null);
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

// SmallTargets lists the visible buttons, selects and inputs (radio
// buttons, whose label is the target, aside) narrower or shorter than px
// CSS pixels: a touch target must be at least 44 px.
func (b *Browser) SmallTargets(tb testing.TB, px int) []string {
	tb.Helper()
	return Eval[[]string](tb, b, fmt.Sprintf(smallTargetsJS, px))
}

const smallTargetsJS = `Array.from(document.querySelectorAll("button, select, input:not([type=hidden]):not([type=radio])"))
	.filter(e => e.offsetParent !== null)
	.filter(e => { const r = e.getBoundingClientRect(); return r.width < %[1]d || r.height < %[1]d; })
	.map(e => e.outerHTML.slice(0, 80))`

// UnnamedFields lists the form fields a screen reader could not name: no
// <label for>, no wrapping <label>, no aria-label or aria-labelledby.
func (b *Browser) UnnamedFields(tb testing.TB) []string {
	tb.Helper()
	return Eval[[]string](tb, b, unnamedFieldsJS)
}

const unnamedFieldsJS = `Array.from(document.querySelectorAll("input:not([type=hidden]), textarea, select"))
	.filter(el => !Array.from(el.labels || []).some(l => l.textContent.trim())
		&& !(el.getAttribute("aria-label") || "").trim()
		&& !(el.getAttribute("aria-labelledby") || "").split(/\s+/).some(id => id && document.getElementById(id)))
	.map(el => el.outerHTML)`
