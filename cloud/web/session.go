package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// A signed-in browser holds one cookie, "<organization id>.<secret>":
// HttpOnly, SameSite=Lax (a link from elsewhere still opens the dashboard
// signed in; a form from elsewhere cannot post with it), Secure over TLS.
// The cloud keeps only the secret's hash (cloud/postgres web_sessions).
//
// Every form carries a CSRF token derived from the session's secret
// (HMAC), so it needs no storage and dies with the session; a form posted
// without it, or with another session's, is refused. The sign-in form,
// which has no session yet, uses a double-submit cookie instead.

const (
	flashCookie   = "pantry_flash"
	maxFlash      = 300
	sessionCookie = "pantry_session"
	loginCSRF     = "pantry_login_csrf"
	csrfField     = "csrf"
)

// view is what every signed-in page shows around its content.
type view struct {
	Title   string
	Nav     string // the section highlighted in the navigation
	Session cloud.WebSession
	CSRF    string
	Flash   string
}

// Principal is who the session is, for auth.Principal.Can.
func (v *view) principal() auth.Principal {
	return auth.Principal{Kind: auth.KindUser, ID: v.Session.UserID, OrgID: v.Session.OrgID,
		Role: v.Session.Access.Role, SiteIDs: v.Session.Access.SiteIDs}
}

// Can reports whether the signed-in person may do action (templates hide
// what they may not do; handlers check again).
func (v *view) Can(action string, siteID string) bool {
	return v.principal().Can(auth.Action(action), siteID) == nil
}

// splitCookie reads a session cookie into its organization and secret.
func splitCookie(raw string) (orgID, secret string, ok bool) {
	orgID, secret, ok = strings.Cut(raw, ".")
	return orgID, secret, ok && pantry.ValidID(orgID) && len(secret) == 43
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// csrfToken is the session's CSRF token.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("pantry dashboard csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signedIn admits a request with a live session and stores its view; any
// other is sent to sign in (a page) or refused (a form or an event stream).
func (a *app) signedIn(c *fiber.Ctx) error {
	orgID, secret, ok := splitCookie(c.Cookies(sessionCookie))
	if !ok {
		return a.toLogin(c)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	now := a.Now()
	s, err := a.Sessions.WebSession(ctx, orgID, hashSecret(secret), now, now.Add(a.SessionIdle))
	if pantry.ErrorCode(err) == pantry.EUNAUTHORIZED {
		a.clearSession(c)
		return a.toLogin(c)
	}
	if err != nil {
		return a.errorPage(c, nil, err)
	}
	v := &view{Session: s, CSRF: csrfToken(secret)}
	if msg := c.Cookies(flashCookie); msg != "" && c.Method() == fiber.MethodGet {
		if text, err := url.QueryUnescape(msg); err == nil && len(text) <= maxFlash {
			v.Flash = text
		}
		c.Cookie(&fiber.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
	}
	c.Locals("view", v)
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		got := c.FormValue(csrfField)
		if got == "" {
			got = c.Get("X-CSRF-Token")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) != 1 {
			return a.errorPage(c, v, pantry.Errorf(pantry.EFORBIDDEN,
				"This form has expired or did not come from this dashboard. Go back, reload the page and try again."))
		}
	}
	return c.Next()
}

func viewOf(c *fiber.Ctx) *view { return c.Locals("view").(*view) }

// toLogin sends a signed-out browser to the sign-in page, back to where it
// was going after; a form or an event stream gets 401.
func (a *app) toLogin(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet || strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream") {
		return a.errorPage(c, nil, pantry.Errorf(pantry.EUNAUTHORIZED, "Your session has ended: sign in again."))
	}
	next := c.OriginalURL()
	if next == "/" {
		return c.Redirect("/login", http.StatusSeeOther)
	}
	return c.Redirect("/login?next="+url.QueryEscape(next), http.StatusSeeOther)
}

// safeNext keeps a post-sign-in destination only if it is a path on this
// site: "/orders", never "//evil.example" or "https://…".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || len(next) > 1024 {
		return "/"
	}
	return next
}

type loginPage struct {
	Title, Email, Error, Next, CSRF string
	// Org and SSOError are the single sign-on form's (sso.go).
	Org, SSOError string
}

func (a *app) handleLoginPage(c *fiber.Ctx) error {
	if orgID, secret, ok := splitCookie(c.Cookies(sessionCookie)); ok {
		ctx, cancel := a.ctx(c)
		defer cancel()
		now := a.Now()
		if _, err := a.Sessions.WebSession(ctx, orgID, hashSecret(secret), now, now.Add(a.SessionIdle)); err == nil {
			return c.Redirect(safeNext(c.Query("next")), http.StatusSeeOther)
		}
	}
	return a.renderLogin(c, http.StatusOK, loginPage{Next: safeNext(c.Query("next"))})
}

// renderLogin shows the sign-in form with a fresh double-submit token.
func (a *app) renderLogin(c *fiber.Ctx, status int, p loginPage) error {
	p.Title = "Sign in"
	p.CSRF = newSecret()
	c.Set("Content-Security-Policy", loginCSP) // sso.go: its form leads to an identity provider
	c.Cookie(&fiber.Cookie{Name: loginCSRF, Value: p.CSRF, Path: "/login", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	return render(c, status, "login.html", p)
}

// handleLogin signs in with an email and password: the API's rules and
// throttle, then a session cookie and the page the person was going to.
func (a *app) handleLogin(c *fiber.Ctx) error {
	email, password, next := strings.TrimSpace(c.FormValue("email")), c.FormValue("password"), safeNext(c.FormValue("next"))
	form := loginPage{Email: email, Next: next}
	if cookie := c.Cookies(loginCSRF); cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(c.FormValue(csrfField))) != 1 {
		form.Error = "The sign-in form had expired. Enter your email and password again."
		return a.renderLogin(c, http.StatusForbidden, form)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	now := a.Now()
	user, _, throttle, err := a.Login.Check(ctx, email, password, c.IP(), now)
	if err != nil {
		status := http.StatusUnauthorized
		form.Error = "Wrong email or password."
		if !throttle.Allowed {
			status = http.StatusTooManyRequests
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(throttle.RetryAfter.Seconds())))
			form.Error = "Too many failed sign-ins. Try again in " + cloud.Ago(throttle.RetryAfter) + "."
		} else if code := pantry.ErrorCode(err); code != pantry.EUNAUTHORIZED {
			a.Log.Error("dashboard sign-in", "err", err)
			status, form.Error = http.StatusServiceUnavailable, "Signing in is not possible right now. Try again in a moment."
		}
		return a.renderLogin(c, status, form)
	}
	if err := a.startSession(c, user.OrgID, user.UserID, "password"); err != nil {
		return a.errorPage(c, nil, err)
	}
	c.ClearCookie(loginCSRF)
	return c.Redirect(next, http.StatusSeeOther)
}

// startSession records a sign-in and sets its cookie.
func (a *app) startSession(c *fiber.Ctx, orgID, userID, method string) error {
	ctx, cancel := a.ctx(c)
	defer cancel()
	secret, now := newSecret(), a.Now()
	expires := now.Add(a.SessionTTL)
	_, err := a.Sessions.StartWebSession(ctx, cloud.WebSessionStart{
		OrgID: orgID, UserID: userID, Method: method, UserAgent: c.Get(fiber.HeaderUserAgent), Address: c.IP(),
		Hash: hashSecret(secret), Now: now, IdleUntil: now.Add(a.SessionIdle), ExpiresAt: expires,
	})
	if err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: orgID + "." + secret, Path: "/", Expires: expires,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
	return nil
}

// handleLogout ends the session (a POST with the CSRF token: a link or an
// image elsewhere cannot sign anyone out).
func (a *app) handleLogout(c *fiber.Ctx) error {
	_, secret, _ := splitCookie(c.Cookies(sessionCookie))
	v := viewOf(c)
	ctx, cancel := a.ctx(c)
	defer cancel()
	if err := a.Sessions.EndWebSession(ctx, v.Session.OrgID, hashSecret(secret), a.Now()); err != nil {
		return a.errorPage(c, v, err)
	}
	a.clearSession(c)
	return c.Redirect("/login", http.StatusSeeOther)
}

func (a *app) clearSession(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
}

// done redirects to path (POST/redirect/GET) with a message the next
// page shows once, at its top ("Site saved.").
func (a *app) done(c *fiber.Ctx, path, msg string) error {
	if len(msg) > maxFlash {
		msg = msg[:maxFlash]
	}
	c.Cookie(&fiber.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", MaxAge: 60, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
	return c.Redirect(path, http.StatusSeeOther)
}
