// Package browsertest drives a real headless Chromium from tests, through
// the DevTools protocol (chromedp), for the pages people use: the attendee
// pages and the staff app of the edge, the cloud's admin dashboard.
//
// STYLE.md wants real parts in tests, and what a page promises (it loads
// nothing from elsewhere, it updates live, it survives its server going
// away, nothing scrolls sideways on a phone) only a browser can check. So
// a test starts Chromium, not an imitation of one:
//
//	b := browsertest.New(t, browsertest.Options{Viewport: browsertest.Tablet})
//	b.Open(t, node.URL+"/staff")
//	b.WaitFor(t, "the app", `document.body.hasAttribute("data-staff-app")`)
//	b.NoProblems(t)
//
// Chromium is found in PATH or at /usr/bin/chromium. A machine without it
// fails the test and says what to install, rather than skipping it, so CI
// cannot quietly stop testing the pages.
//
// Each Browser records what its tab requested, the Server-Sent Events it
// received and every problem it reported (an uncaught exception, a console
// error, a failed or refused request, a Content-Security-Policy violation):
// NoProblems asserts there were none. Every wait is bounded by the
// browser's deadline (Options.Timeout), never by a guess at how long a
// step takes. When a test fails, the browser's problems and console are
// logged, and with PANTRY_SCREENSHOTS=DIR its tab is saved to DIR.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
)

// Viewport is a tab's size in CSS pixels, and whether it is a phone's
// (touch, portrait, a mobile user agent's layout) or a tablet's or a
// desktop's (touch, landscape).
type Viewport struct {
	Width, Height int64
	Mobile        bool
}

// Phone and Tablet are the sizes Pantry's pages are checked at: a common
// phone in portrait and a 10-inch tablet in landscape.
var (
	Phone  = Viewport{Width: 390, Height: 844, Mobile: true}
	Tablet = Viewport{Width: 1280, Height: 800}
)

// DefaultTimeout bounds a browser's whole life, Chromium's start and every
// wait included, unless Options.Timeout says otherwise. It is generous:
// machines running the tests are shared.
const DefaultTimeout = 60 * time.Second

// Options configure a Browser's tab.
type Options struct {
	// Viewport is the tab's size; the zero value is Phone.
	Viewport Viewport
	// NoScript runs no page script at all, to check a page works without
	// JavaScript.
	NoScript bool
	// Timeout bounds the browser's whole life (default DefaultTimeout, or
	// ten minutes in a benchmark). Tabs made with NewContext live within
	// the deadline of the Browser they were made from.
	Timeout time.Duration
	// TrustSPKI are base64 SHA-256 hashes of certificates' public keys
	// (SubjectPublicKeyInfo) Chromium accepts as if a trusted CA had
	// issued them, for pages served over HTTPS with a test's own CA:
	// adding a CA to Chromium's NSS store needs tools and a profile of
	// its own. Only New uses it: it is a flag of the Chromium process.
	TrustSPKI []string
}

// Browser is one tab of a headless Chromium, with what it recorded.
type Browser struct {
	ctx context.Context

	mu       sync.Mutex
	requests []string // every URL the tab requested
	events   []string // the data of every Server-Sent Event the tab received
	problems []Problem
	console  []string // every console call, for the log of a failed test
}

// Problem is something a tab reported going wrong.
type Problem struct {
	// Kind is "exception", "console.error", "console.assert", "request"
	// (a request that failed or was blocked), or the source of a browser
	// log entry ("network", "security", "javascript", …).
	Kind string
	Text string
	URL  string
}

// String says what went wrong, and where, on one line.
func (p Problem) String() string {
	if p.URL == "" {
		return p.Kind + ": " + p.Text
	}
	return fmt.Sprintf("%s: %s (%s)", p.Kind, p.Text, p.URL)
}

// ChromiumPath finds the browser, or fails the test saying how to install
// it.
func ChromiumPath(tb testing.TB) string {
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

// New starts Chromium with a fresh profile and no background traffic of
// its own, and opens one tab as opts say. Chromium stops when the test
// ends.
func New(tb testing.TB, opts Options) *Browser {
	tb.Helper()
	opts = opts.withDefaults(tb)
	alloc := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath(tb)),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.NoSandbox, // CI and dev containers run tests as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(int(opts.Viewport.Width), int(opts.Viewport.Height)),
	)
	if len(opts.TrustSPKI) > 0 {
		alloc = append(alloc, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(opts.TrustSPKI, ",")))
	}
	// Not tb.Context(): it ends before cleanups run, and a failed test's
	// cleanup still wants the tab for a screenshot.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), opts.Timeout)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, alloc...)
	b := &Browser{}
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithListener(b.record))
	b.ctx = ctx
	tb.Cleanup(func() {
		b.reportFailure(tb)
		cancelTab()
		cancelAlloc() // waits for Chromium to exit, before TempDir's cleanup
		cancelTimeout()
	})
	b.start(tb, opts)
	return b
}

// NewContext opens another tab in the same Chromium, in a browser context
// of its own: its own cookies, storage and cache, as a second device would
// have, for the price of a tab rather than a browser. opts.Timeout is
// ignored: the tab lives within b's deadline.
func (b *Browser) NewContext(tb testing.TB, opts Options) *Browser {
	tb.Helper()
	opts = opts.withDefaults(tb)
	nb := &Browser{}
	ctx, cancelTab := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(nb.record))
	nb.ctx = ctx
	tb.Cleanup(func() {
		nb.reportFailure(tb)
		cancelTab()
	})
	nb.start(tb, opts)
	return nb
}

func (o Options) withDefaults(tb testing.TB) Options {
	if o.Viewport == (Viewport{}) {
		o.Viewport = Phone
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
		if _, ok := tb.(*testing.B); ok {
			o.Timeout = 10 * time.Minute // a benchmark runs for minutes, not seconds
		}
	}
	return o
}

// start attaches to the tab (starting Chromium if need be), with the
// Network, Runtime and Log domains on, and sets up its emulation.
func (b *Browser) start(tb testing.TB, opts Options) {
	tb.Helper()
	b.Do(tb)
	v := opts.Viewport
	if v.Mobile {
		b.Do(tb, chromedp.EmulateViewport(v.Width, v.Height, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch))
	} else {
		b.Do(tb, chromedp.EmulateViewport(v.Width, v.Height, chromedp.EmulateLandscape, chromedp.EmulateTouch))
	}
	if opts.NoScript {
		Call(tb, b, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	}
}

// record runs in the tab's event loop: it must return fast and send nothing.
func (b *Browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *network.EventEventSourceMessageReceived:
		b.events = append(b.events, ev.Data)
	case *network.EventLoadingFailed:
		// A request the page abandoned (a navigation away, a closed
		// stream) is not a failure; a refused or blocked one is.
		if !ev.Canceled || ev.BlockedReason != "" {
			text := ev.ErrorText
			if ev.BlockedReason != "" {
				text += " blocked: " + string(ev.BlockedReason)
			}
			b.problems = append(b.problems, Problem{Kind: "request", Text: text + " (" + string(ev.Type) + ")"})
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.problems = append(b.problems, Problem{Kind: "exception", Text: text, URL: fmt.Sprintf("%s:%d", d.URL, d.LineNumber+1)})
	case *runtime.EventConsoleAPICalled:
		text := consoleText(ev.Args)
		b.console = append(b.console, fmt.Sprintf("console.%s: %s", ev.Type, text))
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.problems = append(b.problems, Problem{Kind: "console." + string(ev.Type), Text: text})
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			b.problems = append(b.problems, Problem{Kind: string(ev.Entry.Source), Text: ev.Entry.Text, URL: ev.Entry.URL})
		}
	}
}

// consoleText is a console call's arguments as the DevTools console
// would print them, roughly.
func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// reportFailure logs what the tab reported and saves a screenshot of it
// (with PANTRY_SCREENSHOTS set) when the test failed: a browser test's
// failure message rarely says everything the page knew.
func (b *Browser) reportFailure(tb testing.TB) {
	if !tb.Failed() {
		return
	}
	b.mu.Lock()
	problems, console := slices.Clone(b.problems), slices.Clone(b.console)
	b.mu.Unlock()
	var sb strings.Builder
	for _, p := range problems {
		sb.WriteString("\n  " + p.String())
	}
	for _, c := range console[max(0, len(console)-50):] {
		sb.WriteString("\n  " + c)
	}
	if sb.Len() > 0 {
		tb.Logf("the browser's problems and console (last 50 calls):%s", sb.String())
	}
	if dir := os.Getenv(EnvScreenshots); dir != "" && b.ctx.Err() == nil {
		name := strings.NewReplacer("/", "-", " ", "_").Replace(tb.Name()) + "-failed"
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			path := filepath.Join(dir, name+".png")
			if err := os.WriteFile(path, png, 0o644); err == nil {
				tb.Logf("the tab as the test failed: %s", path)
			}
		}
	}
}

// Context is the tab's chromedp context, for chromedp calls this package
// does not wrap. It ends at the browser's deadline.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs chromedp actions in the tab and fails the test if one fails.
func (b *Browser) Do(tb testing.TB, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		tb.Fatalf("browser: %v", err)
	}
}

// Call sends one DevTools protocol command to the tab and fails the test
// if it fails.
func Call[P, R any](tb testing.TB, b *Browser, cmd cdp.Command[P, R], params P) R {
	tb.Helper()
	res, err := chromedp.Call(b.ctx, cmd, params)
	if err != nil {
		tb.Fatalf("%s: %v", cmd.Method, err)
	}
	return res
}

// Eval evaluates the JavaScript expression js in the page and decodes its
// value into a T, failing the test if it throws or does not decode.
func Eval[T any](tb testing.TB, b *Browser, js string) T {
	tb.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// JSString quotes s as a JavaScript string literal, to build an
// expression for Eval or WaitFor from a Go value.
func JSString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// Requests returns the URL of every request the tab made so far.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests)
}

// Events returns the data of every Server-Sent Event the tab received so
// far.
func (b *Browser) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// Problems returns what the tab reported going wrong so far.
func (b *Browser) Problems() []Problem {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// NoProblems fails the test if the tab threw, logged an error, or had a
// request fail or refused (a Content-Security-Policy violation shows up
// here), except for problems one of except matches: a test that takes
// the server away on purpose expects the requests made meanwhile to fail
// (see NetworkErrors).
func (b *Browser) NoProblems(tb testing.TB, except ...func(Problem) bool) {
	tb.Helper()
	var report []string
	for _, p := range b.Problems() {
		if !slices.ContainsFunc(except, func(f func(Problem) bool) bool { return f(p) }) {
			report = append(report, p.String())
		}
	}
	if len(report) > 0 {
		tb.Errorf("the browser reported:\n%s", strings.Join(report, "\n"))
	}
}

// WebSocketFailed matches the problem a tab reports when a WebSocket
// cannot connect: refused, or cut before its handshake.
func WebSocketFailed(p Problem) bool {
	return p.Kind == "network" && strings.HasPrefix(p.Text, "WebSocket connection to ") && NetworkErrors(p)
}

// NetworkErrors matches the problems a tab reports when its server is
// unreachable: a request or a WebSocket that could not connect or was
// cut. It matches neither an answer the server gave (a 404, a 500) nor a
// request the page's Content-Security-Policy or the browser blocked, so
// a test that excepts it still catches those.
func NetworkErrors(p Problem) bool {
	if p.Kind != "request" && p.Kind != "network" {
		return false
	}
	if strings.Contains(p.Text, "ERR_BLOCKED") || strings.Contains(p.Text, "blocked:") || strings.Contains(p.Text, "Content Security Policy") {
		return false
	}
	return strings.Contains(p.Text, "net::ERR_") || strings.HasPrefix(p.Text, "WebSocket connection to ")
}
