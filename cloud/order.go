package cloud

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// StatusOpen is the OrderFilter.Status that selects every order still
// being worked on (placed, accepted, preparing or ready).
const StatusOpen = "open"

// OrderFilter selects orders. Zero fields select everything. Times are
// half-open: From is inclusive and To exclusive, so consecutive ranges
// (one day, the next day) never count an order twice; From after To is
// EINVALID, From equal to To selects nothing.
type OrderFilter struct {
	// SiteIDs restricts the list to these sites: nil means every site of
	// the organization, a non-nil empty slice means none (a facility
	// manager without sites sees nothing, not everything).
	SiteIDs []string
	SiteID  string
	SpaceID string
	// Status is one order status, or StatusOpen.
	Status   string
	From, To time.Time // on created_at: From <= created_at < To
}

// StatusChange is one step of an order's status history.
type StatusChange struct {
	ID     string             `json:"id"`
	From   pantry.OrderStatus `json:"from,omitempty"` // empty for the first step
	To     pantry.OrderStatus `json:"to"`
	Reason string             `json:"reason,omitempty"`
	Actor  string             `json:"actor,omitempty"`
	At     time.Time          `json:"at"`
}

// OrderDetail is one order with its full status history, oldest first.
type OrderDetail struct {
	pantry.Order
	History []StatusChange `json:"history"`
	// NodeID and NodeName name the edge node that took the order ("" if
	// it was not stored by a node's push).
	NodeID   string `json:"node_id,omitempty"`
	NodeName string `json:"node_name,omitempty"`
}

// PaymentFilter selects payments. Zero fields select everything; times
// are half-open like OrderFilter's (From inclusive, To exclusive).
type PaymentFilter struct {
	// SiteIDs restricts the list to the payments of these sites' orders:
	// nil means every site, a non-nil empty slice none.
	SiteIDs  []string
	SiteID   string
	From, To time.Time // on the payment's created_at
	// Method is "complimentary" or "cost_center".
	Method string
}

// StockMovement is one entry of a site's stock ledger, made at the site's
// edge (sales, returns, staff counts) or in the cloud (admins).
type StockMovement struct {
	ID      string             `json:"id"`
	SiteID  string             `json:"site_id"`
	ItemID  string             `json:"item_id"`
	Delta   int64              `json:"delta"`
	Reason  pantry.StockReason `json:"reason"`
	OrderID string             `json:"order_id,omitempty"`
	Origin  string             `json:"origin"` // "edge" or "cloud"
	// Actor is who made a cloud movement, as "<actor type>:<id>".
	Actor     string    `json:"actor,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CheckCloudMovement checks a movement an admin makes.
func CheckCloudMovement(delta int64, reason pantry.StockReason) error {
	switch reason {
	case pantry.StockRestock, pantry.StockWaste, pantry.StockCount, pantry.StockAdjustment:
	default:
		return pantry.Errorf(pantry.EINVALID, "reason must be restock, waste, count or adjustment")
	}
	if delta == 0 || delta < -pantry.MaxStockDelta || delta > pantry.MaxStockDelta {
		return pantry.Errorf(pantry.EINVALID, "delta must be between -%d and %d, and not 0", pantry.MaxStockDelta, pantry.MaxStockDelta)
	}
	return nil
}

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

// CheckReportRange checks a report's range: both ends given, in order,
// and at most MaxReportSpan apart.
func CheckReportRange(from, to time.Time) error {
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
			r.Spend.Major(), r.Discount.Major()}
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

// csvHeader is the first line of WriteCSV's output.
var csvHeader = []string{"key", "label", "currency", "orders", "items", "spend", "discount"}
