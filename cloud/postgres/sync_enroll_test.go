package postgres

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// enroll enrolls a node at site of o with a fresh token, and returns it
// with its credential.
func (f *catalogFixture) enroll(t *testing.T, o catalogOrg, site string) (cloud.Node, string) {
	t.Helper()
	tok, err := syncServer(f.s).CreateEnrollmentToken(t.Context(), o.id, o.who, site, 0)
	if err != nil {
		t.Fatalf("create enrollment token: %v", err)
	}
	resp, err := syncServer(f.s).Enroll(t.Context(), syncproto.EnrollRequest{Version: syncproto.Version, Token: tok.Token, Name: "edge", SoftwareVersion: "1.0.0"})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return cloud.Node{OrgID: resp.OrgID, SiteID: resp.SiteID, ID: resp.NodeID}, resp.Credential
}

// enrollRequest is an enrollment with token.
func enrollRequest(token string) syncproto.EnrollRequest {
	return syncproto.EnrollRequest{Version: syncproto.Version, Token: token, Name: "edge-hq", SoftwareVersion: "1.2.3"}
}

// wantError checks err's code and message.
func wantError(t *testing.T, err error, code, message string) {
	t.Helper()
	if got := pantry.ErrorCode(err); got != code || !strings.HasPrefix(pantry.ErrorMessage(err), message) {
		t.Fatalf("error %v (code %q, message %q), want code %q and a message starting %q", err, got, pantry.ErrorMessage(err), code, message)
	}
}

// countNodes counts a site's edge nodes, revoked ones included.
func (f *catalogFixture) countNodes(t *testing.T, site string) int {
	t.Helper()
	var n int
	if err := f.super.QueryRow(t.Context(), `SELECT count(*) FROM edge_nodes WHERE site_id = $1`, site).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestEnroll(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a := f.a
	site := f.site(t, a, "EUR")

	t.Run("HappyPath", func(t *testing.T) {
		tok, err := syncServer(f.s).CreateEnrollmentToken(t.Context(), a.id, a.who, site, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !pantry.ValidID(tok.ID) || tok.SiteID != site || len(tok.Token) != 43 {
			t.Fatalf("token %+v", tok)
		}
		if d := time.Until(tok.ExpiresAt) - cloud.DefaultEnrollmentTTL; d > time.Minute || d < -time.Minute {
			t.Errorf("expires at %s, want a day from now", tok.ExpiresAt)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		resp, err := syncAt(f.s, now).Enroll(t.Context(), enrollRequest(tok.Token))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version != syncproto.Version || resp.OrgID != a.id || resp.SiteID != site || !pantry.ValidID(resp.NodeID) ||
			len(resp.Credential) != 43 || !resp.ServerTime.Equal(now) {
			t.Fatalf("response %+v", resp)
		}
		node, err := syncServer(f.s).AuthenticateNode(t.Context(), resp.Credential)
		if err != nil || node != (cloud.Node{OrgID: a.id, SiteID: site, ID: resp.NodeID}) {
			t.Fatalf("authenticate: %+v, %v", node, err)
		}
		// Only hashes are stored.
		var credHash, tokenHash []byte
		var usedAt time.Time
		var usedBy string
		if err := f.super.QueryRow(t.Context(), `SELECT n.credential_hash, e.token_hash, e.used_at, e.node_id::text
			FROM edge_nodes n JOIN enrollment_tokens e ON e.organization_id = n.organization_id WHERE n.id = $1 AND e.id = $2`, resp.NodeID, tok.ID).
			Scan(&credHash, &tokenHash, &usedAt, &usedBy); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(credHash, sha(resp.Credential)) || !bytes.Equal(tokenHash, sha(tok.Token)) || !usedAt.Equal(now) || usedBy != resp.NodeID {
			t.Errorf("stored credential hash %x, token hash %x used at %s by %s", credHash, tokenHash, usedAt, usedBy)
		}
		st, err := f.s.GetNode(t.Context(), a.id, resp.NodeID)
		if err != nil || st.Name != "edge-hq" || st.SoftwareVersion != "1.2.3" || !st.EnrolledAt.Equal(now) || st.SiteID != site {
			t.Errorf("node %+v, %v", st, err)
		}
		if got := auditActions(f.audit(t, a.id, tok.ID)); got != "enrollment_token.create" {
			t.Errorf("token's audit: %q", got)
		}
		enrolled := f.audit(t, a.id, resp.NodeID)
		if len(enrolled) != 1 || enrolled[0].Action != "edge_node.enroll" || enrolled[0].ActorType != "edge_node" || enrolled[0].ActorID != resp.NodeID {
			t.Errorf("node's audit: %+v", enrolled)
		}
		for _, secret := range []string{tok.Token, resp.Credential} {
			var n int
			if err := f.super.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE concat(before::text, after::text) LIKE '%' || $1 || '%'`,
				secret).Scan(&n); err != nil || n != 0 {
				t.Errorf("a secret is in %d audit rows (%v)", n, err)
			}
		}
		t.Run("UsedToken", func(t *testing.T) {
			_, err := syncServer(f.s).Enroll(t.Context(), enrollRequest(tok.Token))
			wantError(t, err, pantry.EUNAUTHORIZED, "this enrollment token has already been used")
		})
	})
	t.Run("ExpiredToken", func(t *testing.T) {
		tok, err := syncServer(f.s).CreateEnrollmentToken(t.Context(), a.id, a.who, site, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		nodes := f.countNodes(t, site)
		_, err = syncAt(f.s, tok.ExpiresAt).Enroll(t.Context(), enrollRequest(tok.Token))
		wantError(t, err, pantry.EUNAUTHORIZED, "this enrollment token expired at ")
		_, err = syncAt(f.s, tok.ExpiresAt.Add(time.Hour)).Enroll(t.Context(), enrollRequest(tok.Token))
		wantError(t, err, pantry.EUNAUTHORIZED, "this enrollment token expired at ")
		if got := f.countNodes(t, site); got != nodes {
			t.Errorf("%d nodes after refused enrollments, want %d", got, nodes)
		}
		// The clock that counts is the one Enroll is given.
		if _, err := syncAt(f.s, tok.ExpiresAt.Add(-time.Second)).Enroll(t.Context(), enrollRequest(tok.Token)); err != nil {
			t.Errorf("enroll a second before expiry: %v", err)
		}
	})
	t.Run("UnknownToken", func(t *testing.T) {
		for _, token := range []string{pantry.NewSecret(32), "", strings.Repeat("x", 1000)} {
			_, err := syncServer(f.s).Enroll(t.Context(), enrollRequest(token))
			wantError(t, err, pantry.EUNAUTHORIZED, "unknown enrollment token")
		}
	})
	t.Run("BadName", func(t *testing.T) {
		tok, err := syncServer(f.s).CreateEnrollmentToken(t.Context(), a.id, a.who, site, 0)
		if err != nil {
			t.Fatal(err)
		}
		req := enrollRequest(tok.Token)
		req.Name = "edge\x00"
		_, err = syncServer(f.s).Enroll(t.Context(), req)
		wantError(t, err, pantry.EINVALID, "name contains a control character")
	})
	t.Run("CreateRefused", func(t *testing.T) {
		archived := f.site(t, a, "EUR")
		yes := true
		if _, err := f.s.UpdateSite(t.Context(), a.id, a.who, archived, cloud.SiteUpdate{Archived: &yes}); err != nil {
			t.Fatal(err)
		}
		bSite := f.site(t, f.b, "EUR")
		tests := []struct {
			name string
			site string
			ttl  time.Duration
			code string
		}{
			{"TTLTooShort", site, 30 * time.Second, pantry.EINVALID},
			{"TTLTooLong", site, cloud.MaxEnrollmentTTL + time.Second, pantry.EINVALID},
			{"NegativeTTL", site, -time.Hour, pantry.EINVALID},
			{"UnknownSite", pantry.NewID(), 0, pantry.ENOTFOUND},
			{"MalformedSite", "hq", 0, pantry.ENOTFOUND},
			{"AnotherOrgsSite", bSite, 0, pantry.ENOTFOUND},
			{"ArchivedSite", archived, 0, pantry.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f.refused(t, tt.code, func() error {
					_, err := syncServer(f.s).CreateEnrollmentToken(t.Context(), a.id, a.who, tt.site, tt.ttl)
					return err
				})
			})
		}
	})
}

// TestEnrollConcurrently: of many enrollments with one token at once,
// exactly one succeeds.
func TestEnrollConcurrently(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	site := f.site(t, f.a, "EUR")
	tok, err := syncServer(f.s).CreateEnrollmentToken(t.Context(), f.a.id, f.a.who, site, 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = syncServer(f.s).Enroll(t.Context(), enrollRequest(tok.Token))
		})
	}
	close(start)
	wg.Wait()
	succeeded := 0
	for _, err := range errs {
		switch {
		case err == nil:
			succeeded++
		case pantry.ErrorCode(err) != pantry.EUNAUTHORIZED:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if succeeded != 1 {
		t.Errorf("%d enrollments succeeded, want 1", succeeded)
	}
	if got := f.countNodes(t, site); got != 1 {
		t.Errorf("%d nodes at the site, want 1", got)
	}
}

// TestReenrollReplacesNode: enrolling at a site revokes its other nodes,
// and only that site's.
func TestReenrollReplacesNode(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	site, other := f.site(t, f.a, "EUR"), f.site(t, f.a, "EUR")
	old, oldCred := f.enroll(t, f.a, site)
	neighbour, neighbourCred := f.enroll(t, f.a, other)
	replacement, newCred := f.enroll(t, f.a, site)

	_, err := syncServer(f.s).AuthenticateNode(t.Context(), oldCred)
	wantError(t, err, pantry.EUNAUTHORIZED, "invalid node credential")
	if n, err := syncServer(f.s).AuthenticateNode(t.Context(), newCred); err != nil || n != replacement {
		t.Errorf("new credential: %+v, %v", n, err)
	}
	if n, err := syncServer(f.s).AuthenticateNode(t.Context(), neighbourCred); err != nil || n != neighbour {
		t.Errorf("another site's node: %+v, %v", n, err)
	}
	st, err := f.s.GetNode(t.Context(), f.a.id, old.ID)
	if err != nil || st.RevokedAt == nil || st.RevokedReason != "replaced by node "+replacement.ID {
		t.Errorf("old node %+v, %v", st, err)
	}
	if got := auditActions(f.audit(t, f.a.id, old.ID)); got != "edge_node.enroll edge_node.revoke" {
		t.Errorf("old node's audit: %q", got)
	}
	// The old box keeps its credential, but can no longer pull.
	_, err = f.s.Pull(t.Context(), old, syncproto.PullRequest{Version: syncproto.Version}, time.Now())
	wantError(t, err, pantry.EUNAUTHORIZED, "invalid node credential")
}

func TestAuthenticateNode(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	site := f.site(t, f.a, "EUR")
	node, cred := f.enroll(t, f.a, site)

	for _, c := range []string{pantry.NewSecret(32), "", strings.Repeat("x", 1000), cred + "x"} {
		_, err := syncServer(f.s).AuthenticateNode(t.Context(), c)
		wantError(t, err, pantry.EUNAUTHORIZED, "invalid node credential")
	}
	t.Run("Revoke", func(t *testing.T) {
		// Another organization cannot revoke it.
		_, err := f.s.RevokeNode(t.Context(), f.b.id, f.b.who, node.ID)
		wantError(t, err, pantry.ENOTFOUND, "edge node "+node.ID+" not found")
		if _, err := syncServer(f.s).AuthenticateNode(t.Context(), cred); err != nil {
			t.Fatalf("after another organization's attempt: %v", err)
		}
		st, err := f.s.RevokeNode(t.Context(), f.a.id, f.a.who, node.ID)
		if err != nil || st.RevokedAt == nil || st.RevokedReason != "revoked by user "+f.a.who.ID || st.ID != node.ID {
			t.Fatalf("revoke: %+v, %v", st, err)
		}
		// The same answer as an unknown credential: no oracle.
		_, err = syncServer(f.s).AuthenticateNode(t.Context(), cred)
		wantError(t, err, pantry.EUNAUTHORIZED, "invalid node credential")
		again, err := f.s.RevokeNode(t.Context(), f.a.id, f.a.who, node.ID)
		if err != nil || !again.RevokedAt.Equal(*st.RevokedAt) {
			t.Errorf("revoke again: %+v, %v", again, err)
		}
		if got := auditActions(f.audit(t, f.a.id, node.ID)); got != "edge_node.enroll edge_node.revoke" {
			t.Errorf("audit: %q", got)
		}
		_, err = f.s.RevokeNode(t.Context(), f.a.id, f.a.who, "node-1")
		wantError(t, err, pantry.ENOTFOUND, "edge node node-1 not found")
	})
}

// TestSiteOrganization: the operator's lookup of a site's organization,
// before any tenant is named.
func TestSiteOrganization(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	site := f.site(t, f.a, "EUR")
	if org, err := f.s.SiteOrganization(t.Context(), site); err != nil || org != f.a.id {
		t.Errorf("organization %q, %v; want %s", org, err, f.a.id)
	}
	for _, id := range []string{pantry.NewID(), "hq", ""} {
		_, err := f.s.SiteOrganization(t.Context(), id)
		wantCode(t, err, pantry.ENOTFOUND)
	}
	// Only a hand-made row can give another organization the same site id.
	if _, err := f.super.Exec(t.Context(), `INSERT INTO sites (organization_id, id, name, timezone, currency) VALUES ($1, $2, 'Copy', 'UTC', 'EUR')`,
		f.b.id, site); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.SiteOrganization(t.Context(), site)
	wantCode(t, err, pantry.ECONFLICT)
}

// TestReenrollTakesOverWatermark: a data directory enrolled again names
// its previous node and carries on from its watermark; a fresh box, or a
// claim to another site's node, starts from 0.
func TestReenrollTakesOverWatermark(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	site, other := f.site(t, f.a, "EUR"), f.site(t, f.a, "EUR")
	old, _ := f.enroll(t, f.a, site)
	foreign, _ := f.enroll(t, f.a, other)
	if _, err := f.super.Exec(t.Context(), `UPDATE edge_nodes SET applied_seq = 4200, edge_last_seq = 4300 WHERE id = ANY($1::uuid[])`,
		[]string{old.ID, foreign.ID}); err != nil {
		t.Fatal(err)
	}
	again := func(previous string) cloud.NodeStatus {
		t.Helper()
		tok, err := syncServer(f.s).CreateEnrollmentToken(t.Context(), f.a.id, f.a.who, site, 0)
		if err != nil {
			t.Fatal(err)
		}
		req := enrollRequest(tok.Token)
		req.PreviousNodeID = previous
		resp, err := syncServer(f.s).Enroll(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.s.GetNode(t.Context(), f.a.id, resp.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := again(old.ID); st.AppliedSeq != 4200 || st.EdgeLastSeq != 4300 {
		t.Errorf("re-enrolled data directory: watermark %d, head %d; want 4200 and 4300", st.AppliedSeq, st.EdgeLastSeq)
	}
	if st := again(""); st.AppliedSeq != 0 {
		t.Errorf("fresh box: watermark %d, want 0", st.AppliedSeq)
	}
	if st := again(foreign.ID); st.AppliedSeq != 0 {
		t.Errorf("claiming another site's node: watermark %d, want 0", st.AppliedSeq)
	}
}
