package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/browsertest"
)

// The admin dashboard against real processes: two `pantry cloud serve`
// on one database, one `pantry edge serve` enrolled against the first
// (A), and a person signed in to the second (B) in headless Chromium.
// Orders reach B's live page through PostgreSQL (LISTEN/NOTIFY), never
// through A; the fleet page says what the edge's own syncs recorded.

// dashboardOfflineAfter is the offline threshold the test's clouds run
// with: the shortest `pantry cloud serve --node-offline-after` accepts,
// so that the test waits half a minute for an edge to go offline, not
// the default minute and a half.
const dashboardOfflineAfter = 30 * time.Second

// dashboardWorld is two cloud instances, one edge and what the test
// knows of them.
type dashboardWorld struct {
	*world
	cloudB      *proc
	edge        *edgeNode
	nodeID      string
	room        string // a room's QR code
	email, pass string
}

// TestDashboardLiveOrdersAndFleet: an edge enrolled with A takes an
// order; B's live orders page, open in a browser, shows it without a
// reload. Then the edge stops: within the offline threshold B's fleet
// page shows its node offline, with when it was last seen; the edge
// starts again: the node is back to ok.
func TestDashboardLiveOrdersAndFleet(t *testing.T) {
	w := newDashboardWorld(t)
	b := browsertest.New(t, browsertest.Options{Viewport: browsertest.Tablet, Timeout: 3 * time.Minute})
	w.signIn(t, b)

	t.Run("LiveOrderOnTheOtherInstance", func(t *testing.T) {
		b.Open(t, w.cloudB.url+"/orders")
		waitJS(t, b, 20*time.Second, "the live feed to open", `!document.querySelector("[data-live]").hidden`)
		browsertest.Eval[chromedp.Void](t, b, markJS)
		id := w.placeOrder(t)
		placed := time.Now()
		waitJS(t, b, 20*time.Second, "the order's row on B's live page",
			fmt.Sprintf(`!!document.querySelector('[data-orders] [data-order-id=%s]')`, browsertest.JSString(id)))
		t.Logf("the order's row was on B's page %s after the edge's 201 (the issue asks for 2 s)", time.Since(placed).Round(time.Millisecond))
		if !browsertest.Eval[bool](t, b, notReloadedJS) {
			t.Fatalf("B's live page reloaded to show the order")
		}
		b.Screenshot(t, "dashboard-e2e-live-order")
	})

	t.Run("FleetOfflineAndBack", func(t *testing.T) {
		row := fmt.Sprintf(`[data-node-id=%s]`, browsertest.JSString(w.nodeID))
		w.waitFleet(t, b, row, "ok", 30*time.Second)
		// A staff tablet connects to the edge's broker: the node reports
		// it at its next pull (one long poll, 25 s, at most).
		if _, err := edgetest.Connect(t, w.edge.mqtt, w.edge.tablet[0], w.edge.tablet[1]); err != nil {
			t.Fatalf("a tablet connects to the edge: %v", err)
		}
		w.waitFleetText(t, b, row+` [data-tablets]`, "1 online", 60*time.Second)
		w.stopEdge(t)
		stopped := time.Now()
		// The node was heard from at most one long poll (25 s) before it
		// stopped, and is offline once unheard for the threshold: allow
		// the threshold and as much again for a loaded machine.
		w.waitFleet(t, b, row, "offline", 2*dashboardOfflineAfter+10*time.Second)
		t.Logf("offline %s after the edge stopped (threshold %s)", time.Since(stopped).Round(time.Second), dashboardOfflineAfter)
		cells := browsertest.Eval[string](t, b, fmt.Sprintf(`document.querySelector('%s').textContent`, row))
		if !strings.Contains(cells, "not seen for") || !strings.Contains(cells, " ago") {
			t.Errorf("the offline row does not say when the node was last seen: %q", strings.Join(strings.Fields(cells), " "))
		}
		b.Screenshot(t, "dashboard-e2e-fleet-offline")
		w.startEdge(w.edge)
		w.waitFleet(t, b, row, "ok", 30*time.Second)
		b.Screenshot(t, "dashboard-e2e-fleet-back")
	})
	b.NoProblems(t, browsertest.NetworkErrors)
}

// newDashboardWorld migrates a private PostgreSQL (or, with
// PANTRY_TEST_DB=citus, a private Citus cluster), creates an
// organization with the CLI, starts clouds A and B on it, makes a site
// with a room and a menu through A's API, enrolls an edge with A
// (`pantry edge init`) and starts it.
func newDashboardWorld(t *testing.T) *dashboardWorld {
	w := &dashboardWorld{world: newWorld(t), email: "admin@dashboard.example", pass: "dashboard-e2e-password-1"}
	flags := []string{"--node-offline-after", dashboardOfflineAfter.String()}
	w.migrate()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(w.pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.cli("cloud", "org", "create", "--database-url", w.pg.URL(), "--name", "Dashboard E2E",
		"--admin-email", w.email, "--admin-password-file", pwFile, "--json")
	w.addr = freeAddr(t) // A: the API calls below and the edge go there
	w.cloud = w.spawn("cloud-a", "http://"+w.addr, append([]string{"cloud", "serve", "--database-url", w.pg.URL(), "--http", w.addr}, flags...)...)
	addrB := freeAddr(t)
	w.cloudB = w.spawn("cloud-b", "http://"+addrB, append([]string{"cloud", "serve", "--database-url", w.pg.URL(), "--http", addrB}, flags...)...)

	_, login := w.api("POST", "/api/v1/auth/login", map[string]string{"email": w.email, "password": w.pass}, 200)
	w.token = login["access_token"].(string)
	_, item := w.api("POST", "/api/v1/items", map[string]any{"name": "Coffee", "price": map[string]any{"amount": 250, "currency": "EUR"}}, 201)
	w.items = []string{item["id"].(string)}
	_, site := w.api("POST", "/api/v1/sites", map[string]string{"name": "Headquarters", "timezone": "Europe/Amsterdam", "currency": "EUR"}, 201)
	e := &edgeNode{siteID: site["id"].(string), dir: t.TempDir(), http: freeAddr(t), mqtt: freeAddr(t), ordered: map[string]bool{}}
	_, room := w.api("POST", "/api/v1/sites/"+e.siteID+"/spaces", map[string]string{"name": "Boardroom", "floor": "1"}, 201)
	w.room = room["code"].(string)
	w.putMenu(e.siteID, nil)
	w.api("POST", "/api/v1/sites/"+e.siteID+"/stock/movements", map[string]any{"item_id": w.items[0], "delta": 100, "reason": "restock"}, 201)
	_, tab := w.api("POST", "/api/v1/sites/"+e.siteID+"/tablets", map[string]string{"name": "Pantry"}, 201)
	e.tablet = [2]string{tab["username"].(string), tab["password"].(string)}
	_, tok := w.api("POST", "/api/v1/sites/"+e.siteID+"/enrollment-tokens", map[string]any{}, 201)
	w.cli("edge", "init", "--data", e.dir, "--cloud", "http://"+w.addr, "--token", tok["token"].(string), "--name", "hq-edge")
	w.startEdge(e)
	w.edge = e
	_, nodes := w.api("GET", "/api/v1/nodes", nil, 200)
	list, _ := nodes["nodes"].([]any)
	if len(list) != 1 {
		t.Fatalf("nodes after enrolling one edge: %v", nodes)
	}
	w.nodeID = list[0].(map[string]any)["id"].(string)
	return w
}

// signIn signs in to B from its sign-in form, as a person does.
func (w *dashboardWorld) signIn(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	b.Open(t, w.cloudB.url+"/login")
	b.Do(t, chromedp.SendKeys(`input[name=email]`, w.email), chromedp.SendKeys(`input[name=password]`, w.pass))
	if resp := b.RunResponse(t, "sign in", chromedp.Click(`form button[type=submit]`)); resp.Status != http.StatusOK {
		t.Fatalf("sign in to B: status %d", resp.Status)
	}
	waitJS(t, b, 20*time.Second, "the signed-in page", `!!document.querySelector("[data-signed-in]")`)
}

// placeOrder orders a coffee at the edge, as an attendee's phone does
// after scanning the room's code, and returns the order's id.
func (w *dashboardWorld) placeOrder(t *testing.T) string {
	t.Helper()
	url := w.edge.url()
	status, s := call(t, "POST", url+"/api/v1/sessions", "", map[string]string{"space_code": w.room})
	token, _ := s["token"].(string)
	if status != http.StatusCreated || token == "" {
		t.Fatalf("open a session at the edge: %d %v", status, s)
	}
	status, o := call(t, "POST", url+"/api/v1/orders", token,
		map[string]any{"lines": []map[string]any{{"item_id": w.items[0], "quantity": 1}}}, "Idempotency-Key", "dashboard-e2e-1")
	id, _ := o["id"].(string)
	if status != http.StatusCreated || id == "" {
		t.Fatalf("place an order at the edge: %d %v", status, o)
	}
	return id
}

// stopEdge stops the edge as its service manager would (SIGTERM) and
// waits until it has exited.
func (w *dashboardWorld) stopEdge(t *testing.T) {
	t.Helper()
	p := w.edge.proc
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("the edge did not stop cleanly: %v", err)
	}
}

// waitFleet reloads B's fleet page until the node's row (sel) shows
// health, for limit at most: the fleet is read when the page is made.
func (w *dashboardWorld) waitFleet(t *testing.T, b *browsertest.Browser, sel, health string, limit time.Duration) {
	t.Helper()
	js := fmt.Sprintf(`document.querySelector('%s')?.dataset.health ?? "no row"`, sel)
	got := ""
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(time.Second) {
		b.Open(t, w.cloudB.url+"/")
		if got = browsertest.Eval[string](t, b, js); got == health {
			return
		}
	}
	t.Fatalf("B's fleet row of the node says %q after %s, want %q", got, limit, health)
}

// waitFleetText reloads B's fleet page until the element sel says want.
func (w *dashboardWorld) waitFleetText(t *testing.T, b *browsertest.Browser, sel, want string, limit time.Duration) {
	t.Helper()
	js := fmt.Sprintf(`document.querySelector('%s')?.textContent.trim() ?? "no cell"`, sel)
	got := ""
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(time.Second) {
		b.Open(t, w.cloudB.url+"/")
		if got = browsertest.Eval[string](t, b, js); got == want {
			return
		}
	}
	t.Fatalf("B's fleet page says %q in %s after %s, want %q", got, sel, limit, want)
}

// waitJS waits until js is true in b's page, for limit at most.
func waitJS(t *testing.T, b *browsertest.Browser, limit time.Duration, what, js string) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok, err := chromedp.Run(b.Context(), chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
	}
	t.Fatalf("waited %s in vain for %s (%s)", limit, what, js)
}
