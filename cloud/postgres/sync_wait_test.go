package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// longWait is how long the tests below let a pull wait: a change that
// wakes it returns long before, and a wake-up that relied on anything
// but the change (the periodic re-check is an hour in these tests) would
// come after.
const longWait = 20 * time.Second

// waitResult is what a WaitForChange returned.
type waitResult struct {
	changed bool
	err     error
}

// waitWhile waits for a change of node's site after cursor while change
// runs, shortly after the wait began, and returns what the wait returned.
func (f *catalogFixture) waitWhile(t *testing.T, node cloud.Node, cursor syncproto.Cursor, change func() error) waitResult {
	t.Helper()
	done := make(chan waitResult, 1)
	go func() {
		changed, err := f.s.WaitForChange(t.Context(), node, cursor, longWait)
		done <- waitResult{changed, err}
	}()
	time.Sleep(200 * time.Millisecond) // let the wait begin: the change must wake it, not precede it
	if err := change(); err != nil {
		t.Fatal(err)
	}
	return <-done
}

func TestWaitForChange(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	f.s.feed.recheck, f.s.feed.recheckListening = time.Hour, time.Hour // only a notification can wake a wait
	a, ctx := f.a, t.Context()
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	item := f.item(t, a, "Tea", 200, "EUR")
	node, _ := f.enroll(t, a, site)
	cursor := f.pull(t, node, syncproto.Cursor{}).Cursor

	t.Run("AtOnceWhenBehind", func(t *testing.T) {
		for _, behind := range []syncproto.Cursor{{}, {ConfigRevision: cursor.ConfigRevision - 1}, {ConfigRevision: cursor.ConfigRevision + 1}} {
			changed, err := f.s.WaitForChange(ctx, node, behind, longWait)
			if err != nil || !changed {
				t.Errorf("after %+v: %v, %v; want a change at once", behind, changed, err)
			}
		}
	})
	t.Run("NoChange", func(t *testing.T) {
		changed, err := f.s.WaitForChange(ctx, node, cursor, 300*time.Millisecond)
		if err != nil || changed {
			t.Errorf("%v, %v; want no change after the wait", changed, err)
		}
	})
	t.Run("StockMovement", func(t *testing.T) {
		got := f.waitWhile(t, node, cursor, func() error {
			_, err := f.s.RecordStockMovement(ctx, a.id, a.who, site, item, 4, "restock")
			return err
		})
		if got.err != nil || !got.changed {
			t.Fatalf("%+v, want a change", got)
		}
		resp := f.pull(t, node, cursor)
		if len(resp.Stock) != 1 || resp.Stock[0].Delta != 4 {
			t.Errorf("pull after the wake-up: %+v", resp)
		}
		cursor = resp.Cursor
	})
	t.Run("MenuChange", func(t *testing.T) {
		got := f.waitWhile(t, node, cursor, func() error {
			_, err := f.s.PutMenu(ctx, a.id, a.who, site, []cloud.MenuEntry{{ItemID: item, Available: true}})
			return err
		})
		if got.err != nil || !got.changed {
			t.Fatalf("%+v, want a change", got)
		}
		resp := f.pull(t, node, cursor)
		if resp.Config == nil || len(resp.Config.Items) != 1 {
			t.Errorf("pull after the wake-up: %+v", resp)
		}
		cursor = resp.Cursor
	})
	t.Run("OrganizationWideChange", func(t *testing.T) {
		got := f.waitWhile(t, node, cursor, func() error {
			_, err := f.s.CreateCostCenter(ctx, a.id, a.who, cloud.CostCenterInput{Code: "CC-1"})
			return err
		})
		if got.err != nil || !got.changed {
			t.Fatalf("%+v, want a change", got)
		}
		cursor = f.pull(t, node, cursor).Cursor
	})
	t.Run("OtherSitesDoNotWake", func(t *testing.T) {
		changed, err := f.s.WaitForChange(ctx, node, cursor, 300*time.Millisecond) // nothing pending
		if err != nil || changed {
			t.Fatalf("%v, %v", changed, err)
		}
		done := make(chan waitResult, 1)
		go func() {
			changed, err := f.s.WaitForChange(ctx, node, cursor, 1500*time.Millisecond)
			done <- waitResult{changed, err}
		}()
		time.Sleep(200 * time.Millisecond)
		if _, err := f.s.CreateSpace(ctx, a.id, a.who, other, cloud.SpaceInput{Name: "Elsewhere"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.RecordStockMovement(ctx, a.id, a.who, other, item, 1, "restock"); err != nil {
			t.Fatal(err)
		}
		if got := <-done; got.err != nil || got.changed {
			t.Errorf("%+v, want no change of this site", got)
		}
	})
	t.Run("ContextEnds", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		changed, err := f.s.WaitForChange(ctx, node, cursor, longWait)
		if changed || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v, %v; want the context's error", changed, err)
		}
	})
	t.Run("RevokedWhileWaiting", func(t *testing.T) {
		got := f.waitWhile(t, node, cursor, func() error {
			if _, err := f.s.RevokeNode(ctx, a.id, a.who, node.ID); err != nil {
				return err
			}
			_, err := f.s.RecordStockMovement(ctx, a.id, a.who, site, item, 1, "restock") // wakes the wait, which checks the node
			return err
		})
		if pantry.ErrorCode(got.err) != pantry.EUNAUTHORIZED {
			t.Errorf("%+v, want EUNAUTHORIZED", got)
		}
	})
}

// TestWaitForChangeRechecks: a change whose notification never came (the
// listener was reconnecting, or a pooler swallowed it) still ends a wait
// at the next re-check.
func TestWaitForChangeRechecks(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	// Connected or not, the listener heard nothing: either recheck ends the wait.
	f.s.feed.recheck, f.s.feed.recheckListening = 100*time.Millisecond, 100*time.Millisecond
	site := f.site(t, f.a, "EUR")
	node, _ := f.enroll(t, f.a, site)
	cursor := f.pull(t, node, syncproto.Cursor{}).Cursor
	got := f.waitWhile(t, node, cursor, func() error {
		_, err := f.super.Exec(t.Context(), `UPDATE sites SET catalog_revision = catalog_revision + 1 WHERE id = $1`, site) // no NOTIFY
		return err
	})
	if got.err != nil || !got.changed {
		t.Errorf("%+v, want a change", got)
	}
}

// listenerPID returns the backend pid of the store's listener, waiting
// for it to (re)connect, and different from not.
func (f *catalogFixture) listenerPID(t *testing.T, not int) int {
	t.Helper()
	for deadline := time.Now().Add(longWait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var pid int
		err := f.super.QueryRow(t.Context(), `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND query = $2 AND pid <> $3`,
			listenerApplication, listenSQL, not).Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		if pid != 0 {
			return pid
		}
	}
	t.Fatal("the site feed's listener did not connect")
	return 0
}

// TestSiteFeedReconnects: a listener whose connection is killed
// reconnects, and waits are woken by notifications again.
func TestSiteFeedReconnects(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	f.s.feed.recheck, f.s.feed.recheckListening = time.Hour, time.Hour
	site := f.site(t, f.a, "EUR")
	node, _ := f.enroll(t, f.a, site)
	cursor := f.pull(t, node, syncproto.Cursor{}).Cursor
	if _, err := f.s.WaitForChange(t.Context(), node, cursor, 0); err != nil { // starts the listener
		t.Fatal(err)
	}
	pid := f.listenerPID(t, 0)
	if _, err := f.super.Exec(t.Context(), `SELECT pg_terminate_backend($1::int)`, pid); err != nil {
		t.Fatal(err)
	}
	f.listenerPID(t, pid)
	got := f.waitWhile(t, node, cursor, func() error {
		_, err := f.s.CreateSpace(t.Context(), f.a.id, f.a.who, site, cloud.SpaceInput{Name: "Room"})
		return err
	})
	if got.err != nil || !got.changed {
		t.Errorf("%+v, want a change", got)
	}
}

// TestCloseStopsListener: Close ends the listener goroutine and its
// connection.
func TestCloseStopsListener(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	site := f.site(t, f.a, "EUR")
	node, _ := f.enroll(t, f.a, site)
	if _, err := f.s.WaitForChange(t.Context(), node, syncproto.Cursor{}, 0); err != nil {
		t.Fatal(err)
	}
	f.listenerPID(t, 0)
	f.s.Close()
	select {
	case <-f.s.feed.done:
	case <-time.After(longWait):
		t.Fatal("the listener did not stop")
	}
	for deadline := time.Now().Add(longWait); ; time.Sleep(20 * time.Millisecond) {
		var n int
		if err := f.super.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
			listenerApplication).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener's connection is still open")
		}
	}
	// A store that never waited never starts a listener, even after Close.
	s := newTestStore(t)
	s.Close()
	if s.feed.done != nil {
		t.Error("a listener was started by Close")
	}
}
