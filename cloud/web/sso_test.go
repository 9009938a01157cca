package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/sso/ssotest"
)

// ssoPeople are the test identity provider's users.
var ssoPeople = []ssotest.User{
	{Email: "ann@acme.test", Name: "Ann", Groups: []string{"pantry-admins"}},
	{Email: "fred@acme.test", Name: "Fred", Groups: []string{"pantry-fm"}},
	{Email: "vic@acme.test", Name: "Vic", Groups: []string{"everyone"}},
	{Email: "eve@evil.test", Name: "Eve", Groups: []string{"pantry-admins"}},
}

// ssoSetUp starts a test identity provider registered for s's callback
// and configures a's single sign-on to use it (groups pantry-admins →
// admin, pantry-fm → facility manager, nobody else).
func ssoSetUp(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant) *ssotest.Provider {
	tb.Helper()
	idp := ssotest.Start(tb, ssotest.Config{Users: ssoPeople})
	idp.AddRedirectURI(s.URL + "/login/sso/callback")
	secret := idp.ClientSecret
	_, err := s.Store().PutSSOConfig(context.Background(), a.Org.ID, cloud.Actor{Type: "system"}, cloud.SSOConfigInput{
		Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: &secret, AllowedDomains: []string{"acme.test"}, RoleClaim: "groups",
		RoleMap: map[string]cloud.Role{"pantry-admins": cloud.RoleAdmin, "pantry-fm": cloud.RoleFacilityManager}, Enabled: true})
	if err != nil {
		tb.Fatalf("configure single sign-on: %v", err)
	}
	return idp
}

// ssoBegin starts a sign-in to org from c and returns the provider's
// authorization URL it was sent to.
func ssoBegin(tb testing.TB, c *client, idp *ssotest.Provider, org string) string {
	tb.Helper()
	p := c.get(tb, "/login/sso?org="+url.QueryEscape(org))
	loc := p.Header.Get("Location")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(loc, idp.Issuer+"/authorize?") {
		tb.Fatalf("start: %d to %q, want 303 to the provider\n%s", p.Status, loc, p.Body)
	}
	return loc
}

// ssoCallback signs email in at the provider and returns the path and
// query of the provider's redirect back to the dashboard.
func ssoCallback(tb testing.TB, s *cloudtest.Server, idp *ssotest.Provider, authURL, email string) string {
	tb.Helper()
	back, err := idp.Login(context.Background(), authURL, email)
	if err != nil {
		tb.Fatalf("sign in at the provider: %v", err)
	}
	if !strings.HasPrefix(back.String(), s.URL+"/login/sso/callback?") {
		tb.Fatalf("the provider sent the browser to %s", back)
	}
	return back.RequestURI()
}

// ssoState is the state cookie c holds for the sign-in pages.
func ssoState(c *client) string {
	u, _ := url.Parse(c.base + "/login/sso/callback")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "pantry_sso_state" {
			return ck.Value
		}
	}
	return ""
}

// TestSSOSignIn: a person of an allowed domain signs in with their
// company account: the state cookie is set as cloud/sso says, they are
// created just in time with the mapped role and land on the dashboard
// signed in. A replayed callback, in the same browser or in one that
// kept the state cookie, is refused, and signs nobody in.
func TestSSOSignIn(t *testing.T) {
	t.Parallel()
	s := adminSSOServer(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	idp := ssoSetUp(t, s, a)

	c := newClient(t, s)
	start := c.get(t, "/login/sso?org="+a.Org.ID)
	authURL := start.Header.Get("Location")
	if start.Status != http.StatusSeeOther || !strings.HasPrefix(authURL, idp.Issuer+"/authorize?") {
		t.Fatalf("start: %d to %q, want 303 to the provider", start.Status, authURL)
	}
	cookie := start.Header.Get("Set-Cookie")
	for _, want := range []string{"pantry_sso_state=" + a.Org.ID + ".", "path=/login/sso", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("state cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(strings.ToLower(cookie), "secure") {
		t.Errorf("state cookie %q is Secure over plain http: the browser would drop it", cookie)
	}
	state := ssoState(c)
	if state == "" {
		t.Fatalf("no state cookie for the callback")
	}
	back := ssoCallback(t, s, idp, authURL, "fred@acme.test")
	p := c.get(t, back)
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/" {
		t.Fatalf("callback: %d to %q\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
	home := c.get(t, "/")
	adminWants(t, home, http.StatusOK, "Signed in as <strong>fred@acme.test</strong>", "Facility manager")
	if ssoState(c) != "" {
		t.Errorf("the state cookie outlived the sign-in")
	}
	users, _, err := s.Store().ListUsers(context.Background(), a.Org.ID, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range users {
		found = found || u.Email == "fred@acme.test" && u.Role == cloud.RoleFacilityManager && u.Name == "Fred"
	}
	if !found {
		t.Fatalf("fred was not created as a facility manager: %+v", users)
	}

	t.Run("ReplayInTheSameBrowser", func(t *testing.T) {
		again := newClient(t, s)
		u, _ := url.Parse(s.URL)
		again.Jar.SetCookies(u, c.Jar.Cookies(u)) // signed in as fred already; the state cookie is gone
		p := again.get(t, back)
		adminWants(t, p, http.StatusUnauthorized, "started in another browser")
	})
	t.Run("ReplayWithTheStateCookie", func(t *testing.T) {
		thief := newClient(t, s)
		u, _ := url.Parse(s.URL + "/login/sso")
		thief.Jar.SetCookies(u, []*http.Cookie{{Name: "pantry_sso_state", Value: state, Path: "/login/sso"}})
		p := thief.get(t, back)
		adminWants(t, p, http.StatusUnauthorized, "This sign-in link was already used: start the sign-in again", `data-sso-error`)
		if thief.cookie("pantry_session") != "" {
			t.Fatalf("a replayed callback set a session")
		}
	})
}

// TestSSORefusals: every refused sign-in shows the sign-in page with the
// reason in words, keeps the organization typed, and sets no session.
func TestSSORefusals(t *testing.T) {
	t.Parallel()
	s := adminSSOServer(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex") // no single sign-on
	idp := ssoSetUp(t, s, a)

	finish := func(t *testing.T, email string) (*client, page) {
		c := newClient(t, s)
		back := ssoCallback(t, s, idp, ssoBegin(t, c, idp, a.Org.ID), email)
		return c, c.get(t, back)
	}
	for _, tc := range []struct {
		name   string
		run    func(t *testing.T) (*client, page)
		status int
		says   string
	}{
		{"DomainNotAllowed", func(t *testing.T) (*client, page) { return finish(t, "eve@evil.test") },
			http.StatusForbidden, "Your email domain evil.test is not allowed for acme: sign in with an address at acme.test"},
		{"NoRoleForThem", func(t *testing.T) (*client, page) { return finish(t, "vic@acme.test") },
			http.StatusForbidden, "has no groups value that gives a role in acme"},
		{"NoOrganization", func(t *testing.T) (*client, page) { c := newClient(t, s); return c, c.get(t, "/login/sso?org=") },
			http.StatusBadRequest, "Enter your organization's short name (like acme)"},
		{"NotAnOrganizationsName", func(t *testing.T) (*client, page) {
			c := newClient(t, s)
			return c, c.get(t, "/login/sso?org=acme+corp")
		}, http.StatusBadRequest, `"acme corp" is not an organization's name or id`},
		{"UnknownOrganization", func(t *testing.T) (*client, page) {
			c := newClient(t, s)
			return c, c.get(t, "/login/sso?org=initech")
		}, http.StatusNotFound, `There is no organization "initech": check the name with your administrator`},
		{"OrganizationWithoutSSOBySlug", func(t *testing.T) (*client, page) {
			c := newClient(t, s)
			return c, c.get(t, "/login/sso?org="+strings.ToUpper(b.Org.Slug))
		}, http.StatusNotFound, "Organization " + strings.ToUpper(b.Org.Slug) + " does not use single sign-on"},
		{"OrganizationWithoutSSO", func(t *testing.T) (*client, page) {
			c := newClient(t, s)
			return c, c.get(t, "/login/sso?org="+b.Org.ID)
		}, http.StatusNotFound, "does not use single sign-on: sign in with your email and password"},
		{"CallbackWithoutItsCookie", func(t *testing.T) (*client, page) {
			c := newClient(t, s)
			back := ssoCallback(t, s, idp, ssoBegin(t, c, idp, a.Org.ID), "ann@acme.test")
			other := newClient(t, s)
			return other, other.get(t, back)
		}, http.StatusUnauthorized, "started in another browser"},
		{"ProviderRefused", func(t *testing.T) (*client, page) {
			c := newClient(t, s)
			ssoBegin(t, c, idp, a.Org.ID)
			q := url.Values{"state": {ssoState(c)}, "error": {"access_denied"}, "error_description": {"<b>cancelled</b>"}}
			return c, c.get(t, "/login/sso/callback?"+q.Encode())
		}, http.StatusForbidden, "The identity provider refused the sign-in (access_denied): <b>cancelled</b>"},
		{"NoState", func(t *testing.T) (*client, page) {
			c := newClient(t, s)
			return c, c.get(t, "/login/sso/callback?code=x")
		},
			http.StatusUnauthorized, "The sign-in link is incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cloudtest.Fingerprint(t, s, a.Org.ID)
			c, p := tc.run(t)
			adminWants(t, p, tc.status, tc.says, "Sign in with your company account", "data-sso-error")
			if strings.Contains(p.Body, "<b>cancelled") {
				t.Fatalf("the provider's words are not escaped:\n%s", p.Body)
			}
			if c.cookie("pantry_session") != "" {
				t.Fatalf("a refused sign-in set a session")
			}
			if home := c.get(t, "/"); home.Status != http.StatusSeeOther {
				t.Fatalf("a refused sign-in opens the dashboard: %d", home.Status)
			}
			if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
				t.Fatalf("a refused sign-in changed data:\n before %s\n after  %s", before, after)
			}
		})
	}
	t.Run("OrganizationKeptInTheForm", func(t *testing.T) {
		p := newClient(t, s).get(t, "/login/sso?org="+b.Org.ID)
		adminWants(t, p, http.StatusNotFound, `name="org" type="text" autocapitalize="none" autocomplete="organization" spellcheck="false" required value="`+b.Org.ID+`"`)
	})
	t.Run("SwitchedOff", func(t *testing.T) {
		cfg, err := s.Store().SSOProvider(context.Background(), a.Org.ID)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		in := cloud.SSOConfigInput{Issuer: cfg.Issuer, ClientID: cfg.ClientID, AllowedDomains: cfg.AllowedDomains, RoleClaim: cfg.RoleClaim,
			RoleMap: cfg.RoleMap, Enabled: false}
		if _, err := s.Store().PutSSOConfig(ctx, a.Org.ID, cloud.Actor{Type: "system"}, in); err != nil {
			t.Fatal(err)
		}
		defer func() {
			in.Enabled = true
			if _, err := s.Store().PutSSOConfig(ctx, a.Org.ID, cloud.Actor{Type: "system"}, in); err != nil {
				t.Fatal(err)
			}
		}()
		p := newClient(t, s).get(t, "/login/sso?org="+a.Org.ID)
		adminWants(t, p, http.StatusForbidden, "Single sign-on is switched off for acme")
	})
}

// TestSSOBehindTLS: behind a TLS-terminating proxy (X-Forwarded-Proto:
// https) the state cookie is Secure and the callback registered is the
// https one; the sign-in page's policy lets its form lead to the
// provider, and nothing else of the policy is loosened.
func TestSSOBehindTLS(t *testing.T) {
	t.Parallel()
	s := adminSSOServer(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	ssoSetUp(t, s, a)
	req, err := http.NewRequest("GET", s.URL+"/login/sso?org="+a.Org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := newClient(t, s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(cookie, "pantry_sso_state=") || !strings.Contains(strings.ToLower(cookie), "secure") {
		t.Fatalf("start over https: %d, cookie %q, want a Secure state cookie", resp.StatusCode, cookie)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Query().Get("redirect_uri"), "https://"+strings.TrimPrefix(s.URL, "http://")+"/login/sso/callback"; got != want {
		t.Errorf("redirect_uri %q, want %q", got, want)
	}
	csp := newClient(t, s).get(t, "/login").Header.Get("Content-Security-Policy")
	for _, want := range []string{"form-action 'self' https: http://127.0.0.1:* http://localhost:*", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the sign-in page's policy %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("the sign-in page's policy %q allows unsafe code", csp)
	}
}
