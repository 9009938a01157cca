package sqlite_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// TestSnapshotWhileWriting copies a store while writers commit to it:
// the copy checks (its outbox and orders lie between what the store held
// before and after), opens as a store, and holds whole orders only.
func TestSnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, d := MustOpen(t)
	item := itemNamed(t, s, "Espresso").ID
	sess := mustSession(t, s, d)
	for i := range 20 {
		if _, err := s.PlaceOrder(ctx, sess, fmt.Sprint("k", i), order(item, 1), sqlite.OrderLimit{}); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.RecordStock(ctx, item, 1, pantry.StockRestock, "test"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	info, err := sqlite.Snapshot(ctx, s.Path(), out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("snapshot while writing: %v", err)
	}
	if info.Orders != 20 || info.OutboxLastSeq < 20 || !info.Demo || info.SchemaVersion != sqlite.SchemaVersion() {
		t.Fatalf("copy holds %+v", info)
	}
	if _, err := os.Stat(out + "-wal"); err == nil {
		t.Fatal("the copy has a WAL beside it: it is not one file")
	}
	dir := t.TempDir()
	if err := copyFile(out, filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Fatal(err)
	}
	copied, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	defer copied.Close()
	if bad, err := copied.LedgerMismatches(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("the copy's stock ledger disagrees with its levels: %v %v", bad, err)
	}
	if head, err := copied.OutboxHead(ctx); err != nil || head != info.OutboxLastSeq {
		t.Fatalf("the copy's outbox head %d (%v), want %d", head, err, info.OutboxLastSeq)
	}
}

// TestSnapshotRefusesAnExistingFile: a backup never overwrites a file,
// nor removes it.
func TestSnapshotRefusesAnExistingFile(t *testing.T) {
	s, _ := MustOpen(t)
	out := filepath.Join(t.TempDir(), "taken.db")
	os.WriteFile(out, []byte("precious"), 0o600)
	if _, err := sqlite.Snapshot(context.Background(), s.Path(), out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("error %v, want one saying the file exists", err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "precious" {
		t.Fatalf("the existing file changed: %q %v", b, err)
	}
}

// TestInspectRefuses: each kind of file that is not a usable Pantry
// database is refused as ErrInvalidDatabase with a reason, and left as it
// was.
func TestInspectRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpen(t)
	good := filepath.Join(t.TempDir(), "good.db")
	if _, err := sqlite.Snapshot(ctx, s.Path(), good); err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Inspect(ctx, good); err != nil {
		t.Fatalf("a good copy was refused: %v", err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(valid)
	zw.Close()
	corrupt := bytes.Clone(valid)
	for i := 4096; i < len(corrupt) && i < 4096*40; i += 7 {
		corrupt[i] = 0xA5
	}
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", "file:"+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes (body TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	otherBytes, _ := os.ReadFile(other)
	newer := filepath.Join(t.TempDir(), "newer.db")
	os.WriteFile(newer, valid, 0o600)
	db, _ = sql.Open("sqlite", "file:"+newer)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	newerBytes, _ := os.ReadFile(newer)

	for name, tc := range map[string]struct {
		content []byte // nil: no file at all
		want    string
	}{
		"Missing":     {nil, "no such file"},
		"Empty":       {[]byte{}, "not an SQLite database"},
		"Text":        {[]byte("orders,total\n1,250\n"), "not an SQLite database"},
		"Gzipped":     {gz.Bytes(), "not an SQLite database"},
		"Truncated":   {valid[:len(valid)/2], ""},
		"Corrupted":   {corrupt, ""},
		"OtherSQLite": {otherBytes, "not an edge node's database"},
		"NewerSchema": {newerBytes, "newer pantry"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "candidate.db")
			if tc.content != nil {
				os.WriteFile(path, tc.content, 0o600)
			}
			_, err := sqlite.Inspect(ctx, path)
			if !errors.Is(err, sqlite.ErrInvalidDatabase) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalidDatabase mentioning %q", err, tc.want)
			}
			if tc.content == nil {
				return
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tc.content) {
				t.Fatal("Inspect changed the file")
			}
		})
	}
}
