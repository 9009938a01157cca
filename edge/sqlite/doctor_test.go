package sqlite

import (
	"context"
	"os"
	"slices"
	"testing"
)

// TestReader reads beside an open store, and on a closed one without
// leaving a file behind (a -wal or -shm made by root would lock the
// node's user out of its own database).
func TestReader(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := OpenReader(ctx, dir); err == nil {
		t.Fatal("a reader opened a directory without a database")
	}
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.OutboxStats(ctx); err != nil || got != want {
		t.Fatalf("beside the store: outbox %+v, %v; want %+v", got, err, want)
	}
	if site, err := r.Site(ctx); err != nil || site.ID != d.SiteID {
		t.Fatalf("site %+v, %v; want %s", site, err, d.SiteID)
	}
	if _, err := r.db.ExecContext(ctx, "DELETE FROM outbox"); err == nil {
		t.Fatal("the reader wrote")
	}
	r.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	before := dirNames(t, dir)
	r, err = OpenReader(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := r.IntegrityCheck(ctx, true); err != nil || len(problems) > 0 {
		t.Fatalf("integrity of a sound database: %v, %v", problems, err)
	}
	if demo, err := r.IsDemo(ctx); err != nil || !demo {
		t.Fatalf("IsDemo = %v, %v", demo, err)
	}
	if after := dirNames(t, dir); !slices.Equal(after, before) {
		t.Fatalf("the reader of a closed store made files: %v, was %v", after, before)
	}
	r.Close()
}

func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
