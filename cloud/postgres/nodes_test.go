package postgres

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

func nodeIDs(nodes []cloud.NodeStatus) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

func TestListNodes(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, ctx := f.a, t.Context()
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	replaced, _ := f.enroll(t, a, site)
	second, _ := f.enroll(t, a, other)
	current, _ := f.enroll(t, a, site) // replaces the first
	f.enroll(t, f.b, f.site(t, f.b, "EUR"))

	// current is 5 events behind its outbox, with 2 open dead letters and
	// a re-applied one; second reported an outbox head below its
	// watermark (an edge restored from a backup): no negative lag.
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE edge_nodes SET applied_seq = 10, edge_last_seq = 15 WHERE id = $1`, []any{current.ID}},
		{`UPDATE edge_nodes SET applied_seq = 20, edge_last_seq = 5 WHERE id = $1`, []any{second.ID}},
		{`INSERT INTO dead_letters (organization_id, id, node_id, seq, event_type, payload, reason, reapplied_at)
			SELECT $1, gen_random_uuid(), $2, g, 'order.placed', '{}'::bytea, 'unknown item', CASE WHEN g = 3 THEN now() END
			FROM generate_series(1, 3) AS g`, []any{a.id, current.ID}},
	} {
		if _, err := f.super.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	resp, err := f.s.Pull(ctx, current, syncproto.PullRequest{Version: syncproto.Version, SoftwareVersion: "1.1.0",
		SentAt: now.Add(-250 * time.Millisecond), OutboxHead: 14}, now)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Values", func(t *testing.T) {
		st, err := f.s.GetNode(ctx, a.id, current.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.ID != current.ID || st.SiteID != site || st.Name != "edge" || st.SoftwareVersion != "1.1.0" || st.RevokedAt != nil ||
			st.AppliedSeq != 10 || st.EdgeLastSeq != 15 || st.Lag != 5 || st.DeadLetters != 2 ||
			st.ConfigRevision != resp.Cursor.ConfigRevision || st.SiteRevision != f.revision(t, a.id, site) ||
			st.ClockSkewMS == nil || *st.ClockSkewMS != -250 || st.LastPullAt == nil || !st.LastPullAt.Equal(now) || st.LastPushAt != nil {
			t.Errorf("status %+v", st)
		}
		st, err = f.s.GetNode(ctx, a.id, second.ID)
		if err != nil || st.Lag != 0 || st.DeadLetters != 0 || st.ClockSkewMS != nil || st.LastPullAt != nil {
			t.Errorf("second node %+v, %v", st, err)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		tests := []struct {
			name string
			f    cloud.NodeFilter
			want []string
		}{
			{"All", cloud.NodeFilter{}, []string{current.ID, second.ID}},
			{"IncludeRevoked", cloud.NodeFilter{IncludeRevoked: true}, []string{current.ID, second.ID, replaced.ID}},
			{"NoSites", cloud.NodeFilter{SiteIDs: []string{}}, []string{}},
			{"AllowedSites", cloud.NodeFilter{SiteIDs: []string{other}}, []string{second.ID}},
			{"OneSite", cloud.NodeFilter{SiteID: site, IncludeRevoked: true}, []string{current.ID, replaced.ID}},
			{"OneSiteNotAllowed", cloud.NodeFilter{SiteIDs: []string{other}, SiteID: site}, []string{}},
			{"UnknownSite", cloud.NodeFilter{SiteID: pantry.NewID()}, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				nodes, next, err := f.s.ListNodes(ctx, a.id, tt.f, cloud.Page{})
				if err != nil || next != "" || !slices.Equal(nodeIDs(nodes), tt.want) {
					t.Errorf("%v (next %q, %v), want %v", nodeIDs(nodes), next, err, tt.want)
				}
			})
		}
		_, _, err := f.s.ListNodes(ctx, a.id, cloud.NodeFilter{SiteID: "hq"}, cloud.Page{})
		wantCode(t, err, pantry.EINVALID)
	})
	t.Run("Pages", func(t *testing.T) {
		var got []string
		p := cloud.Page{Limit: 1}
		for range 4 {
			nodes, next, err := f.s.ListNodes(ctx, a.id, cloud.NodeFilter{IncludeRevoked: true}, p)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, nodeIDs(nodes)...)
			if next == "" {
				break
			}
			p.Cursor = next
		}
		if want := []string{current.ID, second.ID, replaced.ID}; !slices.Equal(got, want) {
			t.Errorf("pages %v, want %v", got, want)
		}
	})
	t.Run("OtherOrganization", func(t *testing.T) {
		nodes, _, err := f.s.ListNodes(ctx, f.b.id, cloud.NodeFilter{SiteID: site, IncludeRevoked: true}, cloud.Page{})
		if err != nil || len(nodes) != 0 {
			t.Errorf("B lists A's site: %v, %v", nodeIDs(nodes), err)
		}
		_, err = f.s.GetNode(ctx, f.b.id, current.ID)
		wantCode(t, err, pantry.ENOTFOUND)
		_, err = f.s.GetNode(ctx, a.id, "node")
		wantCode(t, err, pantry.ENOTFOUND)
	})
}

// TestNodeStatusReported: what an edge reports of itself at a pull (the
// oldest waiting event, the tablets online) is kept for the fleet page,
// the oldest event's time moved onto the cloud's clock; a pull without a
// report (an older edge) leaves it as it was; a push that brings the
// watermark up to the edge's outbox head clears the oldest event.
func TestNodeStatusReported(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	node := cloud.Node{OrgID: sh.org, SiteID: sh.sites[0], ID: sh.node}
	status := func() cloud.NodeStatus {
		t.Helper()
		st, err := s.GetNode(t.Context(), sh.org, sh.node)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := status(); st.TabletsOnline != nil || st.OutboxOldestAt != nil {
		t.Fatalf("a node that never reported: tablets %v, oldest %v", st.TabletsOnline, st.OutboxOldestAt)
	}

	events := g.mixed(6)
	now := t0.Add(time.Hour)
	oldest := now.Add(-5 * time.Minute)
	// The edge's clock is 2 s ahead: the oldest event was written 2 s
	// earlier on the cloud's clock than the edge says.
	req := syncproto.PullRequest{Version: syncproto.Version, NodeID: sh.node, SentAt: now.Add(2 * time.Second),
		OutboxHead: int64(len(events)), Status: &syncproto.EdgeStatus{OutboxOldestAt: &oldest, TabletsOnline: 3}}
	if _, err := s.Pull(t.Context(), node, req, now); err != nil {
		t.Fatal(err)
	}
	st := status()
	if st.TabletsOnline == nil || *st.TabletsOnline != 3 || st.OutboxOldestAt == nil || !st.OutboxOldestAt.Equal(oldest.Add(-2*time.Second)) {
		t.Fatalf("after a report: tablets %v, oldest %v, want 3 and %s", st.TabletsOnline, st.OutboxOldestAt, oldest.Add(-2*time.Second))
	}
	if h, reason := cloud.NodeHealth(st, now, "", 0); h != cloud.HealthLagging || reason != fmt.Sprintf("%d events waiting at the edge, the oldest for 5 min", len(events)) {
		t.Errorf("health %s %q, want lagging because of the oldest event", h, reason)
	}

	req.Status = nil
	if _, err := s.Pull(t.Context(), node, req, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := status(); st.TabletsOnline == nil || *st.TabletsOnline != 3 || st.OutboxOldestAt == nil {
		t.Fatalf("a pull without a report changed it: tablets %v, oldest %v", st.TabletsOnline, st.OutboxOldestAt)
	}

	push(t, s, sh, events[:3]...)
	if st := status(); st.OutboxOldestAt == nil { // the watermark is still behind the head
		t.Fatalf("a push that left events waiting cleared the oldest")
	}
	push(t, s, sh, events[3:]...)
	if st := status(); st.OutboxOldestAt != nil || st.Lag != 0 {
		t.Fatalf("after the edge caught up: oldest %v, lag %d", st.OutboxOldestAt, st.Lag)
	}
}
