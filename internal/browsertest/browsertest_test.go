package browsertest_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/browsertest"
)

// The helpers are checked against a real Chromium and a real HTTP server
// with pages made to go wrong in known ways: a helper that cannot see a
// problem would let every browser test pass.

const okPage = `<!doctype html><html lang="en"><meta charset="utf-8"><title>ok</title>
<script src="/ok.js"></script>
<label for="named">Named</label><input id="named">
<input id="unnamed">
<button id="small" style="width:20px;height:20px">x</button>
<div id="a" style="position:absolute;top:100px;left:0;width:100px;height:100px">a</div>
<div id="b" style="position:absolute;top:150px;left:50px;width:100px;height:100px">b</div>
<div id="wide" style="height:10px"></div>`

const okJS = `window.ready = true;
document.addEventListener("DOMContentLoaded", () => {
	if (location.search === "?wide") document.getElementById("wide").style.width = "3000px";
});`

// badJS logs an error, throws, and reaches for a server the page's
// Content-Security-Policy does not allow.
const badJS = `console.error("something broke");
fetch("http://" + location.hostname + ":" + PORT + "/elsewhere").catch(() => {});
setTimeout(() => { throw new Error("boom"); }, 0);`

func serve(t *testing.T, closedPort int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body, script string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, strings.Replace(body, "/ok.js", script, 1))
		}
	}
	mux.HandleFunc("/{$}", page(okPage, "/ok.js"))
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/bad", page(okPage, "/bad.js"))
	mux.HandleFunc("/ok.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, okJS)
	})
	mux.HandleFunc("/bad.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, strings.Replace(badJS, "PORT", fmt.Sprint(closedPort), 1))
	})
	mux.HandleFunc("/unreachable", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>x</title><img src="http://127.0.0.1:%d/gone.png" alt=""><script src="/ws.js"></script>`, closedPort)
	})
	mux.HandleFunc("/ws.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, `new WebSocket("ws://127.0.0.1:%d/");`, closedPort)
	})
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("set") {
			http.SetCookie(w, &http.Cookie{Name: "who", Value: r.URL.Query().Get("set"), Path: "/"})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		c, _ := r.Cookie("who")
		v := ""
		if c != nil {
			v = c.Value
		}
		fmt.Fprintf(w, `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width"><title>cookie</title><p id="who">%s</p>`, v)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestBrowser(t *testing.T) {
	t.Parallel()
	srv := serve(t, closedPort(t))
	b := browsertest.New(t, browsertest.Options{Viewport: browsertest.Tablet})

	t.Run("CleanPage", func(t *testing.T) {
		b.Open(t, srv.URL+"/")
		b.WaitFor(t, "the script", `window.ready === true`)
		b.NoProblems(t)
		if got, want := b.Path(t), "/"; got != want {
			t.Errorf("path=%q, want %q", got, want)
		}
		if !slices.Contains(b.Requests(), srv.URL+"/ok.js") {
			t.Errorf("requests %q, want %s/ok.js among them", b.Requests(), srv.URL)
		}
		if content, viewport := b.Widths(t); content > viewport || viewport != int(browsertest.Tablet.Width) {
			t.Errorf("widths %d in %d, want no overflow in %d", content, viewport, browsertest.Tablet.Width)
		}
	})

	t.Run("Layout", func(t *testing.T) {
		if got := b.UnnamedFields(t); len(got) != 1 || !strings.Contains(got[0], `id="unnamed"`) {
			t.Errorf("unnamed fields %q, want only #unnamed", got)
		}
		if got := b.SmallTargets(t, 44); !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, `id="small"`) }) {
			t.Errorf("small targets %q, want #small among them", got)
		}
		if got := b.Overlaps(t, "#a, #b"); len(got) != 1 {
			t.Errorf("overlaps %q, want #a / #b", got)
		}
		b.Open(t, srv.URL+"/?wide")
		b.WaitFor(t, "the wide element", `document.getElementById("wide").style.width === "3000px"`)
		if content, viewport := b.Widths(t); content <= viewport {
			t.Errorf("widths %d in %d, want the page to overflow", content, viewport)
		}
	})

	t.Run("Screenshot", func(t *testing.T) {
		png, err := os.ReadFile(b.Screenshot(t, "page"))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("screenshot: %v, %d bytes, want a PNG", err, len(png))
		}
	})

	t.Run("ProblemsAreRecorded", func(t *testing.T) {
		tab := b.NewContext(t, browsertest.Options{})
		tab.Open(t, srv.URL+"/bad")
		waitProblems(t, tab, "console.error", "exception", "security")
		for _, p := range tab.Problems() {
			if browsertest.NetworkErrors(p) {
				t.Errorf("NetworkErrors excepts %v, a request the CSP blocked", p)
			}
		}
	})

	t.Run("NetworkErrors", func(t *testing.T) {
		tab := b.NewContext(t, browsertest.Options{})
		tab.Open(t, srv.URL+"/unreachable")
		waitProblems(t, tab, "request")
		tab.WaitProblems(t, "the WebSocket's failure", 1, browsertest.WebSocketFailed)
		tab.NoProblems(t, browsertest.NetworkErrors)
	})

	t.Run("NewContextHasItsOwnCookies", func(t *testing.T) {
		one, two := b.NewContext(t, browsertest.Options{}), b.NewContext(t, browsertest.Options{Viewport: browsertest.Phone})
		one.Open(t, srv.URL+"/cookie?set=one")
		two.Open(t, srv.URL+"/cookie?set=two")
		one.Open(t, srv.URL+"/cookie")
		if got, want := one.Text(t, "#who"), "one"; got != want {
			t.Errorf("first context's cookie=%q, want %q", got, want)
		}
		if got, want := browsertest.Eval[int](t, two, `innerWidth`), int(browsertest.Phone.Width); got != want {
			t.Errorf("second context's width=%d, want %d", got, want)
		}
	})
}

// waitProblems waits, for 30 s at most, until the tab has reported a
// problem of each kind.
func waitProblems(t *testing.T, b *browsertest.Browser, kinds ...string) {
	t.Helper()
	missing := kinds
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		problems := b.Problems()
		missing = slices.DeleteFunc(slices.Clone(kinds), func(k string) bool {
			return slices.ContainsFunc(problems, func(p browsertest.Problem) bool { return p.Kind == k })
		})
		if len(missing) == 0 {
			return
		}
	}
	t.Fatalf("problems %q: none of kind %q", b.Problems(), missing)
}

// TestNetworkErrors: the problems Chromium reports, as it words them,
// that a test taking its server away may except, and those it may not.
func TestNetworkErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		p       browsertest.Problem
		network bool
		ws      bool
	}{
		{"Refused", browsertest.Problem{Kind: "request", Text: "net::ERR_CONNECTION_REFUSED (Fetch)"}, true, false},
		{"RefusedLogged", browsertest.Problem{Kind: "network", Text: "Failed to load resource: net::ERR_CONNECTION_REFUSED"}, true, false},
		{"WebSocketRefused", browsertest.Problem{Kind: "network", Text: "WebSocket connection to 'ws://127.0.0.1:1884/mqtt' failed: Error in connection establishment: net::ERR_CONNECTION_REFUSED"}, true, true},
		{"WebSocketCut", browsertest.Problem{Kind: "network", Text: "WebSocket connection to 'ws://127.0.0.1:1884/mqtt' failed: Connection closed before receiving a handshake response"}, true, true},
		{"NotFound", browsertest.Problem{Kind: "network", Text: "Failed to load resource: the server responded with a status of 404 (Not Found)"}, false, false},
		{"BlockedByCSP", browsertest.Problem{Kind: "request", Text: "net::ERR_BLOCKED_BY_CLIENT blocked: csp (Fetch)"}, false, false},
		{"CSPViolation", browsertest.Problem{Kind: "security", Text: "Connecting to 'ws://127.0.0.1:1884/' violates the following Content Security Policy directive"}, false, false},
		{"Exception", browsertest.Problem{Kind: "exception", Text: "Uncaught TypeError: net::ERR_ is not a function"}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := browsertest.NetworkErrors(tt.p); got != tt.network {
				t.Errorf("NetworkErrors(%v)=%v, want %v", tt.p, got, tt.network)
			}
			if got := browsertest.WebSocketFailed(tt.p); got != tt.ws {
				t.Errorf("WebSocketFailed(%v)=%v, want %v", tt.p, got, tt.ws)
			}
		})
	}
}
