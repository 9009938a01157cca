// Package ssotest is an OpenID Connect identity provider for tests: a
// real one, built on zitadel's op package, serving discovery, JWKS, the
// authorization endpoint (with PKCE), the token endpoint (client secret
// over HTTP Basic or form post) and userinfo on a loopback port, signing
// RS256 ID tokens with a key made at start. Only the login step is a test
// fixture: a one-field form (no password) that signs in whichever
// configured user's email is posted, so a test can drive it with an HTTP
// client (Login) or a browser (fill #email, press the "Sign in" button).
//
// Use from any package's tests:
//
//	idp := ssotest.Start(t, ssotest.Config{
//		Users: []ssotest.User{{Email: "ann@acme.test", Name: "Ann", Groups: []string{"pantry-admins"}}},
//	})
//	idp.AddRedirectURI(dashboardURL + "/login/sso/callback")
//	// configure the organization: Issuer idp.Issuer, ClientID idp.ClientID,
//	// ClientSecret idp.ClientSecret; then, for an HTTP-driven test:
//	callback, err := idp.Login(ctx, authURL, "ann@acme.test") // the redirect to the dashboard, not followed
//
// To test a relying party's checks, RewriteNextIDToken changes the ID
// token of the next token response; TamperPayload (payload changed,
// signature kept) and Resign (claims changed, validly signed by this
// provider, e.g. another audience) make the replacement.
//
// It is not for production: it has no passwords, keeps everything in
// memory, and allows http redirect URIs.
package ssotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a person the provider knows.
type User struct {
	Email string
	Name  string
	// Unverified makes email_verified false (it is true otherwise).
	Unverified bool
	// Groups is the "groups" claim (absent when nil).
	Groups []string
	// Claims are more ID-token claims, e.g. {"pantry_role": "admin"}.
	Claims map[string]any
}

// Config configures Start. Zero fields get defaults.
type Config struct {
	ClientID     string // default "pantry"
	ClientSecret string // default a random secret
	// RedirectURIs are the registered callbacks (more with
	// AddRedirectURI): the provider refuses any other.
	RedirectURIs []string
	Users        []User
}

// Provider is a running test provider.
type Provider struct {
	// Issuer is the provider's issuer URL, http://127.0.0.1:<port>.
	Issuer                 string
	ClientID, ClientSecret string

	store     *storage
	mu        sync.Mutex
	rewrite   func(idToken string) (string, error)
	discovery int // requests for the discovery document
}

// tokenPath is op's default token endpoint; discoveryPath is OpenID
// discovery's.
const (
	tokenPath     = "/oauth/token"
	discoveryPath = "/.well-known/openid-configuration"
)

// Start serves a provider on 127.0.0.1 until the test ends.
func Start(tb testing.TB, cfg Config) *Provider {
	tb.Helper()
	p, srv, err := newProvider(cfg)
	if err != nil {
		tb.Fatalf("start test identity provider: %v", err)
	}
	srv.Start()
	tb.Cleanup(srv.Close)
	return p
}

func newProvider(cfg Config) (*Provider, *httptest.Server, error) {
	if cfg.ClientID == "" {
		cfg.ClientID = "pantry"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = pantry.NewSecret(24)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	issuer := "http://" + srv.Listener.Addr().String()
	login := func(id string) string { return issuer + "/login?authRequestID=" + url.QueryEscape(id) }
	st := &storage{
		key:      signingKey{id: pantry.NewSecret(8), alg: jose.RS256, key: key},
		login:    login,
		client:   &client{id: cfg.ClientID, secret: cfg.ClientSecret, redirectURIs: append([]string(nil), cfg.RedirectURIs...), login: login},
		users:    map[string]User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		tokens:   map[string]token{},
	}
	p := &Provider{Issuer: issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, store: st}
	for _, u := range cfg.Users {
		p.AddUser(u)
	}
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	opCfg := &op.Config{CryptoKey: cryptoKey, CryptoKeyId: "test", CodeMethodS256: true, AuthMethodPost: true}
	provider, err := op.NewProvider(opCfg, st, op.StaticIssuer(issuer), op.WithAllowInsecure(),
		op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("new provider: %w", err)
	}
	lp := &loginPage{store: st, callback: op.AuthCallbackURL(provider)}
	intercept := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	mux.Handle("/login", intercept.Handler(lp))
	mux.Handle(tokenPath, p.rewriting(provider))
	mux.Handle(discoveryPath, p.counting(provider))
	mux.Handle("/", provider)
	return p, srv, nil
}

// AddUser adds (or replaces, by email) a user.
func (p *Provider) AddUser(u User) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.users[strings.ToLower(strings.TrimSpace(u.Email))] = u
}

// AddRedirectURI registers one more callback URL of the client.
func (p *Provider) AddRedirectURI(uri string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.client.redirectURIs = append(p.store.client.redirectURIs, uri)
}

// DiscoveryRequests returns how many times the discovery document was
// fetched: a relying party that caches fetches it once.
func (p *Provider) DiscoveryRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.discovery
}

func (p *Provider) counting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.discovery++
		p.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// RewriteNextIDToken makes the next token response carry f(its ID token)
// instead; later responses are untouched.
func (p *Provider) RewriteNextIDToken(f func(idToken string) (string, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrite = f
}

// rewriting serves the token endpoint, replacing the ID token of the
// response when a rewrite is pending.
func (p *Provider) rewriting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		f := p.rewrite
		p.rewrite = nil
		p.mu.Unlock()
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body, err := rewriteIDToken(rec.Body.Bytes(), f)
		if err != nil {
			http.Error(w, "rewrite ID token: "+err.Error(), http.StatusInternalServerError)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func rewriteIDToken(body []byte, f func(string) (string, error)) ([]byte, error) {
	var resp map[string]any
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, err
	}
	raw, ok := resp["id_token"].(string)
	if !ok {
		return body, nil // an error response: leave it
	}
	t, err := f(raw)
	if err != nil {
		return nil, err
	}
	resp["id_token"] = t
	return json.Marshal(resp)
}

// Claims decodes a JWT's payload without checking anything.
func Claims(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decode payload: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("parse payload: %w", err)
	}
	return c, nil
}

// TamperPayload returns jwt with its payload changed by mutate and its
// header and signature kept: a forgery no verifier may accept.
func TamperPayload(jwt string, mutate func(claims map[string]any)) (string, error) {
	c, err := Claims(jwt)
	if err != nil {
		return "", err
	}
	mutate(c)
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	parts := strings.Split(jwt, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2], nil
}

// Resign returns jwt's claims changed by mutate, signed with the
// provider's own key: a token the provider really issued, e.g. for
// another audience.
func (p *Provider) Resign(jwt string, mutate func(claims map[string]any)) (string, error) {
	c, err := Claims(jwt)
	if err != nil {
		return "", err
	}
	mutate(c)
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	k := p.store.key
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return sig.CompactSerialize()
}

// Login signs user email in through the provider as a browser would:
// it follows authURL (the relying party's authorization request) to the
// login form, posts the email, follows the provider's redirects, and
// returns the redirect to the relying party's callback (with code and
// state, or error) without following it.
func (p *Provider) Login(ctx context.Context, authURL, email string) (*url.URL, error) {
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next, err := step(ctx, hc, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, fmt.Errorf("authorization request: %w", err)
	}
	if !strings.HasPrefix(next.String(), p.Issuer+"/login?") {
		return next, nil // the provider answered at once (an error for the callback)
	}
	form := url.Values{"id": {next.Query().Get("authRequestID")}, "email": {email}}
	if next, err = step(ctx, hc, http.MethodPost, p.Issuer+"/login", form); err != nil {
		return nil, fmt.Errorf("login form: %w", err)
	}
	if next, err = step(ctx, hc, http.MethodGet, next.String(), nil); err != nil {
		return nil, fmt.Errorf("authorization callback: %w", err)
	}
	return next, nil
}

// step sends one request and returns where its redirect points.
func step(ctx context.Context, hc *http.Client, method, target string, form url.Values) (*url.URL, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("%s %s: status %d, want a redirect: %s", method, target, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.Location()
}
