package sso

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// claims are the ID-token claims a sign-in reads. email_verified is kept
// raw: some providers (AWS Cognito) send it as the string "true".
type claims struct {
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
	Name          string          `json:"name"`
	GivenName     string          `json:"given_name"`
	FamilyName    string          `json:"family_name"`
}

// identify turns a verified ID token into the user it names, applying the
// organization's rules: a verified email (when the provider says), of an
// allowed domain, with a role.
func identify(cfg cloud.SSOProvider, idt *oidc.IDToken) (cloud.SSOUserInput, error) {
	var c claims
	var all map[string]any
	if err := idt.Claims(&c); err != nil {
		return cloud.SSOUserInput{}, fmt.Errorf("read ID token claims: %w", err)
	}
	if err := idt.Claims(&all); err != nil {
		return cloud.SSOUserInput{}, fmt.Errorf("read ID token claims: %w", err)
	}
	email := cloud.NormalizeEmail(c.Email)
	if !cloud.ValidEmail(email) {
		return cloud.SSOUserInput{}, pantry.Errorf(pantry.EFORBIDDEN,
			"the identity provider sent no email address for you: ask an administrator to let it share your email with Pantry")
	}
	if verified, present := parseVerified(c.EmailVerified); present && !verified {
		return cloud.SSOUserInput{}, pantry.Errorf(pantry.EFORBIDDEN,
			"your email address %s is not verified at your identity provider: verify it there, then sign in again", email)
	}
	if err := checkDomain(cfg, email); err != nil {
		return cloud.SSOUserInput{}, err
	}
	role, mapped := mapRole(cfg.SSOConfig, all[cfg.RoleClaim])
	if role == "" {
		return cloud.SSOUserInput{}, pantry.Errorf(pantry.EFORBIDDEN,
			"your account at the identity provider has no %s value that gives a role in %s: ask an administrator of %s",
			claimName(cfg.RoleClaim), cfg.OrgName, cfg.OrgName)
	}
	return cloud.SSOUserInput{Email: email, Name: displayName(c), Role: role, Mapped: mapped,
		Issuer: idt.Issuer, Subject: idt.Subject}, nil
}

// parseVerified reads email_verified: a boolean, or "true"/"false" as
// text. Anything else present counts as not verified.
func parseVerified(raw json.RawMessage) (verified, present bool) {
	switch strings.TrimSpace(string(raw)) {
	case "", "null":
		return false, false
	case "true", `"true"`:
		return true, true
	}
	return false, true
}

// checkDomain refuses an email whose domain the organization does not
// allow. Emails are normalized (lower case) and domains are stored lower
// case, so the comparison ignores case.
func checkDomain(cfg cloud.SSOProvider, email string) error {
	_, domain, _ := strings.Cut(email, "@")
	if slices.Contains(cfg.AllowedDomains, domain) {
		return nil
	}
	allowed := cfg.AllowedDomains
	more := ""
	if len(allowed) > 3 {
		allowed, more = allowed[:3], fmt.Sprintf(" (and %d more)", len(cfg.AllowedDomains)-3)
	}
	return pantry.Errorf(pantry.EFORBIDDEN, "your email domain %s is not allowed for %s: sign in with an address at %s%s",
		domain, cfg.OrgName, strings.Join(allowed, ", "), more)
}

// mapRole returns the most privileged role the claim's values map to
// (mapped true), else the default role (mapped false), else "".
func mapRole(cfg cloud.SSOConfig, claim any) (role cloud.Role, mapped bool) {
	best := -1
	for _, v := range claimValues(claim) {
		if r, ok := cfg.RoleMap[v]; ok {
			if rank := cloud.SSORoleRank(r); rank >= 0 && (best < 0 || rank < best) {
				best, role = rank, r
			}
		}
	}
	if best >= 0 {
		return role, true
	}
	return cfg.DefaultRole, false
}

// claimValues reads a claim as strings: one string, or a list's strings.
// Numbers and booleans are compared as their JSON text.
func claimValues(claim any) []string {
	switch v := claim.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, claimValues(e)...)
		}
		return out
	case float64, bool:
		return []string{fmt.Sprint(v)}
	}
	return nil
}

func claimName(c string) string {
	if c == "" {
		return "role"
	}
	return c
}

// displayName is the user's name as Pantry keeps it: the name claim, or
// given and family names, cut to the longest name Pantry stores.
func displayName(c claims) string {
	name := strings.TrimSpace(c.Name)
	if name == "" {
		name = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	}
	name = printable(name)
	for len(name) > pantry.MaxNameLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}
