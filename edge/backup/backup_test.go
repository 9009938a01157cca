package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/backup"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// These tests run backup and restore on real data directories: SQLite
// files a store wrote, enrolled as a cloud would enroll them (no cloud:
// the rule that settles a restore with the cloud is edge/sqlite's and
// edge/syncer's to test, and cmd/pantry's end to end).

func newIdentity(site, org string) sqlite.Identity {
	return sqlite.Identity{NodeID: pantry.NewID(), OrgID: org, SiteID: site, CloudURL: "https://cloud.invalid",
		Credential: "node-secret-" + pantry.NewSecret(8), EnrolledAt: time.Now().UTC().Truncate(time.Second)}
}

// firstPage is the first pull of a site selling one item.
func firstPage(id sqlite.Identity) syncproto.PullResponse {
	cfg := syncproto.Config{Revision: 1,
		Site:  syncproto.Site{ID: id.SiteID, OrgID: id.OrgID, Name: "Canal House", Timezone: "Europe/Amsterdam", Currency: "EUR"},
		Items: []syncproto.Item{{ID: "01a2123e-0000-7000-8000-0000000000aa", Name: "Espresso", Price: syncproto.Money{Amount: 250, Currency: "EUR"}, Available: true}},
	}
	return syncproto.PullResponse{Version: syncproto.Version, Cursor: syncproto.Cursor{ConfigRevision: 1}, Config: &cfg}
}

// node opens dir's store, enrolls it as id if given, writes events
// outbox events and closes it.
func node(tb testing.TB, dir string, id *sqlite.Identity, events int) {
	tb.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	if id != nil {
		if err := s.Enroll(ctx, *id, firstPage(*id)); err != nil {
			tb.Fatal(err)
		}
	} else if _, err := s.SeedDemo(ctx); err != nil {
		tb.Fatal(err)
	}
	menu, err := s.Menu(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for range events {
		if _, err := s.RecordStock(ctx, menu[0].ID, 1, pantry.StockRestock, "test"); err != nil {
			tb.Fatal(err)
		}
	}
}

// takeBackup backs dir up into a new file.
func takeBackup(tb testing.TB, dir string, gz bool) (string, backup.BackupResult) {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "pantry-backup.db")
	res, err := backup.Backup(context.Background(), backup.BackupOptions{DataDir: dir, Out: out, Gzip: gz})
	if err != nil {
		tb.Fatalf("backup: %v", err)
	}
	return out, res
}

// state is what a data directory holds, for "nothing changed": each
// file's SHA-256 but the lock's and SQLite's shared-memory index (both
// change when read), an empty WAL counting as none.
func state(tb testing.TB, dir string) string {
	tb.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, _ := filepath.Rel(dir, path)
		if name == edge.LockFileName || strings.HasSuffix(name, "-shm") {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(name, "-wal") && len(body) == 0 {
			return nil
		}
		sum := sha256.Sum256(body)
		b.WriteString(name + " " + hex.EncodeToString(sum[:8]) + "\n")
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

func open(tb testing.TB, dir string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestBackupRestoreRoundTrip backs an enrolled node up, plain and
// gzipped, and restores each into a fresh directory (a replaced box) and
// over the node's own directory: the restored node is the same node,
// holds the backup's outbox, waits for the cloud's watermark, and the
// database it replaced is set aside whole.
func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "Plain", true: "Gzip"}[gz], func(t *testing.T) {
			id := newIdentity(pantry.NewID(), pantry.NewID())
			dir := t.TempDir()
			node(t, dir, &id, 7)
			file, res := takeBackup(t, dir, gz)
			if res.NodeID != id.NodeID || res.OutboxLastSeq != 7 || !res.Enrolled || res.Gzip != gz || res.Bytes == 0 || len(res.SHA256) != 64 {
				t.Fatalf("backup result %+v", res)
			}
			raw, _ := os.ReadFile(file)
			if got := bytes.HasPrefix(raw, []byte{0x1f, 0x8b}); got != gz {
				t.Fatalf("gzip magic %v, want %v", got, gz)
			}
			if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
				t.Fatalf("backup mode %v: it holds the node's credential, want 0600", fi.Mode().Perm())
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*.tmp")); len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}

			fresh := filepath.Join(t.TempDir(), "new-box")
			got, err := backup.Restore(ctx, backup.RestoreOptions{DataDir: fresh, From: file})
			if err != nil {
				t.Fatalf("restore into a fresh directory: %v", err)
			}
			if got.NodeID != id.NodeID || !got.Pending || got.RestoredHead != 7 || got.Replaced != "" || got.Gzip != gz {
				t.Fatalf("restore result %+v", got)
			}
			s := open(t, fresh)
			if rid, ok, err := s.Identity(ctx); err != nil || !ok || rid != id {
				t.Fatalf("restored identity %+v %v %v, want %+v", rid, ok, err, id)
			}
			if st, err := s.RestoreState(ctx); err != nil || !st.Pending || st.Head != 7 || st.From != file {
				t.Fatalf("restore state %+v %v", st, err)
			}
			s.Close()

			before := state(t, dir)
			if !strings.HasPrefix(before, sqlite.FileName+" ") {
				t.Fatalf("the node's directory holds:\n%s", before)
			}
			over, err := backup.Restore(ctx, backup.RestoreOptions{DataDir: dir, From: file, Now: func() time.Time { return time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC) }})
			if err != nil {
				t.Fatalf("restore over the node's own directory: %v", err)
			}
			if want := filepath.Join(dir, "replaced-20261208T090000Z"); over.Replaced != want {
				t.Fatalf("replaced database set aside in %q, want %q", over.Replaced, want)
			}
			if aside := state(t, over.Replaced); aside != before {
				t.Fatalf("the database set aside is not the one replaced:\nbefore:\n%s\naside:\n%s", before, aside)
			}
		})
	}
}

// TestRestoreRefuses: each refusal names its reason, and the data
// directory is left exactly as it was.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	site, org := pantry.NewID(), pantry.NewID()
	id := newIdentity(site, org)
	dir := t.TempDir()
	node(t, dir, &id, 3)
	good, _ := takeBackup(t, dir, false)
	goodBytes, _ := os.ReadFile(good)

	otherSite := newIdentity(pantry.NewID(), org)
	otherSiteDir := t.TempDir()
	node(t, otherSiteDir, &otherSite, 2)
	otherSiteFile, _ := takeBackup(t, otherSiteDir, false)

	otherNode := newIdentity(site, org) // another box of the same site, its own outbox
	otherNodeDir := t.TempDir()
	node(t, otherNodeDir, &otherNode, 4)
	otherNodeFile, _ := takeBackup(t, otherNodeDir, true)

	demoDir := t.TempDir()
	node(t, demoDir, nil, 1)
	demoFile, _ := takeBackup(t, demoDir, false)

	write := func(name string, body []byte) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, body, 0o600)
		return p
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(goodBytes)
	zw.Close()
	corrupt := bytes.Clone(goodBytes)
	for i := 4096; i < len(corrupt); i += 5 {
		corrupt[i] ^= 0x5a
	}

	for name, tc := range map[string]struct {
		from  string
		force bool
		want  error
		says  string
	}{
		"Missing":         {filepath.Join(t.TempDir(), "nope.db"), false, backup.ErrNoFile, "--from"},
		"Corrupt":         {write("corrupt.db", corrupt), false, sqlite.ErrInvalidDatabase, ""},
		"NotADatabase":    {write("notes.txt", []byte("hello")), false, sqlite.ErrInvalidDatabase, "not an SQLite database"},
		"Truncated":       {write("half.db", goodBytes[:len(goodBytes)/2]), false, sqlite.ErrInvalidDatabase, ""},
		"BadGzip":         {write("bad.db.gz", append([]byte{0x1f, 0x8b}, "garbage"...)), false, sqlite.ErrInvalidDatabase, "gzip"},
		"TruncatedGzip":   {write("short.db.gz", gz.Bytes()[:gz.Len()/2]), false, sqlite.ErrInvalidDatabase, "inflate"},
		"OtherSite":       {otherSiteFile, false, backup.ErrOtherSite, "empty data directory"},
		"OtherSiteForced": {otherSiteFile, true, backup.ErrOtherSite, ""},
		"OtherNode":       {otherNodeFile, false, backup.ErrOtherNode, "--force"},
		"Demo":            {demoFile, false, backup.ErrOtherNode, "not enrolled"},
	} {
		t.Run(name, func(t *testing.T) {
			before := state(t, dir)
			_, err := backup.Restore(ctx, backup.RestoreOptions{DataDir: dir, From: tc.from, Force: tc.force})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.says)
			}
			if after := state(t, dir); after != before {
				t.Fatalf("the data directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	t.Run("NodeRunning", func(t *testing.T) {
		lock, err := edge.LockDataDir(dir) // as edge serve holds it
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		before := state(t, dir)
		_, err = backup.Restore(ctx, backup.RestoreOptions{DataDir: dir, From: good})
		if !errors.Is(err, edge.ErrNodeRunning) || !strings.Contains(err.Error(), "stop it first") {
			t.Fatalf("error %v, want ErrNodeRunning saying what to do", err)
		}
		if after := state(t, dir); after != before {
			t.Fatalf("the data directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
	t.Run("OtherNodeForced", func(t *testing.T) {
		res, err := backup.Restore(ctx, backup.RestoreOptions{DataDir: dir, From: otherNodeFile, Force: true})
		if err != nil || !res.Forced || res.NodeID != otherNode.NodeID || !res.Pending || res.RestoredHead != 4 {
			t.Fatalf("forced restore of another node's backup: %+v, %v", res, err)
		}
	})
}

// TestRestoreKeepsANewerEnrollment: a directory enrolled again after the
// backup (as another node of the same site, its outbox carrying on) keeps
// its newer identity, whose watermark in the cloud counts that outbox.
func TestRestoreKeepsANewerEnrollment(t *testing.T) {
	ctx := context.Background()
	first := newIdentity(pantry.NewID(), pantry.NewID())
	dir := t.TempDir()
	node(t, dir, &first, 5)
	file, _ := takeBackup(t, dir, false)
	second := first
	second.NodeID, second.Credential = pantry.NewID(), "node-secret-2"
	node(t, dir, &second, 3) // edge init again: same site, same outbox

	res, err := backup.Restore(ctx, backup.RestoreOptions{DataDir: dir, From: file})
	if err != nil || !res.KeptIdentity || res.NodeID != second.NodeID || res.Forced {
		t.Fatalf("restore: %+v, %v; want the newer identity kept", res, err)
	}
	s := open(t, dir)
	if id, _, _ := s.Identity(ctx); id.NodeID != second.NodeID || id.Credential != second.Credential {
		t.Fatalf("restored identity %s, want %s with its credential", id.NodeID, second.NodeID)
	}
	if head, _ := s.OutboxHead(ctx); head != 5 {
		t.Fatalf("restored outbox head %d, want the backup's 5", head)
	}
}

// TestBackupRefuses: a backup of nothing, or onto a file that exists, or
// into a directory that does not, is refused with a sentence, and writes
// nothing.
func TestBackupRefuses(t *testing.T) {
	ctx := context.Background()
	id := newIdentity(pantry.NewID(), pantry.NewID())
	dir := t.TempDir()
	node(t, dir, &id, 1)
	taken := filepath.Join(t.TempDir(), "taken.db")
	os.WriteFile(taken, []byte("last week's backup"), 0o600)
	for name, tc := range map[string]struct {
		dir, out string
		want     error
		says     string
	}{
		"NoDataDir":   {filepath.Join(t.TempDir(), "missing"), filepath.Join(t.TempDir(), "b.db"), backup.ErrNoData, "--data"},
		"EmptyDir":    {t.TempDir(), filepath.Join(t.TempDir(), "b.db"), backup.ErrNoData, "--data"},
		"OutputTaken": {dir, taken, backup.ErrExists, "another name"},
		"NoOutputDir": {dir, filepath.Join(t.TempDir(), "no", "such", "b.db"), nil, "create it first"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := backup.Backup(ctx, backup.BackupOptions{DataDir: tc.dir, Out: tc.out})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	if b, _ := os.ReadFile(taken); string(b) != "last week's backup" {
		t.Fatalf("the existing file changed: %q", b)
	}
}
