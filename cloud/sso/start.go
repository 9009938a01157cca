package sso

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// scopes are what a sign-in asks the provider for: the ID token (openid),
// the email and whether it is verified (email), and the name (profile).
var scopes = []string{oidc.ScopeOpenID, "email", "profile"}

// Started is a sign-in begun by Start.
type Started struct {
	// AuthURL is the provider's authorization endpoint with the request:
	// redirect the browser there.
	AuthURL string
	// State is the sign-in's secret, "<organization id>.<random>": keep it in a cookie of the browser
	// that asked, and give it back to Finish as Callback.BrowserState. That
	// binds the callback to this browser, so a link with someone else's
	// state and code (login CSRF) cannot sign this browser in as them.
	State string
	// ExpiresAt is when the sign-in stops being accepted.
	ExpiresAt time.Time
}

// Start begins a sign-in to organization org, named by its slug ("acme",
// any case) or its id. It discovers the organization's provider (cached), makes
// a state, a nonce and a PKCE verifier, stores them, and returns the
// authorization URL. redirectURL is the dashboard's callback, exactly as
// registered at the provider. ENOTFOUND for an organization without
// single sign-on, EFORBIDDEN if it is switched off, EUNAVAILABLE if the
// provider cannot be reached; nothing is stored then.
func (f *Flow) Start(ctx context.Context, org, redirectURL string) (Started, error) {
	if err := checkRedirect(redirectURL); err != nil {
		return Started{}, err
	}
	orgID, err := f.organization(ctx, org)
	if err != nil {
		return Started{}, err
	}
	cfg, err := f.config(ctx, orgID, strings.TrimSpace(org))
	if err != nil {
		return Started{}, err
	}
	p, err := f.provider(ctx, cfg.Issuer)
	if err != nil {
		return Started{}, err
	}
	now := f.now()
	// The state names its organization (see 0011_sso.sql): the callback
	// finds the sign-in under that organization only.
	state, nonce, verifier := orgID+"."+pantry.NewSecret(32), pantry.NewSecret(32), oauth2.GenerateVerifier()
	st := cloud.SSOState{OrgID: orgID, StateHash: auth.HashSecret(state), Verifier: verifier, Nonce: nonce,
		RedirectURL: redirectURL, CreatedAt: now, ExpiresAt: now.Add(f.stateTTL)}
	if err := f.store.BeginSSO(ctx, st); err != nil {
		return Started{}, fmt.Errorf("start sign-in: %w", err)
	}
	authURL := oauthConfig(cfg, p, redirectURL).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return Started{AuthURL: authURL, State: state, ExpiresAt: st.ExpiresAt}, nil
}

// organization returns the id of the organization org names, by id or
// by slug.
func (f *Flow) organization(ctx context.Context, org string) (string, error) {
	if pantry.ValidID(org) {
		return org, nil
	}
	slug := strings.ToLower(strings.TrimSpace(org))
	if !cloud.ValidSlug(slug) {
		return "", pantry.Errorf(pantry.EINVALID, "%q is not an organization's name or id: use the short name your administrator gave you (like acme), or their sign-in link", clip(org))
	}
	id, err := f.store.OrganizationBySlug(ctx, slug)
	if pantry.ErrorCode(err) == pantry.ENOTFOUND {
		return "", fmt.Errorf("%w (%w)", pantry.Errorf(pantry.ENOTFOUND,
			"there is no organization %q: check the name with your administrator, or use their sign-in link", slug), err)
	}
	if err != nil {
		return "", fmt.Errorf("find organization %q: %w", slug, err)
	}
	return id, nil
}

// config loads the organization's provider setup, refusing one that is
// missing or switched off; named is the organization as the person
// named it, for the message.
func (f *Flow) config(ctx context.Context, orgID, named string) (cloud.SSOProvider, error) {
	cfg, err := f.store.SSOProvider(ctx, orgID)
	if pantry.ErrorCode(err) == pantry.ENOTFOUND {
		return cfg, fmt.Errorf("%w (%w)", pantry.Errorf(pantry.ENOTFOUND,
			"organization %s does not use single sign-on: sign in with your email and password", named), err)
	}
	if err != nil {
		return cfg, fmt.Errorf("load SSO configuration: %w", err)
	}
	if !cfg.Enabled {
		return cfg, pantry.Errorf(pantry.EFORBIDDEN,
			"single sign-on is switched off for %s: sign in with your email and password, or ask an administrator to switch it on", cfg.OrgName)
	}
	return cfg, nil
}

func oauthConfig(cfg cloud.SSOProvider, p *oidc.Provider, redirectURL string) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = authStyle(p)
	return &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: ep,
		RedirectURL: redirectURL, Scopes: scopes}
}

// authStyle is how the client authenticates at the token endpoint, as
// the provider's discovery document allows: HTTP Basic (the default when
// it says nothing, OpenID Connect Discovery §3), else form fields. Left
// to detect, oauth2 would try both, and send a refused code twice.
func authStyle(p *oidc.Provider) oauth2.AuthStyle {
	var d struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := p.Claims(&d); err != nil || len(d.Methods) == 0 || slices.Contains(d.Methods, "client_secret_basic") {
		return oauth2.AuthStyleInHeader
	}
	if slices.Contains(d.Methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect
}

// checkRedirect accepts an absolute http(s) URL without a fragment: the
// dashboard's own callback, which the provider compares byte for byte
// with the one registered.
func checkRedirect(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || len(s) > 2048 {
		return fmt.Errorf("redirect URL %q must be an absolute http(s) URL without a fragment", clip(s))
	}
	return nil
}

// clip shortens what a request brought for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}
