package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// tenantA is one organization with one of everything, made through the API.
type tenantA struct {
	org                                                         cloudtest.Org
	site, space, item, coupon, costCenter, tablet, user, apiKey string
	order                                                       string
	node, nodeCredential, deadLetter                            string
	names                                                       []string // strings only A's data contains
}

func must(tb testing.TB, r cloudtest.Response, status int, what string) {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
}

func idOf(tb testing.TB, r cloudtest.Response) string {
	tb.Helper()
	var v struct{ ID string }
	r.Decode(tb, &v)
	return v.ID
}

func seedTenant(tb testing.TB, s *cloudtest.Server, name string) tenantA {
	tb.Helper()
	t := tenantA{org: s.NewOrg(tb, name)}
	tok := t.org.Token
	secret := "secret-" + name
	t.names = []string{secret}
	r := s.Do(tb, "POST", "/api/v1/sites", tok, map[string]string{"name": secret + " HQ", "timezone": "Europe/Berlin", "currency": "EUR"})
	must(tb, r, 201, "create site")
	t.site = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/sites/"+t.site+"/spaces", tok, map[string]string{"name": secret + " room", "floor": "3"})
	must(tb, r, 201, "create space")
	t.space = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/items", tok, map[string]any{"name": secret + " coffee", "price": map[string]any{"amount": 350, "currency": "EUR"}, "tags": []string{"hot"}, "allergens": []string{}, "low_stock_threshold": 5})
	must(tb, r, 201, "create item")
	t.item = idOf(tb, r)
	must(tb, s.Do(tb, "PUT", "/api/v1/sites/"+t.site+"/menu", tok, map[string]any{"items": []map[string]any{{"item_id": t.item, "available": true}}}), 200, "put menu")
	must(tb, s.Do(tb, "POST", "/api/v1/sites/"+t.site+"/stock/movements", tok, map[string]any{"item_id": t.item, "delta": 40, "reason": "restock"}), 201, "restock")
	now := time.Now().UTC()
	r = s.Do(tb, "POST", "/api/v1/coupons", tok, map[string]any{"code": strings.ToUpper(name) + "10", "kind": "percent", "value": 10, "valid_from": now, "valid_to": now.Add(24 * time.Hour)})
	must(tb, r, 201, "create coupon")
	t.coupon = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/cost-centers", tok, map[string]string{"code": "CC-" + name, "name": secret + " facilities"})
	must(tb, r, 201, "create cost center")
	t.costCenter = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/sites/"+t.site+"/tablets", tok, map[string]string{"name": secret + " tablet"})
	must(tb, r, 201, "create tablet")
	t.tablet = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/users", tok, map[string]any{"email": "viewer@" + name + ".test", "name": secret + " viewer", "role": "viewer", "password": cloudtest.Password})
	must(tb, r, 201, "create user")
	t.user = idOf(tb, r)
	r = s.Do(tb, "POST", "/api/v1/api-keys", tok, map[string]string{"name": secret + " key"})
	must(tb, r, 201, "create API key")
	t.apiKey = idOf(tb, r)
	t.order = insertOrder(tb, s, t)
	t.node, t.nodeCredential = enrollNode(tb, s, t.org.Token, t.site)
	t.deadLetter = pushPoison(tb, s, t.org.Token, t.node, t.nodeCredential)
	return t
}

// enrollNode enrolls an edge node for site through the API, as `pantry
// edge init` does, and returns its id and credential.
func enrollNode(tb testing.TB, s *cloudtest.Server, token, site string) (id, credential string) {
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

// pushPoison pushes one event the cloud cannot apply and returns the id
// of the dead letter it became.
func pushPoison(tb testing.TB, s *cloudtest.Server, token, node, credential string) string {
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

// insertOrder stores an order as an edge's sync would deliver it.
func insertOrder(tb testing.TB, s *cloudtest.Server, t tenantA) string {
	tb.Helper()
	now := time.Now().UTC().Add(-time.Hour)
	eur := func(n int64) pantry.Money { return pantry.Money{Amount: n, Currency: "EUR"} }
	o := pantry.Order{
		ID: pantry.NewID(), SiteID: t.site, SpaceID: t.space, Status: pantry.StatusPlaced, DeliverTo: pantry.DeliverRoom,
		Lines:    []pantry.OrderLine{{ItemID: t.item, Name: t.names[0] + " coffee", Quantity: 2, UnitPrice: eur(350), LineTotal: eur(700)}},
		Subtotal: eur(700), Discount: eur(0), Total: eur(700), Payment: pantry.PayComplimentary, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store().InsertOrders(context.Background(), t.org.ID, []pantry.Order{o}, ""); err != nil {
		tb.Fatalf("insert order: %v", err)
	}
	return o.ID
}

type attack struct {
	path string
	body any
	// asNode aims the attack with B's edge node credential instead of
	// B's owner's access token (the sync routes take only those).
	asNode bool
	// want, when set, is the one status the attack must get.
	want int
}

// attacks names, for every route, how organization B aims it at A's data.
func attacks(a tenantA) map[string]attack {
	site := "/api/v1/sites/" + a.site
	return map[string]attack{
		"GET /api/v1/sites":                                        {path: "/api/v1/sites", body: nil},
		"POST /api/v1/sites":                                       {path: "/api/v1/sites", body: map[string]string{"name": "x", "timezone": "UTC", "currency": "EUR"}},
		"GET /api/v1/sites/:site_id":                               {path: site, body: nil},
		"PATCH /api/v1/sites/:site_id":                             {path: site, body: map[string]string{"name": "pwned"}},
		"GET /api/v1/sites/:site_id/spaces":                        {path: site + "/spaces", body: nil},
		"POST /api/v1/sites/:site_id/spaces":                       {path: site + "/spaces", body: map[string]string{"name": "pwned"}},
		"GET /api/v1/sites/:site_id/spaces/:space_id":              {path: site + "/spaces/" + a.space, body: nil},
		"PATCH /api/v1/sites/:site_id/spaces/:space_id":            {path: site + "/spaces/" + a.space, body: map[string]string{"name": "pwned"}},
		"POST /api/v1/sites/:site_id/spaces/:space_id/rotate-code": {path: site + "/spaces/" + a.space + "/rotate-code", body: nil},
		"GET /api/v1/items":                                        {path: "/api/v1/items", body: nil},
		"POST /api/v1/items":                                       {path: "/api/v1/items", body: map[string]any{"name": "x", "price": map[string]any{"amount": 1, "currency": "EUR"}}},
		"GET /api/v1/items/:item_id":                               {path: "/api/v1/items/" + a.item, body: nil},
		"PATCH /api/v1/items/:item_id":                             {path: "/api/v1/items/" + a.item, body: map[string]string{"name": "pwned"}},
		"GET /api/v1/sites/:site_id/menu":                          {path: site + "/menu", body: nil},
		"PUT /api/v1/sites/:site_id/menu":                          {path: site + "/menu", body: map[string]any{"items": []any{}}},
		"GET /api/v1/sites/:site_id/stock":                         {path: site + "/stock", body: nil},
		"GET /api/v1/sites/:site_id/stock/movements":               {path: site + "/stock/movements", body: nil},
		"POST /api/v1/sites/:site_id/stock/movements":              {path: site + "/stock/movements", body: map[string]any{"item_id": a.item, "delta": -40, "reason": "waste"}},
		"GET /api/v1/sites/:site_id/tablets":                       {path: site + "/tablets", body: nil},
		"POST /api/v1/sites/:site_id/tablets":                      {path: site + "/tablets", body: map[string]string{"name": "pwned"}},
		"DELETE /api/v1/sites/:site_id/tablets/:tablet_id":         {path: site + "/tablets/" + a.tablet, body: nil},
		"GET /api/v1/coupons":                                      {path: "/api/v1/coupons", body: nil},
		"POST /api/v1/coupons":                                     {path: "/api/v1/coupons", body: map[string]any{"code": "X", "kind": "fixed", "value": 1, "valid_from": time.Now(), "valid_to": time.Now().Add(time.Hour)}},
		"GET /api/v1/coupons/:coupon_id":                           {path: "/api/v1/coupons/" + a.coupon, body: nil},
		"PATCH /api/v1/coupons/:coupon_id":                         {path: "/api/v1/coupons/" + a.coupon, body: map[string]any{"value": 100}},
		"GET /api/v1/cost-centers":                                 {path: "/api/v1/cost-centers", body: nil},
		"POST /api/v1/cost-centers":                                {path: "/api/v1/cost-centers", body: map[string]string{"code": "X"}},
		"PATCH /api/v1/cost-centers/:cost_center_id":               {path: "/api/v1/cost-centers/" + a.costCenter, body: map[string]string{"name": "pwned"}},
		"GET /api/v1/users":                                        {path: "/api/v1/users", body: nil},
		"POST /api/v1/users":                                       {path: "/api/v1/users", body: map[string]any{"email": "b@b.test", "role": "viewer", "password": cloudtest.Password}},
		"GET /api/v1/users/:user_id":                               {path: "/api/v1/users/" + a.user, body: nil},
		"PATCH /api/v1/users/:user_id":                             {path: "/api/v1/users/" + a.user, body: map[string]any{"disabled": true}},
		"GET /api/v1/api-keys":                                     {path: "/api/v1/api-keys", body: nil},
		"POST /api/v1/api-keys":                                    {path: "/api/v1/api-keys", body: map[string]string{"name": "x"}},
		"DELETE /api/v1/api-keys/:key_id":                          {path: "/api/v1/api-keys/" + a.apiKey, body: nil},
		"GET /api/v1/me":                                           {path: "/api/v1/me", body: nil},
		"GET /api/v1/orders":                                       {path: "/api/v1/orders", body: nil},
		"GET /api/v1/orders/:order_id":                             {path: "/api/v1/orders/" + a.order, body: nil},
		"GET /api/v1/payments":                                     {path: "/api/v1/payments?site_id=" + a.site, body: nil},
		"GET /api/v1/audit-log":                                    {path: "/api/v1/audit-log?resource_id=" + a.site, body: nil},
		"POST /api/v1/sites/:site_id/enrollment-tokens":            {path: site + "/enrollment-tokens", body: map[string]any{}},
		"GET /api/v1/nodes":                                        {path: "/api/v1/nodes"},
		"GET /api/v1/nodes/:node_id":                               {path: "/api/v1/nodes/" + a.node},
		"DELETE /api/v1/nodes/:node_id":                            {path: "/api/v1/nodes/" + a.node},
		"GET /api/v1/dead-letters":                                 {path: "/api/v1/dead-letters?node_id=" + a.node},
		"POST /api/v1/dead-letters/:dead_letter_id/reapply":        {path: "/api/v1/dead-letters/" + a.deadLetter + "/reapply"},
		// An enrollment token of A's cannot be guessed; a made-up one is refused.
		"POST /sync/v1/enroll": {path: syncproto.PathEnroll, body: syncproto.EnrollRequest{Version: 1, Token: pantry.NewSecret(32), Name: "x"}, want: http.StatusUnauthorized},
		// B's node pushing and pulling as A's node is refused outright.
		"POST /sync/v1/push": {path: syncproto.PathPush, asNode: true, want: http.StatusForbidden, body: syncproto.PushRequest{Version: 1, NodeID: a.node, SentAt: time.Now().UTC(),
			Events: []syncproto.Event{{Seq: 1, ID: pantry.NewID(), Type: "session.opened", Schema: 1, EntityID: pantry.NewID(), Payload: []byte(`{}`), CreatedAt: time.Now().UTC()}}}},
		"POST /sync/v1/pull":              {path: syncproto.PathPull, asNode: true, want: http.StatusForbidden, body: syncproto.PullRequest{Version: 1, NodeID: a.node}},
		"GET /api/v1/reports/consumption": {path: "/api/v1/reports/consumption?group_by=item&from=" + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339) + "&to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), body: nil},
	}
}

// public routes need no principal, and name no tenant's data.
var public = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /api/v1/openapi.json": true,
	"POST /api/v1/auth/login": true, "POST /api/v1/auth/refresh": true, "POST /api/v1/auth/logout": true,
}

// TestTenantIsolation aims every route, with organization B's owner's
// credentials, at organization A's ids: each answers 404 or 403 (or, for
// lists and creates, only B's own data), never shows any of A's data, and
// A's rows and audit log are exactly as they were. A route added without
// an attack here fails the test.
func TestTenantIsolation(t *testing.T) {
	s := cloudtest.Start(t)
	a := seedTenant(t, s, "alpha")
	b := seedTenant(t, s, "beta")
	table := attacks(a)
	var missing []string
	for _, route := range s.Routes() {
		if _, ok := table[route]; !ok && !public[route] {
			missing = append(missing, route)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("routes without a tenant-isolation attack:\n  %s", strings.Join(missing, "\n  "))
	}
	before := fingerprint(t, s, a.org.ID)
	aIDs := []string{a.site, a.space, a.item, a.coupon, a.costCenter, a.tablet, a.user, a.apiKey, a.order, a.org.ID, a.org.OwnerID, a.node, a.deadLetter}
	for route, at := range table {
		t.Run(route, func(t *testing.T) {
			method := strings.Fields(route)[0]
			token := b.org.Token
			if at.asNode {
				token = b.nodeCredential
			}
			r := s.Do(t, method, at.path, token, at.body)
			hasID := strings.Contains(route, ":")
			switch {
			case at.want != 0 && r.Status != at.want:
				t.Fatalf("B on A's %s: status %d, want %d: %s", route, r.Status, at.want, r.Body)
			case hasID && r.Status != http.StatusNotFound && r.Status != http.StatusForbidden:
				t.Fatalf("B on A's %s: status %d, want 404 or 403: %s", route, r.Status, r.Body)
			case !hasID && r.Status >= 500:
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			sent := at.path + fmt.Sprint(at.body) // an id B sent may be echoed back
			for _, leak := range append(aIDs, a.names...) {
				if strings.Contains(string(r.Body), leak) && !strings.Contains(sent, leak) {
					t.Fatalf("response shows A's data (%s): %s", leak, r.Body)
				}
			}
		})
	}
	if after := fingerprint(t, s, a.org.ID); after != before {
		t.Fatalf("A's data changed under B's attacks:\n before %s\n after  %s", before, after)
	}
}

// fingerprint summarizes an organization's rows, read as the superuser
// (bypassing RLS) so that it sees what is really there.
func fingerprint(tb testing.TB, s *cloudtest.Server, orgID string) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var fp string
	err = conn.QueryRow(ctx, `SELECT concat_ws(' ',
		(SELECT string_agg(name || coalesce(archived_at::text, ''), ',' ORDER BY id) FROM sites WHERE organization_id = $1),
		(SELECT string_agg(name || code, ',' ORDER BY id) FROM spaces WHERE organization_id = $1),
		(SELECT string_agg(name || price_amount::text, ',' ORDER BY id) FROM items WHERE organization_id = $1),
		(SELECT string_agg(item_id::text || available::text, ',' ORDER BY item_id) FROM site_menu_items WHERE organization_id = $1),
		(SELECT sum(delta) FROM stock_movements WHERE organization_id = $1),
		(SELECT string_agg(code || value::text, ',' ORDER BY id) FROM coupons WHERE organization_id = $1),
		(SELECT string_agg(code || name, ',' ORDER BY id) FROM cost_centers WHERE organization_id = $1),
		(SELECT string_agg(username || coalesce(revoked_at::text, ''), ',' ORDER BY id) FROM tablets WHERE organization_id = $1),
		(SELECT string_agg(email || role || coalesce(disabled_at::text, ''), ',' ORDER BY id) FROM users WHERE organization_id = $1),
		(SELECT string_agg(name || coalesce(revoked_at::text, ''), ',' ORDER BY id) FROM api_keys WHERE organization_id = $1),
		(SELECT string_agg(id::text || applied_seq::text || coalesce(revoked_at::text, ''), ',' ORDER BY id) FROM edge_nodes WHERE organization_id = $1),
		(SELECT string_agg(id::text || coalesce(reapplied_at::text, ''), ',' ORDER BY id) FROM dead_letters WHERE organization_id = $1),
		(SELECT count(*) FROM enrollment_tokens WHERE organization_id = $1),
		(SELECT count(*) FROM audit_log WHERE organization_id = $1))`, orgID).Scan(&fp)
	if err != nil {
		tb.Fatal(err)
	}
	return fp
}
