package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// SeedLoad is for benchmarks and tests only. It lives in a regular file,
// not a _test.go one, so that the benchmarks of other packages (cloud/web's
// dashboard pages over HTTP) seed exactly the load this package's
// BenchmarkDashboardReads does; nothing in the pantry binary calls it, so
// the linker leaves it out.

// SeedSpec sizes the synthetic load SeedLoad creates.
type SeedSpec struct {
	Orgs, SitesPerOrg, SpacesPerSite, Items int
	// Orders are shared evenly among the organizations, and within one
	// uniformly among its sites and their rooms.
	Orders int
	// Days is how far back the orders go: their times are uniform over
	// the Days days before Now.
	Days int
	Now  time.Time // the end of the period; zero: time.Now()
	// Seed makes the catalog and the orders (their ids, times and
	// contents) reproducible for a given Now; organizations' ids are new
	// every time.
	Seed uint64
}

// SeedBatch is how many orders SeedLoad writes per transaction.
const SeedBatch = 10_000

// Seeded lists what SeedLoad created.
type Seeded struct{ Orgs []SeededOrg }

// SeededOrg is one organization SeedLoad created.
type SeededOrg struct {
	ID    string
	Sites []SeededSite
	Items []string
}

// SeededSite is one site SeedLoad created, with its rooms.
type SeededSite struct {
	ID, Timezone, Currency string
	Spaces                 []string
}

// seedTimezones and seedCurrencies are what seeded sites rotate through:
// enough zones that day grouping crosses midnight differently.
var (
	seedTimezones  = []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London", "UTC", "Australia/Sydney"}
	seedCurrencies = []string{"EUR", "USD", "GBP", "CHF"}
)

// SeedLoad fills the store with a synthetic load for benchmarks: spec.Orgs
// organizations (each with an owner whose password hash is a dummy, so
// nobody can log in as one), their sites, rooms, items and cost centers,
// an opening restock of every item at every site, and spec.Orders orders
// with their lines, payments, status history and stock sale movements.
// Orders older than four hours are delivered (4% cancelled, their stock
// returned); younger ones are still open. Everything is written as the
// service role through InTenant, set-based, SeedBatch orders per
// transaction, several organizations at once. Run VACUUM ANALYZE as the
// tables' owner afterwards: the service role may not, and the planner
// needs the statistics.
func SeedLoad(ctx context.Context, s *Store, spec SeedSpec) (Seeded, error) {
	if err := spec.check(); err != nil {
		return Seeded{}, err
	}
	if spec.Now.IsZero() {
		spec.Now = time.Now()
	}
	spec.Now = spec.Now.UTC().Truncate(time.Microsecond)
	out := Seeded{Orgs: make([]SeededOrg, spec.Orgs)}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(spec.Orgs, max(2, runtime.GOMAXPROCS(0))) {
		wg.Go(func() {
			for i := range work {
				org, err := seedOrg(ctx, s, spec, i)
				if err != nil {
					cancel(fmt.Errorf("organization %d: %w", i+1, err))
					return
				}
				out.Orgs[i] = org
			}
		})
	}
	for i := 0; i < spec.Orgs && ctx.Err() == nil; i++ {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return Seeded{}, fmt.Errorf("seed load: %w", err)
	}
	return out, nil
}

func (spec SeedSpec) check() error {
	for _, f := range []struct {
		name      string
		v, lo, hi int
	}{
		{"orgs", spec.Orgs, 1, 10_000}, {"sites per org", spec.SitesPerOrg, 1, 1_000},
		{"spaces per site", spec.SpacesPerSite, 1, 1_000}, {"items", spec.Items, 1, 10_000},
		{"orders", spec.Orders, 0, 100_000_000}, {"days", spec.Days, 1, 3_660},
	} {
		if f.v < f.lo || f.v > f.hi {
			return pantry.Errorf(pantry.EINVALID, "seed: %s must be between %d and %d", f.name, f.lo, f.hi)
		}
	}
	return nil
}

// seedOrg creates organization i, its catalog and its share of orders.
func seedOrg(ctx context.Context, s *Store, spec SeedSpec, i int) (SeededOrg, error) {
	rng := rand.New(rand.NewPCG(spec.Seed, uint64(i)))
	created, err := s.CreateOrganization(ctx, cloud.NewOrganization{
		Name: "Seeded org " + strconv.Itoa(i+1), OwnerName: "Seed owner",
		OwnerEmail:        "seed-" + strconv.Itoa(i+1) + "-" + pantry.NewSecret(6) + "@example.com",
		OwnerPasswordHash: "$seed$not-a-password-hash",
	})
	if err != nil {
		return SeededOrg{}, err
	}
	c := newSeedCatalog(spec, i, rng)
	c.org.ID = created.OrgID
	if err := s.InTenant(ctx, c.org.ID, func(tx pgx.Tx) error { return c.insert(ctx, tx, spec) }); err != nil {
		return SeededOrg{}, fmt.Errorf("catalog: %w", err)
	}
	n := spec.Orders / spec.Orgs
	if i < spec.Orders%spec.Orgs {
		n++
	}
	// Chronological, batch after batch, as edges would send them: every
	// time-ordered index grows at its end.
	start := spec.Now.Add(-time.Duration(spec.Days) * 24 * time.Hour)
	times := make([]time.Time, n)
	for k := range times {
		times[k] = start.Add(time.Duration(rng.Int64N(int64(spec.Now.Sub(start))))).Truncate(time.Microsecond)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for lo := 0; lo < n; lo += SeedBatch {
		orders := make([]pantry.Order, 0, SeedBatch)
		for _, t := range times[lo:min(lo+SeedBatch, n)] {
			orders = append(orders, c.order(t, spec.Now, rng))
		}
		if err := s.InTenant(ctx, c.org.ID, func(tx pgx.Tx) error { return c.insertOrders(ctx, tx, orders, rng) }); err != nil {
			return SeededOrg{}, fmt.Errorf("orders %d to %d: %w", lo+1, lo+len(orders), err)
		}
	}
	return c.org, nil
}

// seedCatalog is one seeded organization's catalog, and what its orders
// are made from.
type seedCatalog struct {
	org         SeededOrg
	prices      []int64
	costCenters []string
}

func newSeedCatalog(spec SeedSpec, i int, rng *rand.Rand) *seedCatalog {
	c := &seedCatalog{costCenters: []string{"CC-100", "CC-200", "CC-300"}}
	currency := seedCurrencies[i%len(seedCurrencies)]
	since := spec.Now.Add(-time.Duration(spec.Days+1) * 24 * time.Hour)
	for j := range spec.SitesPerOrg {
		site := SeededSite{ID: idAt(since, rng), Timezone: seedTimezones[(i+j)%len(seedTimezones)], Currency: currency}
		for range spec.SpacesPerSite {
			site.Spaces = append(site.Spaces, idAt(since, rng))
		}
		c.org.Sites = append(c.org.Sites, site)
	}
	for range spec.Items {
		c.org.Items = append(c.org.Items, idAt(since, rng))
		c.prices = append(c.prices, 50*(1+rng.Int64N(12))) // 0.50 to 6.00
	}
	return c
}

// insert writes the catalog and an opening restock of every item at every
// site, large enough that sales never take a level below zero.
func (c *seedCatalog) insert(ctx context.Context, tx pgx.Tx, spec SeedSpec) error {
	var site, siteName, tz, cur, space, spaceSite, spaceName, code, item, itemName []string
	var mv seedMovements
	opening := spec.Now.Add(-time.Duration(spec.Days+1) * 24 * time.Hour)
	for j, s := range c.org.Sites {
		site, siteName = append(site, s.ID), append(siteName, "Building "+strconv.Itoa(j+1))
		tz, cur = append(tz, s.Timezone), append(cur, s.Currency)
		for k, sp := range s.Spaces {
			space, spaceSite = append(space, sp), append(spaceSite, s.ID)
			spaceName, code = append(spaceName, "Room "+strconv.Itoa(k+1)), append(code, pantry.NewSecret(16))
		}
		for _, it := range c.org.Items {
			mv.add(pantry.NewID(), s.ID, it, pantry.MaxStockDelta, pantry.StockRestock, "", "cloud", opening)
		}
	}
	for k, it := range c.org.Items {
		item, itemName = append(item, it), append(itemName, "Item "+strconv.Itoa(k+1))
	}
	var b pgx.Batch
	b.Queue(`INSERT INTO sites (organization_id, id, name, timezone, currency)
		SELECT g.id, t.* FROM organizations g, unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS t WHERE g.id = $1`, c.org.ID, site, siteName, tz, cur)
	b.Queue(`INSERT INTO spaces (organization_id, id, site_id, name, code)
		SELECT g.id, t.* FROM organizations g, unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS t WHERE g.id = $1`, c.org.ID, space, spaceSite, spaceName, code)
	b.Queue(`INSERT INTO items (organization_id, id, name, price_amount, currency)
		SELECT g.id, t.*, $5 FROM organizations g, unnest($2::uuid[], $3::text[], $4::bigint[]) AS t WHERE g.id = $1`, c.org.ID, item, itemName, c.prices, cur[0])
	ccIDs := make([]string, len(c.costCenters))
	for k := range ccIDs {
		ccIDs[k] = pantry.NewID()
	}
	b.Queue(`INSERT INTO cost_centers (organization_id, id, code, name)
		SELECT g.id, t.id, t.code, 'Department ' || t.code FROM organizations g, unnest($2::uuid[], $3::text[]) AS t(id, code) WHERE g.id = $1`,
		c.org.ID, ccIDs, c.costCenters)
	mv.queue(&b, c.org.ID)
	return tx.SendBatch(ctx, &b).Close()
}

// order makes one order placed at t: one to four distinct items, one to
// three of each; a tenth with a 10% coupon; two fifths on a cost center.
func (c *seedCatalog) order(t, now time.Time, rng *rand.Rand) pantry.Order {
	site := c.org.Sites[rng.IntN(len(c.org.Sites))]
	cur := site.Currency
	o := pantry.Order{
		ID: idAt(t, rng), SiteID: site.ID, SpaceID: site.Spaces[rng.IntN(len(site.Spaces))],
		DeliverTo: pantry.DeliverRoom, Payment: pantry.PayComplimentary, CatalogRev: 1, CreatedAt: t,
	}
	for _, k := range rng.Perm(len(c.org.Items))[:min(1+rng.IntN(4), len(c.org.Items))] {
		qty := 1 + rng.IntN(3)
		price := pantry.Money{Amount: c.prices[k], Currency: cur}
		o.Lines = append(o.Lines, pantry.OrderLine{ItemID: c.org.Items[k], Name: "Item " + strconv.Itoa(k+1),
			Quantity: qty, UnitPrice: price, LineTotal: pantry.Money{Amount: price.Amount * int64(qty), Currency: cur}})
		o.Subtotal.Amount += price.Amount * int64(qty)
	}
	if rng.IntN(10) == 0 {
		o.Coupon, o.Discount.Amount = "WELCOME10", pantry.PercentOf(o.Subtotal.Amount, 10)
	}
	if rng.IntN(5) < 2 {
		o.Payment, o.CostCenter = pantry.PayCostCenter, c.costCenters[rng.IntN(len(c.costCenters))]
	}
	o.Total.Amount = o.Subtotal.Amount - o.Discount.Amount
	o.Subtotal.Currency, o.Discount.Currency, o.Total.Currency = cur, cur, cur
	switch age := now.Sub(t); {
	case age < 4*time.Hour:
		o.Status = []pantry.OrderStatus{pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing, pantry.StatusReady}[rng.IntN(4)]
		o.UpdatedAt = t.Add(time.Duration(rng.Int64N(int64(age) + 1)))
	case rng.IntN(25) == 0:
		o.Status, o.CancelReason, o.UpdatedAt = pantry.StatusCancelled, "room no longer needed", t.Add(2*time.Minute)
	default:
		o.Status, o.UpdatedAt = pantry.StatusDelivered, t.Add(time.Duration(5+rng.IntN(25))*time.Minute)
	}
	return o
}

// insertOrders writes orders and their stock movements in tx.
func (c *seedCatalog) insertOrders(ctx context.Context, tx pgx.Tx, orders []pantry.Order, rng *rand.Rand) error {
	b, err := newOrderBatch(orders, func(at time.Time) string { return idAt(at, rng) })
	if err != nil {
		return err
	}
	if err := b.insert(ctx, tx, c.org.ID, ""); err != nil {
		return err
	}
	var mv seedMovements
	for _, o := range orders {
		for _, l := range o.Lines {
			mv.add(idAt(o.CreatedAt, rng), o.SiteID, l.ItemID, -int64(l.Quantity), pantry.StockSale, o.ID, "edge", o.CreatedAt)
			if o.Status == pantry.StatusCancelled {
				mv.add(idAt(o.UpdatedAt, rng), o.SiteID, l.ItemID, int64(l.Quantity), pantry.StockReturn, o.ID, "edge", o.UpdatedAt)
			}
		}
	}
	var batch pgx.Batch
	mv.queue(&batch, c.org.ID)
	return tx.SendBatch(ctx, &batch).Close()
}

// seedMovements are stock movements column by column.
type seedMovements struct {
	id, site, item, reason, order, origin []string
	delta                                 []int64
	at                                    []time.Time
}

func (m *seedMovements) add(id, site, item string, delta int64, reason pantry.StockReason, order, origin string, at time.Time) {
	m.id, m.site, m.item, m.delta = append(m.id, id), append(m.site, site), append(m.item, item), append(m.delta, delta)
	m.reason, m.order, m.origin, m.at = append(m.reason, string(reason)), append(m.order, order), append(m.origin, origin), append(m.at, at)
}

func (m *seedMovements) queue(b *pgx.Batch, orgID string) {
	// The cloud's movements join their site's pull feed (0005_sync.sql),
	// numbered after what the feed holds already.
	b.Queue(`INSERT INTO stock_movements (organization_id, id, site_id, item_id, delta, reason, order_id, origin, created_at, feed_seq)
		SELECT s.organization_id, t.id, t.site_id, t.item_id, t.delta, t.reason, NULLIF(t.order_id, '')::uuid, t.origin, t.at,
			CASE WHEN t.origin = 'cloud' THEN s.stock_seq + row_number() OVER (PARTITION BY s.organization_id, t.site_id, t.origin ORDER BY t.at, t.id) END
		FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
		AS t(id, site_id, item_id, delta, reason, order_id, origin, at)
		JOIN sites s ON s.organization_id = $1 AND s.id = t.site_id`,
		orgID, m.id, m.site, m.item, m.delta, m.reason, m.order, m.origin, m.at)
	b.Queue(`UPDATE sites s SET stock_seq = n.seq
		FROM (SELECT site_id, max(feed_seq) AS seq FROM stock_movements WHERE organization_id = $1 AND feed_seq IS NOT NULL GROUP BY 1) n
		WHERE s.organization_id = $1 AND s.id = n.site_id`, orgID)
}

// idAt makes a UUIDv7 (RFC 9562) for time t from rng: what an edge would
// have named a record born at t, so that seeded ids sort with their
// times as real ones do, and are reproducible.
func idAt(t time.Time, rng *rand.Rand) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], uint64(t.UnixMilli())<<16|rng.Uint64()&0x0fff|0x7000)
	binary.BigEndian.PutUint64(u[8:16], rng.Uint64()&0x3fffffffffffffff|0x8000000000000000)
	return u.String()
}
