package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// adminLateOrder makes a dead letter that can apply later: the building
// pushes an order's status change before the cloud has the order. It
// returns the order's id and the dead letter's.
func adminLateOrder(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, seq int64) (order, dead string) {
	tb.Helper()
	order = pantry.NewID()
	now := time.Now().UTC()
	change, _ := json.Marshal(syncproto.StatusChanged{ID: pantry.NewID(), OrderID: order, From: "placed", To: "accepted", Actor: "tablet", At: now})
	push := syncproto.PushRequest{Version: syncproto.Version, NodeID: a.Node, SoftwareVersion: "test", SentAt: now,
		Events: []syncproto.Event{{Seq: seq, ID: pantry.NewID(), Type: syncproto.EventOrderStatusChanged, Schema: 1, EntityID: order,
			Payload: change, CreatedAt: now}}}
	r := s.Do(tb, "POST", syncproto.PathPush, a.NodeCredential, push)
	var resp syncproto.PushResponse
	r.Decode(tb, &resp)
	if r.Status != http.StatusOK || len(resp.DeadLettered) != 1 {
		tb.Fatalf("push a status change of an unknown order: %d %s", r.Status, r.Body)
	}
	r = s.Do(tb, "GET", "/api/v1/dead-letters?open=true&node_id="+a.Node, a.Org.Token, nil)
	var list struct {
		DeadLetters []struct {
			ID  string
			Seq int64
		} `json:"dead_letters"`
	}
	r.Decode(tb, &list)
	for _, d := range list.DeadLetters {
		if d.Seq == seq {
			return order, d.ID
		}
	}
	tb.Fatalf("no dead letter of seq %d: %s", seq, r.Body)
	return "", ""
}

// adminInsertOrder stores order id as the building's sync would have,
// had it arrived first.
func adminInsertOrder(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, id string) {
	tb.Helper()
	now := time.Now().UTC().Add(-time.Minute)
	eur := func(n int64) pantry.Money { return pantry.Money{Amount: n, Currency: "EUR"} }
	o := pantry.Order{ID: id, SiteID: a.Site, SpaceID: a.Space, Status: pantry.StatusPlaced, DeliverTo: pantry.DeliverRoom,
		Lines:    []pantry.OrderLine{{ItemID: a.Item, Name: "coffee", Quantity: 1, UnitPrice: eur(350), LineTotal: eur(350)}},
		Subtotal: eur(350), Discount: eur(0), Total: eur(350), Payment: pantry.PayComplimentary, CreatedAt: now, UpdatedAt: now}
	if err := s.Store().InsertOrders(context.Background(), a.Org.ID, []pantry.Order{o}, ""); err != nil {
		tb.Fatalf("insert order: %v", err)
	}
}

// TestAdminDeadLetters: an admin sees the organization's dead letters
// with the reason in words; opens one and reads its payload; applies
// again one whose cause was fixed, which then counts as applied and
// changes the order; and is told why a poison event still cannot apply.
func TestAdminDeadLetters(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	order, late := adminLateOrder(t, s, a, 2)
	_, email := adminPerson(t, s, a, "admin")
	admin := adminClient(t, s, email)

	list := admin.get(t, "/admin/dead-letters")
	adminWants(t, list, http.StatusOK, `data-dead-letter-id="`+a.DeadLetter+`" data-open="true"`, `data-dead-letter-id="`+late+`" data-open="true"`,
		a.Names[0]+" HQ", "order.status_changed")

	poison := admin.get(t, "/admin/dead-letters/"+a.DeadLetter)
	adminWants(t, poison, http.StatusOK, "{\n  \"poison\": true\n}", `data-action="reapply"`, "edge")
	if !regexp.MustCompile(`data-reason>[^<]+<`).MatchString(poison.Body) {
		t.Errorf("the reason is not shown:\n%s", poison.Body)
	}

	t.Run("PoisonStaysDead", func(t *testing.T) {
		p := adminPost(t, admin, "/admin/dead-letters/"+a.DeadLetter, "/admin/dead-letters/"+a.DeadLetter+"/reapply", url.Values{})
		adminWants(t, p, http.StatusConflict, "still cannot be applied", `data-open="true"`)
		if !strings.Contains(p.Body, "data-reapply-error") || !strings.Contains(p.Body, "data-last-error") {
			t.Fatalf("the refusal or the last error is not shown:\n%s", p.Body)
		}
	})
	t.Run("ReapplyAfterTheFix", func(t *testing.T) {
		adminInsertOrder(t, s, a, order)
		p := adminPost(t, admin, "/admin/dead-letters/"+late, "/admin/dead-letters/"+late+"/reapply", url.Values{})
		done := adminFollow(t, admin, p)
		adminWants(t, done, http.StatusOK, "Applied: the order.status_changed event is now part of the site's data.", `data-open="false"`)
		adminLacks(t, done, `data-action="reapply"`)
		if r := s.Do(t, "GET", "/api/v1/orders/"+order, a.Org.Token, nil); !strings.Contains(string(r.Body), `"status":"accepted"`) {
			t.Fatalf("the order after re-applying: %s", r.Body)
		}
		open := admin.get(t, "/admin/dead-letters")
		adminLacks(t, open, `data-dead-letter-id="`+late+`"`)
		adminWants(t, admin.get(t, "/admin/dead-letters?show=all"), http.StatusOK, `data-dead-letter-id="`+late+`" data-open="false"`)
		// Applying it twice is refused, and says so.
		p = adminPost(t, admin, "/admin/dead-letters/"+late, "/admin/dead-letters/"+late+"/reapply", url.Values{})
		adminWants(t, p, http.StatusConflict, "was re-applied at")
	})
	t.Run("Refusals", func(t *testing.T) {
		before := cloudtest.Fingerprint(t, s, a.Org.ID)
		if p := admin.do(t, "POST", "/admin/dead-letters/"+a.DeadLetter+"/reapply", url.Values{}); p.Status != http.StatusForbidden {
			t.Errorf("re-apply without the CSRF token: %d", p.Status)
		}
		for _, id := range []string{pantry.NewID(), "not-an-id"} {
			if p := adminPost(t, admin, "/admin/dead-letters", "/admin/dead-letters/"+id+"/reapply", url.Values{}); p.Status != http.StatusNotFound {
				t.Errorf("re-apply %s: %d, want 404", id, p.Status)
			}
			if p := admin.get(t, "/admin/dead-letters/"+id); p.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", id, p.Status)
			}
		}
		if p := admin.get(t, "/admin/dead-letters?node_id=nope"); p.Status != http.StatusBadRequest {
			t.Errorf("a node filter that is no id: %d, want 400", p.Status)
		}
		if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
			t.Fatalf("refused re-applies changed data")
		}
	})
}

// TestAdminDeadLettersFacilityManager: a facility manager sees the dead
// letters of their sites only (another site's is not found), and may
// not apply any again (the API's rule: it needs site-wide writes).
func TestAdminDeadLettersFacilityManager(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	r := s.Do(t, "POST", "/api/v1/sites", a.Org.Token, map[string]string{"name": "Annex", "timezone": "UTC", "currency": "EUR"})
	var annex struct{ ID string }
	r.Decode(t, &annex)
	node, credential := cloudtest.EnrollNode(t, s, a.Org.Token, annex.ID)
	other := cloudtest.PushPoison(t, s, a.Org.Token, node, credential)
	_, email := adminPerson(t, s, a, "facility_manager", annex.ID)
	fm := adminClient(t, s, email)

	list := fm.get(t, "/admin/dead-letters")
	adminWants(t, list, http.StatusOK, `data-dead-letter-id="`+other+`"`)
	adminLacks(t, list, a.DeadLetter, a.Names[0])
	if p := fm.get(t, "/admin/dead-letters/"+a.DeadLetter); p.Status != http.StatusNotFound {
		t.Fatalf("another site's dead letter: %d, want 404", p.Status)
	}
	own := fm.get(t, "/admin/dead-letters/"+other)
	adminWants(t, own, http.StatusOK, "Annex")
	adminLacks(t, own, `data-action="reapply"`)
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	for _, id := range []string{other, a.DeadLetter} {
		if p := adminPost(t, fm, "/admin/dead-letters", "/admin/dead-letters/"+id+"/reapply", url.Values{}); p.Status != http.StatusForbidden {
			t.Errorf("a facility manager re-applies %s: %d, want 403", id, p.Status)
		}
	}
	if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
		t.Fatalf("a facility manager's refused re-applies changed data")
	}
}
