package web_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
)

// TestStaffPageWSPort: the staff page tells its script, and lets its
// Content-Security-Policy reach, the WebSocket listener's own port, or the
// port advertised for it when a proxy or a port forward sits in front.
func TestStaffPageWSPort(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, advertise string
	}{{"ListenerPort", ""}, {"Advertised", "8443"}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := edgetest.Start(t, func(c *edge.Config) { c.MQTTWSAdvertise = tt.advertise })
			_, listener, err := net.SplitHostPort(n.WSAddr)
			if err != nil {
				t.Fatal(err)
			}
			want, other := listener, tt.advertise
			if tt.advertise != "" {
				want, other = tt.advertise, listener
			}
			resp, _ := postForm(t, n, "/staff/login", url.Values{"username": {n.Demo.Tablet.Username}, "password": {n.Demo.Tablet.Password}})
			resp, body := getPage(t, n, "/staff", resp.Cookies()...)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "data-staff-app") {
				t.Fatalf("GET /staff signed in: %d, want the app:\n%s", resp.StatusCode, body)
			}
			if got := `data-ws-port="` + want + `"`; !strings.Contains(body, got) {
				t.Errorf("the page does not say %s", got)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if allow := "connect-src 'self' ws://127.0.0.1:" + want + " wss://127.0.0.1:" + want; !strings.Contains(csp, allow) {
				t.Errorf("CSP %q: want %q", csp, allow)
			}
			if other != "" && strings.Contains(csp, ":"+other) {
				t.Errorf("CSP %q names port %s, want only %s", csp, other, want)
			}
		})
	}
}
