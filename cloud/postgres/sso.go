package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// Single sign-on (cloud.SSOService): see 0011_sso.sql for the tables, and
// for why a callback's state names its organization rather than being
// looked up through a SECURITY DEFINER function or a global table.

var _ cloud.SSOService = (*Store)(nil)

// maxOpenSSOLogins bounds the sign-ins in progress per organization. The
// login page is open to anyone, so without a bound anyone could fill the
// table; with one, a flood can at worst delay an organization's SSO
// sign-ins until its states expire. Far above what people signing in at
// once ever need.
const maxOpenSSOLogins = 10000

// ssoNoPassword is the password hash of a user created by single sign-on.
// No password matches it (it is not a PHC string), so a password login
// fails as for a wrong password until an admin gives the user a password.
const ssoNoPassword = "!sso"

const ssoConfigColumns = `c.issuer, c.client_id, c.allowed_domains, c.role_claim, c.role_map,
	COALESCE(c.default_role, ''), c.enabled, c.updated_at`

func scanSSOConfig(row pgx.Row, extra ...any) (cloud.SSOConfig, error) {
	var c cloud.SSOConfig
	err := row.Scan(append([]any{&c.Issuer, &c.ClientID, &c.AllowedDomains, &c.RoleClaim, &c.RoleMap,
		&c.DefaultRole, &c.Enabled, &c.UpdatedAt}, extra...)...)
	c.ClientSecretSet = err == nil // the column is NOT NULL and never empty
	return c, err
}

// GetSSOConfig returns the organization's SSO configuration without its
// client secret; ENOTFOUND if there is none.
func (s *Store) GetSSOConfig(ctx context.Context, orgID string) (cloud.SSOConfig, error) {
	var c cloud.SSOConfig
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		c, err = getSSOConfig(ctx, tx, orgID, false)
		return err
	})
	if err != nil {
		return cloud.SSOConfig{}, fmt.Errorf("get SSO configuration: %w", err)
	}
	return c, nil
}

func getSSOConfig(ctx context.Context, tx pgx.Tx, orgID string, lock bool) (cloud.SSOConfig, error) {
	sql := `SELECT ` + ssoConfigColumns + ` FROM sso_configs c WHERE c.organization_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	c, err := scanSSOConfig(tx.QueryRow(ctx, sql, orgID))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, pantry.Errorf(pantry.ENOTFOUND, "single sign-on is not configured for this organization")
	}
	return c, err
}

// ssoAudit is what the audit log records of a configuration change: the
// configuration as admins read it, and whether the secret changed (never
// the secret).
type ssoAudit struct {
	cloud.SSOConfig
	ClientSecretChanged bool `json:"client_secret_changed"`
}

// PutSSOConfig creates or replaces the organization's SSO configuration.
// Input the rules refuse (cloud.SSOConfigInput.Normalize) changes nothing;
// a first configuration without a client secret is EINVALID.
func (s *Store) PutSSOConfig(ctx context.Context, orgID string, who cloud.Actor, in cloud.SSOConfigInput) (cloud.SSOConfig, error) {
	in, err := in.Normalize()
	if err != nil {
		return cloud.SSOConfig{}, err
	}
	var after cloud.SSOConfig
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		before, err := getSSOConfig(ctx, tx, orgID, true)
		exists := err == nil
		if err != nil && pantry.ErrorCode(err) != pantry.ENOTFOUND {
			return err
		}
		if !exists && in.ClientSecret == nil {
			return pantry.Errorf(pantry.EINVALID, "client secret is required: the identity provider shows it for the application registered for Pantry")
		}
		var def *string
		if in.DefaultRole != "" {
			def = (*string)(&in.DefaultRole)
		}
		args := []any{orgID, in.Issuer, in.ClientID, in.ClientSecret, in.AllowedDomains, in.RoleClaim, in.RoleMap, def, in.Enabled}
		sql := `INSERT INTO sso_configs AS c (organization_id, issuer, client_id, client_secret,
				allowed_domains, role_claim, role_map, default_role, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ` + ssoConfigColumns
		if exists {
			sql = `UPDATE sso_configs AS c SET issuer = $2, client_id = $3, client_secret = COALESCE($4, c.client_secret),
				allowed_domains = $5, role_claim = $6, role_map = $7, default_role = $8, enabled = $9, updated_at = now()
			WHERE c.organization_id = $1 RETURNING ` + ssoConfigColumns
		}
		after, err = scanSSOConfig(tx.QueryRow(ctx, sql, args...))
		if err != nil {
			return err
		}
		action, was := "sso.create", any(nil)
		if exists {
			action, was = "sso.update", ssoAudit{SSOConfig: before}
		}
		return audit(ctx, tx, orgID, who, action, "sso_config", orgID, was, ssoAudit{after, in.ClientSecret != nil})
	})
	if err != nil {
		return cloud.SSOConfig{}, fmt.Errorf("put SSO configuration: %w", err)
	}
	return after, nil
}

// SSOProvider returns what a sign-in needs of the organization: its name
// and its SSO configuration, client secret included. The organization
// comes from the login page's request, not from a credential: it only
// chooses which identity provider to send the browser to. ENOTFOUND if
// the organization does not exist (or orgID is not a UUID) or has no
// configuration.
func (s *Store) SSOProvider(ctx context.Context, orgID string) (cloud.SSOProvider, error) {
	p := cloud.SSOProvider{OrgID: orgID}
	if !pantry.ValidID(orgID) {
		return p, pantry.Errorf(pantry.ENOTFOUND, "organization %s not found", orgID)
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		p.SSOConfig, err = scanSSOConfig(tx.QueryRow(ctx, `SELECT `+ssoConfigColumns+`, c.client_secret, o.name
			FROM sso_configs c JOIN organizations o ON o.id = c.organization_id WHERE c.organization_id = $1`, orgID),
			&p.ClientSecret, &p.OrgName)
		if errors.Is(err, pgx.ErrNoRows) {
			return pantry.Errorf(pantry.ENOTFOUND, "organization %s has no single sign-on", orgID)
		}
		return err
	})
	if err != nil {
		return cloud.SSOProvider{}, fmt.Errorf("load SSO provider: %w", err)
	}
	return p, nil
}

// BeginSSO stores a sign-in in progress, after forgetting the
// organization's sign-ins that expired more than an hour ago (a replay of
// one is refused all the same: its state is then unknown). ERATELIMITED
// if the organization already has maxOpenSSOLogins open.
func (s *Store) BeginSSO(ctx context.Context, st cloud.SSOState) error {
	if len(st.StateHash) != 32 || !st.ExpiresAt.After(st.CreatedAt) {
		return pantry.Errorf(pantry.EINVALID, "an SSO state needs a 32-byte hash and an expiry after its creation")
	}
	err := s.InTenant(ctx, st.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sso_logins WHERE organization_id = $1 AND expires_at < $2`,
			st.OrgID, st.CreatedAt.Add(-time.Hour)); err != nil {
			return err
		}
		var open int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM sso_logins WHERE organization_id = $1 AND expires_at > $2 AND used_at IS NULL`,
			st.OrgID, st.CreatedAt).Scan(&open); err != nil {
			return err
		}
		if open >= maxOpenSSOLogins {
			return pantry.Errorf(pantry.ERATELIMITED, "too many sign-ins are in progress for this organization: try again in a few minutes")
		}
		_, err := tx.Exec(ctx, `INSERT INTO sso_logins (organization_id, id, state_hash, code_verifier, nonce, redirect_url, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			st.OrgID, pantry.NewID(), st.StateHash, st.Verifier, st.Nonce, st.RedirectURL, st.CreatedAt, st.ExpiresAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("begin SSO sign-in: %w", err)
	}
	return nil
}

// Refusals of a state, each EUNAUTHORIZED: the person can only start
// again.
var (
	errSSOStateUnknown = pantry.Errorf(pantry.EUNAUTHORIZED, "this sign-in link is unknown or too old: start the sign-in again")
	errSSOStateUsed    = pantry.Errorf(pantry.EUNAUTHORIZED, "this sign-in link was already used: start the sign-in again")
	errSSOStateExpired = pantry.Errorf(pantry.EUNAUTHORIZED, "the sign-in took too long: start it again")
)

// TakeSSOState returns the organization's sign-in whose state hashes to
// stateHash and spends it, under a row lock, so that of two callbacks
// with one state at most one gets it. A spent, expired or unknown state
// (or an organization id that is not a UUID) is EUNAUTHORIZED; an expired
// one is spent all the same.
func (s *Store) TakeSSOState(ctx context.Context, orgID string, stateHash []byte, now time.Time) (cloud.SSOState, error) {
	if !pantry.ValidID(orgID) {
		return cloud.SSOState{}, errSSOStateUnknown
	}
	st := cloud.SSOState{OrgID: orgID}
	var refusal error
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var id string
		var used *time.Time
		err := tx.QueryRow(ctx, `SELECT id::text, state_hash, code_verifier, nonce, redirect_url, created_at, expires_at, used_at
			FROM sso_logins WHERE organization_id = $1 AND state_hash = $2 FOR UPDATE`, orgID, stateHash).
			Scan(&id, &st.StateHash, &st.Verifier, &st.Nonce, &st.RedirectURL, &st.CreatedAt, &st.ExpiresAt, &used)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			refusal = errSSOStateUnknown
			return nil
		case err != nil:
			return err
		case used != nil:
			refusal = errSSOStateUsed
			return nil
		case !now.Before(st.ExpiresAt):
			refusal = errSSOStateExpired
		}
		_, err = tx.Exec(ctx, `UPDATE sso_logins SET used_at = $3 WHERE organization_id = $1 AND id = $2`, orgID, id, now)
		return err
	})
	if err != nil {
		return cloud.SSOState{}, fmt.Errorf("take SSO state: %w", err)
	}
	if refusal != nil {
		return cloud.SSOState{}, refusal
	}
	return st, nil
}

// ssoIdentity names the person at the identity provider in the audit log.
type ssoIdentity struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
}

// ssoUserAudit is a user as the audit log records an SSO change to it.
type ssoUserAudit struct {
	cloud.User
	SSO ssoIdentity `json:"sso"`
}

// FindOrCreateSSOUser finds the organization's user with in.Email or
// creates one with in.Role, just in time. An existing user's role follows
// in.Role when in.Mapped, except an owner's. Creations and role changes
// are audited as cloud.SSOActor. A disabled user is EUNAUTHORIZED; an
// email that belongs to another organization's user (emails are one
// login across the cloud) is EFORBIDDEN.
func (s *Store) FindOrCreateSSOUser(ctx context.Context, orgID string, in cloud.SSOUserInput) (cloud.SSOUser, error) {
	in.Email = cloud.NormalizeEmail(in.Email)
	if !cloud.ValidEmail(in.Email) {
		return cloud.SSOUser{}, pantry.Errorf(pantry.EINVALID, "%q is not an email address", in.Email)
	}
	if cloud.SSORoleRank(in.Role) < 0 {
		return cloud.SSOUser{}, pantry.Errorf(pantry.EINVALID, "single sign-on cannot grant the role %q", in.Role)
	}
	if err := pantry.CheckText("name", in.Name, pantry.MaxNameLen); err != nil {
		return cloud.SSOUser{}, err
	}
	for attempt := 0; ; attempt++ {
		u, err := s.findOrCreateSSOUser(ctx, orgID, in)
		// Two first sign-ins at once: the loser's insert conflicts, and
		// its second attempt finds the winner's user.
		if pantry.ErrorCode(err) == pantry.ECONFLICT && attempt == 0 {
			continue
		}
		if err != nil {
			return cloud.SSOUser{}, fmt.Errorf("find or create SSO user: %w", err)
		}
		return u, nil
	}
}

func (s *Store) findOrCreateSSOUser(ctx context.Context, orgID string, in cloud.SSOUserInput) (cloud.SSOUser, error) {
	found, err := s.LookupLogin(ctx, in.Email)
	switch {
	case err == nil && found.OrgID != orgID:
		return cloud.SSOUser{}, pantry.Errorf(pantry.EFORBIDDEN,
			"the email %s already signs in to another Pantry organization: one email can belong to one organization only", in.Email)
	case err == nil:
		return s.updateSSOUser(ctx, orgID, found.UserID, in)
	case pantry.ErrorCode(err) != pantry.ENOTFOUND:
		return cloud.SSOUser{}, err
	}
	out := cloud.SSOUser{Created: true, User: cloud.User{ID: pantry.NewID(), Email: in.Email, Name: in.Name, Role: in.Role, SiteIDs: []string{}}}
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := claimEmail(ctx, tx, orgID, in.Email); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO users (organization_id, id, email, password_hash, name, role)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
			orgID, out.User.ID, in.Email, ssoNoPassword, in.Name, string(in.Role)).Scan(&out.User.CreatedAt); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, cloud.SSOActor, "user.create", "user", out.User.ID, nil,
			ssoUserAudit{out.User, ssoIdentity{in.Issuer, in.Subject}})
	})
	return out, err
}

func (s *Store) updateSSOUser(ctx context.Context, orgID, userID string, in cloud.SSOUserInput) (cloud.SSOUser, error) {
	var out cloud.SSOUser
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		before, err := getUser(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		out.User = before
		if before.Disabled {
			return pantry.Errorf(pantry.EUNAUTHORIZED, "the Pantry account %s is disabled: ask an administrator of your organization", in.Email)
		}
		if !in.Mapped || before.Role == cloud.RoleOwner || before.Role == in.Role {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET role = $3 WHERE organization_id = $1 AND id = $2`, orgID, userID, string(in.Role)); err != nil {
			return err
		}
		if out.User, err = getUser(ctx, tx, orgID, userID); err != nil {
			return err
		}
		out.RoleChanged = true
		id := ssoIdentity{in.Issuer, in.Subject}
		return audit(ctx, tx, orgID, cloud.SSOActor, "user.update", "user", userID, ssoUserAudit{before, id}, ssoUserAudit{out.User, id})
	})
	if err != nil {
		return cloud.SSOUser{}, err
	}
	return out, nil
}
