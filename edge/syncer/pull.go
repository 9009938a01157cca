package syncer

import (
	"context"
	"fmt"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/syncproto"
)

// pullLoop long-polls the site's feed and applies each page.
func (w *Worker) pullLoop(ctx context.Context, cursor syncproto.Cursor) {
	b := w.newBackoff()
	fail := func(err error) {
		w.failed(ctx, "pull", err)
		w.pause(ctx, b.after(isPermanent(err)))
	}
	wait := int(w.cfg.PullWait / time.Second)
	for ctx.Err() == nil {
		head, _ := w.cfg.Store.OutboxHead(ctx) // 0 on error: the cloud keeps the highest it has seen
		sent := w.cfg.Now()
		page, err := w.client.Pull(ctx, syncproto.PullRequest{
			Version: syncproto.Version, NodeID: w.cfg.Identity.NodeID, SoftwareVersion: w.cfg.SoftwareVersion,
			Cursor: cursor, WaitSeconds: wait, SentAt: sent.UTC(), OutboxHead: head, Status: w.edgeStatus(ctx),
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fail(err)
			continue
		}
		now := w.cfg.Now()
		changes, next, err := w.apply(ctx, page, cursor)
		if err != nil {
			fail(err)
			continue
		}
		cursor = next
		b.reset()
		w.succeeded(ctx, "pull", now, skew(sent, now, page.ServerTime))
		if (changes.Config || len(changes.Stock) > 0) && w.cfg.OnPull != nil {
			w.cfg.OnPull(changes)
		}
	}
}

// apply stores a pull page that changes something and returns the cursor
// to carry on from.
func (w *Worker) apply(ctx context.Context, page syncproto.PullResponse, cursor syncproto.Cursor) (sqlite.PullChanges, syncproto.Cursor, error) {
	if page.Config == nil && len(page.Stock) == 0 && page.Cursor == cursor {
		return sqlite.PullChanges{}, cursor, nil
	}
	changes, err := w.cfg.Store.ApplyPullChanges(ctx, page)
	if err != nil {
		return changes, cursor, fmt.Errorf("apply pull: %w", err)
	}
	// The store never moves its cursor backwards: carry on from what it
	// holds, not from what the page said.
	st, err := w.cfg.Store.SyncState(ctx)
	if err != nil {
		return changes, cursor, err
	}
	return changes, st.Cursor, nil
}

// edgeStatus is the node's report of itself for a pull, or nil for a
// cloud that has not said it decodes one (it would refuse the pull).
func (w *Worker) edgeStatus(ctx context.Context) *syncproto.EdgeStatus {
	cc, ok := w.client.(interface{ CloudCapability() int })
	if !ok || cc.CloudCapability() < syncproto.CapabilityEdgeStatus {
		return nil
	}
	var st syncproto.EdgeStatus
	if w.cfg.Status != nil {
		st = w.cfg.Status()
	}
	// On error the field is left out: the fleet page then says nothing of
	// the outbox's age rather than something wrong.
	if stats, err := w.cfg.Store.OutboxStats(ctx); err == nil && !stats.OldestUnpushed.IsZero() {
		t := stats.OldestUnpushed.UTC()
		st.OutboxOldestAt = &t
	}
	return &st
}
