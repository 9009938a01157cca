package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
)

// pantryRun runs the real binary to completion and returns what it
// printed and its exit code.
func pantryRun(tb testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		tb.Fatalf("pantry %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// placed is an order the edge answered 201 to.
type placed struct {
	id, item string
	qty      int
}

// orderer places orders at an edge as one attendee of one room would.
type orderer struct {
	w     *world
	e     *edgeNode
	token string
	n     int
}

// newOrderer opens an attendee session at e (sessions opened after a
// backup are lost with a restore, so each phase opens its own).
func newOrderer(t testing.TB, w *world, e *edgeNode, phase string) *orderer {
	t.Helper()
	status, s := doJSON("POST", e.url()+"/api/v1/sessions", "", map[string]string{"space_code": e.rooms[0]}, nil)
	if status != http.StatusCreated {
		t.Fatalf("open session (%s): %d %v", phase, status, s)
	}
	return &orderer{w: w, e: e, token: s["token"].(string)}
}

// place places one order of 1 to 3 units of one item; it returns false if
// the edge did not answer 201 (the caller decides whether that fails).
func (o *orderer) place() (placed, error) {
	o.n++
	p := placed{item: o.w.items[o.n%len(o.w.items)], qty: 1 + o.n%3}
	status, body := doJSON("POST", o.e.url()+"/api/v1/orders", o.token,
		map[string]any{"lines": []map[string]any{{"item_id": p.item, "quantity": p.qty}}, "deliver_to": "room"},
		map[string]string{"Idempotency-Key": fmt.Sprintf("%s-%d", o.token[:8], o.n)})
	if status != http.StatusCreated {
		return p, fmt.Errorf("order %d: %d %v", o.n, status, body)
	}
	p.id = body["id"].(string)
	return p, nil
}

func (o *orderer) placeN(t testing.TB, n int) []placed {
	t.Helper()
	var out []placed
	for range n {
		p, err := o.place()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// edgeStatus reads `pantry edge status --json`.
func (w *world) edgeStatus(e *edgeNode) sqlite.SyncReport {
	var st sqlite.SyncReport
	w.cliJSON(&st, "edge", "status", "--data", e.dir, "--json")
	return st
}

// TestEdgeBackupRestoreConverges is issue 13's promise with real
// processes (a cloud on a private PostgreSQL, an enrolled edge behind a
// link the test cuts): orders are taken; a backup is taken while the node
// serves and an order load runs; more orders are taken and pushed; the
// node is killed; a restore is refused while it runs, and for a damaged
// file; the backup is restored, the node started offline, orders taken,
// the link restored, more orders taken. The cloud ends with every order
// answered 201 exactly once, the units and the sale movements of exactly
// those orders, no dead letters and the node's watermark at the edge's
// outbox head, reached without a single sync_gap; the events written
// after the restore are numbered right after what the cloud had applied.
// The edge lacks only the orders taken between the backup and the
// failure, and its stock differs from the cloud's by exactly their units.
func TestEdgeBackupRestoreConverges(t *testing.T) {
	w := newWorld(t)
	w.start(1)
	e := w.edges[0]
	var all []placed
	all = append(all, newOrderer(t, w, e, "before the backup").placeN(t, 12)...)
	w.waitConverged(2 * time.Minute)

	// A backup while the node serves, with an order load running.
	file := filepath.Join(t.TempDir(), "pantry.db.gz")
	load := newOrderer(t, w, e, "load")
	var loaded []placed
	var loadErr error
	var count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p, err := load.place()
			if err != nil {
				loadErr = err
				return
			}
			loaded = append(loaded, p)
			count.Add(1)
		}
	}()
	for deadline := time.Now().Add(time.Minute); count.Load() < 5; time.Sleep(10 * time.Millisecond) { // let the load get going
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("the order load placed %d orders in a minute: %v", count.Load(), loadErr)
		}
	}
	out, stderr, code := pantryRun(t, w.bin, "edge", "backup", "--data", e.dir, "--out", file, "--gzip", "--json")
	close(stop)
	wg.Wait()
	if code != 0 || loadErr != nil {
		t.Fatalf("backup while serving: exit %d %s; load: %v", code, stderr, loadErr)
	}
	all = append(all, loaded...)
	var taken struct {
		Orders        int64 `json:"orders"`
		OutboxLastSeq int64 `json:"outbox_last_seq"`
		Gzip          bool  `json:"gzip"`
	}
	if err := json.Unmarshal([]byte(out), &taken); err != nil || !taken.Gzip || taken.Orders < 12 {
		t.Fatalf("backup output %s: %v", out, err)
	}
	t.Logf("backup: %d orders, outbox up to %d, while %d orders were placed during it", taken.Orders, taken.OutboxLastSeq, len(loaded))

	// More orders after the backup, pushed: the cloud's watermark moves
	// past the backup's outbox head.
	lost := newOrderer(t, w, e, "after the backup").placeN(t, 9)
	all = append(all, lost...)
	w.waitConverged(2 * time.Minute)

	// Refused while the node runs: exit 3, nothing changed.
	ordersBefore := edgeOrderCount(t, e)
	_, stderr, code = pantryRun(t, w.bin, "edge", "restore", "--data", e.dir, "--from", file)
	if code != 3 || !strings.Contains(stderr, "stop it first") {
		t.Fatalf("restore while running: exit %d, %q; want 3 saying to stop the node", code, stderr)
	}
	if got := edgeOrderCount(t, e); got != ordersBefore {
		t.Fatalf("the refused restore changed the orders: %d, was %d", got, ordersBefore)
	}
	assertNoRestoreLeftovers(t, e.dir)

	// The node fails (kill -9: its lock goes with it).
	e.mu.Lock()
	kill9(e.proc)
	e.mu.Unlock()
	var applied int64
	if err := w.db.QueryRow(context.Background(), `SELECT applied_seq FROM edge_nodes WHERE site_id = $1 AND revoked_at IS NULL`, e.siteID).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied <= taken.OutboxLastSeq {
		t.Fatalf("the cloud's watermark %d is not past the backup's head %d: the test tests nothing", applied, taken.OutboxLastSeq)
	}

	// A damaged backup is refused: exit 4, nothing changed.
	damaged := filepath.Join(t.TempDir(), "damaged.db.gz")
	raw, _ := os.ReadFile(file)
	os.WriteFile(damaged, raw[:len(raw)/2], 0o600)
	before := dirState(t, e.dir)
	_, stderr, code = pantryRun(t, w.bin, "edge", "restore", "--data", e.dir, "--from", damaged)
	if code != 4 {
		t.Fatalf("restore of a damaged backup: exit %d %q, want 4", code, stderr)
	}
	if after := dirState(t, e.dir); after != before {
		t.Fatalf("the refused restore changed the data directory:\n%s\nwas\n%s", after, before)
	}

	out, stderr, code = pantryRun(t, w.bin, "edge", "restore", "--data", e.dir, "--from", file, "--json")
	if code != 0 {
		t.Fatalf("restore: exit %d %s", code, stderr)
	}
	var restored struct {
		Pending      bool   `json:"restore_pending"`
		RestoredHead int64  `json:"restored_head"`
		Replaced     string `json:"replaced"`
	}
	if err := json.Unmarshal([]byte(out), &restored); err != nil || !restored.Pending || restored.RestoredHead != taken.OutboxLastSeq || restored.Replaced == "" {
		t.Fatalf("restore output %s (%v), want pending at head %d with the old database set aside", out, err, taken.OutboxLastSeq)
	}

	// Started offline: it takes orders, pushes nothing, says it waits.
	e.link.setUp(false)
	w.startEdge(e)
	offline := newOrderer(t, w, e, "offline after the restore").placeN(t, 6)
	all = append(all, offline...)
	if st := w.edgeStatus(e); st.Restore == nil || !st.Restore.Pending {
		t.Fatalf("status while offline after the restore: %+v, want the restore pending", st.Restore)
	}
	if text := string(w.cli("edge", "status", "--data", e.dir)); !strings.Contains(text, "waiting for the cloud's watermark before pushing") {
		t.Fatalf("status does not say the node waits for the cloud's watermark:\n%s", text)
	}
	e.link.setUp(true)
	online := newOrderer(t, w, e, "online after the restore").placeN(t, 7)
	all = append(all, online...)
	w.waitConverged(2 * time.Minute)
	st := w.edgeStatus(e)
	if st.Restore == nil || st.Restore.Pending {
		t.Fatalf("status after converging: %+v, want the restore settled", st.Restore)
	}
	w.stopEdges()

	w.checkCloudHolds(e, all)
	w.checkEdgeAfterRestore(e, all, lost, taken.OutboxLastSeq, applied)
	if n := strings.Count(w.logs.String(), "sync_gap"); n > 0 {
		t.Fatalf("the edge met %d sync_gap answers: the restored outbox was not numbered after the watermark", n)
	}
}

// checkCloudHolds checks that the cloud holds exactly the orders placed,
// once each, with their units and sale movements, no dead letters, and
// the node's watermark at the edge's outbox head.
func (w *world) checkCloudHolds(e *edgeNode, all []placed) {
	t := w.t
	want := map[string]placed{}
	units, byItem := 0, map[string]int{}
	for _, p := range all {
		if _, dup := want[p.id]; dup {
			t.Fatalf("the edge answered 201 twice with order %s", p.id)
		}
		want[p.id] = p
		units += p.qty
		byItem[p.item] += p.qty
	}
	got := pgStrings(t, w.db, `SELECT id::text FROM orders WHERE site_id = $1`, e.siteID)
	seen := map[string]bool{}
	for _, id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("the cloud holds order %s nobody placed", id)
		}
		seen[id] = true
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("the cloud lacks order %s", id)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("the cloud holds %d orders, want %d", len(got), len(want))
	}
	ctx := context.Background()
	var cloudUnits, sales, saleUnits, dead int64
	if err := w.db.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.organization_id = l.organization_id AND o.id = l.order_id WHERE o.site_id = $1),
		(SELECT count(*) FROM stock_movements WHERE site_id = $1 AND reason = 'sale'),
		(SELECT coalesce(-sum(delta), 0) FROM stock_movements WHERE site_id = $1 AND reason = 'sale'),
		(SELECT count(*) FROM dead_letters d JOIN edge_nodes n ON n.organization_id = d.organization_id AND n.id = d.node_id WHERE n.site_id = $1)`,
		e.siteID).Scan(&cloudUnits, &sales, &saleUnits, &dead); err != nil {
		t.Fatal(err)
	}
	if cloudUnits != int64(units) || sales != int64(len(want)) || saleUnits != int64(units) || dead != 0 {
		t.Fatalf("the cloud holds %d units in orders, %d sale movements of %d units and %d dead letters; want %d, %d, %d and 0",
			cloudUnits, sales, saleUnits, dead, units, len(want), units)
	}
	for item, n := range byItem {
		var sold int64
		if err := w.db.QueryRow(ctx, `SELECT coalesce(-sum(delta), 0) FROM stock_movements WHERE site_id = $1 AND item_id = $2 AND reason = 'sale'`,
			e.siteID, item).Scan(&sold); err != nil || sold != int64(n) {
			t.Fatalf("item %s: the cloud's sales are %d units (%v), want %d", item, sold, err, n)
		}
	}
	st := w.edgeStatus(e)
	var watermark int64
	if err := w.db.QueryRow(ctx, `SELECT applied_seq FROM edge_nodes WHERE site_id = $1 AND revoked_at IS NULL`, e.siteID).Scan(&watermark); err != nil {
		t.Fatal(err)
	}
	if watermark != st.Outbox.LastSeq || st.Outbox.AckedSeq != st.Outbox.LastSeq {
		t.Fatalf("the cloud's watermark is %d, the edge's outbox ends at %d, acknowledged %d", watermark, st.Outbox.LastSeq, st.Outbox.AckedSeq)
	}
}

// checkEdgeAfterRestore checks the restored edge's own files: it holds
// every order but those taken between the backup and the failure (lost),
// its events since the restore start right after the watermark the cloud
// had, and its stock differs from the cloud's by exactly the lost units.
func (w *world) checkEdgeAfterRestore(e *edgeNode, all, lost []placed, head, applied int64) {
	t := w.t
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held := map[string]bool{}
	for _, id := range sqliteStrings(t, db, `SELECT id FROM orders`) {
		held[id] = true
	}
	missing := map[string]int{} // item -> units the edge lacks
	for _, p := range all {
		if !held[p.id] {
			missing[p.item] += p.qty
		}
	}
	for _, p := range lost {
		if held[p.id] {
			t.Fatalf("the restored edge holds order %s, taken after the backup", p.id)
		}
	}
	var seqs []int64
	rows, err := db.Query(`SELECT seq FROM outbox WHERE seq > ? ORDER BY seq`, head)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		seqs = append(seqs, s)
	}
	rows.Close()
	if len(seqs) == 0 || seqs[0] != applied+1 {
		t.Fatalf("the events after the restore start at %v, want %d (the watermark %d plus one)", seqs[:min(3, len(seqs))], applied+1, applied)
	}
	for i := range seqs {
		if seqs[i] != applied+1+int64(i) {
			t.Fatalf("the events after the restore have a gap at %d", seqs[i])
		}
	}
	t.Logf("restored outbox head %d, the cloud's watermark %d: the %d events since the restore are seqs %d..%d",
		head, applied, len(seqs), seqs[0], seqs[len(seqs)-1])
	for _, item := range w.items {
		var edgeLevel, cloudLevel int64
		if err := db.QueryRow(`SELECT COALESCE((SELECT level FROM stock_levels WHERE item_id = ?), 0)`, item).Scan(&edgeLevel); err != nil {
			t.Fatal(err)
		}
		if err := w.db.QueryRow(context.Background(), `SELECT coalesce(sum(delta), 0) FROM stock_movements WHERE site_id = $1 AND item_id = $2`,
			e.siteID, item).Scan(&cloudLevel); err != nil {
			t.Fatal(err)
		}
		if edgeLevel-cloudLevel != int64(missing[item]) {
			t.Errorf("item %s: the edge's level %d, the cloud's %d: they differ by %d, want the %d units of the orders the backup lacks",
				item, edgeLevel, cloudLevel, edgeLevel-cloudLevel, missing[item])
		}
	}
}

// edgeOrderCount counts the orders a running edge holds, through `pantry
// edge status`'s neighbour: the data directory, read-only.
func edgeOrderCount(t testing.TB, e *edgeNode) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// assertNoRestoreLeftovers fails if a restore left anything in dir.
func assertNoRestoreLeftovers(t testing.TB, dir string) {
	t.Helper()
	for _, pattern := range []string{"replaced-*", ".restore-*"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pattern)); len(m) > 0 {
			t.Fatalf("a refused restore left %v", m)
		}
	}
}

// dirState lists a stopped node's data directory: names and sizes, and
// the database's bytes' length and head, for "nothing changed".
func dirState(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "pantry.lock" || strings.HasSuffix(e.Name(), "-shm") {
			continue
		}
		body, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %d %s\n", e.Name(), len(body), sum([]string{string(body)})[:16])
	}
	return b.String()
}

// TestEdgeBackupRestoreRefuseClearly: the mistakes a technician can make
// with the two commands, each with its exit code and a sentence saying
// what to do, and nothing written.
func TestEdgeBackupRestoreRefuseClearly(t *testing.T) {
	bin := buildPantry(t)
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	taken := filepath.Join(t.TempDir(), "taken.db")
	os.WriteFile(taken, []byte("yesterday"), 0o600)
	fresh := t.TempDir() // a node's directory, neither enrolled nor seeded
	s, err := sqlite.Open(context.Background(), fresh, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := dirState(t, fresh)
	if _, stderr, code := pantryRun(t, bin, "edge", "restore", "--data", fresh, "--from", taken); code != 4 || !strings.Contains(stderr, "not an SQLite database") {
		t.Fatalf("restore of a text file: exit %d %q, want 4", code, stderr)
	}
	if after := dirState(t, fresh); after != before {
		t.Fatalf("the refused restore changed the directory:\n%s\nwas\n%s", after, before)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"BackupMissingDataDir", []string{"edge", "backup", "--data", missing, "--out", filepath.Join(t.TempDir(), "b.db")}, 2, "pass --data"},
		{"BackupNoOut", []string{"edge", "backup", "--data", missing}, 2, "pass --out"},
		{"BackupOutExists", []string{"edge", "backup", "--data", fresh, "--out", taken}, 2, "another name"},
		{"RestoreNoFrom", []string{"edge", "restore", "--data", missing}, 2, "pass --from"},
		{"RestoreMissingFile", []string{"edge", "restore", "--data", missing, "--from", filepath.Join(t.TempDir(), "nope.db")}, 2, "pass --from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := pantryRun(t, bin, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.says) {
				t.Fatalf("exit %d %q, want %d saying %q", code, stderr, tc.code, tc.says)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a refused command created the data directory: %v", err)
	}
	if b, _ := os.ReadFile(taken); string(b) != "yesterday" {
		t.Fatalf("a refused backup changed an existing file: %q", b)
	}
}
