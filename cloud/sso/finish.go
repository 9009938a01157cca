package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Callback is what the provider's redirect to the dashboard brought, plus
// the browser's copy of the state.
type Callback struct {
	State string // the state query parameter
	Code  string // the code query parameter
	// Error and ErrorDescription are the error and error_description
	// query parameters of a provider that refused (RFC 6749 §4.1.2.1).
	Error, ErrorDescription string
	// BrowserState is the state the dashboard kept in the browser's cookie
	// at Start ("" if the browser has none).
	BrowserState string
}

// Result is who signed in.
type Result struct {
	OrgID  string
	UserID string
	Email  string
	Name   string
	Role   cloud.Role
	// Created says the user was created just in time by this sign-in.
	Created bool
	// RoleChanged says an existing user's role followed the role mapping.
	RoleChanged bool
}

// Finish completes a sign-in from the provider's callback: see the package
// comment for every check, in order. The state is spent by the first call
// that names it, whatever the outcome, so a callback can never be replayed.
func (f *Flow) Finish(ctx context.Context, cb Callback) (Result, error) {
	if cb.State == "" || len(cb.State) > 256 {
		return Result{}, pantry.Errorf(pantry.EUNAUTHORIZED, "the sign-in link is incomplete: start the sign-in again")
	}
	if subtle.ConstantTimeCompare([]byte(cb.State), []byte(cb.BrowserState)) != 1 {
		return Result{}, pantry.Errorf(pantry.EUNAUTHORIZED, "this sign-in was started in another browser, or this browser lost its cookie: start the sign-in again here")
	}
	orgID, _, _ := strings.Cut(cb.State, ".")
	st, err := f.store.TakeSSOState(ctx, orgID, auth.HashSecret(cb.State), f.now())
	if err != nil {
		return Result{}, fmt.Errorf("finish sign-in: %w", err)
	}
	if cb.Error != "" {
		return Result{}, providerRefused(cb.Error, cb.ErrorDescription)
	}
	if cb.Code == "" || len(cb.Code) > 4096 {
		return Result{}, pantry.Errorf(pantry.EUNAUTHORIZED, "the identity provider sent no usable code: start the sign-in again")
	}
	cfg, err := f.config(ctx, st.OrgID, st.OrgID)
	if err != nil {
		return Result{}, err
	}
	idt, err := f.exchange(ctx, cfg, st, cb.Code)
	if err != nil {
		return Result{}, err
	}
	in, err := identify(cfg, idt)
	if err != nil {
		return Result{}, err
	}
	u, err := f.store.FindOrCreateSSOUser(ctx, cfg.OrgID, in)
	if err != nil {
		return Result{}, fmt.Errorf("finish sign-in: %w", err)
	}
	return Result{OrgID: cfg.OrgID, UserID: u.User.ID, Email: u.User.Email, Name: u.User.Name, Role: u.User.Role,
		Created: u.Created, RoleChanged: u.RoleChanged}, nil
}

// exchange trades the code (with the PKCE verifier) for tokens and
// returns the verified ID token: signature, issuer, audience, expiry (by
// go-oidc against f.now), at_hash, and the nonce.
func (f *Flow) exchange(ctx context.Context, cfg cloud.SSOProvider, st cloud.SSOState, code string) (*oidc.IDToken, error) {
	p, err := f.provider(ctx, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	tok, err := oauthConfig(cfg, p, st.RedirectURL).Exchange(oidc.ClientContext(ctx, f.client), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", pantry.Errorf(pantry.EUNAUTHORIZED,
			"the identity provider at %s did not accept the sign-in code: start the sign-in again", cfg.Issuer), err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, pantry.Errorf(pantry.EUNAUTHORIZED, "the identity provider at %s sent no ID token: ask an administrator to check that it speaks OpenID Connect", cfg.Issuer)
	}
	idt, err := p.VerifierContext(oidc.ClientContext(ctx, f.client), &oidc.Config{ClientID: cfg.ClientID, Now: f.now}).Verify(ctx, raw)
	if err != nil {
		return nil, badToken(cfg, err)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, badToken(cfg, err)
		}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, pantry.Errorf(pantry.EUNAUTHORIZED, "the ID token from %s answers another sign-in (nonce mismatch): start the sign-in again", cfg.Issuer)
	}
	return idt, nil
}

func badToken(cfg cloud.SSOProvider, err error) error {
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return fmt.Errorf("%w (%w)", pantry.Errorf(pantry.EUNAUTHORIZED,
			"the ID token from %s had expired: check this computer's clock, then start the sign-in again", cfg.Issuer), err)
	}
	return fmt.Errorf("%w (%w)", pantry.Errorf(pantry.EUNAUTHORIZED,
		"the ID token from %s was refused (%s): ask an administrator to check the single sign-on settings", cfg.Issuer, clip(err.Error())), err)
}

// providerRefused words the provider's own refusal (access_denied when
// the person cancelled or is not assigned to the application).
func providerRefused(code, desc string) error {
	msg := "the identity provider refused the sign-in (" + clip(printable(code)) + ")"
	if desc = printable(desc); desc != "" {
		msg += ": " + clip(desc)
	}
	return pantry.Errorf(pantry.EFORBIDDEN, "%s", msg)
}

// printable keeps what a message may show of text a request brought.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
