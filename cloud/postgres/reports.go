package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// Consumption reports what an organization's sites consumed and spent
// over a time range, grouped as f asks, ordered by label, key and
// currency (for days, chronologically).
func (s *Store) Consumption(ctx context.Context, orgID string, f cloud.ReportFilter) ([]cloud.ReportRow, error) {
	sql, args, err := reportQuery(orgID, f)
	if err != nil || sql == "" {
		return []cloud.ReportRow{}, err
	}
	var rows []cloud.ReportRow
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		r, _ := tx.Query(ctx, sql, args...)
		rows, err = pgx.CollectRows(r, func(row pgx.CollectableRow) (cloud.ReportRow, error) {
			var r cloud.ReportRow
			err := row.Scan(&r.Key, &r.Label, &r.Spend.Currency, &r.Orders, &r.Items, &r.Spend.Amount, &r.Discount.Amount)
			r.Discount.Currency = r.Spend.Currency
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consumption report: %w", err)
	}
	return rows, nil
}

// grouping says how one kind of report groups. Orders are aggregated on
// raw (the cheapest expression that tells groups apart, with the joins
// in rowJoins it needs per order), and only then are the few groups
// turned into a key and label (with labelJoins): names are looked up once
// per group, not once per order. In labelJoins, $1 is the organization.
// Groupings no finer than a site and a day read the daily rollup instead,
// aggregated on rollup (over order_days r; see daysQuery).
type grouping struct{ raw, rowJoins, rollup, key, label, labelJoins string }

var groupings = map[string]grouping{
	cloud.GroupBySite: {raw: "o.site_id", rollup: "r.site_id", key: "g.k::text", label: "s.name",
		labelJoins: " JOIN sites s ON s.organization_id = $1 AND s.id = g.k"},
	cloud.GroupBySpace: {raw: "o.space_id", key: "g.k::text", label: "s.name || ' / ' || sp.name",
		labelJoins: " JOIN spaces sp ON sp.organization_id = $1 AND sp.id = g.k JOIN sites s ON s.organization_id = $1 AND s.id = sp.site_id"},
	// Cost centers' codes are unique whatever their case, and orders
	// may spell them either way.
	cloud.GroupByCostCenter: {raw: "lower(o.cost_center)", key: "coalesce(cc.code, g.k)", label: "coalesce(nullif(cc.name, ''), cc.code, g.k)",
		labelJoins: " LEFT JOIN cost_centers cc ON cc.organization_id = $1 AND lower(cc.code) = g.k"},
	cloud.GroupByDay: {raw: "(o.created_at AT TIME ZONE s.timezone)::date", rollup: "r.day",
		rowJoins: " JOIN sites s ON s.organization_id = o.organization_id AND s.id = o.site_id",
		key:      "to_char(g.k, 'YYYY-MM-DD')", label: "to_char(g.k, 'YYYY-MM-DD')"},
	// Lines rather than orders: see itemsSQL.
	cloud.GroupByItem: {key: "g.k::text", label: "i.name",
		labelJoins: " JOIN items i ON i.organization_id = $1 AND i.id = g.k"},
}

// reportQuery builds Consumption's query; it is empty when f can match
// nothing. Reports by site or day read the daily rollup (daysQuery). The
// others read the orders of the range through orders_org_time (or
// orders_site_time, site by site), with their units stored on the order
// (migration 0002): only the item report reads lines.
func reportQuery(orgID string, f cloud.ReportFilter) (sql string, args []any, err error) {
	if err := cloud.CheckReportRange(f.From, f.To); err != nil {
		return "", nil, err
	}
	g, ok := groupings[f.GroupBy]
	if !ok {
		return "", nil, pantry.Errorf(pantry.EINVALID, "group_by must be one of site, space, cost_center, day, item")
	}
	if g.rollup != "" {
		return daysQuery(orgID, g, f)
	}
	var q query
	q.where("o.organization_id = " + q.arg(orgID))
	none, err := q.sites("o.site_id", f.SiteIDs, "")
	if err != nil {
		return "", nil, err
	}
	q.where("o.status <> 'cancelled'")
	if err := q.timeRange("o.created_at", f.From, f.To); err != nil {
		return "", nil, err
	}
	if none {
		return "", nil, nil
	}
	groups := ordersSQL(g, q.clause())
	if f.GroupBy == cloud.GroupByItem {
		groups = itemsSQL(q.clause())
	}
	sql = `SELECT ` + g.key + `, ` + g.label + `, g.currency, g.orders, g.items, g.spend, g.discount
		FROM (` + groups + `) g` + g.labelJoins + `
		ORDER BY 2, 1, 3`
	return sql, q.args, nil
}

// daysQuery is reportQuery for groupings the daily rollup can answer.
// A rollup row counts whole when all its orders lie in the range (its
// first_at and last_at do); a day the range cuts (typically the first
// and the last) is summed from its orders, through orders_site_time
// between the row's bounds. That is exact for any range and timezone, and
// reads ~30 rows per site for a month instead of every order.
//
// Every order of the range lies on a local day within two days of the
// range's UTC dates (no zone is 24 hours from UTC), which bounds the
// rows read by the primary key.
func daysQuery(orgID string, g grouping, f cloud.ReportFilter) (sql string, args []any, err error) {
	var q query
	q.where("r.organization_id = " + q.arg(orgID))
	none, err := q.sites("r.site_id", f.SiteIDs, "")
	if err != nil || none {
		return "", nil, err
	}
	const day = 24 * time.Hour
	q.where("r.day BETWEEN " + q.arg(f.From.UTC().Add(-2*day).Format(time.DateOnly)) + "::date AND " +
		q.arg(f.To.UTC().Add(2*day).Format(time.DateOnly)) + "::date")
	from, to := q.arg(f.From), q.arg(f.To)
	whole := "r.first_at >= " + from + " AND r.last_at < " + to
	groups := `SELECT k, currency, sum(orders)::bigint AS orders, sum(items)::bigint AS items,
			sum(spend)::bigint AS spend, sum(discount)::bigint AS discount
		FROM (
			SELECT ` + g.rollup + ` AS k, r.currency, r.orders, r.units AS items, r.spend, r.discount
			FROM order_days r
			WHERE ` + q.clause() + ` AND ` + whole + `
			UNION ALL
			SELECT ` + g.rollup + `, o.currency, 1, o.units, o.total, o.discount
			FROM order_days r
			JOIN sites s ON s.organization_id = r.organization_id AND s.id = r.site_id
			JOIN orders o ON o.organization_id = r.organization_id AND o.site_id = r.site_id
				AND o.created_at >= greatest(r.first_at, ` + from + `) AND o.created_at <= r.last_at AND o.created_at < ` + to + `
			WHERE ` + q.clause() + ` AND NOT (` + whole + `) AND r.first_at < ` + to + ` AND r.last_at >= ` + from + `
				AND o.currency = r.currency AND o.status <> 'cancelled'
				AND (o.created_at AT TIME ZONE s.timezone)::date = r.day
		) x
		GROUP BY 1, 2`
	sql = `SELECT ` + g.key + `, ` + g.label + `, g.currency, g.orders, g.items, g.spend, g.discount
		FROM (` + groups + `) g` + g.labelJoins + `
		ORDER BY 2, 1, 3`
	return sql, q.args, nil
}

// ordersSQL aggregates the orders matching where by g.raw and currency.
func ordersSQL(g grouping, where string) string {
	return `SELECT ` + g.raw + ` AS k, o.currency, count(*) AS orders, sum(o.units)::bigint AS items,
			sum(o.total)::bigint AS spend, sum(o.discount)::bigint AS discount
		FROM orders o` + g.rowJoins + `
		WHERE ` + where + `
		GROUP BY 1, 2`
}

// itemsSQL aggregates the lines of the orders matching where by item and
// currency. Each line's share of its order's discount is computed in
// numeric, so that no product can overflow.
func itemsSQL(where string) string {
	return `SELECT l.item_id AS k, o.currency, count(DISTINCT o.id) AS orders, sum(l.quantity)::bigint AS items,
			sum(l.line_total - d.share)::bigint AS spend, sum(d.share)::bigint AS discount
		FROM orders o
		JOIN order_lines l ON l.organization_id = o.organization_id AND l.order_id = o.id
		CROSS JOIN LATERAL (SELECT CASE WHEN o.subtotal > 0
			THEN round(o.discount::numeric * l.line_total / o.subtotal)::bigint ELSE 0 END AS share) d
		WHERE ` + where + `
		GROUP BY 1, 2`
}
