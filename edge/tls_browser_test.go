package edge_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
)

// TestBrowserStaffAppOverTLS: a real Chromium loads the staff app over
// HTTPS from a node serving a site CA's leaf, signs in, and shows an order
// placed afterwards, delivered live over MQTT over wss: the page is a
// secure context (what screen wake lock, service workers and audio unlock
// need) and nothing it loads or opens is refused.
//
// Chromium trusts the leaf through --ignore-certificate-errors-spki-list
// (the SHA-256 of its public key): installing the site CA in Chromium's
// NSS store would need certutil and a profile of its own. The chain and
// the CA's name constraints are checked by Go's and OpenSSL's verifiers
// in edge/tlsca.
func TestBrowserStaffAppOverTLS(t *testing.T) {
	n, c := startTLS(t)
	sum := sha256.Sum256(n.Certificate().Leaf.RawSubjectPublicKeyInfo)
	b := browsertest.New(t, browsertest.Options{Viewport: browsertest.Tablet, Timeout: 3 * time.Minute,
		TrustSPKI: []string{base64.StdEncoding.EncodeToString(sum[:])}})

	b.Open(t, c.base+"/staff")
	b.Do(t,
		chromedp.SendKeys(`input[name=username]`, n.Demo.Tablet.Username),
		chromedp.SendKeys(`input[name=password]`, n.Demo.Tablet.Password),
		chromedp.SetValue(`select[name=station]`, "all"),
	)
	if resp := b.RunResponse(t, "sign in", chromedp.Click(`form.signin-form button[type=submit]`)); resp.Status != http.StatusOK {
		t.Fatalf("sign in: status %d", resp.Status)
	}
	b.WaitFor(t, "the staff app", `document.body.hasAttribute("data-staff-app")`)
	if got := browsertest.Eval[string](t, b, `location.protocol + " " + window.isSecureContext`); got != "https: true" {
		t.Fatalf("protocol and secure context = %q, want \"https: true\"", got)
	}
	waitBrokerClients(t, c, 1) // the page's MQTT client, over wss

	token := c.session(t, n)
	r := c.do(t, "POST", "/api/v1/orders", token, map[string]any{"lines": []map[string]any{{"item_id": platterID(t, n), "quantity": 1}}})
	var o pantry.Order
	if json.Unmarshal(r.body, &o); r.status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	b.WaitFor(t, "the new order's ticket, live", fmt.Sprintf(`!!document.querySelector('[data-order-id=%s]')`, browsertest.JSString(o.ID)))
	b.NoProblems(t)
}

var connectedRE = regexp.MustCompile(`(?m)^pantry_mqtt_clients_connected (\d+)$`)

// waitBrokerClients waits, 60 s at most, until the broker counts n
// clients.
func waitBrokerClients(tb testing.TB, c *tlsClient, n int) {
	tb.Helper()
	want := fmt.Sprint(n)
	got := ""
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := c.do(tb, "GET", "/metrics", "", nil)
		if m := connectedRE.FindSubmatch(r.body); m != nil {
			if got = string(m[1]); got == want {
				return
			}
		}
	}
	tb.Fatalf("the broker has %s clients connected, want %d", got, n)
}
