package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pgtest"
	"github.com/pantry/pantry/syncproto"
)

// TestCitusPushPlans (issue 14, "routing"): every statement the push
// applier (writeEvents) sends for a set of events is, by EXPLAIN on a
// Citus cluster, a router plan of one task on the organization's shard:
// none is planned over every shard, and no INSERT ... SELECT pulls its
// rows to the coordinator (which would COPY them into a table under
// row-level security, and be refused). Two sets: one that opens
// sessions, places, pays, redeems and moves orders and stock, marks an
// item sold out and expires a session; one that moves the orders of
// the first to their next status (both small: pipelined); and a
// catch-up's bigger set (unnamed, one statement at a time). cloud/api's TestCitusRouting checks the
// same statements as they run, with the applier's real parameters, under
// citus.multi_task_query_log_level; this shows the plans themselves.
func TestCitusPushPlans(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewCitusDatabase(t)
	if _, err := Migrate(ctx, url, MigrateOptions{Citus: true}); err != nil {
		t.Fatalf("migrate with Citus: %v", err)
	}
	s := mustOpen(t, url, Options{})
	sh := newShop(t, s, "plans")
	newShop(t, s, "neighbour") // another tenant, on whichever shard its id hashes to
	g := newEdgeSim(t, s, sh)
	node := cloud.Node{OrgID: sh.org, SiteID: sh.sites[0], ID: sh.node}

	first := g.mixed(30)
	for range 2 { // orders still placed when the set ends, for the second
		_, placed := g.place(true)
		first = append(first, placed...)
	}
	first = append(first,
		g.event(syncproto.EventItemAvailability, sh.items[0], syncproto.ItemAvailability{ItemID: sh.items[0], Available: false, Actor: "tablet-1", At: g.at}),
		g.event(syncproto.EventSessionExpired, g.session, syncproto.Session{ID: g.session, SiteID: sh.sites[0], SpaceID: sh.spaces[0][0],
			SpaceName: "Room", CreatedAt: t0, ExpiresAt: g.at.Add(time.Minute)}))
	var second []syncproto.Event
	for _, o := range g.open {
		second = append(second, g.change(o, nextStatus[o.status])...)
	}
	// A catch-up's set, bigger than the pipelined ones (pipelinedSet):
	// its statements go one by one, unnamed.
	third := g.mixed(2 * pipelinedSet)
	// The check can fail: a tenant's read without the organization_id
	// filter is planned over every shard.
	err := s.InTenant(ctx, sh.org, func(tx pgx.Tx) error {
		x := &explainingTx{Tx: tx}
		if err := x.explain(ctx, `SELECT count(*) FROM orders WHERE site_id = $1`, []any{sh.sites[0]}); err != nil {
			return err
		}
		if why := notRouted(x.plans[0].plan); !strings.HasPrefix(why, "not one task") {
			t.Errorf("a read over every shard: notRouted says %q of\n%s", why, x.plans[0].plan)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, set := range [][]syncproto.Event{first, second, third} {
		events := make([]cloud.PushEvent, len(set))
		for j, e := range set {
			d, err := syncproto.DecodePayload(e)
			if err != nil {
				t.Fatalf("set %d, event %d: %v", i, j, err)
			}
			events[j] = cloud.PushEvent{Event: e, Decoded: d}
		}
		x := &explainingTx{}
		err := s.InTenant(ctx, sh.org, func(tx pgx.Tx) error {
			x.Tx = tx
			_, err := writeEvents(ctx, x, node, events)
			return err
		})
		if err != nil || x.batchErr != nil {
			t.Fatalf("set %d: write: %v (%v)", i, err, x.batchErr)
		}
		if len(x.plans) == 0 {
			t.Fatalf("set %d: the applier sent no statement", i)
		}
		for _, p := range x.plans {
			if why := notRouted(p.plan); why != "" {
				t.Errorf("set %d: %s:\n%s\nplan:\n%s", i, why, p.sql, p.plan)
			}
		}
	}
}

// notRouted says why an EXPLAIN output is not a single-shard router
// plan, or "" if it is one.
func notRouted(plan string) string {
	lines := strings.Split(plan, "\n")
	var tasks []string
	for _, l := range lines {
		if l := strings.TrimSpace(l); strings.HasPrefix(l, "Task Count:") {
			tasks = append(tasks, l)
		}
	}
	switch {
	case !strings.Contains(plan, "Custom Scan (Citus"):
		return "not planned by Citus (a statement over no distributed table?)"
	case strings.Contains(plan, "pull to coordinator") || strings.Contains(plan, "repartition"):
		return "its rows go through the coordinator"
	case len(tasks) != 1 || tasks[0] != "Task Count: 1":
		return "not one task: " + strings.Join(tasks, ", ")
	}
	return ""
}

// explainingTx is a transaction that EXPLAINs each statement, with its
// arguments, before it runs it, and keeps the plans.
type explainingTx struct {
	pgx.Tx
	plans    []explained
	batchErr error // the first EXPLAIN of a batch's statements that failed
}

type explained struct{ sql, plan string }

func (x *explainingTx) explain(ctx context.Context, sql string, args []any) error {
	rows, _ := x.Tx.Query(ctx, "EXPLAIN (COSTS OFF) "+sql, args...) // an error surfaces from CollectRows
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	x.plans = append(x.plans, explained{sql: sql, plan: strings.Join(lines, "\n")})
	return nil
}

func (x *explainingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := x.explain(ctx, sql, args); err != nil {
		return pgconn.CommandTag{}, err
	}
	return x.Tx.Exec(ctx, sql, args...)
}

func (x *explainingTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := x.explain(ctx, sql, args); err != nil {
		return nil, err
	}
	return x.Tx.Query(ctx, sql, args...)
}

func (x *explainingTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := x.explain(ctx, sql, args); err != nil {
		return errRow{err}
	}
	return x.Tx.QueryRow(ctx, sql, args...)
}

// SendBatch EXPLAINs each of b's statements, then sends b: the applier
// pipelines a small set's statements (pipelinedSet). An EXPLAIN that
// fails is kept in batchErr, for the test to report.
func (x *explainingTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	for _, qq := range b.QueuedQueries {
		if err := x.explain(ctx, qq.SQL, qq.Arguments); err != nil && x.batchErr == nil {
			x.batchErr = fmt.Errorf("explain %s: %w", qq.SQL, err)
		}
	}
	return x.Tx.SendBatch(ctx, b)
}

// errRow is a row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
