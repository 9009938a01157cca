package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func postForm(tb testing.TB, n *edgetest.Node, path string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest("POST", n.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return send(tb, req)
}

func getPage(tb testing.TB, n *edgetest.Node, path string, cookies ...*http.Cookie) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest("GET", n.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return send(tb, req)
}

func send(tb testing.TB, req *http.Request) (*http.Response, string) {
	tb.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, string(body)
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestStaffSignIn: the form signs a tablet in with a private cookie and
// refuses anything else clearly, setting nothing; signing out ends the
// login for the API too.
func TestStaffSignIn(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	user, pass := n.Demo.Tablet.Username, n.Demo.Tablet.Password

	resp, body := getPage(t, n, "/staff")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="username"`) || !strings.Contains(body, `name="password"`) {
		t.Fatalf("GET /staff signed out: %d, want the sign-in form:\n%s", resp.StatusCode, body)
	}
	for name, tc := range map[string]struct {
		form url.Values
		want int
	}{
		"WrongPassword": {url.Values{"username": {user}, "password": {"not it"}}, http.StatusUnauthorized},
		"UnknownUser":   {url.Values{"username": {"nobody"}, "password": {pass}}, http.StatusUnauthorized},
		"Empty":         {url.Values{}, http.StatusUnauthorized},
		"HugePassword":  {url.Values{"username": {user}, "password": {strings.Repeat("x", 10000)}}, http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := postForm(t, n, "/staff/login", tc.form)
			if resp.StatusCode != tc.want || !strings.Contains(body, `role="alert"`) {
				t.Fatalf("sign in: %d, want %d with an alert:\n%s", resp.StatusCode, tc.want, body)
			}
			if len(resp.Cookies()) > 0 {
				t.Fatalf("a refused sign-in set cookies: %v", resp.Cookies())
			}
		})
	}

	resp, _ = postForm(t, n, "/staff/login", url.Values{"username": {user}, "password": {pass}, "station": {"drinks"}})
	staff, station := cookie(resp, "pantry_staff"), cookie(resp, "pantry_station")
	if resp.StatusCode != http.StatusSeeOther || staff == nil || station == nil {
		t.Fatalf("sign in: %d, cookies %v; want 303 with the staff and station cookies", resp.StatusCode, resp.Cookies())
	}
	if !staff.HttpOnly || staff.SameSite != http.SameSiteStrictMode || station.Value != "drinks" {
		t.Errorf("staff cookie %+v, station %q: want HttpOnly, SameSite=Strict, station drinks", staff, station.Value)
	}
	resp, body = getPage(t, n, "/staff", staff, station)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "data-staff-app") || !strings.Contains(body, `data-station="drinks"`) {
		t.Fatalf("GET /staff signed in: %d, want the app for station drinks:\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws://") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q: want the broker's WebSocket allowed and nothing unsafe", csp)
	}
	if r := n.Do(t, "GET", "/api/v1/staff/orders", staff.Value, nil); r.Status != http.StatusOK {
		t.Fatalf("the cookie's token on the API: %d", r.Status)
	}
	// The app signs in to the broker with the token, never the password.
	if _, err := edgetest.Connect(t, n.MQTTAddr().String(), user, staff.Value); err != nil {
		t.Fatalf("MQTT login with the staff token: %v", err)
	}
	if _, err := edgetest.Connect(t, n.MQTTAddr().String(), "someone-else", staff.Value); err == nil {
		t.Fatalf("MQTT login with another tablet's token succeeded")
	}

	resp, _ = postForm(t, n, "/staff/logout", nil, staff)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d, want 303", resp.StatusCode)
	}
	if r := n.Do(t, "GET", "/api/v1/staff/orders", staff.Value, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the token after signing out: %d, want 401", r.Status)
	}
	if _, body := getPage(t, n, "/staff", staff); !strings.Contains(body, `name="password"`) {
		t.Fatalf("GET /staff after signing out does not show the sign-in form")
	}
	if _, err := edgetest.Connect(t, n.MQTTAddr().String(), user, staff.Value); err == nil {
		t.Fatalf("MQTT login with a signed-out token succeeded")
	}
}

// TestOrderPageSaysWhenNoTabletSawIt: with no pantry tablet online since
// an order was placed, its page says so instead of pretending; once a
// tablet connects, it no longer does.
func TestOrderPageSaysWhenNoTabletSawIt(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sess := n.Session(t, 0)
	r := n.Do(t, "POST", "/api/v1/orders", sess, map[string]any{"lines": []map[string]any{{"item_id": menu[0].ID, "quantity": 1}}},
		"Idempotency-Key", "unseen-1")
	var o struct{ ID string }
	r.Decode(t, &o)
	page := func() string {
		_, body := getPage(t, n, "/orders/"+o.ID, &http.Cookie{Name: "pantry_session", Value: sess})
		return body
	}
	if body := page(); !strings.Contains(body, "data-unseen") {
		t.Fatalf("the order page of an order no tablet saw does not say so:\n%s", body)
	}
	if _, err := edgetest.Connect(t, n.MQTTAddr().String(), n.Demo.Tablet.Username, n.Demo.Tablet.Password); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(page(), "data-unseen") {
		if time.Now().After(deadline) {
			t.Fatalf("the order page still says no tablet saw the order after one connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStaffPageRendersTheStationsQueue: without any script, the app's page
// shows the station's open tickets with their allergens and tags, dims the
// lines of other stations, and leaves out orders that are not the
// station's.
func TestStaffPageRendersTheStationsQueue(t *testing.T) {
	t.Parallel()
	n := edgetest.Start(t)
	menu, err := n.Store().Menu(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	item := func(name string) string {
		for _, it := range menu {
			if it.Name == name {
				return it.ID
			}
		}
		t.Fatalf("no %s on the demo menu", name)
		return ""
	}
	sess := n.Session(t, 0)
	order := func(key string, lines ...map[string]any) string {
		r := n.Do(t, "POST", "/api/v1/orders", sess, map[string]any{"lines": lines}, "Idempotency-Key", key)
		var o struct{ ID string }
		r.Decode(t, &o)
		return o.ID
	}
	mixed := order("mixed", map[string]any{"item_id": item("Flat white"), "quantity": 2}, map[string]any{"item_id": item("Cheese board"), "quantity": 1})
	foodOnly := order("food", map[string]any{"item_id": item("Fruit bowl"), "quantity": 1})

	resp, _ := postForm(t, n, "/staff/login", url.Values{"username": {n.Demo.Tablet.Username}, "password": {n.Demo.Tablet.Password}, "station": {"drinks"}})
	_, body := getPage(t, n, "/staff", cookie(resp, "pantry_staff"), cookie(resp, "pantry_station"))
	for _, want := range []string{
		`data-order-id="` + mixed + `"`,
		`<span class="allergen" aria-label="allergen: milk">⚠ milk</span>`,
		`<span class="tag" aria-label="dietary: hot">● hot</span>`,
		`<li class="other-station"><span class="qty">1×</span> <span class="name">Cheese board</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the drinks page lacks %s", want)
		}
	}
	if strings.Contains(body, foodOnly) {
		t.Errorf("the drinks page shows an order of food only")
	}
}
