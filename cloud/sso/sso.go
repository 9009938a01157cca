// Package sso signs people in to the admin dashboard through their
// organization's own identity provider, over OpenID Connect: the
// authorization code flow with PKCE (S256), a nonce, and an ID token
// verified against the provider's published keys. It is protocol logic
// only, free of any HTTP framework: the dashboard's two handlers call it,
// and it keeps what must outlive a redirect through cloud.SSOService.
//
// The API, as the dashboard uses it:
//
//	flow := sso.New(services.SSO, sso.Options{})
//
//	// GET /login/sso?org=<organization id>
//	started, err := flow.Start(ctx, orgID, "https://pantry.example.com/login/sso/callback")
//	// set a cookie holding started.State (HttpOnly, Secure, SameSite=Lax,
//	// Path=/login/sso, Max-Age up to started.ExpiresAt), then
//	// redirect (303) the browser to started.AuthURL.
//
//	// GET /login/sso/callback?state=…&code=… (or &error=…&error_description=…)
//	res, err := flow.Finish(ctx, sso.Callback{
//		State: q("state"), Code: q("code"), Error: q("error"), ErrorDescription: q("error_description"),
//		BrowserState: cookie, // the cookie set by /login/sso; clear it
//	})
//	// res.OrgID, res.UserID: start the dashboard session of that user.
//
// An organization is named by its slug ("acme") or its id.
//
// Every refusal is a *pantry.Error whose message a person can act on:
// EINVALID for a malformed request, ENOTFOUND for an organization without
// single sign-on, EUNAUTHORIZED when the sign-in itself failed (a state
// unknown, spent, expired or from another browser; a code or ID token the
// checks refuse), EFORBIDDEN when the person is who they say but may not
// sign in (SSO switched off, email domain not allowed, unverified email,
// no role for them, disabled account), EUNAVAILABLE when the identity
// provider cannot be reached. Other errors are internal.
//
// What Finish checks, in order: the state matches the browser's copy; it
// is known, unspent and unexpired (it is spent by this call, whatever
// follows); the provider did not report an error; the code exchanges at
// the token endpoint with the PKCE verifier; the ID token's signature
// (the provider's JWKS), issuer, audience (the client id), expiry, and
// at_hash if present; its nonce; email_verified is not false; the email's
// domain is allowed (case-insensitive, exact); a role maps or a default
// applies. Then it finds the user by email, or creates one just in time.
//
// Roles: the role claim's values (a string or a list of strings) are
// looked up in the role mapping, and the most privileged match wins
// (admin, then facility_manager, then viewer). A new user gets it, or the
// default role when nothing matched (no default: refused). An existing
// user's role follows a matched mapping at every sign-in (audited as
// cloud.SSOActor), so removing someone from a group at the provider takes
// effect at their next sign-in; with no match an existing user keeps
// their role (unless there is no default role, which refuses everyone no
// mapping matches). Owners are never made or unmade by single sign-on.
package sso

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// Defaults of Options.
const (
	DefaultStateTTL     = 10 * time.Minute
	DefaultDiscoveryTTL = time.Hour
	defaultHTTPTimeout  = 10 * time.Second
)

// Options tune New. The zero value is what production wants.
type Options struct {
	// HTTPClient talks to identity providers. Default: a client with a
	// 10 s timeout, no proxy, that refuses to connect to loopback,
	// private, link-local and other non-public addresses unless
	// AllowPrivateNetworks: an organization's admin chooses the issuer
	// URL, and the cloud must not be made to fetch from its own network.
	HTTPClient *http.Client
	// AllowPrivateNetworks lets the default client reach any address: for
	// tests (a provider on 127.0.0.1) and for a self-hosted cloud whose
	// identity provider is on its own network.
	AllowPrivateNetworks bool
	// Now is the clock (default time.Now): state expiry and ID-token
	// expiry are checked against it.
	Now func() time.Time
	// StateTTL is how long a started sign-in may take (default 10 min).
	StateTTL time.Duration
	// DiscoveryTTL is how long a provider's discovery document is reused
	// before it is fetched again (default 1 h). Its signing keys are
	// fetched again sooner whenever a token names a key not yet known.
	DiscoveryTTL time.Duration
}

// Flow runs sign-ins. It is safe for concurrent use; one per process is
// enough, and several processes may run behind one load balancer (what a
// sign-in needs between its two requests is in the store).
type Flow struct {
	store    cloud.SSOService
	client   *http.Client
	now      func() time.Time
	stateTTL time.Duration
	discTTL  time.Duration

	mu        sync.Mutex
	providers map[string]cachedProvider // by issuer URL
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

// New returns a flow over store.
func New(store cloud.SSOService, opts Options) *Flow {
	f := &Flow{store: store, client: opts.HTTPClient, now: opts.Now, stateTTL: opts.StateTTL, discTTL: opts.DiscoveryTTL,
		providers: map[string]cachedProvider{}}
	if f.client == nil {
		f.client = newHTTPClient(opts.AllowPrivateNetworks)
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.stateTTL <= 0 {
		f.stateTTL = DefaultStateTTL
	}
	if f.discTTL <= 0 {
		f.discTTL = DefaultDiscoveryTTL
	}
	return f
}

// provider returns the discovered provider at issuer, from the cache while
// it is younger than the discovery TTL. Discovery (go-oidc) checks that
// the document names exactly this issuer. Two sign-ins that miss the cache
// at once may both fetch; the last one wins, which is harmless.
func (f *Flow) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	now := f.now()
	f.mu.Lock()
	c, ok := f.providers[issuer]
	f.mu.Unlock()
	if ok && now.Sub(c.fetched) < f.discTTL {
		return c.p, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, f.client), issuer)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", pantry.Errorf(pantry.EUNAVAILABLE,
			"the identity provider at %s could not be reached or did not describe itself (OpenID discovery): try again later, or ask an administrator to check the issuer URL", issuer), err)
	}
	f.mu.Lock()
	f.providers[issuer] = cachedProvider{p: p, fetched: now}
	f.mu.Unlock()
	return p, nil
}

// newHTTPClient makes the default client. The address check runs on the
// address actually dialled (after DNS), so a name that resolves to a
// private address, or is changed to one later, is refused too.
func newHTTPClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: defaultHTTPTimeout}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   defaultHTTPTimeout,
		ResponseHeaderTimeout: defaultHTTPTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       time.Minute,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: defaultHTTPTimeout}
}

func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return fmt.Errorf("refusing to connect to %s: not a public address (pantry cloud serve --sso-allow-private-networks allows it)", host)
	}
	return nil
}
