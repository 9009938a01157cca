package web

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud/sso"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// Signing in with the organization's own identity provider (OpenID
// Connect; cloud/sso runs the protocol). GET /login/sso?org=ID starts a
// sign-in and sends the browser to the provider; the provider sends it
// back to GET /login/sso/callback, which finishes the sign-in and starts
// a dashboard session as any sign-in does. Both are signed out. Every
// refusal shows the sign-in page with the reason in words, and no
// session.
//
// The browser keeps the sign-in's state in a cookie (cloud/sso's doc):
// HttpOnly, SameSite=Lax (the provider's redirect back is a top-level
// navigation from another site, which Lax lets through), Path=/login/sso
// (sent to the callback, nowhere else), Secure over TLS. Secure follows
// the request's scheme, as the session cookie does: a browser drops a
// Secure cookie set over plain http (a test's http://127.0.0.1).

const ssoStateCookie = "pantry_sso_state"

// loginCSP is the sign-in page's Content-Security-Policy: pageCSP, but
// its forms may lead to an identity provider. Chromium applies
// form-action to every redirect a submitted form follows, and the single
// sign-on form's answer redirects to the organization's provider, which
// may be at any https URL, or plain http on this machine (what
// cloud.SSOConfigInput accepts as an issuer). Scripts, styles and frames
// stay as locked down as on every page.
var loginCSP = strings.Replace(pageCSP, "form-action 'self'", "form-action 'self' https: http://127.0.0.1:* http://localhost:*", 1)

// ssoRoutes adds the sign-in's two pages, signed out.
func (a *app) ssoRoutes(f *fiber.App) {
	var flow *sso.Flow
	if a.SSO != nil {
		flow = sso.New(a.SSO, a.SSOOptions)
	}
	f.Get("/login/sso", headers, a.handleSSOStart(flow))
	f.Get(ssoCallbackPath, headers, a.handleSSOCallback(flow))
}

// ssoUnavailable answers when this server has no single sign-on.
var ssoUnavailable = pantry.Errorf(pantry.EUNAVAILABLE, "single sign-on is not available on this server: sign in with your email and password")

func (a *app) handleSSOStart(flow *sso.Flow) fiber.Handler {
	return func(c *fiber.Ctx) error {
		org := strings.TrimSpace(c.Query("org"))
		if org == "" {
			return a.ssoRefused(c, "", pantry.Errorf(pantry.EINVALID,
				"enter your organization's short name (like acme): your administrator has it, or a sign-in link that fills it in"))
		}
		if flow == nil {
			return a.ssoRefused(c, org, ssoUnavailable)
		}
		ctx, cancel := a.ctx(c)
		defer cancel()
		started, err := flow.Start(ctx, org, c.BaseURL()+ssoCallbackPath)
		if err != nil {
			return a.ssoRefused(c, org, err)
		}
		c.Cookie(&fiber.Cookie{Name: ssoStateCookie, Value: started.State, Path: "/login/sso", Expires: started.ExpiresAt,
			HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
		return c.Redirect(started.AuthURL, http.StatusSeeOther)
	}
}

func (a *app) handleSSOCallback(flow *sso.Flow) fiber.Handler {
	return func(c *fiber.Ctx) error {
		state := c.Query("state")
		org, _, _ := strings.Cut(state, ".")
		if !pantry.ValidID(org) {
			org = ""
		}
		browserState := c.Cookies(ssoStateCookie)
		// The state is spent by this callback whatever follows: the
		// cookie has no further use.
		c.Cookie(&fiber.Cookie{Name: ssoStateCookie, Value: "", Path: "/login/sso", MaxAge: -1,
			HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
		if flow == nil {
			return a.ssoRefused(c, org, ssoUnavailable)
		}
		ctx, cancel := a.ctx(c)
		defer cancel()
		res, err := flow.Finish(ctx, sso.Callback{State: state, Code: c.Query("code"), Error: c.Query("error"),
			ErrorDescription: c.Query("error_description"), BrowserState: browserState})
		if err != nil {
			return a.ssoRefused(c, org, err)
		}
		if err := a.startSession(c, res.OrgID, res.UserID, "sso"); err != nil {
			return a.ssoRefused(c, org, err)
		}
		a.Log.Info("dashboard sign-in with SSO", "org_id", res.OrgID, "user_id", res.UserID, "created", res.Created, "role", res.Role)
		return c.Redirect("/", http.StatusSeeOther)
	}
}

// ssoRefused shows the sign-in page with why single sign-on refused, the
// organization typed kept: the status err's code calls for, and for an
// error of ours a word of apology (and the detail in the log).
func (a *app) ssoRefused(c *fiber.Ctx, org string, err error) error {
	status, _ := httpx.Resolve(err)
	msg := pantry.ErrorMessage(err)
	if status >= 500 && pantry.ErrorCode(err) != pantry.EUNAVAILABLE {
		a.Log.Error("dashboard SSO sign-in", "err", err)
		msg = "Signing in is not possible right now. Try again in a moment."
	}
	return a.renderLogin(c, status, loginPage{Org: org, SSOError: adminSentence(msg), Next: "/"})
}
