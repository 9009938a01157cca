package edge_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// disconnectWait bounds how long a revoked tablet may stay connected: the
// requirement is "within seconds"; the bound is generous so that a loaded
// machine cannot fail the test, and nothing is timed.
const disconnectWait = 10 * time.Second

// awaitDisconnected fails unless tab's connection ends within disconnectWait.
func awaitDisconnected(tb testing.TB, tab *edgetest.Tablet) {
	tb.Helper()
	select {
	case <-tab.Done():
	case <-time.After(disconnectWait):
		tb.Fatalf("revoked tablet still connected after %s", disconnectWait)
	}
}

// TestRemovedTabletDisconnected: a tablet removed with the CLI, which is
// another process writing the node's SQLite file, is disconnected from
// the running node's broker within seconds and cannot log in again.
func TestRemovedTabletDisconnected(t *testing.T) {
	n := edgetest.Start(t)
	addr, user, password := n.MQTTAddr().String(), n.Demo.Tablet.Username, n.Demo.Tablet.Password
	tab := tablet(t, n)

	cli, err := sqlite.Open(context.Background(), n.Dir, sqlite.Options{}) // as `pantry edge tablet remove` does
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.RemoveTablet(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	awaitDisconnected(t, tab)
	if _, err := edgetest.Connect(t, addr, user, password); err == nil {
		t.Fatal("removed tablet logged in again")
	}
}

// TestRevokedByCloudDisconnected: a tablet the cloud revokes is
// disconnected as soon as the node applies the pull, not at its next
// reconnect (the periodic check is set to an hour, so only the pull can
// have done it), and another tablet stays connected.
func TestRevokedByCloudDisconnected(t *testing.T) {
	cloud := newFakeCloud(t)
	n := startEnrolled(t, cloud, func(c *edge.Config) { c.CredentialCheckEvery = time.Hour })
	addr := n.MQTTAddr().String()
	gone, err := edgetest.Connect(t, addr, "pantry-1", fakeTabletPassword)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := edgetest.Connect(t, addr, "pantry-2", fakeTabletPassword)
	if err != nil {
		t.Fatal(err)
	}

	cloud.revoke("pantry-1")
	awaitDisconnected(t, gone)
	if _, err := edgetest.Connect(t, addr, "pantry-1", fakeTabletPassword); err == nil {
		t.Fatal("revoked tablet logged in again")
	}
	select {
	case <-kept.Done():
		t.Fatal("the tablet the cloud kept was disconnected")
	default:
	}
}

const fakeTabletPassword = "correct horse battery"

// fakeCloud answers the sync worker's pulls with a configuration whose
// tablets the test can revoke: the outer boundary of the edge, standing in
// for cloud/syncserver, which needs PostgreSQL.
type fakeCloud struct {
	*httptest.Server
	id sqlite.Identity

	mu      sync.Mutex
	cfg     syncproto.Config
	changed chan struct{} // closed and replaced at each revision
}

func newFakeCloud(tb testing.TB) *fakeCloud {
	tb.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(fakeTabletPassword), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	c := &fakeCloud{changed: make(chan struct{})}
	c.id = sqlite.Identity{NodeID: pantry.NewID(), OrgID: pantry.NewID(), SiteID: pantry.NewID(), Credential: "node-secret", EnrolledAt: time.Now().UTC()}
	c.cfg = syncproto.Config{
		Revision: 1,
		Site:     syncproto.Site{ID: c.id.SiteID, OrgID: c.id.OrgID, Name: "Canal House", Timezone: "Europe/Amsterdam", Currency: "EUR"},
		Spaces:   []syncproto.Space{{ID: pantry.NewID(), Name: "Amstel", Floor: "1", Code: "code-amstel"}},
		Items:    []syncproto.Item{{ID: pantry.NewID(), Name: "Espresso", Price: syncproto.Money{Amount: 250, Currency: "EUR"}, Available: true}},
		Tablets: []syncproto.Tablet{
			{ID: pantry.NewID(), Name: "Pantry 1", Username: "pantry-1", PasswordHash: string(hash)},
			{ID: pantry.NewID(), Name: "Pantry 2", Username: "pantry-2", PasswordHash: string(hash)},
		},
	}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	tb.Cleanup(c.Close)
	c.id.CloudURL = c.URL
	return c
}

// page returns the configuration as a pull page, and a channel closed at
// the next revision.
func (c *fakeCloud) page() (syncproto.PullResponse, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.cfg
	return syncproto.PullResponse{Version: syncproto.Version, Cursor: syncproto.Cursor{ConfigRevision: cfg.Revision},
		Config: &cfg, Stock: []syncproto.StockMovement{}, ServerTime: time.Now().UTC()}, c.changed
}

// revoke publishes a new revision without the tablet username.
func (c *fakeCloud) revoke(username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var kept []syncproto.Tablet
	for _, t := range c.cfg.Tablets {
		if t.Username != username {
			kept = append(kept, t)
		}
	}
	c.cfg.Tablets = kept
	c.cfg.Revision++
	close(c.changed)
	c.changed = make(chan struct{})
}

// serve answers a pull with the configuration when the node's revision
// is older, and otherwise holds it (long poll) until the next revision or
// the wait's end; pushes are refused (the test places no orders).
func (c *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != syncproto.PathPull {
		http.Error(w, "not in this fake", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	var req syncproto.PullRequest
	if err == nil {
		err = syncproto.Decode(body, r.Header.Get("Content-Encoding") == "gzip", &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	page, changed := c.page()
	if req.Cursor.ConfigRevision >= page.Cursor.ConfigRevision {
		select {
		case <-changed:
			page, _ = c.page()
		case <-time.After(time.Duration(req.WaitSeconds) * time.Second):
			page.Config, page.Cursor = nil, req.Cursor
		case <-r.Context().Done():
			return
		}
	}
	out, err := syncproto.Encode(page, false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// startEnrolled starts a node enrolled with cloud, on loopback ports,
// and stops it at cleanup.
func startEnrolled(tb testing.TB, cloud *fakeCloud, configure ...func(*edge.Config)) *edge.Node {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	first, _ := cloud.page()
	err = s.Enroll(ctx, cloud.id, first)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("enroll: %v", err)
	}
	cfg := edge.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SyncMinBackoff: 10 * time.Millisecond}
	for _, f := range configure {
		f(&cfg)
	}
	runCtx, cancel := context.WithCancel(ctx)
	n, err := edge.New(runCtx, cfg)
	if err != nil {
		cancel()
		tb.Fatalf("start edge node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("edge node stopped with: %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Errorf("edge node did not stop within 30 s")
		}
	})
	url := "http://" + n.HTTPAddr().String() + "/readyz"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("edge node at %s not ready within 20 s", url)
		}
	}
}
