package cloudtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// Tenant is one organization with one of everything, made through the
// API as its people would: the target of the isolation suites (cloud/api's
// on every API route, cloud/web's on every dashboard page).
type Tenant struct {
	Org                                                         Org
	Site, Space, Item, Coupon, CostCenter, Tablet, User, APIKey string
	Order                                                       string
	Node, NodeCredential, DeadLetter                            string
	Names                                                       []string // strings only this tenant's data contains
}

// IDs are every id of t's data, for a test to look for in answers to
// another tenant.
func (t Tenant) IDs() []string {
	return []string{t.Site, t.Space, t.Item, t.Coupon, t.CostCenter, t.Tablet, t.User, t.APIKey, t.Order, t.Org.ID, t.Org.OwnerID, t.Node, t.DeadLetter}
}

func must(tb testing.TB, r Response, status int, what string) {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
}

func idOf(tb testing.TB, r Response) string {
	tb.Helper()
	var v struct{ ID string }
	r.Decode(tb, &v)
	return v.ID
}

// SeedTenant makes a Tenant named name.
func SeedTenant(tb testing.TB, s *Server, name string) Tenant {
	tb.Helper()
	t := Tenant{Org: s.NewOrg(tb, name)}
	tok := t.Org.Token
	secret := "secret-" + name
	t.Names = []string{secret}
	r := s.Do(tb, "POST", "/api/v1/sites", tok, map[string]string{"name": secret + " HQ", "timezone": "Europe/Berlin", "currency": "EUR"})
	must(tb, r, 201, "create site")
	t.Site = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/sites/"+t.Site+"/spaces", tok, map[string]string{"name": secret + " room", "floor": "3"})
	must(tb, r, 201, "create space")
	t.Space = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/items", tok, map[string]any{"name": secret + " coffee", "price": map[string]any{"amount": 350, "currency": "EUR"}, "tags": []string{"hot"}, "allergens": []string{}, "low_stock_threshold": 5})
	must(tb, r, 201, "create item")
	t.Item = idOf(tb, r)
	must(tb, s.Do(tb, "PUT", "/api/v1/sites/"+t.Site+"/menu", tok, map[string]any{"items": []map[string]any{{"item_id": t.Item, "available": true}}}), 200, "put menu")
	must(tb, s.Do(tb, "POST", "/api/v1/sites/"+t.Site+"/stock/movements", tok, map[string]any{"item_id": t.Item, "delta": 40, "reason": "restock"}), 201, "restock")
	now := time.Now().UTC()
	r = s.Do(tb, "POST", "/api/v1/coupons", tok, map[string]any{"code": strings.ToUpper(name) + "10", "kind": "percent", "value": 10, "valid_from": now, "valid_to": now.Add(24 * time.Hour)})
	must(tb, r, 201, "create coupon")
	t.Coupon = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/cost-centers", tok, map[string]string{"code": "CC-" + name, "name": secret + " facilities"})
	must(tb, r, 201, "create cost center")
	t.CostCenter = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/sites/"+t.Site+"/tablets", tok, map[string]string{"name": secret + " tablet"})
	must(tb, r, 201, "create tablet")
	t.Tablet = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/users", tok, map[string]any{"email": "viewer@" + name + ".test", "name": secret + " viewer", "role": "viewer", "password": Password})
	must(tb, r, 201, "create user")
	t.User = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/api-keys", tok, map[string]string{"name": secret + " key"})
	must(tb, r, 201, "create API key")
	t.APIKey = idOf(tb, r)
	t.Order = InsertOrder(tb, s, t)
	t.Node, t.NodeCredential = EnrollNode(tb, s, t.Org.Token, t.Site)
	t.DeadLetter = PushPoison(tb, s, t.Org.Token, t.Node, t.NodeCredential)
	return t
}

// EnrollNode enrolls an edge node for site through the API, as `pantry
// edge init` does, and returns its id and credential.
func EnrollNode(tb testing.TB, s *Server, token, site string) (id, credential string) {
	tb.Helper()
	r := s.Do(tb, "POST", "/api/v1/sites/"+site+"/enrollment-tokens", token, map[string]any{})
	must(tb, r, 201, "create enrollment token")
	var tok struct{ Token string }
	r.Decode(tb, &tok)
	r = s.Do(tb, "POST", syncproto.PathEnroll, "", syncproto.EnrollRequest{Version: syncproto.Version, Token: tok.Token, Name: "edge", SoftwareVersion: "test"})
	must(tb, r, 201, "enroll")
	var e syncproto.EnrollResponse
	r.Decode(tb, &e)
	return e.NodeID, e.Credential
}

// PushPoison pushes one event the cloud cannot apply and returns the id
// of the dead letter it became.
func PushPoison(tb testing.TB, s *Server, token, node, credential string) string {
	tb.Helper()
	push := syncproto.PushRequest{Version: syncproto.Version, NodeID: node, SoftwareVersion: "test", SentAt: time.Now().UTC(),
		Events: []syncproto.Event{{Seq: 1, ID: pantry.NewID(), Type: "order.placed", Schema: 1, EntityID: pantry.NewID(),
			Payload: []byte(`{"poison":true}`), CreatedAt: time.Now().UTC()}}}
	r := s.Do(tb, "POST", syncproto.PathPush, credential, push)
	must(tb, r, 200, "push")
	r = s.Do(tb, "GET", "/api/v1/dead-letters?node_id="+node, token, nil)
	must(tb, r, 200, "list dead letters")
	var dl struct {
		DeadLetters []struct{ ID string } `json:"dead_letters"`
	}
	r.Decode(tb, &dl)
	if len(dl.DeadLetters) != 1 {
		tb.Fatalf("dead letters after a poison push: %s", r.Body)
	}
	return dl.DeadLetters[0].ID
}

// InsertOrder stores an order as an edge's sync would deliver it.
func InsertOrder(tb testing.TB, s *Server, t Tenant) string {
	tb.Helper()
	now := time.Now().UTC().Add(-time.Hour)
	eur := func(n int64) pantry.Money { return pantry.Money{Amount: n, Currency: "EUR"} }
	o := pantry.Order{
		ID: pantry.NewID(), SiteID: t.Site, SpaceID: t.Space, Status: pantry.StatusPlaced, DeliverTo: pantry.DeliverRoom,
		Lines:    []pantry.OrderLine{{ItemID: t.Item, Name: t.Names[0] + " coffee", Quantity: 2, UnitPrice: eur(350), LineTotal: eur(700)}},
		Subtotal: eur(700), Discount: eur(0), Total: eur(700), Payment: pantry.PayComplimentary, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store().InsertOrders(context.Background(), t.Org.ID, []pantry.Order{o}, ""); err != nil {
		tb.Fatalf("insert order: %v", err)
	}
	return o.ID
}

// Fingerprint summarizes an organization's rows, read as the superuser
// (bypassing RLS) so that it sees what is really there.
func Fingerprint(tb testing.TB, s *Server, orgID string) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var fp string
	err = conn.QueryRow(ctx, `SELECT concat_ws(' ',
		(SELECT string_agg(name || timezone || coalesce(archived_at::text, ''), ',' ORDER BY id) FROM sites WHERE organization_id = $1),
		(SELECT string_agg(name || floor || code || coalesce(archived_at::text, ''), ',' ORDER BY id) FROM spaces WHERE organization_id = $1),
		(SELECT string_agg(name || price_amount::text, ',' ORDER BY id) FROM items WHERE organization_id = $1),
		(SELECT string_agg(item_id::text || available::text || coalesce(price_amount::text, ''), ',' ORDER BY item_id) FROM site_menu_items WHERE organization_id = $1),
		(SELECT sum(delta) FROM stock_movements WHERE organization_id = $1),
		(SELECT string_agg(site_id::text || item_id::text || par::text, ',' ORDER BY site_id, item_id) FROM par_levels WHERE organization_id = $1),
		(SELECT string_agg(code || value::text, ',' ORDER BY id) FROM coupons WHERE organization_id = $1),
		(SELECT string_agg(code || name, ',' ORDER BY id) FROM cost_centers WHERE organization_id = $1),
		(SELECT string_agg(username || coalesce(revoked_at::text, ''), ',' ORDER BY id) FROM tablets WHERE organization_id = $1),
		(SELECT string_agg(email || role || coalesce(disabled_at::text, ''), ',' ORDER BY id) FROM users WHERE organization_id = $1),
		(SELECT string_agg(name || coalesce(revoked_at::text, ''), ',' ORDER BY id) FROM api_keys WHERE organization_id = $1),
		(SELECT string_agg(id::text || applied_seq::text || coalesce(revoked_at::text, ''), ',' ORDER BY id) FROM edge_nodes WHERE organization_id = $1),
		(SELECT string_agg(id::text || coalesce(reapplied_at::text, ''), ',' ORDER BY id) FROM dead_letters WHERE organization_id = $1),
		(SELECT count(*) FROM enrollment_tokens WHERE organization_id = $1),
		(SELECT concat_ws('|', issuer, client_id, md5(client_secret), allowed_domains::text, role_claim, role_map::text, default_role, enabled::text, updated_at::text)
			FROM sso_configs WHERE organization_id = $1),
		(SELECT count(*) FROM audit_log WHERE organization_id = $1))`, orgID).Scan(&fp)
	if err != nil {
		tb.Fatal(err)
	}
	return fp
}
