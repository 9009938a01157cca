package syncer

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pantry/pantry/syncproto"
)

// settleRestore holds the pusher back while the data directory, restored
// from a backup, has not learned the cloud's watermark since: pushing
// before would number events the cloud takes for ones it already applied
// (the rule is in edge/sqlite/restore.go). It asks the cloud (GET
// /sync/v1/node) until it answers, backing off as a failed push does, then
// has the store renumber what was written since the restore. Orders are
// taken all along: only the push waits. It returns the seq to push after,
// or false once ctx ends.
func (w *Worker) settleRestore(ctx context.Context, acked int64) (int64, bool) {
	b := w.newBackoff()
	for ctx.Err() == nil {
		st, err := w.cfg.Store.RestoreState(ctx)
		if err == nil && !st.Pending {
			return acked, true
		}
		if err == nil {
			var applied int64
			if applied, err = w.reconcile(ctx); err == nil {
				w.update(func(s *Status) { s.AckedSeq = applied })
				return applied, true
			}
		}
		if ctx.Err() != nil {
			break
		}
		w.failed(ctx, "push", fmt.Errorf("restored from a backup: waiting for the cloud's watermark before pushing: %w", err))
		w.pause(ctx, b.after(isPermanent(err)))
	}
	return 0, false
}

// reconcile learns the node's watermark from the cloud and settles the
// pending restore with it.
func (w *Worker) reconcile(ctx context.Context) (int64, error) {
	sent := w.cfg.Now()
	info, err := w.client.Node(ctx)
	if err != nil {
		if ce, ok := errors.AsType[*Error](err); ok && ce.Status == http.StatusNotFound {
			return 0, fmt.Errorf("%w (the cloud predates %s: upgrade it)", err, syncproto.PathNode)
		}
		return 0, err
	}
	if info.NodeID != w.cfg.Identity.NodeID {
		return 0, fmt.Errorf("the cloud answered for node %s, but this node is %s", info.NodeID, w.cfg.Identity.NodeID)
	}
	r, _, err := w.cfg.Store.ReconcileRestore(ctx, info.AppliedSeq)
	if err != nil {
		return 0, err
	}
	received := w.cfg.Now()
	w.cfg.Log.Info("sync: restore settled with the cloud's watermark", "restored_head", r.Head, "watermark", r.Applied,
		"renumbered", r.Renumbered, "by", r.Shift)
	w.succeeded(ctx, "push", received, skew(sent, received, info.ServerTime))
	return info.AppliedSeq, nil
}
