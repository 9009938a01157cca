package postgres

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh, other := newShop(t, s, "A"), newShop(t, s, "B")
	ctx := t.Context()
	g := newEdgeSim(t, s, sh)
	// An order of an item the cloud does not know yet: its sale movement,
	// the order, its payment and its status change are dead letters; and
	// an event this cloud cannot read at all.
	missing := pantry.NewID()
	o, events := g.place(false, simLine{missing, 2})
	events = append(events, g.change(o, "accepted")...)
	unreadable := g.raw(syncproto.EventStockMoved, 1, "not json")
	events = append(events, unreadable)
	resp := push(t, s, sh, events...)
	if len(resp.DeadLettered) != 5 {
		t.Fatalf("dead letters %v, want 5", resp.DeadLettered)
	}
	bySeq := deadLetters(t, s, sh.org)
	idOf := func(typ string) string {
		for _, d := range bySeq {
			if d.EventType == typ {
				return d.ID
			}
		}
		t.Fatalf("no dead letter of type %s", typ)
		return ""
	}

	t.Run("Count", func(t *testing.T) {
		if n, err := s.CountDeadLetters(ctx, sh.org); err != nil || n != 5 {
			t.Fatalf("count %d (%v), want 5", n, err)
		}
		if n, err := s.CountDeadLetters(ctx, other.org); err != nil || n != 0 {
			t.Fatalf("another tenant counts %d (%v), want 0", n, err)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		var got []int64
		var sizes []int
		p := cloud.Page{Limit: 2}
		for {
			ds, next, err := s.ListDeadLetters(ctx, sh.org, cloud.DeadLetterFilter{}, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				got = append(got, d.Seq)
			}
			if sizes = append(sizes, len(ds)); next == "" {
				break
			}
			p.Cursor = next
		}
		want := slices.Clone(resp.DeadLettered)
		slices.Reverse(want) // one push: same time, and ids made in seq order
		if !slices.Equal(got, want) || !slices.Equal(sizes, []int{2, 2, 1}) {
			t.Fatalf("pages of %v hold %v, want %v newest first", sizes, got, want)
		}
	})
	t.Run("Payload", func(t *testing.T) {
		var s string
		if err := json.Unmarshal(bySeq[unreadable.Seq].Payload, &s); err != nil || s != "not json" {
			t.Errorf("payload %s, want the bytes as a JSON string", bySeq[unreadable.Seq].Payload)
		}
		order := bySeq[resp.DeadLettered[1]]
		if order.EventType != syncproto.EventOrderPlaced || !json.Valid(order.Payload) || !strings.Contains(string(order.Payload), missing) {
			t.Errorf("order's dead letter %+v", order)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		for name, tc := range map[string]struct {
			f    cloud.DeadLetterFilter
			want int
		}{
			"Node":          {cloud.DeadLetterFilter{NodeID: sh.node}, 5},
			"OtherNode":     {cloud.DeadLetterFilter{NodeID: pantry.NewID()}, 0},
			"Site":          {cloud.DeadLetterFilter{SiteIDs: []string{sh.sites[0]}}, 5},
			"OtherSite":     {cloud.DeadLetterFilter{SiteIDs: []string{sh.sites[1]}}, 0},
			"NoSites":       {cloud.DeadLetterFilter{SiteIDs: []string{}}, 0},
			"Open":          {cloud.DeadLetterFilter{Open: true}, 5},
			"OpenAtSiteOf0": {cloud.DeadLetterFilter{Open: true, NodeID: sh.node, SiteIDs: []string{sh.sites[0], sh.sites[1]}}, 5},
		} {
			ds, _, err := s.ListDeadLetters(ctx, sh.org, tc.f, cloud.Page{})
			if err != nil || len(ds) != tc.want {
				t.Errorf("%s: %d dead letters (%v), want %d", name, len(ds), err, tc.want)
			}
		}
		for _, f := range []cloud.DeadLetterFilter{{NodeID: "x"}, {SiteIDs: []string{"x"}}} {
			_, _, err := s.ListDeadLetters(ctx, sh.org, f, cloud.Page{})
			wantCode(t, err, pantry.EINVALID)
		}
		if ds, _, err := s.ListDeadLetters(ctx, other.org, cloud.DeadLetterFilter{}, cloud.Page{}); err != nil || len(ds) != 0 {
			t.Errorf("another tenant lists %d (%v)", len(ds), err)
		}
	})
	who := cloud.Actor{Type: "user", ID: pantry.NewID()}
	t.Run("ReapplyStillFailing", func(t *testing.T) {
		id := idOf(syncproto.EventOrderPlaced)
		_, err := syncServer(s).ReapplyDeadLetter(ctx, sh.org, who, id)
		wantCode(t, err, pantry.ECONFLICT)
		if !strings.Contains(err.Error(), missing) {
			t.Errorf("error %v does not say why", err)
		}
		d := deadLetters(t, s, sh.org)[resp.DeadLettered[1]]
		if d.ReappliedAt != nil || !strings.Contains(d.LastError, "foreign key") {
			t.Errorf("after a failed re-apply: %+v, want it open with the last error", d)
		}
		if _, err := s.GetOrder(ctx, sh.org, o.id); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Errorf("the failed re-apply left the order behind: %v", err)
		}
	})
	t.Run("ReapplyAfterTheFix", func(t *testing.T) {
		mustExec(t, s, sh.org, `INSERT INTO items (organization_id, id, name, price_amount, currency) VALUES ($1, $2, 'Tea', 250, 'EUR')`, sh.org, missing)
		for _, typ := range []string{syncproto.EventStockMoved, syncproto.EventOrderPlaced, syncproto.EventPaymentRecorded, syncproto.EventOrderStatusChanged} {
			id := ""
			for _, d := range deadLetters(t, s, sh.org) {
				if d.EventType == typ && d.Seq != unreadable.Seq {
					id = d.ID
				}
			}
			d, err := syncServer(s).ReapplyDeadLetter(ctx, sh.org, who, id)
			if err != nil || d.ReappliedAt == nil || d.LastError != "" || d.ID != id {
				t.Fatalf("re-apply %s: %+v, %v", typ, d, err)
			}
		}
		got, err := s.GetOrder(ctx, sh.org, o.id)
		if err != nil || got.Status != pantry.StatusAccepted || len(got.History) != 2 {
			t.Fatalf("order after re-applying: %+v, %v", got, err)
		}
		if n, _ := s.CountDeadLetters(ctx, sh.org); n != 1 {
			t.Errorf("%d open, want the unreadable one", n)
		}
		if ds, _, _ := s.ListDeadLetters(ctx, sh.org, cloud.DeadLetterFilter{Open: true}, cloud.Page{}); len(ds) != 1 || ds[0].Seq != unreadable.Seq {
			t.Errorf("open dead letters %+v", ds)
		}
		wantRollupExact(t, s, sh)
		if n := countRows(t, s, sh.org, `SELECT count(*) FROM audit_log WHERE organization_id = $1 AND action = 'dead_letter.reapply' AND actor_id = $2`, sh.org, who.ID); n != 5 {
			t.Errorf("%d audit entries, want one per attempt (5)", n)
		}
	})
	t.Run("ReapplyTwice", func(t *testing.T) {
		_, err := syncServer(s).ReapplyDeadLetter(ctx, sh.org, who, idOf(syncproto.EventOrderPlaced))
		wantCode(t, err, pantry.ECONFLICT)
	})
	t.Run("ReapplyUnreadable", func(t *testing.T) {
		_, err := syncServer(s).ReapplyDeadLetter(ctx, sh.org, who, bySeq[unreadable.Seq].ID)
		wantCode(t, err, pantry.ECONFLICT)
	})
	t.Run("NotFound", func(t *testing.T) {
		for name, id := range map[string]string{"Unknown": pantry.NewID(), "Malformed": "x'; --", "Empty": ""} {
			_, err := syncServer(s).ReapplyDeadLetter(ctx, sh.org, who, id)
			if pantry.ErrorCode(err) != pantry.ENOTFOUND {
				t.Errorf("%s: %v, want not found", name, err)
			}
		}
		_, err := syncServer(s).ReapplyDeadLetter(ctx, other.org, who, bySeq[unreadable.Seq].ID)
		wantCode(t, err, pantry.ENOTFOUND)
	})
}
