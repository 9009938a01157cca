package postgres

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pantry/pantry/internal/pantry"
)

// What a consumption report groups by.
const (
	GroupBySite       = "site"
	GroupBySpace      = "space" // a room
	GroupByCostCenter = "cost_center"
	GroupByDay        = "day" // the calendar day in the site's timezone
	GroupByItem       = "item"
)

// MaxReportSpan bounds a report's time range: a report reads every order
// of the range, and a year is what a dashboard asks for.
const MaxReportSpan = 366 * 24 * time.Hour

// ReportFilter asks for a consumption report: an organization's orders
// with From <= created_at < To (both required; half-open, so a month's
// report and the next month's never count an order twice), optionally
// only of some sites, grouped by one of the GroupBy constants.
type ReportFilter struct {
	// SiteIDs restricts the report to these sites: nil means every site,
	// a non-nil empty slice none.
	SiteIDs  []string
	From, To time.Time
	GroupBy  string
}

// ReportRow is one group of a consumption report, in one currency: a
// group whose orders were paid in two currencies has a row for each.
// Cancelled orders count nowhere.
type ReportRow struct {
	// Key identifies the group: a site, space or item id, a cost center's
	// code (as the catalog spells it; lower-cased if the catalog has no
	// such code; "" for orders charged to none), or a day as YYYY-MM-DD.
	Key string `json:"key"`
	// Label names the group for people: a site's name, "site / room",
	// a cost center's name, an item's name, or the day.
	Label  string `json:"label"`
	Orders int64  `json:"orders"`
	Items  int64  `json:"items"` // units: the sum of the lines' quantities
	// Spend is what the orders cost, discounts deducted: the sum of their
	// totals. By item, an order's discount is shared among its lines in
	// proportion to their totals (rounded per line, so the item rows of
	// an order may differ from its total by a minor unit or so).
	Spend    pantry.Money `json:"spend"`
	Discount pantry.Money `json:"discount"`
}

// Consumption reports what an organization's sites consumed and spent
// over a time range, grouped as f asks, ordered by label, key and
// currency (for days, chronologically).
func (s *Store) Consumption(ctx context.Context, orgID string, f ReportFilter) ([]ReportRow, error) {
	sql, args, err := reportQuery(orgID, f)
	if err != nil || sql == "" {
		return []ReportRow{}, err
	}
	var rows []ReportRow
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		r, _ := tx.Query(ctx, sql, args...)
		rows, err = pgx.CollectRows(r, func(row pgx.CollectableRow) (ReportRow, error) {
			var r ReportRow
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
	GroupBySite: {raw: "o.site_id", rollup: "r.site_id", key: "g.k::text", label: "s.name",
		labelJoins: " JOIN sites s ON s.organization_id = $1 AND s.id = g.k"},
	GroupBySpace: {raw: "o.space_id", key: "g.k::text", label: "s.name || ' / ' || sp.name",
		labelJoins: " JOIN spaces sp ON sp.organization_id = $1 AND sp.id = g.k JOIN sites s ON s.organization_id = $1 AND s.id = sp.site_id"},
	// Cost centers' codes are unique whatever their case, and orders
	// may spell them either way.
	GroupByCostCenter: {raw: "lower(o.cost_center)", key: "coalesce(cc.code, g.k)", label: "coalesce(nullif(cc.name, ''), cc.code, g.k)",
		labelJoins: " LEFT JOIN cost_centers cc ON cc.organization_id = $1 AND lower(cc.code) = g.k"},
	GroupByDay: {raw: "(o.created_at AT TIME ZONE s.timezone)::date", rollup: "r.day",
		rowJoins: " JOIN sites s ON s.organization_id = o.organization_id AND s.id = o.site_id",
		key:      "to_char(g.k, 'YYYY-MM-DD')", label: "to_char(g.k, 'YYYY-MM-DD')"},
	// Lines rather than orders: see itemsSQL.
	GroupByItem: {key: "g.k::text", label: "i.name",
		labelJoins: " JOIN items i ON i.organization_id = $1 AND i.id = g.k"},
}

// reportQuery builds Consumption's query; it is empty when f can match
// nothing. Reports by site or day read the daily rollup (daysQuery). The
// others read the orders of the range through orders_org_time (or
// orders_site_time, site by site), with their units stored on the order
// (migration 0002): only the item report reads lines.
func reportQuery(orgID string, f ReportFilter) (sql string, args []any, err error) {
	if err := checkReportRange(f.From, f.To); err != nil {
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
	if f.GroupBy == GroupByItem {
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
func daysQuery(orgID string, g grouping, f ReportFilter) (sql string, args []any, err error) {
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

func checkReportRange(from, to time.Time) error {
	switch {
	case from.IsZero() || to.IsZero():
		return pantry.Errorf(pantry.EINVALID, "a report needs both from and to")
	case !from.Before(to):
		return pantry.Errorf(pantry.EINVALID, "from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	case to.Sub(from) > MaxReportSpan:
		return pantry.Errorf(pantry.EINVALID, "a report covers at most %d days", int(MaxReportSpan/(24*time.Hour)))
	}
	return nil
}

// csvHeader is the first line of WriteCSV's output.
var csvHeader = []string{"key", "label", "currency", "orders", "items", "spend", "discount"}

// WriteCSV writes rows as RFC 4180 CSV (CRLF line ends, quoting where
// needed) after a header line: key, label, currency, orders, items,
// spend, discount. Amounts are decimal major units ("12.50", or "1250"
// for yen). A key or label that a spreadsheet would run as a formula
// (starting with =, +, -, @, tab or carriage return) is prefixed with an
// apostrophe: names are typed by admins, and a report is opened by others.
func WriteCSV(w io.Writer, rows []ReportRow) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, r := range rows {
		rec := []string{csvText(r.Key), csvText(r.Label), r.Spend.Currency,
			strconv.FormatInt(r.Orders, 10), strconv.FormatInt(r.Items, 10),
			majorUnits(r.Spend), majorUnits(r.Discount)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// minorDigits lists the ISO 4217 currencies whose minor unit is not a
// hundredth; every other currency has two decimals.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// majorUnits formats m's amount in major units with its currency's number
// of decimals, without rounding and without floats.
func majorUnits(m pantry.Money) string {
	digits, ok := minorDigits[m.Currency]
	if !ok {
		digits = 2
	}
	s := strconv.FormatInt(m.Amount, 10)
	sign := ""
	if m.Amount < 0 {
		sign, s = "-", s[1:]
	}
	if digits == 0 {
		return sign + s
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return sign + s[:len(s)-digits] + "." + s[len(s)-digits:]
}
