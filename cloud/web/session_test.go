package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// client is a browser without a browser: a cookie jar, redirects not
// followed, so each answer can be checked.
type client struct {
	*http.Client
	base string
}

func newClient(tb testing.TB, s *cloudtest.Server) *client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &client{Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base: s.URL}
}

// page is an answer with its body read.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (c *client) do(tb testing.TB, method, path string, form url.Values) page {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (c *client) get(tb testing.TB, path string) page { tb.Helper(); return c.do(tb, "GET", path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page's first form.
func csrf(tb testing.TB, p page) string {
	tb.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatalf("no CSRF token in the page:\n%s", p.Body)
	}
	return m[1]
}

// signIn signs in through the form as a person does.
func (c *client) signIn(tb testing.TB, email, password string) page {
	tb.Helper()
	form := c.get(tb, "/login")
	return c.do(tb, "POST", "/login", url.Values{"email": {email}, "password": {password}, "csrf": {csrf(tb, form)}, "next": {"/"}})
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// TestSignInAndOut: signed out, the dashboard sends you to sign in and
// back where you were going after; a signed-in page says who and where
// you are; signing out needs the form's token and then ends the session
// on the server, not only in the browser.
func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	c := newClient(t, s)

	if p := c.get(t, "/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("GET / signed out: %d to %q, want 303 to /login", p.Status, p.Header.Get("Location"))
	}
	if p := c.get(t, "/orders?status=open"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login?next=%2Forders%3Fstatus%3Dopen" {
		t.Fatalf("GET /orders signed out: %d to %q, want 303 to /login?next=…", p.Status, p.Header.Get("Location"))
	}
	login := c.get(t, "/login")
	for _, want := range []string{`name="email"`, `name="password"`, `<label for="email">`, `<label for="password">`} {
		if !strings.Contains(login.Body, want) {
			t.Errorf("the sign-in page lacks %s", want)
		}
	}
	p := c.do(t, "POST", "/login", url.Values{"email": {org.OwnerEmail}, "password": {cloudtest.Password},
		"csrf": {csrf(t, login)}, "next": {"/orders?status=open"}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/orders?status=open" {
		t.Fatalf("sign in: %d to %q, want 303 back to /orders?status=open\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
	raw, err := url.QueryUnescape(c.cookie("pantry_session"))
	if err != nil || !strings.HasPrefix(raw, org.ID+".") {
		t.Fatalf("session cookie %q, want the organization and a secret", raw)
	}
	home := c.get(t, "/")
	if home.Status != http.StatusOK || !strings.Contains(home.Body, "Signed in as <strong>"+org.OwnerEmail+"</strong> in <strong>acme</strong>") {
		t.Fatalf("GET / signed in: %d\n%s", home.Status, home.Body)
	}

	// Signing out without the form's token is refused and changes nothing.
	if p := c.do(t, "POST", "/logout", url.Values{}); p.Status != http.StatusForbidden {
		t.Fatalf("sign out without the CSRF token: %d, want 403", p.Status)
	}
	if p := c.do(t, "POST", "/logout", url.Values{"csrf": {"forged"}}); p.Status != http.StatusForbidden {
		t.Fatalf("sign out with a forged CSRF token: %d, want 403", p.Status)
	}
	if p := c.get(t, "/"); p.Status != http.StatusOK {
		t.Fatalf("a refused sign-out ended the session: %d", p.Status)
	}
	cookie := c.cookie("pantry_session")
	if p := c.do(t, "POST", "/logout", url.Values{"csrf": {csrf(t, home)}}); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("sign out: %d to %q", p.Status, p.Header.Get("Location"))
	}
	// The old cookie, replayed, no longer works: the session ended on the server.
	replay := newClient(t, s)
	u, _ := url.Parse(s.URL)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: "pantry_session", Value: cookie, Path: "/"}})
	if p := replay.get(t, "/"); p.Status != http.StatusSeeOther {
		t.Fatalf("a signed-out session's cookie still opens the dashboard: %d", p.Status)
	}
}

// TestSignInRefusals: every bad sign-in shows the form again with a clear
// message and sets no session.
func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	for _, tc := range []struct {
		name, email, password string
		csrf                  func(real string) string
		status                int
		says                  string
	}{
		{"WrongPassword", org.OwnerEmail, "nope nope nope", nil, http.StatusUnauthorized, "Wrong email or password."},
		{"UnknownEmail", "nobody@example.com", cloudtest.Password, nil, http.StatusUnauthorized, "Wrong email or password."},
		{"EmptyForm", "", "", nil, http.StatusUnauthorized, "Wrong email or password."},
		{"HugeEmail", strings.Repeat("a", 300) + "@example.com", cloudtest.Password, nil, http.StatusUnauthorized, "Wrong email or password."},
		{"NoCSRF", org.OwnerEmail, cloudtest.Password, func(string) string { return "" }, http.StatusForbidden, "had expired"},
		{"ForgedCSRF", org.OwnerEmail, cloudtest.Password, func(string) string { return "forged" }, http.StatusForbidden, "had expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, s)
			token := csrf(t, c.get(t, "/login"))
			if tc.csrf != nil {
				token = tc.csrf(token)
			}
			p := c.do(t, "POST", "/login", url.Values{"email": {tc.email}, "password": {tc.password}, "csrf": {token}})
			if p.Status != tc.status || !strings.Contains(p.Body, tc.says) {
				t.Fatalf("%d, want %d saying %q\n%s", p.Status, tc.status, tc.says, p.Body)
			}
			if c.cookie("pantry_session") != "" {
				t.Fatalf("a refused sign-in set a session cookie")
			}
			if tc.email != "" && !strings.Contains(p.Body, `value="`+tc.email+`"`) && len(tc.email) < 100 {
				t.Errorf("the form did not keep the email typed")
			}
		})
	}
}

// TestSignInThrottled: past five failures for an account, even the right
// password is refused with 429 and when to try again, without checking it.
func TestSignInThrottled(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	c := newClient(t, s)
	for range 5 {
		if p := c.signIn(t, org.OwnerEmail, "wrong password!"); p.Status != http.StatusUnauthorized {
			t.Fatalf("failed sign-in: %d", p.Status)
		}
	}
	p := c.signIn(t, org.OwnerEmail, cloudtest.Password)
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Too many failed sign-ins") {
		t.Fatalf("sixth sign-in: %d Retry-After %q\n%s", p.Status, p.Header.Get("Retry-After"), p.Body)
	}
	if c.cookie("pantry_session") != "" {
		t.Fatalf("a throttled sign-in set a session cookie")
	}
}

// TestSessionCookieTampering: a cookie that names another organization
// with this one's secret, or a secret that is not a session's, opens
// nothing.
func TestSessionCookieTampering(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a, b := s.NewOrg(t, "acme"), s.NewOrg(t, "globex")
	c := newClient(t, s)
	if p := c.signIn(t, a.OwnerEmail, cloudtest.Password); p.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", p.Status)
	}
	raw, _ := url.QueryUnescape(c.cookie("pantry_session"))
	_, secret, _ := strings.Cut(raw, ".")
	for name, value := range map[string]string{
		"OtherOrganization": b.ID + "." + secret,
		"OtherSecret":       a.ID + "." + pantry.NewSecret(32)[:43],
		"NoOrganization":    secret,
		"NotAnID":           "x." + secret,
		"Empty":             "",
	} {
		t.Run(name, func(t *testing.T) {
			forged := newClient(t, s)
			u, _ := url.Parse(s.URL)
			forged.Jar.SetCookies(u, []*http.Cookie{{Name: "pantry_session", Value: value, Path: "/"}})
			if p := forged.get(t, "/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
				t.Fatalf("GET / with cookie %q: %d to %q, want the sign-in page", value, p.Status, p.Header.Get("Location"))
			}
		})
	}
}

// TestSecurityHeaders: every dashboard answer, signed in or not, carries
// a strict Content-Security-Policy and the other headers that keep it
// from being framed or sniffed.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	c := newClient(t, s)
	check := func(path string, p page) {
		t.Helper()
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
			if got := p.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
	}
	check("/login", c.get(t, "/login"))
	check("/ signed out", c.get(t, "/"))
	c.signIn(t, org.OwnerEmail, cloudtest.Password)
	for _, path := range []string{"/", "/orders", "/orders/" + pantry.NewID(), "/static/dashboard/dashboard.css"} {
		check(path, c.get(t, path))
	}
}

// TestOrderPageNamesItsEdge: an order pushed by a building's edge node
// says on its page which node took it.
func TestOrderPageNamesItsEdge(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	now := time.Now().UTC().Truncate(time.Second)
	eur := func(n int64) syncproto.Money { return syncproto.Money{Amount: n, Currency: "EUR"} }
	placed, _ := json.Marshal(syncproto.OrderPlaced{ID: pantry.NewID(), SiteID: a.Site, SpaceID: a.Space, Status: "placed",
		Lines:     []syncproto.OrderLine{{ItemID: a.Item, Name: "coffee", Quantity: 1, UnitPrice: eur(350), LineTotal: eur(350)}},
		DeliverTo: "room", Subtotal: eur(350), Discount: eur(0), Total: eur(350), Payment: "complimentary", CreatedAt: now, UpdatedAt: now})
	var o struct{ ID string }
	_ = json.Unmarshal(placed, &o)
	push := syncproto.PushRequest{Version: syncproto.Version, NodeID: a.Node, SoftwareVersion: "test", SentAt: now,
		Events: []syncproto.Event{{Seq: 2, ID: pantry.NewID(), Type: syncproto.EventOrderPlaced, Schema: 1, EntityID: o.ID, Payload: placed, CreatedAt: now}}}
	if r := s.Do(t, "POST", syncproto.PathPush, a.NodeCredential, push); r.Status != http.StatusOK {
		t.Fatalf("push: %d %s", r.Status, r.Body)
	}
	c := newClient(t, s)
	c.signIn(t, a.Org.OwnerEmail, cloudtest.Password)
	p := c.get(t, "/orders/"+o.ID)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `<dd data-node>edge node edge</dd>`) {
		t.Fatalf("the order page does not name the edge that took it: %d\n%s", p.Status, p.Body)
	}
}
