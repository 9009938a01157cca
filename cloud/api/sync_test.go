package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// syncFixture is an organization with a site ready to sell one item, and
// an edge node enrolled for the site through the API.
type syncFixture struct {
	s                       *cloudtest.Server
	a                       tenantA
	node, credential, token string
}

func newSyncFixture(t *testing.T) syncFixture {
	t.Helper()
	s := cloudtest.Start(t)
	a := seedTenant(t, s, "alpha")
	node, cred := enrollNode(t, s, a.org.Token, a.site)
	return syncFixture{s: s, a: a, node: node, credential: cred, token: a.org.Token}
}

// events makes n consecutive events from seq: sessions opened in A's room.
func (f syncFixture) events(seq int64, n int) []syncproto.Event {
	var out []syncproto.Event
	for i := range n {
		id := pantry.NewID()
		at := time.Now().UTC().Add(-time.Minute)
		payload, _ := json.Marshal(syncproto.Session{ID: id, SiteID: f.a.site, SpaceID: f.a.space, SpaceName: "room", CreatedAt: at, ExpiresAt: at.Add(time.Hour)})
		out = append(out, syncproto.Event{Seq: seq + int64(i), ID: pantry.NewID(), Type: syncproto.EventSessionOpened, Schema: 1,
			EntityID: id, Payload: payload, CreatedAt: at})
	}
	return out
}

func (f syncFixture) push(t *testing.T, events []syncproto.Event) cloudtest.Response {
	t.Helper()
	return f.s.Do(t, "POST", syncproto.PathPush, f.credential, syncproto.PushRequest{
		Version: syncproto.Version, NodeID: f.node, SoftwareVersion: "test", SentAt: time.Now().UTC(), Events: events})
}

// state is what a refused request must leave as it was.
func (f syncFixture) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var st string
	err = conn.QueryRow(ctx, `SELECT concat_ws(' ',
		(SELECT string_agg(id::text || applied_seq || coalesce(revoked_at::text, ''), ',' ORDER BY id) FROM edge_nodes),
		(SELECT count(*) FROM attendee_sessions), (SELECT count(*) FROM dead_letters),
		(SELECT count(*) FROM enrollment_tokens WHERE used_at IS NULL))`).Scan(&st)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSyncPushOverHTTP(t *testing.T) {
	f := newSyncFixture(t)
	var ack syncproto.PushResponse
	r := f.push(t, f.events(1, 5))
	must(t, r, 200, "push 1..5")
	r.Decode(t, &ack)
	if ack.AppliedSeq != 5 || len(ack.DeadLettered) != 0 {
		t.Fatalf("ack %+v, want applied_seq 5", ack)
	}
	t.Run("ReplayIsAcknowledgedNotApplied", func(t *testing.T) {
		before := f.state(t)
		r := f.push(t, f.events(1, 5)) // new ids, same seqs: still not applied again
		must(t, r, 200, "replay")
		r.Decode(t, &ack)
		if ack.AppliedSeq != 5 || f.state(t) != before {
			t.Fatalf("replay changed something: ack %+v", ack)
		}
	})
	t.Run("GapSaysWhereToResume", func(t *testing.T) {
		before := f.state(t)
		r := f.push(t, f.events(9, 2))
		if r.Status != http.StatusConflict || r.ErrorCode() != syncproto.ErrGap {
			t.Fatalf("gap: %d %s", r.Status, r.Body)
		}
		var eb syncproto.ErrorBody
		r.Decode(t, &eb)
		if eb.Error.ResumeFrom != 6 || f.state(t) != before {
			t.Fatalf("gap answer %+v, want resume_from 6 and nothing changed", eb)
		}
	})
	t.Run("Gzip", func(t *testing.T) {
		body, err := syncproto.Encode(syncproto.PushRequest{Version: 1, NodeID: f.node, Events: f.events(6, 3)}, true)
		if err != nil {
			t.Fatal(err)
		}
		r := f.s.Do(t, "POST", syncproto.PathPush, f.credential, body, "Content-Encoding", "gzip")
		must(t, r, 200, "gzip push")
		r.Decode(t, &ack)
		if ack.AppliedSeq != 8 {
			t.Fatalf("ack %+v, want 8", ack)
		}
	})
}

// TestSyncRefusesBadInput sends what a broken or hostile client might: a
// documented 4xx each, and nothing changes.
func TestSyncRefusesBadInput(t *testing.T) {
	f := newSyncFixture(t)
	must(t, f.push(t, f.events(1, 2)), 200, "push")
	push := func(mut func(*syncproto.PushRequest)) []byte {
		p := syncproto.PushRequest{Version: 1, NodeID: f.node, Events: f.events(3, 2)}
		mut(&p)
		b, _ := json.Marshal(p)
		return b
	}
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write(bytes.Repeat([]byte(" "), syncproto.MaxDecodedBytes+1))
	zw.Close()
	for name, tc := range map[string]struct {
		path, cred string
		body       any
		headers    []string
		status     int
		code       string
	}{
		"NoCredential":      {syncproto.PathPush, "", push(func(*syncproto.PushRequest) {}), nil, 401, "unauthorized"},
		"BadCredential":     {syncproto.PathPush, "nc_not-a-credential", push(func(*syncproto.PushRequest) {}), nil, 401, "unauthorized"},
		"UserTokenIsNoNode": {syncproto.PathPush, "", push(func(*syncproto.PushRequest) {}), nil, 401, "unauthorized"},
		"MalformedJSON":     {syncproto.PathPush, "node", `{"version": 1, "events": [`, nil, 400, "invalid_input"},
		"WrongTypes":        {syncproto.PathPush, "node", `{"version": "1"}`, nil, 400, "invalid_input"},
		"UnknownField":      {syncproto.PathPush, "node", `{"version": 1, "node_id": "` + f.node + `", "sneaky": true}`, nil, 400, "invalid_input"},
		"NewerVersion":      {syncproto.PathPush, "node", `{"version": 99, "whatever": 1}`, nil, 400, syncproto.ErrVersion},
		"NoEvents":          {syncproto.PathPush, "node", push(func(p *syncproto.PushRequest) { p.Events = nil }), nil, 400, "invalid_input"},
		"NotConsecutive":    {syncproto.PathPush, "node", push(func(p *syncproto.PushRequest) { p.Events[1].Seq = 9 }), nil, 400, "invalid_input"},
		"AnotherNode":       {syncproto.PathPush, "node", push(func(p *syncproto.PushRequest) { p.NodeID = pantry.NewID() }), nil, 403, "forbidden"},
		"NotGzip":           {syncproto.PathPush, "node", push(func(*syncproto.PushRequest) {}), []string{"Content-Encoding", "gzip"}, 400, "invalid_input"},
		"UnknownEncoding":   {syncproto.PathPush, "node", push(func(*syncproto.PushRequest) {}), []string{"Content-Encoding", "br"}, 400, "invalid_input"},
		"GzipBomb":          {syncproto.PathPush, "node", bomb.Bytes(), []string{"Content-Encoding", "gzip"}, 413, syncproto.ErrTooLarge},
		"Oversized":         {syncproto.PathPush, "node", bytes.Repeat([]byte(" "), syncproto.MaxBodyBytes+1), nil, 413, syncproto.ErrTooLarge},
		"PullNegative":      {syncproto.PathPull, "node", `{"version": 1, "node_id": "` + f.node + `", "cursor": {"stock_seq": -1}}`, nil, 400, "invalid_input"},
		"PullLongWait":      {syncproto.PathPull, "node", `{"version": 1, "node_id": "` + f.node + `", "wait_seconds": 3600}`, nil, 400, "invalid_input"},
		"EnrollNoToken":     {syncproto.PathEnroll, "", `{"version": 1}`, nil, 400, "invalid_input"},
		"EnrollUsedToken":   {syncproto.PathEnroll, "", syncproto.EnrollRequest{Version: 1, Token: "et_made-up"}, nil, 401, "unauthorized"},
	} {
		t.Run(name, func(t *testing.T) {
			before := f.state(t)
			cred := tc.cred
			switch {
			case cred == "node":
				cred = f.credential
			case name == "UserTokenIsNoNode":
				cred = f.token
			}
			r := f.s.Do(t, "POST", tc.path, cred, tc.body, tc.headers...)
			if r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if after := f.state(t); after != before {
				t.Fatalf("state changed:\n before %s\n after  %s", before, after)
			}
		})
	}
}

func TestSyncEnrollment(t *testing.T) {
	f := newSyncFixture(t)
	t.Run("TokenIsSingleUse", func(t *testing.T) {
		r := f.s.Do(t, "POST", "/api/v1/sites/"+f.a.site+"/enrollment-tokens", f.token, map[string]any{"ttl_seconds": 600})
		must(t, r, 201, "token")
		var tok struct {
			Token     string
			ExpiresAt time.Time `json:"expires_at"`
		}
		r.Decode(t, &tok)
		if d := time.Until(tok.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
			t.Fatalf("expires_at %s, want in 10 minutes", tok.ExpiresAt)
		}
		req := syncproto.EnrollRequest{Version: 1, Token: tok.Token, Name: "replacement box"}
		must(t, f.s.Do(t, "POST", syncproto.PathEnroll, "", req), 201, "enroll")
		r = f.s.Do(t, "POST", syncproto.PathEnroll, "", req)
		if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "already been used") {
			t.Fatalf("second use: %d %s", r.Status, r.Body)
		}
	})
	t.Run("ReplacedNodeIsRefused", func(t *testing.T) {
		// The enrollment above replaced the fixture's node.
		r := f.push(t, f.events(1, 1))
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("the replaced node pushed: %d %s", r.Status, r.Body)
		}
	})
	t.Run("RoleLimits", func(t *testing.T) {
		r := f.s.Do(t, "POST", "/api/v1/users", f.token, map[string]any{"email": "v@alpha.test", "role": "viewer", "password": cloudtest.Password})
		must(t, r, 201, "viewer")
		viewer := f.s.Login(t, "v@alpha.test", cloudtest.Password).AccessToken
		if r := f.s.Do(t, "POST", "/api/v1/sites/"+f.a.site+"/enrollment-tokens", viewer, map[string]any{}); r.Status != http.StatusForbidden {
			t.Fatalf("a viewer made an enrollment token: %d %s", r.Status, r.Body)
		}
		if r := f.s.Do(t, "POST", "/api/v1/sites/"+f.a.site+"/enrollment-tokens", f.token, map[string]any{"ttl_seconds": 10}); r.Status != http.StatusBadRequest {
			t.Fatalf("a 10 s token: %d %s", r.Status, r.Body)
		}
	})
}

// TestSyncPullLongPoll: a waiting pull answers with the admin's menu
// change, well before its wait ends.
func TestSyncPullLongPoll(t *testing.T) {
	f := newSyncFixture(t)
	pull := func(c syncproto.Cursor, wait int) syncproto.PullResponse {
		r := f.s.Do(t, "POST", syncproto.PathPull, f.credential, syncproto.PullRequest{Version: 1, NodeID: f.node, Cursor: c, WaitSeconds: wait})
		must(t, r, 200, "pull")
		var p syncproto.PullResponse
		r.Decode(t, &p)
		return p
	}
	first := pull(syncproto.Cursor{}, 0)
	if first.Config == nil || len(first.Config.Items) != 1 || first.Config.Items[0].Price.Amount != 350 {
		t.Fatalf("first pull: %+v", first.Config)
	}
	got := make(chan syncproto.PullResponse, 1)
	go func() { got <- pull(first.Cursor, 25) }()
	time.Sleep(300 * time.Millisecond) // let the pull start waiting; the test passes either way
	must(t, f.s.Do(t, "PUT", "/api/v1/sites/"+f.a.site+"/menu", f.token, map[string]any{"items": []map[string]any{
		{"item_id": f.a.item, "available": true, "price": map[string]any{"amount": 275, "currency": "EUR"}}}}), 200, "menu")
	select {
	case p := <-got:
		if p.Config == nil || p.Config.Items[0].Price.Amount != 275 {
			t.Fatalf("the long poll answered without the new price: %+v", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not answer within 20 s of a menu change (it waits 25 s)")
	}
}

// TestSyncPullEndsAtShutdown: an instance shutting down answers its
// long polls at once, with nothing new, rather than holding its edge
// nodes for their whole wait; they poll again through another instance.
func TestSyncPullEndsAtShutdown(t *testing.T) {
	f := newSyncFixture(t)
	first := f.s.Do(t, "POST", syncproto.PathPull, f.credential, syncproto.PullRequest{Version: 1, NodeID: f.node})
	must(t, first, 200, "pull")
	var p syncproto.PullResponse
	first.Decode(t, &p)
	got := make(chan cloudtest.Response, 1)
	go func() {
		got <- f.s.Do(t, "POST", syncproto.PathPull, f.credential, syncproto.PullRequest{Version: 1, NodeID: f.node, Cursor: p.Cursor, WaitSeconds: 25})
	}()
	time.Sleep(300 * time.Millisecond) // let the pull start waiting; the test passes either way
	stopped := make(chan error, 1)
	go func() { stopped <- f.s.Stop() }()
	select {
	case r := <-got:
		must(t, r, 200, "pull during shutdown")
		var again syncproto.PullResponse
		r.Decode(t, &again)
		if again.Config != nil || again.Cursor != p.Cursor {
			t.Fatalf("the pull ended by shutdown answered %+v, want nothing new at %+v", again, p.Cursor)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll was not answered within 20 s of shutdown (it waits 25 s)")
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestSyncPullStationByCapability: the cloud sends an item's station only
// to an edge whose Pantry-Sync-Capability says it decodes it. An edge of
// the first release sends no header, and its decoder would refuse the
// whole page for the unknown field.
func TestSyncPullStationByCapability(t *testing.T) {
	f := newSyncFixture(t)
	must(t, f.s.Do(t, "PATCH", "/api/v1/items/"+f.a.item, f.token, map[string]string{"station": "drinks"}), 200, "set station")
	req := syncproto.PullRequest{Version: 1, NodeID: f.node}
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"NoHeader", nil, ""},
		{"Capability0", []string{syncproto.HeaderCapability, "0"}, ""},
		{"Malformed", []string{syncproto.HeaderCapability, "yes"}, ""},
		{"Station", []string{syncproto.HeaderCapability, strconv.Itoa(syncproto.CapabilityStation)}, "drinks"},
		{"NewerEdge", []string{syncproto.HeaderCapability, "1000"}, "drinks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.s.Do(t, "POST", syncproto.PathPull, f.credential, req, tt.headers...)
			must(t, r, 200, "pull")
			if got, want := strings.Contains(string(r.Body), `"station"`), tt.want != ""; got != want {
				t.Fatalf("station on the wire=%v, want %v: %s", got, want, r.Body)
			}
			var p syncproto.PullResponse
			if err := syncproto.Decode(r.Body, false, &p); err != nil {
				t.Fatal(err)
			}
			if p.Config == nil || len(p.Config.Items) != 1 || p.Config.Items[0].Station != tt.want {
				t.Fatalf("config %+v, want the item at station %q", p.Config, tt.want)
			}
		})
	}
}

// TestSyncAnswersNameCapability: every sync answer, refusals included,
// names the cloud's capability, which is how an edge learns that it may
// send the request fields added since version 1 (PullRequest.Status).
func TestSyncAnswersNameCapability(t *testing.T) {
	f := newSyncFixture(t)
	pull := syncproto.PullRequest{Version: 1, NodeID: f.node}
	for _, tc := range []struct {
		name, path, credential string
		body                   any
		want                   int
	}{
		{"Pull", syncproto.PathPull, f.credential, pull, 200},
		{"PullWithStatus", syncproto.PathPull, f.credential, syncproto.PullRequest{Version: 1, NodeID: f.node,
			Status: &syncproto.EdgeStatus{TabletsOnline: 2}}, 200},
		{"BadCredential", syncproto.PathPull, "not-a-credential", pull, 401},
		{"Malformed", syncproto.PathPush, f.credential, map[string]any{"version": 1, "events": "x"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.s.Do(t, "POST", tc.path, tc.credential, tc.body)
			must(t, r, tc.want, tc.name)
			if got := r.Header.Get(syncproto.HeaderCapability); got != strconv.Itoa(syncproto.Capability) {
				t.Fatalf("%s header %q, want %d", syncproto.HeaderCapability, got, syncproto.Capability)
			}
		})
	}
}
