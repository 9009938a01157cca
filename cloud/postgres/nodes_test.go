package postgres

import (
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
