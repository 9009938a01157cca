package syncserver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The push's policy on its own, with the store faked at its edge: the
// database's side of it (and the whole push, end to end) is tested in
// cloud/postgres against a real PostgreSQL.

// fakeStore is a Store whose methods are funcs; those a test does not set
// fail it.
type fakeStore struct {
	Store
	InPushFunc func(ctx context.Context, node cloud.Node, now time.Time, fn func(cloud.PushTx) error) error
}

func (f *fakeStore) InPush(ctx context.Context, node cloud.Node, now time.Time, fn func(cloud.PushTx) error) error {
	return f.InPushFunc(ctx, node, now, fn)
}

var _ Store = (*fakeStore)(nil)

// fakeTx is a push transaction that refuses any set holding a poison seq,
// and records what it wrote, kept as dead letters and recorded.
type fakeTx struct {
	site    string
	applied int64
	poison  map[int64]bool
	failAt  int64 // a seq whose set fails for no fault of the events
	written []int64
	dead    []cloud.PushEvent
	record  int64
}

var _ cloud.PushTx = (*fakeTx)(nil)

func (tx *fakeTx) Site() string   { return tx.site }
func (tx *fakeTx) Applied() int64 { return tx.applied }

func (tx *fakeTx) Write(_ context.Context, events []cloud.PushEvent) error {
	for _, e := range events {
		if e.Seq == tx.failAt {
			return errors.New("connection lost")
		}
		if tx.poison[e.Seq] {
			return &cloud.RefusedError{Reason: "poison"}
		}
	}
	for _, e := range events {
		tx.written = append(tx.written, e.Seq)
	}
	return nil
}

func (tx *fakeTx) DeadLetter(_ context.Context, events []cloud.PushEvent) error {
	tx.dead = append(tx.dead, events...)
	return nil
}

func (tx *fakeTx) Record(_ context.Context, _ syncproto.PushRequest, applied int64) error {
	tx.record = applied
	return nil
}

const (
	site = "0198a0c2-0000-7000-8000-0000000000a1"
	node = "0198a0c2-0000-7000-8000-0000000000b1"
)

// t0 is when every event of these tests happened.
var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// push makes a push of seqs first..last, every payload a stock movement
// of site (or of otherSite for the seqs in other).
func push(first, last int64, other ...int64) syncproto.PushRequest {
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: node}
	for seq := first; seq <= last; seq++ {
		at := site
		if slices.Contains(other, seq) {
			at = "0198a0c2-0000-7000-8000-0000000000a2"
		}
		p, err := json.Marshal(syncproto.StockMovement{ID: pantry.NewID(), SiteID: at, ItemID: pantry.NewID(), Delta: -1,
			Reason: "sale", CreatedAt: t0})
		if err != nil {
			panic(err)
		}
		req.Events = append(req.Events, syncproto.Event{Seq: seq, ID: pantry.NewID(), Type: syncproto.EventStockMoved,
			Schema: syncproto.EventSchema, EntityID: pantry.NewID(), Payload: p, CreatedAt: t0})
	}
	return req
}

func seqs(events []cloud.PushEvent) []int64 {
	var out []int64
	for _, e := range events {
		out = append(out, e.Seq)
	}
	return out
}

func TestPushDeadLettersOnlyThePoison(t *testing.T) {
	for _, tc := range []struct {
		name     string
		applied  int64
		req      syncproto.PushRequest
		poison   []int64
		wantDead []int64
		wantOK   []int64 // written, in order
		wantAt   int64   // the watermark recorded
	}{
		{"Clean", 0, push(1, 8), nil, nil, []int64{1, 2, 3, 4, 5, 6, 7, 8}, 8},
		{"OnePoison", 0, push(1, 8), []int64{5}, []int64{5}, []int64{1, 2, 3, 4, 6, 7, 8}, 8},
		{"PoisonAtBothEnds", 0, push(1, 7), []int64{1, 7}, []int64{1, 7}, []int64{2, 3, 4, 5, 6}, 7},
		{"AllPoison", 0, push(1, 3), []int64{1, 2, 3}, []int64{1, 2, 3}, nil, 3},
		{"OtherSiteNeverWritten", 0, push(1, 4, 2), nil, []int64{2}, []int64{1, 3, 4}, 4},
		{"ReplayIsNotWrittenAgain", 6, push(1, 8), []int64{2}, nil, []int64{7, 8}, 8},
		{"WhollyReplayed", 8, push(3, 8), nil, nil, nil, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := &fakeTx{site: site, applied: tc.applied, poison: map[int64]bool{}}
			for _, p := range tc.poison {
				tx.poison[p] = true
			}
			s := New(&fakeStore{InPushFunc: func(_ context.Context, _ cloud.Node, _ time.Time, fn func(cloud.PushTx) error) error {
				return fn(tx)
			}}, Options{})
			resp, err := s.Push(t.Context(), cloud.Node{OrgID: pantry.NewID(), SiteID: site, ID: node}, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(tx.dead); !slices.Equal(got, tc.wantDead) {
				t.Errorf("dead letters %v, want %v", got, tc.wantDead)
			}
			if !slices.Equal(resp.DeadLettered, append([]int64{}, tc.wantDead...)) {
				t.Errorf("answer's dead_lettered %v, want %v", resp.DeadLettered, tc.wantDead)
			}
			if !slices.Equal(tx.written, tc.wantOK) {
				t.Errorf("written %v, want %v", tx.written, tc.wantOK)
			}
			if tx.record != tc.wantAt || resp.AppliedSeq != tc.wantAt {
				t.Errorf("watermark recorded %d, answered %d, want %d", tx.record, resp.AppliedSeq, tc.wantAt)
			}
		})
	}
}

// TestPushFailureIsNoDeadLetter: an error that is no refusal of the
// events fails the whole push, for the edge to send again.
func TestPushFailureIsNoDeadLetter(t *testing.T) {
	tx := &fakeTx{site: site, poison: map[int64]bool{2: true}, failAt: 6}
	s := New(&fakeStore{InPushFunc: func(_ context.Context, _ cloud.Node, _ time.Time, fn func(cloud.PushTx) error) error {
		return fn(tx)
	}}, Options{})
	_, err := s.Push(t.Context(), cloud.Node{OrgID: pantry.NewID(), SiteID: site, ID: node}, push(1, 8))
	if err == nil || errors.As(err, new(*cloud.RefusedError)) {
		t.Fatalf("push: %v, want the connection's error", err)
	}
	if tx.record != 0 {
		t.Errorf("watermark recorded at %d after a failure", tx.record)
	}
}

// TestPushAheadWaitsForThePushBefore: a push that starts past the
// watermark is tried again while the one before it lands; one that
// starts behind it (a replay) is never a gap.
func TestPushAheadWaitsForThePushBefore(t *testing.T) {
	tx := &fakeTx{site: site, poison: map[int64]bool{}}
	attempts, landsAt := 0, 3
	s := New(&fakeStore{InPushFunc: func(_ context.Context, _ cloud.Node, _ time.Time, fn func(cloud.PushTx) error) error {
		attempts++
		if attempts == landsAt {
			tx.applied = 4 // the push of 1..4 has landed
		}
		return fn(tx)
	}}, Options{})
	resp, err := s.Push(t.Context(), cloud.Node{OrgID: pantry.NewID(), SiteID: site, ID: node}, push(5, 8))
	if err != nil || resp.AppliedSeq != 8 || attempts != 3 {
		t.Fatalf("push: %v, applied %d after %d attempts; want 8 after 3", err, resp.AppliedSeq, attempts)
	}

	tx.applied, attempts, landsAt = 2, 0, -1
	_, err = s.Push(t.Context(), cloud.Node{OrgID: pantry.NewID(), SiteID: site, ID: node}, push(10, 12))
	gap, ok := errors.AsType[*cloud.GapError](err)
	if !ok || gap.ResumeFrom != 3 || gap.Got != 10 {
		t.Fatalf("push past the watermark that never lands: %v, want a gap resuming from 3", err)
	}
	if attempts < 2 {
		t.Errorf("a push ahead of the watermark was tried %d times, want it retried", attempts)
	}
}

func TestPushRefusesAnotherNodesBatch(t *testing.T) {
	s := New(&fakeStore{}, Options{})
	req := push(1, 2)
	req.NodeID = pantry.NewID()
	_, err := s.Push(t.Context(), cloud.Node{OrgID: pantry.NewID(), SiteID: site, ID: node}, req)
	if pantry.ErrorCode(err) != pantry.EFORBIDDEN {
		t.Fatalf("push as another node: %v, want forbidden", err)
	}
}
