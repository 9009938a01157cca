package web_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/syncproto"
)

// TestFleetShowsWhatTheEdgeReports: a node that reported, at its last
// pull, events waiting for ten minutes and three tablets connected is
// lagging, with the oldest event's age in words, shows its tablets, and
// is found by the lagging filter, not by the ok one.
func TestFleetShowsWhatTheEdgeReports(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	r := s.Do(t, "POST", "/api/v1/sites", a.Org.Token, map[string]string{"name": "Annex", "timezone": "UTC", "currency": "EUR"})
	var annex struct{ ID string }
	r.Decode(t, &annex)
	node, credential := cloudtest.EnrollNode(t, s, a.Org.Token, annex.ID)
	now := time.Now().UTC()
	oldest := now.Add(-10*time.Minute - 30*time.Second)
	pull := syncproto.PullRequest{Version: syncproto.Version, NodeID: node, SoftwareVersion: "test", SentAt: now, OutboxHead: 7,
		Status: &syncproto.EdgeStatus{OutboxOldestAt: &oldest, TabletsOnline: 3}}
	if r := s.Do(t, "POST", syncproto.PathPull, credential, pull); r.Status != http.StatusOK {
		t.Fatalf("pull: %d %s", r.Status, r.Body)
	}
	c := siteClient(t, s, a.Org.OwnerEmail)

	row := regexp.MustCompile(`(?s)<tr data-node-id="` + node + `" data-health="([a-z]+)">(.*?)</tr>`)
	fleet := c.get(t, "/")
	m := row.FindStringSubmatch(fleet.Body)
	if fleet.Status != http.StatusOK || m == nil {
		t.Fatalf("fleet page %d without the node's row:\n%s", fleet.Status, fleet.Body)
	}
	if m[1] != "lagging" {
		t.Errorf("health %q, want lagging", m[1])
	}
	for _, want := range []string{"7 events waiting at the edge, the oldest for 10 min", "oldest 10 min ago", "<td data-tablets>3 online</td>"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(m[2]) {
			t.Errorf("the node's row does not say %q:\n%s", want, m[2])
		}
	}
	if p := c.get(t, "/?health=lagging"); !row.MatchString(p.Body) {
		t.Errorf("the lagging filter leaves the node out")
	}
	if p := c.get(t, "/?health=ok"); row.MatchString(p.Body) {
		t.Errorf("the ok filter lists a lagging node")
	}
	if p := c.get(t, "/?health=sleepy"); p.Status != http.StatusBadRequest {
		t.Errorf("an unknown filter: %d, want 400", p.Status)
	}
}
