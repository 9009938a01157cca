package api_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// tenantA is one organization with one of everything (cloudtest.Tenant).
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
	t := cloudtest.SeedTenant(tb, s, name)
	return tenantA{org: t.Org, site: t.Site, space: t.Space, item: t.Item, coupon: t.Coupon, costCenter: t.CostCenter,
		tablet: t.Tablet, user: t.User, apiKey: t.APIKey, order: t.Order, node: t.Node, nodeCredential: t.NodeCredential,
		deadLetter: t.DeadLetter, names: t.Names}
}

func enrollNode(tb testing.TB, s *cloudtest.Server, token, site string) (id, credential string) {
	tb.Helper()
	return cloudtest.EnrollNode(tb, s, token, site)
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
		"POST /sync/v1/pull": {path: syncproto.PathPull, asNode: true, want: http.StatusForbidden, body: syncproto.PullRequest{Version: 1, NodeID: a.node}},
		// The node is the credential's: B's node learns of itself only
		// (TestSyncNodeInfo checks it is B's), never of A's.
		"GET /sync/v1/node":               {path: syncproto.PathNode, asNode: true, want: http.StatusOK},
		"GET /api/v1/reports/consumption": {path: "/api/v1/reports/consumption?group_by=item&from=" + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339) + "&to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), body: nil},
	}
}

// public routes need no principal, and name no tenant's data.
var public = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /api/v1/openapi.json": true,
	"POST /api/v1/auth/login": true, "POST /api/v1/auth/refresh": true, "POST /api/v1/auth/logout": true,
}

// apiRoute reports whether route ("GET /path") is the API's or the sync
// protocol's, or health: the rest are the dashboard's pages.
func apiRoute(route string) bool {
	path := strings.Fields(route)[1]
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/sync/") || public[route]
}

// TestTenantIsolation aims every route, with organization B's owner's
// credentials, at organization A's ids: each answers 404 or 403 (or, for
// lists and creates, only B's own data), never shows any of A's data, and
// A's rows and audit log are exactly as they were. A route added without
// an attack here fails the test.
func TestTenantIsolation(t *testing.T) {
	s := cloudtest.Start(t)
	checkTenantIsolation(t, s, seedTenant(t, s, "alpha"), seedTenant(t, s, "beta"))
}

// checkTenantIsolation is TestTenantIsolation's suite, B's attacks on A,
// against a server whose tenants are already seeded: TestRebalanceCitus
// runs it after moving A's shards to another node.
func checkTenantIsolation(t *testing.T, s *cloudtest.Server, a, b tenantA) {
	table := attacks(a)
	var missing []string
	for _, route := range s.Routes() {
		if !apiRoute(route) {
			continue // a dashboard page: cloud/web's isolation suite
		}
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

func fingerprint(tb testing.TB, s *cloudtest.Server, orgID string) string {
	tb.Helper()
	return cloudtest.Fingerprint(tb, s, orgID)
}
