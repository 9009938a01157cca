package postgres

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// TestConsumption checks every grouping against sums worked out by hand.
//
// The orders, from = 2025-03-10 00:00 UTC, to = 2025-03-12 00:00 UTC
// (Coffee 2.50, Sandwich 4.00; site 0 "Berlin HQ" is in Europe/Berlin,
// site 1 "London" in UTC):
//
//	a  Berlin Room A  03-10 00:00 (= from)  2 Coffee + 1 Sandwich  9.00 - 0.90 = 8.10  CC-1
//	b  Berlin Room B  03-10 23:30  1 Coffee                         2.50         (Berlin: 03-11 00:30)
//	c  London Room A  03-10 23:30  3 Sandwich, still ready         12.00         cc-1 (any case)
//	d  London Room A  03-11 08:00  4 Coffee, cancelled: excluded
//	e  Berlin Room A  03-12 00:00 (= to): excluded
//	f  Berlin Room A  one microsecond before from: excluded
//	g  London Room B  03-11 12:00  1 Coffee in USD                  2.50 USD
func TestConsumption(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	from, to := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)
	late := from.Add(23*time.Hour + 30*time.Minute)
	mustInsert(t, s, sh.org,
		sh.order(orderSpec{site: 0, space: 0, at: from, qty: [2]int{2, 1}, discount: 90, costCenter: "CC-1"}),
		sh.order(orderSpec{site: 0, space: 1, at: late, qty: [2]int{1, 0}}),
		sh.order(orderSpec{site: 1, space: 0, at: late, status: pantry.StatusReady, qty: [2]int{0, 3}, costCenter: "cc-1"}),
		sh.order(orderSpec{site: 1, space: 0, at: from.Add(32 * time.Hour), status: pantry.StatusCancelled, qty: [2]int{4, 0}}),
		sh.order(orderSpec{site: 0, space: 0, at: to, qty: [2]int{1, 0}}),
		sh.order(orderSpec{site: 0, space: 0, at: from.Add(-time.Microsecond), qty: [2]int{1, 0}}),
		sh.order(orderSpec{site: 1, space: 1, at: from.Add(36 * time.Hour), qty: [2]int{1, 0}, currency: "USD"}),
	)
	site0, site1, room := sh.sites[0], sh.sites[1], sh.spaces
	for name, tc := range map[string]struct {
		f    cloud.ReportFilter
		want []cloud.ReportRow
	}{
		"Site": {cloud.ReportFilter{GroupBy: cloud.GroupBySite}, []cloud.ReportRow{
			row(site0, "Berlin HQ", "EUR", 2, 4, 1060, 90),
			row(site1, "London", "EUR", 1, 3, 1200, 0),
			row(site1, "London", "USD", 1, 1, 250, 0),
		}},
		"Space": {cloud.ReportFilter{GroupBy: cloud.GroupBySpace}, []cloud.ReportRow{
			row(room[0][0], "Berlin HQ / Room A", "EUR", 1, 3, 810, 90),
			row(room[0][1], "Berlin HQ / Room B", "EUR", 1, 1, 250, 0),
			row(room[1][0], "London / Room A", "EUR", 1, 3, 1200, 0),
			row(room[1][1], "London / Room B", "USD", 1, 1, 250, 0),
		}},
		"CostCenter": {cloud.ReportFilter{GroupBy: cloud.GroupByCostCenter}, []cloud.ReportRow{
			row("", "", "EUR", 1, 1, 250, 0),
			row("", "", "USD", 1, 1, 250, 0),
			row("CC-1", "Finance", "EUR", 2, 6, 2010, 90),
		}},
		// b lands on the 11th in Berlin; c, at the same instant, on the
		// 10th in London.
		"Day": {cloud.ReportFilter{GroupBy: cloud.GroupByDay}, []cloud.ReportRow{
			row("2025-03-10", "2025-03-10", "EUR", 2, 6, 2010, 90),
			row("2025-03-11", "2025-03-11", "EUR", 1, 1, 250, 0),
			row("2025-03-11", "2025-03-11", "USD", 1, 1, 250, 0),
		}},
		// a's 0.90 discount is shared 5:4 between its Coffee (5.00) and
		// its Sandwich (4.00).
		"Item": {cloud.ReportFilter{GroupBy: cloud.GroupByItem}, []cloud.ReportRow{
			row(sh.items[0], "Coffee", "EUR", 2, 3, 700, 50),
			row(sh.items[0], "Coffee", "USD", 1, 1, 250, 0),
			row(sh.items[1], "Sandwich", "EUR", 2, 4, 1560, 40),
		}},
		"SomeSites": {cloud.ReportFilter{GroupBy: cloud.GroupBySite, SiteIDs: []string{site1}}, []cloud.ReportRow{
			row(site1, "London", "EUR", 1, 3, 1200, 0),
			row(site1, "London", "USD", 1, 1, 250, 0),
		}},
		"NoSites": {cloud.ReportFilter{GroupBy: cloud.GroupBySite, SiteIDs: []string{}}, []cloud.ReportRow{}},
	} {
		t.Run(name, func(t *testing.T) {
			tc.f.From, tc.f.To = from, to
			got, err := s.Consumption(t.Context(), sh.org, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got\n%s\nwant\n%s", rowsString(got), rowsString(tc.want))
			}
		})
	}
}

func row(key, label, currency string, orders, items, spend, discount int64) cloud.ReportRow {
	return cloud.ReportRow{Key: key, Label: label, Orders: orders, Items: items,
		Spend: pantry.Money{Amount: spend, Currency: currency}, Discount: pantry.Money{Amount: discount, Currency: currency}}
}

func rowsString(rows []cloud.ReportRow) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("  ")
		b.WriteString(strings.Join([]string{r.Key, r.Label, r.Spend.String(), r.Discount.String()}, " | "))
		b.WriteString(" orders=" + strconv.FormatInt(r.Orders, 10) + " items=" + strconv.FormatInt(r.Items, 10) + "\n")
	}
	return b.String()
}

func TestConsumptionBadInput(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, f := range map[string]cloud.ReportFilter{
		"FromAfterTo":    {From: from.Add(time.Hour), To: from, GroupBy: cloud.GroupByDay},
		"EmptyRange":     {From: from, To: from, GroupBy: cloud.GroupByDay},
		"NoFrom":         {To: from, GroupBy: cloud.GroupByDay},
		"NoTo":           {From: from, GroupBy: cloud.GroupByDay},
		"OverAYear":      {From: from, To: from.Add(cloud.MaxReportSpan + time.Second), GroupBy: cloud.GroupByDay},
		"UnknownGroupBy": {From: from, To: from.Add(time.Hour), GroupBy: "week"},
		"NoGroupBy":      {From: from, To: from.Add(time.Hour)},
		"InjectGroupBy":  {From: from, To: from.Add(time.Hour), GroupBy: "1; DROP TABLE orders"},
		"BadSiteID":      {From: from, To: from.Add(time.Hour), GroupBy: cloud.GroupBySite, SiteIDs: []string{"x"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Consumption(t.Context(), sh.org, f)
			wantCode(t, err, pantry.EINVALID)
		})
	}
	t.Run("ExactlyTheLongestRange", func(t *testing.T) {
		if _, err := s.Consumption(t.Context(), sh.org, cloud.ReportFilter{From: from, To: from.Add(cloud.MaxReportSpan), GroupBy: cloud.GroupByDay}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConsumptionByDayIsExact checks the reports that read the daily
// rollup (by day and by site) against sums worked out in Go from the
// orders themselves, over random ranges that cut days anywhere. The sites
// sit in zones where days are not 24 hours long: Santiago's clock runs
// back from midnight to 23:00 on 2025-04-06 (so a wall-clock date repeats
// an hour), Berlin skips an hour on 2025-03-30, and Kathmandu is 5:45
// from UTC. Halfway through, both sites change zone, which must move
// every stored order to its new day.
func TestConsumptionByDayIsExact(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	start := time.Date(2025, 3, 27, 0, 0, 0, 0, time.UTC)
	const span = 14 * 24 * time.Hour
	// Instants around the transitions, where a bug would hide.
	sharp := []time.Time{
		time.Date(2025, 4, 6, 2, 59, 59, 999999000, time.UTC), time.Date(2025, 4, 6, 3, 0, 0, 0, time.UTC),
		time.Date(2025, 4, 6, 3, 30, 0, 0, time.UTC), time.Date(2025, 4, 6, 4, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 30, 1, 0, 0, 0, time.UTC), time.Date(2025, 3, 30, 22, 0, 0, 0, time.UTC),
		time.Date(2025, 4, 1, 18, 15, 0, 0, time.UTC),
	}
	instant := func() time.Time {
		if rng.IntN(4) == 0 {
			return sharp[rng.IntN(len(sharp))].Add(time.Duration(rng.IntN(3)-1) * time.Microsecond)
		}
		return start.Add(time.Duration(rng.Int64N(int64(span))))
	}
	var orders []pantry.Order
	batch := func(n int) {
		var b []pantry.Order
		for range n {
			spec := orderSpec{site: rng.IntN(2), space: rng.IntN(2), at: instant(), qty: [2]int{1 + rng.IntN(3), rng.IntN(2)}}
			switch rng.IntN(10) {
			case 0:
				spec.status = pantry.StatusCancelled
			case 1:
				spec.currency = "USD"
			case 2:
				spec.discount = 50
			}
			b = append(b, sh.order(spec))
		}
		mustInsert(t, s, sh.org, b...)
		orders = append(orders, b...)
	}
	zones := map[string]string{sh.sites[0]: "Europe/Berlin", sh.sites[1]: "UTC"}
	for range 3 {
		batch(60)
	}
	for site, tz := range map[string]string{sh.sites[0]: "America/Santiago", sh.sites[1]: "Asia/Kathmandu"} {
		if _, err := s.UpdateSite(t.Context(), sh.org, cloud.Actor{Type: "system"}, site, cloud.SiteUpdate{Timezone: &tz}); err != nil {
			t.Fatal(err)
		}
		zones[site] = tz
	}
	for range 3 {
		batch(60)
	}

	names := map[string]string{sh.sites[0]: "Berlin HQ", sh.sites[1]: "London"}
	want := func(f cloud.ReportFilter) []cloud.ReportRow {
		type key struct{ k, cur string }
		sums := map[key]*cloud.ReportRow{}
		for _, o := range orders {
			if o.Status == pantry.StatusCancelled || o.CreatedAt.Before(f.From) || !o.CreatedAt.Before(f.To) {
				continue
			}
			k := key{o.SiteID, o.Total.Currency}
			label := names[o.SiteID]
			if f.GroupBy == cloud.GroupByDay {
				loc, err := time.LoadLocation(zones[o.SiteID])
				if err != nil {
					t.Fatal(err)
				}
				k.k = o.CreatedAt.In(loc).Format(time.DateOnly)
				label = k.k
			}
			r := sums[k]
			if r == nil {
				r = &cloud.ReportRow{Key: k.k, Label: label, Spend: pantry.Money{Currency: k.cur}, Discount: pantry.Money{Currency: k.cur}}
				sums[k] = r
			}
			r.Orders++
			for _, l := range o.Lines {
				r.Items += int64(l.Quantity)
			}
			r.Spend.Amount += o.Total.Amount
			r.Discount.Amount += o.Discount.Amount
		}
		rows := []cloud.ReportRow{}
		for _, r := range sums {
			rows = append(rows, *r)
		}
		slices.SortFunc(rows, func(a, b cloud.ReportRow) int {
			return cmp.Or(cmp.Compare(a.Label, b.Label), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Spend.Currency, b.Spend.Currency))
		})
		return rows
	}
	check := func(f cloud.ReportFilter) {
		t.Helper()
		got, err := s.Consumption(t.Context(), sh.org, f)
		if err != nil {
			t.Fatal(err)
		}
		if w := want(f); !slices.Equal(got, w) {
			t.Fatalf("%s from %s to %s:\ngot\n%s\nwant\n%s", f.GroupBy, f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano), rowsString(got), rowsString(w))
		}
	}
	for _, g := range []string{cloud.GroupByDay, cloud.GroupBySite} {
		check(cloud.ReportFilter{GroupBy: g, From: start.Add(-24 * time.Hour), To: start.Add(span + 24*time.Hour)})
		for range 40 {
			from, to := instant(), instant()
			if to.Before(from) {
				from, to = to, from
			}
			check(cloud.ReportFilter{GroupBy: g, From: from, To: to.Add(time.Microsecond)})
		}
	}
}
