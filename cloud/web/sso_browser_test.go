package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/sso/ssotest"
	"github.com/pantry/pantry/internal/browsertest"
)

// ssoBrowserSignIn signs email in with single sign-on from the sign-in
// page, as a person does: the organization's short name typed into the form,
// then the email at the identity provider's page.
func ssoBrowserSignIn(tb testing.TB, b *browsertest.Browser, s *cloudtest.Server, idp *ssotest.Provider, org, email string) {
	tb.Helper()
	b.Open(tb, s.URL+"/login")
	b.Do(tb, chromedp.SendKeys(`#org`, org))
	b.RunResponse(tb, "continue to the company's sign-in", chromedp.Click(`form[data-sso-form] button[type=submit]`))
	b.WaitFor(tb, "the identity provider's sign-in page", fmt.Sprintf(`location.href.startsWith(%s) && !!document.querySelector("#email")`,
		browsertest.JSString(idp.Issuer+"/login")))
	b.Do(tb, chromedp.SendKeys(`#email`, email))
	b.RunResponse(tb, "sign in at the identity provider", chromedp.Click(`button[data-action="sign-in"]`))
}

// TestBrowserSSO: an owner sets up single sign-on through its form (the
// test identity provider as issuer), signs out; then new people sign in
// with their company account: each is created on the spot with the role
// their group maps to and lands on the dashboard signed in. Someone of a
// domain that is not allowed is told so and is not signed in. At phone
// and desktop sizes; the second round saves the form as it is, which
// keeps the stored secret.
func TestBrowserSSO(t *testing.T) {
	t.Parallel()
	s := adminSSOServer(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	idp := ssotest.Start(t, ssotest.Config{Users: ssoPeople})
	idp.AddRedirectURI(s.URL + "/login/sso/callback")

	for _, round := range []struct {
		size         string
		v            browsertest.Viewport
		person, role string
	}{
		{"phone", browsertest.Phone, "fred@acme.test", "Facility manager"},
		{"desktop", browsertest.Tablet, "ann@acme.test", "Admin"},
	} {
		t.Run(round.size, func(t *testing.T) {
			b := browsertest.New(t, browsertest.Options{Viewport: round.v})
			browserSignIn(t, b, s, a.Org.OwnerEmail)
			b.Do(t, chromedp.Click(`nav a[href="/admin"]`))
			b.WaitFor(t, "the administration index", `!!document.querySelector('[data-admin-section="/admin/sso"]')`)
			b.Do(t, chromedp.Click(`[data-admin-section="/admin/sso"]`))
			b.WaitFor(t, "the settings", `!!document.querySelector("form[data-sso-settings]")`)
			if got := b.Text(t, "[data-callback-url]"); got != s.URL+"/login/sso/callback" {
				t.Errorf("the callback URL to register reads %q", got)
			}
			org := b.Text(t, "[data-sign-in-org]") // what the owner tells people to type
			if org != "acme" {
				t.Fatalf("the page tells people to type %q, want the organization's slug acme", org)
			}
			if round.size == "phone" {
				b.Do(t,
					chromedp.SendKeys(`#f-issuer`, idp.Issuer),
					chromedp.SendKeys(`#f-client_id`, idp.ClientID),
					chromedp.SendKeys(`#f-client_secret`, idp.ClientSecret),
					chromedp.SendKeys(`#f-allowed_domains`, "acme.test"),
					chromedp.SendKeys(`#f-role_claim`, "groups"),
					chromedp.SendKeys(`#f-role_mapping`, "pantry-admins = admin\npantry-fm = facility_manager"),
					chromedp.Click(`input[name=enabled]`),
				)
			} else if got := b.Text(t, "[data-secret-set]"); !strings.Contains(got, "A secret is stored") {
				t.Errorf("the form says %q of the secret", got)
			}
			b.RunResponse(t, "save the settings", chromedp.Click(`form[data-sso-settings] button[type=submit]`))
			b.WaitFor(t, "the saved settings", `!!document.querySelector('[data-sso-status="on"]') && !!document.querySelector(".flash")`)
			checkLayout(t, b, "admin-sso-"+round.size)

			b.RunResponse(t, "sign out", chromedp.Click(`form[action="/logout"] button`))
			b.WaitFor(t, "the sign-in page", `location.pathname === "/login"`)
			checkLayout(t, b, "sso-login-"+round.size)

			ssoBrowserSignIn(t, b, s, idp, strings.ToUpper(org[:1])+org[1:], round.person) // as a phone capitalises it
			b.WaitFor(t, "the dashboard, signed in", `location.pathname === "/" && !!document.querySelector("[data-signed-in]")`)
			if got := b.Text(t, "[data-signed-in]"); !strings.Contains(got, round.person) || !strings.Contains(got, round.role) {
				t.Fatalf("signed in as %q, want %s as %s", got, round.person, round.role)
			}
			checkLayout(t, b, "sso-signed-in-"+round.size)

			if round.size == "desktop" {
				eve := b.NewContext(t, browsertest.Options{Viewport: round.v})
				ssoBrowserSignIn(t, eve, s, idp, org, "eve@evil.test")
				eve.WaitFor(t, "the refusal", `!!document.querySelector("[data-sso-error]")`)
				if got := eve.Text(t, "[data-sso-error]"); !strings.Contains(got, "email domain evil.test is not allowed") {
					t.Fatalf("the refusal says %q", got)
				}
				checkLayout(t, eve, "sso-refused-"+round.size)
				eve.Open(t, s.URL+"/")
				if p := eve.Path(t); p != "/login" {
					t.Fatalf("after a refused sign-in, / shows %s, want the sign-in page", p)
				}
				eve.NoProblems(t, refusedStatus(http.StatusForbidden), providerFavicon)
			}
			b.NoProblems(t, providerFavicon)
		})
	}
}

// providerFavicon matches the browser's request for the test identity
// provider's icon, which it has none of: not our page.
func providerFavicon(p browsertest.Problem) bool {
	u, err := url.Parse(p.URL)
	return err == nil && u.Path == "/favicon.ico" && strings.Contains(p.Text, "404")
}
