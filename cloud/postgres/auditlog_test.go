package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestListAudit(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	ctx := t.Context()
	user, key := pantry.NewID(), pantry.NewID()
	site := sh.sites[0]
	// Written through audit, as the store's changes write them, in one
	// transaction: they share now() and their ids order them.
	err := s.InTenant(ctx, sh.org, func(tx pgx.Tx) error {
		if err := audit(ctx, tx, sh.org, cloud.Actor{Type: "user", ID: user}, "site.update", "site", site,
			map[string]any{"name": "HQ"}, map[string]any{"name": "Berlin HQ"}); err != nil {
			return err
		}
		if err := audit(ctx, tx, sh.org, cloud.Actor{Type: "api_key", ID: key}, "item.create", "item", sh.items[0], nil, map[string]any{"name": "Coffee"}); err != nil {
			return err
		}
		return audit(ctx, tx, sh.org, cloud.Actor{Type: "system"}, "site.update", "site", sh.sites[1], nil, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	// And 120 older ones at known times, one a minute.
	insertAuditAt(t, s, sh.org, 120, t0)
	list := func(t *testing.T, f cloud.AuditFilter, p cloud.Page) ([]cloud.AuditEntry, string) {
		t.Helper()
		es, next, err := s.ListAudit(ctx, sh.org, f, p)
		if err != nil {
			t.Fatal(err)
		}
		return es, next
	}
	t.Run("Entry", func(t *testing.T) {
		es, _ := list(t, cloud.AuditFilter{ResourceID: site}, cloud.Page{})
		if len(es) != 1 {
			t.Fatalf("%d entries for the site, want 1", len(es))
		}
		e := es[0]
		before, _ := json.Marshal(e.Before)
		after, _ := json.Marshal(e.After)
		if e.ActorType != "user" || e.ActorID != user || e.Action != "site.update" || e.Resource != "site" ||
			string(before) != `{"name":"HQ"}` || string(after) != `{"name":"Berlin HQ"}` || time.Since(e.At) > time.Minute {
			t.Fatalf("entry = %+v (before %s, after %s)", e, before, after)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		for name, tc := range map[string]struct {
			f    cloud.AuditFilter
			want int
		}{
			"Resource":   {cloud.AuditFilter{Resource: "site"}, 2},
			"ResourceID": {cloud.AuditFilter{Resource: "item", ResourceID: sh.items[0]}, 1},
			"Actor":      {cloud.AuditFilter{ActorID: key}, 1},
			"NoMatch":    {cloud.AuditFilter{ActorID: "nobody"}, 0},
			// From inclusive, To exclusive: minutes 10 to 19.
			"Range": {cloud.AuditFilter{From: t0.Add(10 * time.Minute), To: t0.Add(20 * time.Minute)}, 10},
		} {
			t.Run(name, func(t *testing.T) {
				if es, _ := list(t, tc.f, cloud.Page{}); len(es) != tc.want {
					t.Fatalf("%d entries, want %d", len(es), tc.want)
				}
			})
		}
	})
	t.Run("Pages", func(t *testing.T) {
		var all []cloud.AuditEntry
		page := cloud.Page{Limit: 50}
		for {
			es, next := list(t, cloud.AuditFilter{}, page)
			all = append(all, es...)
			if next == "" {
				break
			}
			page.Cursor = next
		}
		// 120 + 3 + the organization's creation.
		if len(all) != 124 {
			t.Fatalf("%d entries over the pages, want 124", len(all))
		}
		sorted := slices.IsSortedFunc(all, func(a, b cloud.AuditEntry) int {
			if c := b.At.Compare(a.At); c != 0 {
				return c
			}
			return compareUUID(b.ID, a.ID)
		})
		seen := map[string]bool{}
		for _, e := range all {
			seen[e.ID] = true
		}
		if !sorted || len(seen) != len(all) {
			t.Fatalf("entries not newest first (%v) or repeated (%d distinct)", sorted, len(seen))
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		for name, tc := range map[string]struct {
			f cloud.AuditFilter
			p cloud.Page
		}{
			"FromAfterTo": {f: cloud.AuditFilter{From: t0, To: t0.Add(-time.Second)}},
			"LongFilter":  {f: cloud.AuditFilter{Resource: string(make([]byte, 201))}},
			"ControlChar": {f: cloud.AuditFilter{ActorID: "a\x00b"}},
			"BadLimit":    {p: cloud.Page{Limit: -1}},
			"BadCursor":   {p: cloud.Page{Cursor: encodeCursor(t0, pantry.NewID()) + "x"}},
		} {
			t.Run(name, func(t *testing.T) {
				_, _, err := s.ListAudit(ctx, sh.org, tc.f, tc.p)
				wantCode(t, err, pantry.EINVALID)
			})
		}
	})
}

// insertAuditAt writes n audit entries about items, one a minute from
// start.
func insertAuditAt(tb testing.TB, s *Store, org string, n int, start time.Time) {
	tb.Helper()
	ctx := context.Background()
	err := s.InTenant(ctx, org, func(tx pgx.Tx) error {
		// No gen_random_uuid(): Citus would run a SELECT with a volatile
		// function on the coordinator and COPY its rows into the shard,
		// which row-level security refuses (see store.go).
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (organization_id, id, actor_type, action, resource, resource_id, at)
			SELECT o.id, md5($4 || g)::uuid, 'system', 'item.update', 'item', 'bulk', $2::timestamptz + make_interval(mins => g)
			FROM organizations o, generate_series(0, $3 - 1) AS g WHERE o.id = $1`, org, start, n, pantry.NewID())
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}
