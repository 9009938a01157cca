package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pantry/pantry/syncproto"
)

// TestSyncNodeInfo: GET /sync/v1/node tells a node its own watermark and
// dead letters, never another node's: the node is the credential's, and
// the request has nothing to name another with. A replaced, revoked,
// unknown or missing credential is a 401 in syncproto's error shape.
func TestSyncNodeInfo(t *testing.T) {
	f := newSyncFixture(t)
	must(t, f.push(t, f.events(1, 5)), 200, "push 1..5")
	b := seedTenant(t, f.s, "beta") // its node has one dead letter, at seq 1

	get := func(t *testing.T, credential string) (int, syncproto.NodeInfo, string) {
		t.Helper()
		r := f.s.Do(t, "GET", syncproto.PathNode, credential, nil)
		var info syncproto.NodeInfo
		if r.Status == http.StatusOK {
			if err := syncproto.Decode(r.Body, false, &info); err != nil {
				t.Fatalf("decode %s: %v", r.Body, err)
			}
			if err := info.Validate(); err != nil {
				t.Fatalf("the cloud's answer does not validate: %v: %s", err, r.Body)
			}
		}
		return r.Status, info, string(r.Body)
	}

	t.Run("Own", func(t *testing.T) {
		status, info, body := get(t, f.credential)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		if info.NodeID != f.node || info.SiteID != f.a.site || info.AppliedSeq != 5 || info.DeadLetters != 0 {
			t.Fatalf("node info %+v, want node %s at site %s, applied 5, no dead letters", info, f.node, f.a.site)
		}
		if info.CloudVersion == "" || info.ServerTime.IsZero() || info.Version != syncproto.Version {
			t.Fatalf("node info %+v lacks the cloud's version or time", info)
		}
	})
	t.Run("AnotherTenantsNodeSeesOnlyItself", func(t *testing.T) {
		status, info, body := get(t, b.nodeCredential)
		if status != http.StatusOK || info.NodeID != b.node || info.SiteID != b.site || info.AppliedSeq != 1 || info.DeadLetters != 1 {
			t.Fatalf("B's node: %d %+v, want B's node %s, applied 1, one dead letter: %s", status, info, b.node, body)
		}
		for _, leak := range append([]string{f.node, f.a.site, f.a.org.ID}, f.a.names...) {
			if strings.Contains(body, leak) {
				t.Fatalf("B's node info shows A's %s: %s", leak, body)
			}
		}
	})
	refused := map[string]string{
		"Replaced": f.a.nodeCredential, // the fixture's enrollment replaced (revoked) A's first node
		"Unknown":  "nc_" + strings.Repeat("x", 40),
		"Missing":  "",
		"TooLong":  strings.Repeat("c", 300),
	}
	for name, cred := range refused {
		t.Run("Refuses"+name, func(t *testing.T) {
			r := f.s.Do(t, "GET", syncproto.PathNode, cred, nil)
			var eb syncproto.ErrorBody
			if r.Status != http.StatusUnauthorized || syncproto.Decode(r.Body, false, &eb) != nil || eb.Error.Code != syncproto.ErrUnauthorized {
				t.Fatalf("status %d %s, want 401 %s", r.Status, r.Body, syncproto.ErrUnauthorized)
			}
		})
	}
	t.Run("RevokedByAdmin", func(t *testing.T) {
		must(t, f.s.Do(t, "DELETE", "/api/v1/nodes/"+b.node, b.org.Token, nil), 200, "revoke B's node")
		if status, info, body := get(t, b.nodeCredential); status != http.StatusUnauthorized {
			t.Fatalf("revoked node: %d %+v %s, want 401", status, info, body)
		}
	})
}
