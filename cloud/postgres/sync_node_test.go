package postgres

import (
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// TestNodeInfo: a node reads its own watermark and open dead letters; a
// node named with another organization (row-level security hides it), a
// site it is not at, or a revoked node is refused as an unknown
// credential, with nothing of the node in the answer.
func TestNodeInfo(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	siteA, siteB := f.site(t, f.a, "EUR"), f.site(t, f.b, "EUR")
	a, _ := f.enroll(t, f.a, siteA)
	b, _ := f.enroll(t, f.b, siteB)
	poison := syncproto.PushRequest{Version: syncproto.Version, NodeID: a.ID, Events: []syncproto.Event{
		{Seq: 1, ID: pantry.NewID(), Type: syncproto.EventOrderPlaced, Schema: 1, EntityID: pantry.NewID(), Payload: []byte(`{"poison":true}`)},
		{Seq: 2, ID: pantry.NewID(), Type: "order.teleported", Schema: 1, EntityID: pantry.NewID(), Payload: []byte(`{}`)},
	}}
	if _, err := syncServer(f.s).Push(t.Context(), a, poison); err != nil {
		t.Fatalf("push: %v", err)
	}
	info, err := f.s.NodeInfo(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info, (syncproto.NodeInfo{NodeID: a.ID, SiteID: siteA, AppliedSeq: 2, DeadLetters: 2}); got != want {
		t.Fatalf("node info %+v, want %+v", got, want)
	}
	if info, err := f.s.NodeInfo(t.Context(), b); err != nil || info.AppliedSeq != 0 || info.DeadLetters != 0 || info.NodeID != b.ID {
		t.Fatalf("B's node: %+v, %v", info, err)
	}
	refused := map[string]cloud.Node{
		"OtherOrganization": {OrgID: f.b.id, SiteID: siteA, ID: a.ID},
		"OtherSite":         {OrgID: f.a.id, SiteID: siteB, ID: a.ID},
		"UnknownNode":       {OrgID: f.a.id, SiteID: siteA, ID: pantry.NewID()},
		"NotUUIDs":          {OrgID: "x", SiteID: siteA, ID: a.ID},
	}
	for name, node := range refused {
		t.Run(name, func(t *testing.T) {
			info, err := f.s.NodeInfo(t.Context(), node)
			if pantry.ErrorCode(err) != pantry.EUNAUTHORIZED || info != (syncproto.NodeInfo{}) {
				t.Fatalf("got %+v, %v; want EUNAUTHORIZED and nothing", info, err)
			}
		})
	}
	t.Run("Revoked", func(t *testing.T) {
		if _, err := f.s.RevokeNode(t.Context(), f.a.id, f.a.who, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.NodeInfo(t.Context(), a); pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
			t.Fatalf("revoked node: %v, want EUNAUTHORIZED", err)
		}
	})
}
