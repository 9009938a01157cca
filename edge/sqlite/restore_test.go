package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// These tests play the restore rule (restore.go) on real SQLite files: a
// node writes events, a backup is taken (Snapshot), the node writes more,
// which "the cloud" applied (its watermark), the backup is restored into
// another directory, the restored node writes events before it can reach
// the cloud, and then reconciles with the watermark.

// restoreRig is a node's store, enrolled, and what the test knows the
// cloud holds of it.
type restoreRig struct {
	t    *testing.T
	site *cloudSite
	s    *sqlite.Store
}

func newRestoreRig(t *testing.T) *restoreRig {
	c := newCloudSite(t)
	return &restoreRig{t: t, site: c, s: mustEnroll(t, c)}
}

// write commits n events (restocks), each in its own transaction, and
// returns their ids in order.
func write(tb testing.TB, s *sqlite.Store, item string, n int) []string {
	tb.Helper()
	ctx := context.Background()
	before, err := s.OutboxHead(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for range n {
		if _, err := s.RecordStock(ctx, item, 1, pantry.StockRestock, "test"); err != nil {
			tb.Fatal(err)
		}
	}
	return eventIDsAfter(tb, s, before)
}

// eventIDsAfter lists the ids of the events after seq, in seq order.
func eventIDsAfter(tb testing.TB, s *sqlite.Store, seq int64) []string {
	tb.Helper()
	evs, err := s.Outbox(context.Background(), seq, 100000)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

// backup snapshots the rig's store into a file of its own.
func (r *restoreRig) backup() string {
	r.t.Helper()
	out := filepath.Join(r.t.TempDir(), "backup.db")
	if _, err := sqlite.Snapshot(context.Background(), r.s.Path(), out); err != nil {
		r.t.Fatalf("snapshot: %v", err)
	}
	return out
}

// restore installs the backup file in a fresh directory as restore does
// (copy, open, mark) and returns the restored store.
func restore(tb testing.TB, file string) *sqlite.Store {
	tb.Helper()
	dir := tb.TempDir()
	if err := copyFile(file, filepath.Join(dir, sqlite.FileName)); err != nil {
		tb.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		tb.Fatalf("open restored: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.MarkRestored(context.Background(), sqlite.RestoreMark{At: time.Now(), From: file}); err != nil {
		tb.Fatalf("mark restored: %v", err)
	}
	return s
}

// outbox is the store's outbox as (seq, id, pushed) rows.
type row struct {
	seq    int64
	id     string
	pushed bool
}

func outboxRows(tb testing.TB, s *sqlite.Store) []row {
	tb.Helper()
	evs, err := s.Outbox(context.Background(), -1, 100000)
	if err != nil {
		tb.Fatal(err)
	}
	var rows []row
	for _, e := range evs {
		rows = append(rows, row{e.Seq, e.ID, e.PushedAt != nil})
	}
	return rows
}

// TestRestoreRenumbersAfterTheWatermark runs the rule for each place the
// cloud's watermark W can be against the backup's head H (10), with k
// events written after the restore, and checks the whole outbox after:
// history up to min(H, W) marked pushed, anything after W not, the events
// written since the restore numbered from max(H, W)+1 with their ids in
// order, pushing resuming at W+1, and the next event after everything.
func TestRestoreRenumbersAfterTheWatermark(t *testing.T) {
	const h = 10
	for _, tc := range []struct {
		name string
		w    int64 // the cloud's watermark when the node reconciles
		k    int   // events written between the restore and reconciling
	}{
		{"WatermarkBelowHead", h - 4, 3},
		{"WatermarkAtHead", h, 3},
		{"WatermarkAboveHead", h + 7, 3},
		{"WatermarkAboveHeadNothingWritten", h + 7, 0},
		{"NothingPushedYet", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRestoreRig(t)
			item := r.site.cfg.Items[0].ID
			history := write(t, r.s, item, h)
			file := r.backup()
			history = append(history, write(t, r.s, item, max(0, int(tc.w)-h))...) // what the cloud has beyond the backup

			s := restore(t, file)
			if st, err := s.RestoreState(ctx); err != nil || !st.Pending || st.Head != h {
				t.Fatalf("after restore: %+v, %v; want pending with head %d", st, err, h)
			}
			since := write(t, s, item, tc.k)
			got, ok, err := s.ReconcileRestore(ctx, tc.w)
			if err != nil || !ok {
				t.Fatalf("reconcile: %v, %v", ok, err)
			}
			shift := max(0, tc.w-h)
			if want := (sqlite.Reconciled{Head: h, Applied: tc.w, Shift: shift, Renumbered: int64(tc.k) * min(shift, 1)}); got != want {
				t.Fatalf("reconciled %+v, want %+v", got, want)
			}
			var want []row
			for i, id := range history[:h] {
				seq := int64(i + 1)
				want = append(want, row{seq, id, seq <= tc.w})
			}
			for i, id := range since {
				want = append(want, row{max(h, tc.w) + int64(i+1), id, false})
			}
			if rows := outboxRows(t, s); !slices.Equal(rows, want) {
				t.Fatalf("outbox after reconciling:\n got %v\nwant %v", rows, want)
			}
			st, err := s.SyncState(ctx)
			if err != nil || st.AckedSeq != tc.w {
				t.Fatalf("acked seq %d (%v), want %d: pushing resumes after the watermark", st.AckedSeq, err, tc.w)
			}
			next := write(t, s, item, 1)
			if rows := outboxRows(t, s); rows[len(rows)-1] != (row{max(h, tc.w) + int64(tc.k) + 1, next[0], false}) {
				t.Fatalf("the next event is %v, want seq %d", rows[len(rows)-1], max(h, tc.w)+int64(tc.k)+1)
			}
			if head, err := s.OutboxHead(ctx); err != nil || head != max(h, tc.w)+int64(tc.k)+1 {
				t.Fatalf("outbox head %d (%v)", head, err)
			}
			if rs, err := s.RestoreState(ctx); err != nil || rs.Pending {
				t.Fatalf("after reconciling: %+v, %v; want nothing pending", rs, err)
			}
			if _, ok, err := s.ReconcileRestore(ctx, tc.w+100); ok || err != nil {
				t.Fatalf("a second reconcile did something: %v, %v", ok, err)
			}
		})
	}
}

// TestRestoreTwice: restoring the same backup again, before and after
// the first restore reached the cloud, numbers what is written after the
// second restore right after whatever the cloud holds by then.
func TestRestoreTwice(t *testing.T) {
	ctx := context.Background()
	r := newRestoreRig(t)
	item := r.site.cfg.Items[0].ID
	write(t, r.s, item, 5)
	file := r.backup()
	write(t, r.s, item, 4) // pushed by the node before it failed: W = 9

	t.Run("BeforeReachingTheCloud", func(t *testing.T) {
		first := restore(t, file)
		write(t, first, item, 2) // lost with the first restore's data
		second := restore(t, file)
		ids := write(t, second, item, 1)
		if _, ok, err := second.ReconcileRestore(ctx, 9); err != nil || !ok {
			t.Fatalf("reconcile: %v %v", ok, err)
		}
		if rows := outboxRows(t, second); len(rows) != 6 || rows[5] != (row{10, ids[0], false}) {
			t.Fatalf("outbox %v, want the 5 of the backup then seq 10", rows)
		}
	})
	t.Run("AfterReachingTheCloud", func(t *testing.T) {
		first := restore(t, file)
		write(t, first, item, 2)
		if _, _, err := first.ReconcileRestore(ctx, 9); err != nil {
			t.Fatal(err)
		}
		if err := first.MarkPushed(ctx, 11, time.Now()); err != nil { // the cloud applied 10, 11: W = 11
			t.Fatal(err)
		}
		second := restore(t, file)
		ids := write(t, second, item, 1)
		if _, _, err := second.ReconcileRestore(ctx, 11); err != nil {
			t.Fatal(err)
		}
		if rows := outboxRows(t, second); len(rows) != 6 || rows[5] != (row{12, ids[0], false}) {
			t.Fatalf("outbox %v, want the 5 of the backup then seq 12", rows)
		}
	})
}

// TestBackupOfAPendingRestoreKeepsItsHead: a backup taken after a restore
// but before the node reached the cloud holds events the cloud has never
// seen after the first restore's head. Restoring it keeps that head, so
// those events are renumbered and pushed, not taken for history.
func TestBackupOfAPendingRestoreKeepsItsHead(t *testing.T) {
	ctx := context.Background()
	r := newRestoreRig(t)
	item := r.site.cfg.Items[0].ID
	write(t, r.s, item, 5)
	file := r.backup()
	write(t, r.s, item, 10) // W = 15

	restored := restore(t, file)
	offline := write(t, restored, item, 3) // seqs 6..8, never pushed
	second := filepath.Join(t.TempDir(), "second.db")
	info, err := sqlite.Snapshot(ctx, restored.Path(), second)
	if err != nil || !info.RestorePending || info.OutboxLastSeq != 8 {
		t.Fatalf("snapshot of a pending restore: %+v, %v", info, err)
	}
	again := restore(t, second)
	if st, err := again.RestoreState(ctx); err != nil || st.Head != 5 {
		t.Fatalf("restore state %+v (%v), want the first restore's head 5", st, err)
	}
	if _, _, err := again.ReconcileRestore(ctx, 15); err != nil {
		t.Fatal(err)
	}
	got := outboxRows(t, again)[5:]
	want := []row{{16, offline[0], false}, {17, offline[1], false}, {18, offline[2], false}}
	if !slices.Equal(got, want) {
		t.Fatalf("events written offline after the first restore: %v, want %v", got, want)
	}
}

// TestRestoreOfADemoRecordsNothingPending: a node that is not enrolled
// has no cloud to wait for.
func TestRestoreOfADemoRecordsNothingPending(t *testing.T) {
	s, _ := MustOpen(t)
	file := filepath.Join(t.TempDir(), "demo.db")
	info, err := sqlite.Snapshot(context.Background(), s.Path(), file)
	if err != nil || info.Enrolled || !info.Demo {
		t.Fatalf("snapshot of a demo: %+v, %v", info, err)
	}
	restored := restore(t, file)
	st, err := restored.RestoreState(context.Background())
	if err != nil || st.Pending || st.At.IsZero() || st.From != file {
		t.Fatalf("restore state of a demo: %+v, %v; want restored, nothing pending", st, err)
	}
}

// TestReconcileRefusesANegativeWatermark: a watermark below 0 is nobody's.
func TestReconcileRefusesANegativeWatermark(t *testing.T) {
	r := newRestoreRig(t)
	write(t, r.s, r.site.cfg.Items[0].ID, 2)
	s := restore(t, r.backup())
	if _, _, err := s.ReconcileRestore(context.Background(), -1); err == nil {
		t.Fatal("a negative watermark was taken")
	}
	if st, _ := s.RestoreState(context.Background()); !st.Pending {
		t.Fatal("the refused reconcile settled the restore")
	}
}
