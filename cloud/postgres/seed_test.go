package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/pgtest"
)

func TestSeedLoad(t *testing.T) {
	t.Parallel()
	url := migratedDB(t, MigrateOptions{})
	s := mustOpen(t, url, Options{})
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	spec := SeedSpec{Orgs: 3, SitesPerOrg: 2, SpacesPerSite: 3, Items: 6, Orders: 3001, Days: 10, Now: now, Seed: 7}
	seeded, err := SeedLoad(t.Context(), s, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(seeded.Orgs), 3; got != want {
		t.Fatalf("seeded %d organizations, want %d", got, want)
	}
	super := mustConnect(t, url)
	var orders, payments, badTotals, sales, lines, negative, outside int
	err = super.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM orders), (SELECT count(*) FROM payments),
		(SELECT count(*) FROM orders o WHERE o.subtotal <> (SELECT sum(line_total) FROM order_lines l
			WHERE l.organization_id = o.organization_id AND l.order_id = o.id)
			OR o.total <> o.subtotal - o.discount),
		(SELECT count(*) FROM stock_movements WHERE reason = 'sale'), (SELECT count(*) FROM order_lines),
		(SELECT count(*) FROM (SELECT sum(delta) AS level FROM stock_movements GROUP BY site_id, item_id) l WHERE level < 0),
		(SELECT count(*) FROM orders WHERE created_at < $1 OR created_at >= $2)`,
		now.Add(-10*24*time.Hour), now).Scan(&orders, &payments, &badTotals, &sales, &lines, &negative, &outside)
	if err != nil {
		t.Fatal(err)
	}
	if orders != 3001 || payments != 3001 || badTotals != 0 || sales != lines || negative != 0 || outside != 0 {
		t.Fatalf("orders %d, payments %d, wrong totals %d, sales %d for %d lines, negative levels %d, outside the period %d",
			orders, payments, badTotals, sales, lines, negative, outside)
	}
	// Each organization's orders are its own: listing through the store
	// finds exactly its share.
	for i, org := range seeded.Orgs {
		r, err := s.Consumption(t.Context(), org.ID, cloud.ReportFilter{From: now.Add(-11 * 24 * time.Hour), To: now, GroupBy: cloud.GroupBySite})
		if err != nil {
			t.Fatal(err)
		}
		if len(r) != 2 {
			t.Errorf("org %d: %d site rows, want 2", i, len(r))
		}
	}
	t.Run("BadSpec", func(t *testing.T) {
		_, err := SeedLoad(t.Context(), s, SeedSpec{Orgs: 0, SitesPerOrg: 1, SpacesPerSite: 1, Items: 1, Days: 1})
		wantCode(t, err, pantry.EINVALID)
	})
}

// TestQueriesUseIndexes checks, at a modest size and with fresh
// statistics, that the dashboard's hot lists read orders through an index
// and never scan the table, with the plan PostgreSQL makes for the values
// (a custom plan) and with the one it may switch to after a statement has
// run a few times (a generic plan, which cannot see the values: the
// partial index orders_open is used only because the open statuses are
// literals in the query).
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	url := migratedDB(t, MigrateOptions{})
	s := mustOpen(t, url, Options{})
	now := time.Now().UTC()
	seeded, err := SeedLoad(t.Context(), s, SeedSpec{Orgs: 2, SitesPerOrg: 5, SpacesPerSite: 4, Items: 20, Orders: 20_000, Days: 365, Now: now, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustConnect(t, url).Exec(t.Context(), "VACUUM ANALYZE"); err != nil {
		t.Fatal(err)
	}
	org, site := seeded.Orgs[0].ID, seeded.Orgs[0].Sites[0].ID
	day := now.Truncate(24 * time.Hour).Add(-2 * 24 * time.Hour)
	month := now.Add(-30 * 24 * time.Hour)
	for name, tc := range map[string]struct {
		sql     func() (string, []any, error)
		indexes []string // any of them
	}{
		"OpenOrdersOfSite": {func() (string, []any, error) {
			sql, args, _, err := orderListQuery(org, cloud.OrderFilter{SiteID: site, Status: cloud.StatusOpen}, cloud.Page{})
			return sql, args, err
		}, []string{"orders_open"}},
		"OrdersOfSiteForDay": {func() (string, []any, error) {
			sql, args, _, err := orderListQuery(org, cloud.OrderFilter{SiteID: site, From: day, To: day.Add(24 * time.Hour)}, cloud.Page{})
			return sql, args, err
		}, []string{"orders_site_time"}},
		"NewestOrdersOfOrganization": {func() (string, []any, error) {
			sql, args, _, err := orderListQuery(org, cloud.OrderFilter{}, cloud.Page{})
			return sql, args, err
		}, []string{"orders_org_time"}},
		"OrdersOfSiteNextPage": {func() (string, []any, error) {
			sql, args, _, err := orderListQuery(org, cloud.OrderFilter{SiteID: site}, cloud.Page{Cursor: encodeCursor(day, pantry.NewID())})
			return sql, args, err
		}, []string{"orders_site_time"}},
		"MonthReportByDay": {func() (string, []any, error) {
			return reportQuery(org, cloud.ReportFilter{From: month, To: now, GroupBy: cloud.GroupByDay})
		}, []string{"orders_org_time", "orders_site_time"}},
	} {
		t.Run(name, func(t *testing.T) {
			sql, args, err := tc.sql()
			if err != nil {
				t.Fatal(err)
			}
			// On Citus a prepared statement over distributed tables is
			// planned anew for its parameters, and the workers run it with
			// the values in it: Citus cannot make a generic plan of these
			// ("could not create distributed plan"), so there is none to
			// check.
			generics := []bool{false, true}
			if pgtest.Citus() {
				generics = generics[:1]
			}
			for _, generic := range generics {
				plan := explainJSON(t, s, org, sql, args, generic)
				scans := planScans(plan)
				if !slices.ContainsFunc(tc.indexes, func(i string) bool { return scans[i] }) || scans["Seq Scan on orders"] {
					t.Errorf("generic=%v: plan reads %v, want orders through %v and no sequential scan of orders:\n%s",
						generic, scans, tc.indexes, plan)
				}
				// The newest orders come in the index's order: sorting
				// them before the page's LIMIT would mean reading every
				// order of the organization. (Sorting the page itself,
				// after the rooms are joined to it, is a few dozen rows.)
				if name == "NewestOrdersOfOrganization" && scans[sortedOrders] {
					t.Errorf("generic=%v: the plan sorts the orders before it takes the page:\n%s", generic, plan)
				}
			}
		})
	}
}

// explainJSON returns EXPLAIN (FORMAT JSON) of sql with args, run as the
// service role in org's tenant transaction. A generic plan is forced
// through a prepared statement and plan_cache_mode.
func explainJSON(tb testing.TB, s *Store, org, sql string, args []any, generic bool) string {
	tb.Helper()
	ctx := context.Background()
	var plan string
	err := s.InTenant(ctx, org, func(tx pgx.Tx) error {
		if !generic {
			return tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan)
		}
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		// PREPARE outlives the transaction: a name of its own, so that a
		// failure here leaves nothing in the way of the next call.
		name := "pantry_explain_" + strings.ReplaceAll(pantry.NewSecret(6), "-", "_")
		if _, err := tx.Exec(ctx, "PREPARE "+name+" AS "+sql); err != nil {
			return err
		}
		literals := make([]string, len(args))
		for i, a := range args {
			literals[i] = sqlLiteral(tb, a)
		}
		if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE "+name+"("+strings.Join(literals, ", ")+")").Scan(&plan); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DEALLOCATE "+name)
		return err
	})
	if err != nil {
		tb.Fatalf("explain: %v", err)
	}
	return plan
}

// sqlLiteral writes a query argument as an SQL literal (EXECUTE takes
// expressions, not parameters).
func sqlLiteral(tb testing.TB, v any) string {
	tb.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch v := v.(type) {
	case string:
		return quote(v)
	case time.Time:
		return quote(v.Format(time.RFC3339Nano))
	case []string:
		return quote("{" + strings.Join(v, ",") + "}")
	}
	tb.Fatalf("no SQL literal for %T", v)
	return ""
}

// planScans lists how a JSON plan reads its relations: the names of the
// indexes it uses, "Seq Scan on t" for each table it scans whole, and
// sortedOrders for orders sorted before any LIMIT. On
// Citus it reads the plans the workers run on the shards, under their
// schema names (shardless).
func planScans(plan string) map[string]bool {
	var root []struct{ Plan planNode }
	if err := json.Unmarshal([]byte(plan), &root); err != nil || len(root) == 0 {
		return map[string]bool{"unparsable plan": true}
	}
	out := map[string]bool{}
	var walk func(n planNode, sorting bool)
	walk = func(n planNode, sorting bool) {
		if n.IndexName != "" {
			out[shardless(n.IndexName)] = true
		}
		if n.NodeType == "Seq Scan" {
			out["Seq Scan on "+shardless(n.RelationName)] = true
		}
		switch n.NodeType {
		case "Sort", "Incremental Sort":
			sorting = true
		case "Limit":
			sorting = false
		}
		if sorting && shardless(n.RelationName) == "orders" {
			out[sortedOrders] = true
		}
		for _, c := range n.Plans {
			walk(c, sorting)
		}
		if n.Distributed != nil {
			for _, task := range n.Distributed.Job.Tasks {
				for _, p := range task.RemotePlan {
					for _, r := range p {
						walk(r.Plan, sorting)
					}
				}
			}
		}
	}
	walk(root[0].Plan, false)
	return out
}

// sortedOrders is planScans' key for a plan that sorts rows of orders
// with no LIMIT between the sort and the scan: every matching order.
const sortedOrders = "Sort of orders"

type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	Plans        []planNode `json:"Plans"`
	// Citus: the tasks of a distributed plan, each with the plan a
	// worker runs for it.
	Distributed *struct {
		Job struct {
			Tasks []struct {
				RemotePlan [][]struct{ Plan planNode } `json:"Remote Plan"`
			}
		}
	} `json:"Distributed Query"`
}
