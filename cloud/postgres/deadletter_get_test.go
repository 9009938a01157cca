package postgres

import (
	"encoding/json"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// TestGetDeadLetter: one dead letter reads back whole, its payload
// included, in its own organization only.
func TestGetDeadLetter(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh, other := newShop(t, s, "A"), newShop(t, s, "B")
	g := newEdgeSim(t, s, sh)
	unreadable := g.raw(syncproto.EventStockMoved, 1, "not json")
	if resp := push(t, s, sh, unreadable); len(resp.DeadLettered) != 1 {
		t.Fatalf("dead letters %v, want 1", resp.DeadLettered)
	}
	want := deadLetters(t, s, sh.org)[unreadable.Seq]
	got, err := s.GetDeadLetter(t.Context(), sh.org, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.NodeID != sh.node || got.SiteID != sh.sites[0] || got.Seq != unreadable.Seq ||
		got.EventType != syncproto.EventStockMoved || got.Reason == "" || string(got.Raw) != "not json" {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	var payload string
	if err := json.Unmarshal(got.Payload, &payload); err != nil || payload != "not json" {
		t.Errorf("payload %s, want the bytes as a JSON string", got.Payload)
	}
	for name, tc := range map[string]struct{ org, id string }{
		"OtherOrganization": {other.org, want.ID},
		"Unknown":           {sh.org, pantry.NewID()},
		"NotAnID":           {sh.org, "x'; --"},
	} {
		if _, err := s.GetDeadLetter(t.Context(), tc.org, tc.id); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
}

// TestGetAPIKey: one key reads back as listings show it, in its own
// organization only.
func TestGetAPIKey(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh, other := newShop(t, s, "A"), newShop(t, s, "B")
	who := cloud.Actor{Type: "system"}
	k, err := s.CreateAPIKey(t.Context(), sh.org, who, "Installer", "pk_abc", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAPIKey(t.Context(), sh.org, k.ID)
	if err != nil || got.ID != k.ID || got.Name != "Installer" || got.Prefix != "pk_abc" || got.RevokedAt != nil {
		t.Fatalf("got %+v (%v), want %+v", got, err, k)
	}
	if _, err := s.RevokeAPIKey(t.Context(), sh.org, who, k.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetAPIKey(t.Context(), sh.org, k.ID); err != nil || got.RevokedAt == nil {
		t.Fatalf("after revoking: %+v (%v), want it revoked", got, err)
	}
	for name, tc := range map[string]struct{ org, id string }{
		"OtherOrganization": {other.org, k.ID},
		"Unknown":           {sh.org, pantry.NewID()},
		"NotAnID":           {sh.org, "nope"},
	} {
		if _, err := s.GetAPIKey(t.Context(), tc.org, tc.id); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
}
