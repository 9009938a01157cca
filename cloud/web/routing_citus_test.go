package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/server"
)

// TestCitusDashboardRouting (issue 14, "routing"): every query the
// dashboard runs for a tenant is a single-shard router query on Citus.
// The cloud runs on a distributed database with
// citus.multi_task_query_log_level at "error" on its connections
// (cloudtest.StartRouted), so a page whose query fans out to more than
// one shard fails. Signed in as the owner of a tenant with data, every
// page and form of the dashboard (the isolation suite's table, so that a
// page added there is routed here too, aimed at the tenant's own data)
// must answer as it does on a second cloud without the setting (on plain
// PostgreSQL unless PANTRY_TEST_DB=citus), and nothing the routed cloud
// logs may be a multi-task query. The API and the sync protocol are
// cloud/api's TestCitusRouting.
func TestCitusDashboardRouting(t *testing.T) {
	allowIdP := func(cfg *server.Config) { cfg.SSO.AllowPrivateNetworks = true } // the test identity provider is on loopback
	routed, logged := cloudtest.StartRouted(t, allowIdP)
	var want, got []string
	t.Run("Scenario", func(t *testing.T) {
		t.Run("Reference", func(t *testing.T) {
			t.Parallel()
			want = dashboardScenario(t, cloudtest.Start(t, allowIdP))
		})
		t.Run("Routed", func(t *testing.T) {
			t.Parallel()
			got = dashboardScenario(t, routed)
		})
	})
	if t.Failed() {
		t.Fatalf("the routed cloud logged:\n%s", logged)
	}
	if !slices.Equal(want, got) {
		t.Errorf("the routed cloud answered otherwise than the reference:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	if log := logged.String(); strings.Contains(log, cloudtest.MultiTaskError) || strings.Contains(log, "level=ERROR") {
		t.Errorf("the routed cloud logged errors:\n%s", log)
	}
}

// dashboardScenario signs in as the owner of a tenant with data and
// calls every page and form of the dashboard on its own data, each with
// a session of its own (a form may sign out or disable): the pages
// first, then the forms, each group in order. It returns what each
// answered; a 5xx fails the test but the scenario goes on, to say what
// else is not routed.
func dashboardScenario(t *testing.T, s *cloudtest.Server) []string {
	a := cloudtest.SeedTenant(t, s, "alpha")
	cloudtest.SeedTenant(t, s, "beta") // a neighbour, on whichever shard its id hashes to
	table := allAttacks(t, a)
	var missing []string
	for _, route := range s.Routes() {
		if _, ok := table[route]; dashboardRoute(route) && !ok && !signedOut[route] {
			missing = append(missing, route)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("dashboard routes not in the isolation suite's table:\n  %s", strings.Join(missing, "\n  "))
	}
	routes := make([]string, 0, len(table))
	for route := range table {
		routes = append(routes, route)
	}
	slices.SortFunc(routes, func(x, y string) int {
		if fx, fy := table[x].form != nil, table[y].form != nil; fx != fy {
			if fx {
				return 1
			}
			return -1
		}
		return strings.Compare(x, y)
	})
	var out []string
	visit := func(email, route string, at pageAttack) {
		c := newClient(t, s)
		if p := c.signIn(t, email, cloudtest.Password); p.Status != http.StatusSeeOther {
			t.Fatalf("%s signs in: %d\n%s", email, p.Status, p.Body)
		}
		var p page
		switch {
		case at.stream:
			p = listenWhile(t, c, at.path, func() { cloudtest.InsertOrder(t, s, a) }, `"site_id":"`+a.Site+`"`)
		case at.form != nil:
			form := url.Values{"csrf": {csrf(t, c.get(t, "/"))}}
			for k, v := range at.form {
				form[k] = v
			}
			p = c.do(t, "POST", at.path, form)
		default:
			p = c.get(t, at.path)
		}
		if p.Status >= 500 {
			t.Errorf("%s (%s): %d\n%s", route, at.path, p.Status, p.Body)
		}
		out = append(out, fmt.Sprintf("%s %s: %d", email, route, p.Status))
	}
	for _, route := range routes {
		visit(a.Org.OwnerEmail, route, table[route])
	}
	for _, x := range routingExtras(a) {
		visit(a.Org.OwnerEmail, x.name, x.pageAttack)
	}
	// A facility manager's pages filter every read on the sites they
	// manage. The signed-out single sign-on pages are left out: with
	// the settings saved above they would ask the (unreachable) identity
	// provider.
	r := s.Do(t, "POST", "/api/v1/users", a.Org.Token, map[string]any{"email": "fm@alpha.test", "name": "FM", "role": "facility_manager",
		"password": cloudtest.Password, "site_ids": []string{a.Site}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create a facility manager: %d %s", r.Status, r.Body)
	}
	for _, route := range routes {
		if at := table[route]; at.form == nil && !strings.HasPrefix(route, "GET /login") {
			visit("fm@alpha.test", route, at)
		}
	}
	// Single sign-on: a person signs in twice through the test identity
	// provider, made just in time the first time and updated the second.
	idp := ssoSetUp(t, s, a)
	for _, try := range []string{"first", "again"} {
		c := newClient(t, s)
		back := ssoCallback(t, s, idp, ssoBegin(t, c, idp, a.Org.ID), "fred@acme.test")
		p := c.get(t, back)
		home := c.get(t, "/")
		out = append(out, fmt.Sprintf("single sign-on (%s): callback %d, home %d", try, p.Status, home.Status))
		if p.Status >= 500 || home.Status >= 500 {
			t.Errorf("single sign-on (%s): callback %d, home %d\n%s", try, p.Status, home.Status, p.Body)
		}
	}
	return out
}

// routingExtra is a step of dashboardScenario beyond the isolation
// suite's table, named without ids.
type routingExtra struct {
	name string
	pageAttack
}

// routingExtras are what changes the dashboard's SQL beyond a page's
// plain view: its filters, every grouping of the reports, and forms that
// the isolation suite sends invalid on purpose, here valid.
func routingExtras(a cloudtest.Tenant) []routingExtra {
	x := []routingExtra{
		{"GET /orders?status&site", pageAttack{path: "/orders?status=placed&site=" + a.Site}},
		{"GET /stock?site", pageAttack{path: "/stock?site=" + a.Site}},
		{"GET /admin/audit?resource", pageAttack{path: "/admin/audit?resource=site&actor_id=" + a.Org.OwnerID}},
		{"GET /admin/dead-letters?show=all", pageAttack{path: "/admin/dead-letters?show=all"}},
		{"POST /admin/api-keys (valid)", pageAttack{path: "/admin/api-keys", form: url.Values{"name": {"routing key"}}}},
		{"POST /admin/sso (valid)", pageAttack{path: "/admin/sso", form: adminSSOForm()}},
		{"POST /catalog/coupons (valid)", pageAttack{path: "/catalog/coupons", form: url.Values{"code": {"ROUTING5"}, "kind": {"percent"},
			"value": {"5"}, "valid_from": {"2030-01-01T09:00"}, "valid_to": {"2030-02-01T09:00"}, "zone": {"UTC"}, "active": {"on"}}}}, // the sites are in UTC by now
		{"POST /catalog/cost-centers (valid)", pageAttack{path: "/catalog/cost-centers", form: url.Values{"code": {"CC-routing"},
			"name": {"routing facilities"}, "active": {"on"}}}},
	}
	for _, by := range []string{"site", "space", "cost_center", "day", "item"} {
		x = append(x, routingExtra{"GET /reports?group_by=" + by + "&site", pageAttack{path: "/reports?group_by=" + by + "&site=" + a.Site}},
			routingExtra{"GET /reports/consumption.csv?group_by=" + by, pageAttack{path: "/reports/consumption.csv?group_by=" + by}})
	}
	return x
}
