package cloud

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The charge-back file is what a finance team imports to bill each cost
// center for what its meetings ordered: one line per cost center and
// currency over a period, read from the consumption report grouped by
// cost center (GroupByCostCenter). Orders charged to no cost center
// (complimentary ones) are nobody's to pay and are left out.

// chargebackHeader is the first line of WriteChargebackCSV's output.
var chargebackHeader = []string{"cost_center_code", "cost_center_name", "currency", "orders", "items", "amount", "period_start", "period_end"}

// WriteChargebackCSV writes rows, a consumption report by cost center, as
// RFC 4180 CSV for the period from first to last (both days included,
// as YYYY-MM-DD). Amounts are decimal major units of their currency
// ("12.50", "1250" for yen); codes and names are escaped against formula
// injection as WriteCSV's are.
func WriteChargebackCSV(w io.Writer, rows []ReportRow, first, last time.Time) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(chargebackHeader); err != nil {
		return fmt.Errorf("write charge-back csv: %w", err)
	}
	start, end := first.Format(time.DateOnly), last.Format(time.DateOnly)
	for _, r := range rows {
		if r.Key == "" {
			continue
		}
		rec := []string{csvText(r.Key), csvText(r.Label), r.Spend.Currency, strconv.FormatInt(r.Orders, 10),
			strconv.FormatInt(r.Items, 10), r.Spend.Major(), start, end}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write charge-back csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write charge-back csv: %w", err)
	}
	return nil
}

// CSVCell is s as a CSV cell that a spreadsheet shows as text: one that
// starts like a formula (=, +, -, @, tab, carriage return) gets a
// leading apostrophe. Every CSV the cloud writes with names people typed
// uses it.
func CSVCell(s string) string { return csvText(s) }
