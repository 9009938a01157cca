package postgres

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// tenant is one seeded organization: its ids, and the secrets' hashes the
// lookups find it by.
type tenant struct {
	org, owner, email                    string
	site, space, item, node, order       string
	refreshHash, apiKeyHash, nodeHash    []byte
	enrollHash                           []byte
	refreshID, apiKeyID, enrollmentToken string
}

// seedTenant creates an organization with exactly one row in every tenant
// table, written as the service role inside InTenant (so row-level
// security's WITH CHECK accepts a tenant's own rows). A new tenant table
// needs a row here: TestTenantIsolation fails for a table that has none.
func seedTenant(tb testing.TB, s *Store, label string) tenant {
	tb.Helper()
	ctx := context.Background()
	email := "Owner-" + label + "-" + pantry.NewSecret(4) + "@Example.com"
	created, err := s.CreateOrganization(ctx, cloud.NewOrganization{
		Name: "Org " + label, OwnerEmail: email, OwnerName: "Owner " + label, OwnerPasswordHash: "$argon2id$fake",
	})
	if err != nil {
		tb.Fatalf("create organization %s: %v", label, err)
	}
	t := tenant{
		org: created.OrgID, owner: created.OwnerUserID, email: email,
		site: pantry.NewID(), space: pantry.NewID(), item: pantry.NewID(), node: pantry.NewID(), order: pantry.NewID(),
		refreshHash: randomBytes(32), apiKeyHash: randomBytes(32), nodeHash: randomBytes(32), enrollHash: randomBytes(32),
		refreshID: pantry.NewID(), apiKeyID: pantry.NewID(), enrollmentToken: pantry.NewID(),
	}
	session, coupon := pantry.NewID(), pantry.NewID()
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO sites (organization_id, id, name, timezone, currency) VALUES ($1, $2, 'HQ', 'Europe/Berlin', 'EUR')`,
			[]any{t.org, t.site}},
		{`INSERT INTO spaces (organization_id, id, site_id, name, floor, code) VALUES ($1, $2, $3, 'Room 1', '3', $4)`,
			[]any{t.org, t.space, t.site, pantry.NewSecret(16)}},
		{`INSERT INTO items (organization_id, id, name, price_amount, currency, tags, allergens) VALUES ($1, $2, 'Coffee', 250, 'EUR', '{hot}', '{milk}')`,
			[]any{t.org, t.item}},
		{`INSERT INTO site_menu_items (organization_id, site_id, item_id, price_amount) VALUES ($1, $2, $3, 300)`,
			[]any{t.org, t.site, t.item}},
		{`INSERT INTO coupons (organization_id, id, code, kind, value, valid_from, valid_to) VALUES ($1, $2, 'WELCOME', 'percent', 10, now(), now() + interval '1 day')`,
			[]any{t.org, coupon}},
		{`INSERT INTO cost_centers (organization_id, id, code, name) VALUES ($1, $2, 'CC-1', 'Finance')`,
			[]any{t.org, pantry.NewID()}},
		{`INSERT INTO user_sites (organization_id, user_id, site_id) VALUES ($1, $2, $3)`,
			[]any{t.org, t.owner, t.site}},
		{`INSERT INTO refresh_tokens (organization_id, id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5, now() + interval '1 day')`,
			[]any{t.org, t.refreshID, t.owner, pantry.NewID(), t.refreshHash}},
		{`INSERT INTO api_keys (organization_id, id, name, key_hash, prefix, created_by) VALUES ($1, $2, 'technician', $3, 'pk_abc', $4)`,
			[]any{t.org, t.apiKeyID, t.apiKeyHash, t.owner}},
		// The directory rows the lookups find the credentials by (directory.go).
		{`INSERT INTO credential_hashes (hash, kind, organization_id)
			VALUES ($2, 'refresh_token', $1), ($3, 'api_key', $1), ($4, 'edge_node', $1), ($5, 'enrollment_token', $1)`,
			[]any{t.org, t.refreshHash, t.apiKeyHash, t.nodeHash, t.enrollHash}},
		{`INSERT INTO tablets (organization_id, id, site_id, name, username, password_hash) VALUES ($1, $2, $3, 'Pantry 1', 'tablet-1', 'x')`,
			[]any{t.org, pantry.NewID(), t.site}},
		{`INSERT INTO edge_nodes (organization_id, id, site_id, name, credential_hash) VALUES ($1, $2, $3, 'edge-1', $4)`,
			[]any{t.org, t.node, t.site, t.nodeHash}},
		{`INSERT INTO enrollment_tokens (organization_id, id, site_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, now() + interval '1 hour')`,
			[]any{t.org, t.enrollmentToken, t.site, t.enrollHash}},
		{`INSERT INTO attendee_sessions (organization_id, id, site_id, space_id, created_at, expires_at) VALUES ($1, $2, $3, $4, now(), now() + interval '1 hour')`,
			[]any{t.org, session, t.site, t.space}},
		{`INSERT INTO orders (organization_id, id, site_id, space_id, session_id, node_id, status, deliver_to, subtotal, discount, total,
			currency, payment_method, catalog_revision, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'placed', 'room', 250, 25, 225, 'EUR', 'complimentary', 1, now(), now())`,
			[]any{t.org, t.order, t.site, t.space, session, t.node}},
		{`INSERT INTO order_days (organization_id, day, site_id, currency, orders, units, spend, discount, first_at, last_at)
			VALUES ($1, current_date, $2, 'EUR', 1, 1, 225, 25, now(), now())`,
			[]any{t.org, t.site}},
		{`INSERT INTO order_lines (organization_id, order_id, line_no, item_id, name, quantity, unit_price, line_total) VALUES ($1, $2, 1, $3, 'Coffee', 1, 250, 250)`,
			[]any{t.org, t.order, t.item}},
		{`INSERT INTO order_status_history (organization_id, id, order_id, to_status, at) VALUES ($1, $2, $3, 'placed', now())`,
			[]any{t.org, pantry.NewID(), t.order}},
		{`INSERT INTO payments (organization_id, id, order_id, method, amount, discount, currency, created_at) VALUES ($1, $2, $3, 'complimentary', 225, 25, 'EUR', now())`,
			[]any{t.org, pantry.NewID(), t.order}},
		{`INSERT INTO coupon_redemptions (organization_id, id, site_id, coupon_id, order_id, discount) VALUES ($1, $2, $3, $4, $5, 25)`,
			[]any{t.org, pantry.NewID(), t.site, coupon, t.order}},
		{`INSERT INTO stock_movements (organization_id, id, site_id, item_id, delta, reason, order_id, origin, created_at) VALUES ($1, $2, $3, $4, -1, 'sale', $5, 'edge', now())`,
			[]any{t.org, pantry.NewID(), t.site, t.item, t.order}},
		{`INSERT INTO par_levels (organization_id, site_id, item_id, par) VALUES ($1, $2, $3, 24)`,
			[]any{t.org, t.site, t.item}},
		{`INSERT INTO dead_letters (organization_id, id, node_id, seq, event_type, payload, reason) VALUES ($1, $2, $3, 7, 'order.placed', '{"bad":true}'::bytea, 'unknown item')`,
			[]any{t.org, pantry.NewID(), t.node}},
		{`INSERT INTO web_sessions (organization_id, id, user_id, token_hash, method, created_at, last_seen_at, idle_until, expires_at)
			VALUES ($1, $2, $3, $4, 'password', now(), now(), now() + interval '2 hours', now() + interval '12 hours')`,
			[]any{t.org, pantry.NewID(), t.owner, randomBytes(32)}},
		{`INSERT INTO sso_configs (organization_id, issuer, client_id, client_secret, allowed_domains, default_role) VALUES ($1, 'https://idp.example.com', 'pantry', 'secret', '{example.com}', 'viewer')`,
			[]any{t.org}},
		{`INSERT INTO sso_logins (organization_id, id, state_hash, code_verifier, nonce, redirect_url, expires_at) VALUES ($1, $2, $3, repeat('v', 43), repeat('n', 43), 'https://pantry.example.com/login/sso/callback', now() + interval '10 minutes')`,
			[]any{t.org, pantry.NewID(), randomBytes(32)}},
	}
	err = s.InTenant(ctx, t.org, func(tx pgx.Tx) error {
		for _, st := range stmts {
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				tb.Errorf("%s: %v", st.sql[:40], err)
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("seed %s: %v", label, err)
	}
	return t
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
