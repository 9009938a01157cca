package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/internal/browsertest"
)

// The staff app against a real `pantry edge serve` process, in a real
// Chromium, through what a building does to it: the process killed with
// SIGKILL and started again, and the tablets' WebSocket link to the broker
// cut and restored. The tablets must say the edge is gone while it is, and
// afterwards show exactly the edge's open orders without anyone reloading
// them.

// tabletTimeout bounds each tablet's browser, Chromium's start, a process
// restart and every wait included: generous, as machines are shared.
const tabletTimeout = 3 * time.Minute

// bannerJS is true while a tablet shows that it lost the edge.
const bannerJS = `!!document.querySelector('[data-banner="edge"]')`

// notReloadedJS is true until the page is reloaded or left: markJS sets it.
const (
	markJS        = `window.__sameTablet = true`
	notReloadedJS = `window.__sameTablet === true`
)

// TestStaffTabletsSurviveKill9: two tablets follow an edge process that is
// killed with SIGKILL and started again on the same data and ports. They
// show the edge banner while it is gone, and afterwards the order
// acknowledged before the kill and the one placed after, with no reload.
func TestStaffTabletsSurviveKill9(t *testing.T) {
	bin := buildPantry(t)
	dir, addrs := t.TempDir(), newEdgeAddrs(t)
	p := startEdgeAt(t, bin, dir, addrs)
	site := openDemoSite(t, p, dir)

	a := browsertest.New(t, browsertest.Options{Viewport: browsertest.Tablet, Timeout: tabletTimeout})
	b := a.NewContext(t, browsertest.Options{Viewport: browsertest.Tablet})
	tablets := []*browsertest.Browser{a, b}
	for _, tab := range tablets {
		signInTablet(t, tab, p.url, site)
	}
	waitTabletsConnected(t, p.url, len(tablets))
	for _, tab := range tablets {
		browsertest.Eval[chromedp.Void](t, tab, markJS)
	}

	before := site.placeOrder(t, p.url, 0)
	for _, tab := range tablets {
		tab.WaitFor(t, "the order placed before the kill", ticketJS(before))
	}

	p.kill9(t)
	for _, tab := range tablets {
		tab.WaitFor(t, "the edge banner", bannerJS)
		// Restart only once each tablet has tried the dead edge again.
		tab.WaitProblems(t, "a reconnection refused", browsertest.CountProblems(tab.Problems(), browsertest.WebSocketFailed)+1, browsertest.WebSocketFailed)
	}

	p = startEdgeAt(t, bin, dir, addrs)
	if status, o := call(t, "GET", p.url+"/api/v1/orders/"+before, site.session, nil); status != http.StatusOK || o["status"] != "placed" {
		t.Fatalf("the order acknowledged before the kill: %d %v, want it placed", status, o)
	}
	after := site.placeOrder(t, p.url, 1)
	want := map[string]string{before: "placed", after: "placed"}
	if got := site.openOrders(t, p.url); !maps.Equal(got, want) {
		t.Fatalf("the edge's open orders after the restart: %v, want %v", got, want)
	}
	for i, tab := range tablets {
		tab.WaitFor(t, "the edge banner to go", "!"+bannerJS)
		if got := waitTickets(t, tab, want); !maps.Equal(got, want) {
			t.Fatalf("tablet %d shows %v, want both orders %v", i+1, got, want)
		}
	}
	for i, tab := range tablets {
		if !browsertest.Eval[bool](t, tab, notReloadedJS) {
			t.Errorf("tablet %d reloaded its page", i+1)
		}
		tab.NoProblems(t, browsertest.NetworkErrors)
	}
}

// TestStaffTabletWebSocketCut: a tablet reaches the broker through a proxy
// (the port it advertises with --mqtt-ws-advertise). The link is cut,
// and meanwhile orders are placed, one the tablet shows is cancelled and
// another moved on; once the link is back the tablet shows exactly the
// edge's open orders, with their statuses, and no reload.
func TestStaffTabletWebSocketCut(t *testing.T) {
	bin := buildPantry(t)
	dir, addrs := t.TempDir(), newEdgeAddrs(t)
	link := newLinkProxy(t, addrs.ws)
	_, port, err := net.SplitHostPort(link.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := startEdgeAt(t, bin, dir, addrs, "--mqtt-ws-advertise", port)
	site := openDemoSite(t, p, dir)
	kept, cancelled, advanced := site.placeOrder(t, p.url, 0), site.placeOrder(t, p.url, 1), site.placeOrder(t, p.url, 2)

	tab := browsertest.New(t, browsertest.Options{Viewport: browsertest.Tablet, Timeout: tabletTimeout})
	signInTablet(t, tab, p.url, site)
	waitTabletsConnected(t, p.url, 1)
	if got := link.open(); got == 0 {
		t.Fatal("the tablet is connected, but not through the proxy")
	}
	tab.WaitFor(t, "the three tickets", ticketJS(kept)+" && "+ticketJS(cancelled)+" && "+ticketJS(advanced))
	browsertest.Eval[chromedp.Void](t, tab, markJS)

	failed := browsertest.CountProblems(tab.Problems(), browsertest.WebSocketFailed)
	link.setUp(false)
	tab.WaitFor(t, "the edge banner", bannerJS)
	placed := []string{site.placeOrder(t, p.url, 3), site.placeOrder(t, p.url, 0)}
	site.setStatus(t, p.url, cancelled, "cancelled")
	site.setStatus(t, p.url, advanced, "accepted")
	// Restore only once the tablet has tried the cut link again.
	tab.WaitProblems(t, "a reconnection cut", failed+1, browsertest.WebSocketFailed)
	if !browsertest.Eval[bool](t, tab, bannerJS) {
		t.Errorf("the banner went while the link was still cut")
	}

	link.setUp(true)
	want := site.openOrders(t, p.url)
	if expect := map[string]string{kept: "placed", advanced: "accepted", placed[0]: "placed", placed[1]: "placed"}; !maps.Equal(want, expect) {
		t.Fatalf("the edge's open orders %v, want %v (%s cancelled)", want, expect, cancelled)
	}
	tab.WaitFor(t, "the edge banner to go", "!"+bannerJS)
	if got := waitTickets(t, tab, want); !maps.Equal(got, want) {
		t.Fatalf("the tablet shows %v, want the edge's open orders %v", got, want)
	}
	if !browsertest.Eval[bool](t, tab, notReloadedJS) {
		t.Errorf("the tablet reloaded its page")
	}
	tab.NoProblems(t, browsertest.NetworkErrors)
}

// edgeAddrs are the loopback addresses of an edge process, chosen once so
// that a restarted process listens where the tablets look for it.
type edgeAddrs struct{ http, mqtt, ws string }

func newEdgeAddrs(tb testing.TB) edgeAddrs {
	tb.Helper()
	return edgeAddrs{http: freeAddr(tb), mqtt: freeAddr(tb), ws: freeAddr(tb)}
}

// edgeProc is a running `pantry edge serve` process.
type edgeProc struct {
	url    string
	cmd    *exec.Cmd
	out    *syncBuffer // its stdout and stderr
	exited chan struct{}
}

// startEdgeAt starts `pantry edge serve --demo` on dir and addrs, with
// more flags if given, and waits until it is ready. The process is killed
// at cleanup if it still runs, and its output logged if the test failed.
func startEdgeAt(tb testing.TB, bin, dir string, addrs edgeAddrs, flags ...string) *edgeProc {
	tb.Helper()
	args := append([]string{"edge", "serve", "--demo", "--data", dir, "--http", addrs.http, "--mqtt", addrs.mqtt, "--mqtt-ws", addrs.ws}, flags...)
	p := &edgeProc{url: "http://" + addrs.http, cmd: exec.Command(bin, args...), out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if tb.Failed() {
			tb.Logf("pantry %v:\n%s", args, p.out)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.exited:
			tb.Fatalf("pantry edge serve exited before it was ready (%v):\n%s", p.cmd.ProcessState, p.out)
		default:
		}
		if status, _ := get(tb.Context(), p.url+"/readyz"); status == http.StatusOK {
			return p
		}
	}
	tb.Fatalf("edge process not ready within 30 s:\n%s", p.out)
	return nil
}

// kill9 kills the process with SIGKILL, as a power cut or the OOM killer
// would, and waits until it is gone.
func (p *edgeProc) kill9(tb testing.TB) {
	tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatalf("kill -9: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		tb.Fatal("the edge process outlived SIGKILL by 30 s")
	}
}

// syncBuffer is a bytes.Buffer a process may write while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demoSite is what the tests use of a demo edge: its tablet login, an
// attendee session per room, the menu and a staff token.
type demoSite struct {
	demoFile
	sessions []string // per room
	session  string   // room 0's
	item     string
	staff    string
	placed   int // orders placed, for their idempotency keys
}

// openDemoSite reads DIR/demo.json and opens a session in each room.
func openDemoSite(tb testing.TB, p *edgeProc, dir string) *demoSite {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		tb.Fatalf("demo.json: %v", err)
	}
	s := &demoSite{}
	if err := json.Unmarshal(raw, &s.demoFile); err != nil {
		tb.Fatalf("demo.json: %v", err)
	}
	for _, r := range s.Rooms {
		status, sess := call(tb, "POST", p.url+"/api/v1/sessions", "", map[string]string{"space_code": r.Code})
		token, _ := sess["token"].(string)
		if status != http.StatusCreated || token == "" {
			tb.Fatalf("open a session in %s: %d %v", r.Name, status, sess)
		}
		s.sessions = append(s.sessions, token)
	}
	s.session = s.sessions[0]
	status, menu := call(tb, "GET", p.url+"/api/v1/menu", s.session, nil)
	items, _ := menu["items"].([]any)
	if status != http.StatusOK || len(items) == 0 {
		tb.Fatalf("menu: %d %v", status, menu)
	}
	s.item, _ = items[0].(map[string]any)["id"].(string)
	status, login := call(tb, "POST", p.url+"/api/v1/staff/login", "", map[string]string{"username": s.Tablet.Username, "password": s.Tablet.Password})
	if s.staff, _ = login["token"].(string); status != http.StatusOK || s.staff == "" {
		tb.Fatalf("staff login: %d %v", status, login)
	}
	return s
}

// placeOrder orders one of the menu's first item from a room, insists on
// the 201 that promises the order is kept, and returns its id.
func (s *demoSite) placeOrder(tb testing.TB, url string, room int) string {
	tb.Helper()
	status, o := call(tb, "POST", url+"/api/v1/orders", s.sessions[room%len(s.sessions)],
		map[string]any{"lines": []map[string]any{{"item_id": s.item, "quantity": 1}}},
		"Idempotency-Key", fmt.Sprint("order-", s.placed))
	s.placed++
	id, _ := o["id"].(string)
	if status != http.StatusCreated || id == "" {
		tb.Fatalf("place an order: %d %v, want 201 with an id", status, o)
	}
	return id
}

// setStatus moves an order on, or cancels it, through the staff API.
func (s *demoSite) setStatus(tb testing.TB, url, id, status string) {
	tb.Helper()
	if got, o := call(tb, "POST", url+"/api/v1/staff/orders/"+id+"/status", s.staff,
		map[string]string{"status": status, "reason": "Room is empty"}); got != http.StatusOK || o["status"] != status {
		tb.Fatalf("order %s -> %s: %d %v", id, status, got, o)
	}
}

// openOrders is the edge's open queue: each order's status by id.
func (s *demoSite) openOrders(tb testing.TB, url string) map[string]string {
	tb.Helper()
	status, body := call(tb, "GET", url+"/api/v1/staff/orders?status=open", s.staff, nil)
	list, ok := body["orders"].([]any)
	if status != http.StatusOK || !ok {
		tb.Fatalf("open orders: %d %v", status, body)
	}
	out := map[string]string{}
	for _, o := range list {
		m, _ := o.(map[string]any)
		id, _ := m["id"].(string)
		out[id], _ = m["status"].(string)
	}
	return out
}

// signInTablet signs the demo tablet in from the staff page's form, as a
// person does, for every station, and waits for the app.
func signInTablet(tb testing.TB, b *browsertest.Browser, url string, s *demoSite) {
	tb.Helper()
	b.Open(tb, url+"/staff")
	b.Do(tb,
		chromedp.SendKeys(`input[name=username]`, s.Tablet.Username),
		chromedp.SendKeys(`input[name=password]`, s.Tablet.Password),
		chromedp.SetValue(`select[name=station]`, "all"),
	)
	if resp := b.RunResponse(tb, "sign in", chromedp.Click(`form.signin-form button[type=submit]`)); resp.Status != http.StatusOK {
		tb.Fatalf("sign in: status %d", resp.Status)
	}
	b.WaitFor(tb, "the staff app", `document.body.hasAttribute("data-staff-app")`)
}

// connectedRE reads the broker's count of connected clients from /metrics.
var connectedRE = regexp.MustCompile(`(?m)^pantry_mqtt_clients_connected (\d+)$`)

// waitTabletsConnected waits, for 60 s at most, until the edge's broker
// has n clients: the tablets are live, not merely showing a page.
func waitTabletsConnected(tb testing.TB, url string, n int) {
	tb.Helper()
	got := -1
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = connectedClients(tb.Context(), url); got == n {
			return
		}
	}
	tb.Fatalf("the broker has %d clients connected, want %d tablets", got, n)
}

func connectedClients(ctx context.Context, url string) int {
	status, body := get(ctx, url+"/metrics")
	if status != http.StatusOK {
		return -1
	}
	m := connectedRE.FindSubmatch(body)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// get fetches url and returns its status and body; status 0 if it could
// not (the process is not listening yet, say).
func get(ctx context.Context, url string) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, body
}

// ticketJS is true while the tablet shows a ticket for order id.
func ticketJS(id string) string {
	return fmt.Sprintf(`!!document.querySelector('[data-order-id=%s]')`, browsertest.JSString(id))
}

// ticketsJS is the tablet's tickets: each one's status by order id.
const ticketsJS = `Object.fromEntries(Array.from(document.querySelectorAll("[data-order-id]"), t => [t.dataset.orderId, t.dataset.status]))`

// waitTickets waits, within the tablet's deadline, until its tickets are
// exactly want (status by order id), and returns what it last showed.
func waitTickets(tb testing.TB, b *browsertest.Browser, want map[string]string) map[string]string {
	tb.Helper()
	var got map[string]string
	for b.Context().Err() == nil {
		s, err := chromedp.Run(b.Context(), chromedp.Evaluate[map[string]string](ticketsJS))
		if err == nil {
			got = s
		}
		if maps.Equal(got, want) {
			break
		}
		sleepCtx(b.Context(), 50*time.Millisecond)
	}
	return got
}
