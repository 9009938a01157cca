package syncer

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/syncproto"
)

// restoredRig is a rig whose store was restored from a backup of 5
// events and has taken 2 more since, while the cloud applied up to 9
// from the node before it failed. The test answers the worker's
// questions about the node through nodeAnswers.
func restoredRig(t *testing.T, nodeAnswers chan func() (syncproto.NodeInfo, error)) (*rig, []string) {
	t.Helper()
	ctx := context.Background()
	orig := newRig(t, 5, 5, 10)
	file := filepath.Join(t.TempDir(), "backup.db")
	if _, err := sqlite.Snapshot(ctx, orig.store.Path(), file); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := sqlite.Snapshot(ctx, file, filepath.Join(dir, sqlite.FileName)); err != nil { // a copy of the backup, as restore installs it
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.MarkRestored(ctx, sqlite.RestoreMark{At: time.Now(), From: file}); err != nil {
		t.Fatal(err)
	}
	id, _, err := s.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, store: s, calls: make(chan *call), pauses: make(chan time.Duration, 100), bodies: map[string][]byte{}}
	r.addEvents(2) // taken offline after the restore: seqs 6 and 7 for now
	evs, err := s.Outbox(ctx, 5, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("events since the restore: %v %v", evs, err)
	}
	r.w = New(Config{Store: s, Identity: id, SoftwareVersion: "test", BatchEvents: 10, Linger: time.Millisecond, Poll: time.Hour,
		MinBackoff: minBackoff, MaxBackoff: maxBackoff, Log: slog.New(slog.DiscardHandler)})
	r.w.client = &fakeClient{PushEncodedFunc: r.push,
		PullFunc: func(ctx context.Context, _ syncproto.PullRequest) (syncproto.PullResponse, error) {
			<-ctx.Done()
			return syncproto.PullResponse{}, ctx.Err()
		},
		NodeFunc: func(ctx context.Context) (syncproto.NodeInfo, error) {
			select {
			case f := <-nodeAnswers:
				return f()
			case <-ctx.Done():
				return syncproto.NodeInfo{}, ctx.Err()
			}
		}}
	r.w.jitter = exact
	r.w.pause = func(ctx context.Context, d time.Duration) {
		select {
		case r.pauses <- d:
		case <-ctx.Done():
		}
	}
	s.OnCommit(r.w.Wake)
	return r, []string{evs[0].ID, evs[1].ID}
}

// TestRestoredNodePushesAfterTheWatermark: a restored node pushes nothing
// until the cloud has told it its watermark, backing off while the cloud
// cannot be reached or answers for another node; then the events written
// since the restore go up right after the watermark, in order, once.
func TestRestoredNodePushesAfterTheWatermark(t *testing.T) {
	answers := make(chan func() (syncproto.NodeInfo, error))
	r, since := restoredRig(t, answers)
	r.start()
	id, _, _ := r.store.Identity(context.Background())
	info := syncproto.NodeInfo{Version: 1, NodeID: id.NodeID, SiteID: id.SiteID, AppliedSeq: 9}

	answer(t, r, answers, func() (syncproto.NodeInfo, error) { return syncproto.NodeInfo{}, errors.New("link down") })
	if d := r.pause(); d != minBackoff {
		t.Fatalf("backoff %s after the first failure, want %s", d, minBackoff)
	}
	r.quiet("before the watermark is known")
	other := info
	other.NodeID = "01a2123e-0000-7000-8000-000000000099"
	answer(t, r, answers, func() (syncproto.NodeInfo, error) { return other, nil })
	r.pause()
	r.quiet("after an answer for another node")
	if st, _ := r.store.RestoreState(context.Background()); !st.Pending {
		t.Fatal("an answer for another node settled the restore")
	}
	answer(t, r, answers, func() (syncproto.NodeInfo, error) { return info, nil })

	cs := r.window(1)
	if got := cs[0].String(); got != "10-11" {
		t.Fatalf("first push after the restore carries %s, want 10-11", got)
	}
	for i, e := range cs[0].req.Events {
		if e.ID != since[i] {
			t.Fatalf("event %d is %s, want %s written since the restore", e.Seq, e.ID, since[i])
		}
	}
	cs[0].reply(nil)
	r.eventually("the store records 11 as pushed", func() bool { return r.storeAcked() == 11 })
	if st, _ := r.store.SyncReport(context.Background()); st.Restore == nil || st.Restore.Pending || st.Outbox.LastSeq != 11 {
		t.Fatalf("sync report after settling: %+v", st)
	}
}

// answer hands the worker's next question about the node its answer,
// failing the test if the worker does not ask.
func answer(t *testing.T, r *rig, answers chan func() (syncproto.NodeInfo, error), f func() (syncproto.NodeInfo, error)) {
	t.Helper()
	select {
	case answers <- f:
	case c := <-r.calls:
		st, err := r.store.RestoreState(context.Background())
		t.Fatalf("push %v went out before the cloud's watermark was known (restore state %+v, %v)", c, st, err)
	case <-time.After(wait):
		t.Fatal("the worker never asked the cloud for the node's watermark")
	}
}
