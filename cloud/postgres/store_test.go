package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/pgtest"
)

// assertActsAs checks that s's tenant transactions run as role.
func assertActsAs(tb testing.TB, s *Store, org, role string) {
	tb.Helper()
	var user string
	err := s.InTenant(context.Background(), org, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT current_user`).Scan(&user)
	})
	if err != nil || user != role {
		tb.Fatalf("current_user in InTenant = %q (%v), want %q", user, err, role)
	}
}

// pgtestSuffix is a short random suffix for cluster-wide names (roles).
func pgtestSuffix() string { return strings.ReplaceAll(pantry.NewSecret(6), "-", "_") }

// dropRoleAtCleanup drops a role the test makes once the test's stores
// are closed (cleanups run last-in first-out), after dropping what it
// holds in each of the databases of superURLs: roles outlive databases,
// and DROP ROLE refuses while the role holds privileges anywhere.
func dropRoleAtCleanup(tb testing.TB, role string, superURLs ...string) {
	tb.Helper()
	id := pgx.Identifier{role}.Sanitize()
	tb.Cleanup(func() {
		for i, u := range superURLs {
			stmts := []string{"DROP OWNED BY " + id}
			if i == len(superURLs)-1 {
				stmts = append(stmts, "DROP ROLE "+id)
			}
			if err := execAll(u, stmts...); err != nil {
				tb.Error(err)
			}
		}
	})
}

// execAll runs statements on a new connection to u.
func execAll(u string, stmts ...string) error {
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	for _, q := range stmts {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// withUser is rawURL with another user and password.
func withUser(tb testing.TB, rawURL, user, password string) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// TestOpenWithSuperuserURL: given the superuser's URL, the store still
// acts as the service role, so row-level security applies.
func TestOpenWithSuperuserURL(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	a := seedTenant(t, s, "A")
	assertActsAs(t, s, a.org, DefaultServiceRole)
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM organizations`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("no tenant: %d organizations visible (%v), want 0", n, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	t.Run("Unmigrated", func(t *testing.T) {
		t.Parallel()
		migratedDB(t, MigrateOptions{}) // the service role exists in the cluster
		_, err := Open(t.Context(), pgtest.NewDatabase(t), Options{})
		var se *SchemaError
		if !errors.As(err, &se) || se.Have != 0 {
			t.Fatalf("error %v, want a SchemaError at version 0", err)
		}
	})
	t.Run("NoSuchRole", func(t *testing.T) {
		t.Parallel()
		_, err := Open(t.Context(), pgtest.NewDatabase(t), Options{ServiceRole: "pantry_nobody"})
		if err == nil || !strings.Contains(err.Error(), "does not exist: run `pantry cloud migrate`") {
			t.Fatalf("error %v, want the missing role named", err)
		}
	})
	t.Run("BypassingRole", func(t *testing.T) {
		t.Parallel()
		_, err := Open(t.Context(), migratedDB(t, MigrateOptions{}), Options{ServiceRole: "postgres"})
		if err == nil || !strings.Contains(err.Error(), "row-level security would not apply") {
			t.Fatalf("error %v, want a refusal", err)
		}
	})
}

// TestInTenantNoticesALostRole: a connection that stopped acting as the
// service role (RESET ROLE, by a bug or an injected statement) is refused
// before the tenant's transaction runs.
func TestInTenantNoticesALostRole(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{MaxConns: 1})
	a := seedTenant(t, s, "A")
	if _, err := s.pool.Exec(t.Context(), `RESET ROLE`); err != nil {
		t.Fatal(err)
	}
	err := s.InTenant(t.Context(), a.org, func(pgx.Tx) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "not the service role") {
		t.Fatalf("error %v, want a refusal", err)
	}
}

func TestInTenantRejectsABadOrgID(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	err := s.InTenant(t.Context(), "' OR true --", func(pgx.Tx) error { return nil })
	if got := pantry.ErrorCode(err); got != pantry.EINVALID {
		t.Fatalf("code %q (%v), want %q", got, err, pantry.EINVALID)
	}
}

func TestCreateOrganization(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	a := seedTenant(t, s, "A")
	tests := []struct {
		name string
		in   cloud.NewOrganization
		code string
	}{
		{"EmailTakenInAnyCase", cloud.NewOrganization{Name: "B", OwnerEmail: "  " + strings.ToUpper(a.email), OwnerPasswordHash: "h"}, pantry.ECONFLICT},
		{"NoName", cloud.NewOrganization{Name: " ", OwnerEmail: "x@example.com", OwnerPasswordHash: "h"}, pantry.EINVALID},
		{"BadEmail", cloud.NewOrganization{Name: "B", OwnerEmail: "not an email", OwnerPasswordHash: "h"}, pantry.EINVALID},
		{"NoPassword", cloud.NewOrganization{Name: "B", OwnerEmail: "x@example.com"}, pantry.EINVALID},
		{"LongName", cloud.NewOrganization{Name: strings.Repeat("n", 201), OwnerEmail: "x@example.com", OwnerPasswordHash: "h"}, pantry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateOrganization(t.Context(), tt.in)
			if got := pantry.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	t.Run("ConflictMessageIsClientSafe", func(t *testing.T) {
		_, err := s.CreateOrganization(t.Context(), cloud.NewOrganization{Name: "B", OwnerEmail: a.email, OwnerPasswordHash: "h"})
		if got, want := pantry.ErrorMessage(err), "a user with this email already exists"; got != want {
			t.Fatalf("message %q, want %q", got, want)
		}
	})
	var role, email, name string
	err := s.InTenant(t.Context(), a.org, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT u.role, u.email, o.name FROM users u JOIN organizations o ON o.id = u.organization_id
			WHERE u.organization_id = $1 AND u.id = $2`, a.org, a.owner).Scan(&role, &email, &name)
	})
	if err != nil || role != "owner" || email != strings.ToLower(a.email) || name != "Org A" {
		t.Fatalf("owner %q %q of %q (%v), want an owner with the lower-cased email", role, email, name, err)
	}
}

// TestLookups: every pre-tenant lookup finds its row with no tenant set,
// and finds nothing for an unknown value.
func TestLookups(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	a, b := seedTenant(t, s, "A"), seedTenant(t, s, "B")
	ctx := t.Context()
	for _, tn := range []tenant{a, b} {
		login, err := s.LookupLogin(ctx, strings.ToUpper(tn.email))
		if err != nil || login != (cloud.LoginLookup{OrgID: tn.org, UserID: tn.owner, PasswordHash: "$argon2id$fake", Role: "owner"}) {
			t.Errorf("login: %+v, %v", login, err)
		}
		rt, err := s.LookupRefreshToken(ctx, tn.refreshHash)
		if err != nil || rt.OrgID != tn.org || rt.ID != tn.refreshID || rt.UserID != tn.owner || rt.UsedAt != nil || rt.ExpiresAt.IsZero() {
			t.Errorf("refresh token: %+v, %v", rt, err)
		}
		key, err := s.LookupAPIKey(ctx, tn.apiKeyHash)
		if err != nil || key.OrgID != tn.org || key.ID != tn.apiKeyID || key.Name != "technician" || key.CreatedBy == nil || *key.CreatedBy != tn.owner {
			t.Errorf("API key: %+v, %v", key, err)
		}
		node, err := s.LookupEdgeNode(ctx, tn.nodeHash)
		if err != nil || node != (cloud.EdgeNodeLookup{OrgID: tn.org, ID: tn.node, SiteID: tn.site}) {
			t.Errorf("edge node: %+v, %v", node, err)
		}
		enr, err := s.LookupEnrollmentToken(ctx, tn.enrollHash)
		if err != nil || enr.OrgID != tn.org || enr.ID != tn.enrollmentToken || enr.SiteID != tn.site || enr.UsedAt != nil {
			t.Errorf("enrollment token: %+v, %v", enr, err)
		}
	}
	unknown := randomBytes(32)
	notFound := map[string]error{}
	_, notFound["login"] = s.LookupLogin(ctx, "nobody@example.com")
	_, notFound["refresh token"] = s.LookupRefreshToken(ctx, unknown)
	_, notFound["API key"] = s.LookupAPIKey(ctx, unknown)
	_, notFound["edge node"] = s.LookupEdgeNode(ctx, unknown)
	_, notFound["enrollment token"] = s.LookupEnrollmentToken(ctx, nil)
	for what, err := range notFound {
		if got := pantry.ErrorCode(err); got != pantry.ENOTFOUND {
			t.Errorf("unknown %s: code %q (%v), want %q", what, got, err, pantry.ENOTFOUND)
		}
	}
}

// TestDomainErrors: the database errors a client can cause reach the
// caller as domain codes.
func TestDomainErrors(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	a := seedTenant(t, s, "A")
	tests := []struct {
		name, sql string
		args      []any
		code      string
	}{
		{"DuplicateCode", `INSERT INTO coupons (organization_id, id, code, kind, value, valid_from, valid_to)
			VALUES ($1, gen_random_uuid(), 'welcome', 'fixed', 100, now(), now() + interval '1 day')`, []any{a.org}, pantry.ECONFLICT},
		{"UnknownSite", `INSERT INTO tablets (organization_id, id, site_id, username, password_hash)
			VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'x', 'x')`, []any{a.org}, pantry.EINVALID},
		{"NegativePrice", `UPDATE items SET price_amount = -1 WHERE organization_id = $1`, []any{a.org}, pantry.EINVALID},
		{"Syntax", `SELEC 1`, nil, pantry.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.InTenant(t.Context(), a.org, func(tx pgx.Tx) error {
				_, err := tx.Exec(t.Context(), tt.sql, tt.args...)
				return err
			})
			if got := pantry.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}
