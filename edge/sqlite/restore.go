package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Restoring a backup, and the rule that keeps the cloud right afterwards.
//
// The cloud applies a node's events by seq: it acknowledges, without
// applying, every pushed event at or below the node's watermark W (sync
// invariant 2). A backup is a prefix of the outbox the cloud has seen:
// its events 1..H are the node's, at the same seqs, and its head H (the
// newest seq, or the seq floor if higher) is where the backup ends. By
// the time it is restored the cloud may hold more: W > H when the node
// pushed events H+1..W after the backup was taken. Those stay applied in
// the cloud, which is right: they happened. But a restored node that
// numbered its next event H+1 would see it acknowledged and dropped as
// "already applied". And the node must keep taking orders before it can
// reach the cloud: offline is normal.
//
// So:
//
//  1. Restoring records restored_head = H in the restored file before
//     it is installed (MarkRestored), in the same step. Events the node
//     writes afterwards are numbered H+1, H+2, ... as usual.
//  2. While restored_head is set the pusher pushes nothing. It asks the
//     cloud for the node's watermark W (GET /sync/v1/node) until it gets
//     an answer, then calls ReconcileRestore(W), one transaction:
//     - events with seq <= min(H, W) are history the cloud applied: they
//     are marked pushed;
//     - if W > H, every event with seq > H (written since the restore) is
//     renumbered by W-H, to W+1..., and the seq floor becomes W, so the
//     next event is W+1 even if none was written since the restore;
//     - if W <= H nothing is renumbered: events W+1..H are history the
//     cloud has not seen yet (the node failed before pushing them), and
//     they are pushed from W+1 as they would have been;
//     - acked_seq becomes W, restored_head NULL: pushing resumes at W+1.
//
// The cloud then sees the node's seqs without a gap and applies every
// event written since the restore exactly once. Events the cloud applied
// that the backup lacks (H+1..W) are not pushed again; the edge simply
// does not hold them (its outbox keeps a hole there, which no push
// crosses: pushes start at W+1).
//
// Restoring a backup twice is the same rule twice: the second restore
// replaces the data of the first (set aside, not deleted) and records H
// again. A backup taken while a restore was still pending (the node had
// not reached the cloud yet) keeps that restore's H: its events after H
// were never pushed from that file, and taking its newer head would mark
// them as applied, losing them. If the node did push them after that
// backup was taken, restoring it sends them again under new seqs; the
// cloud refuses an event whose order, payment or movement it already
// holds, keeping it as a dead letter (never counting it twice).
//
// A node that is not enrolled (a demo) has no cloud to reconcile with:
// nothing is recorded.

// RestoreState is what the store says of the last restore.
type RestoreState struct {
	// Pending is set from the restore until the node has learned the
	// cloud's watermark; Head is then the restored backup's outbox head.
	Pending bool
	Head    int64
	// SeqFloor is the lowest seq the next event may take, minus one.
	SeqFloor int64
	// At and From say when and from which file the data directory was
	// last restored (zero and "" if never).
	At   time.Time
	From string
}

// RestoreState reads the restore state.
func (s *Store) RestoreState(ctx context.Context) (RestoreState, error) {
	st, err := readRestoreState(ctx, s.r)
	if err != nil {
		return st, fmt.Errorf("load restore state: %w", err)
	}
	return st, nil
}

func readRestoreState(ctx context.Context, q querier) (RestoreState, error) {
	var st RestoreState
	var head, at sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT restored_head, seq_floor, restored_at, restored_from FROM sync_state WHERE id = 1`).
		Scan(&head, &st.SeqFloor, &at, &st.From)
	st.Pending, st.Head, st.At = head.Valid, head.Int64, nullTime(at)
	return st, err
}

// RestoreMark is what restoring records in the file it installs.
type RestoreMark struct {
	At   time.Time
	From string
	// Identity, when set, replaces the file's enrollment: the data
	// directory was enrolled again (as another node of the same site)
	// after the backup was taken, and its outbox carries on the backup's.
	Identity *Identity
}

// MarkRestored records in this store, a backup about to be installed,
// that it was restored (see the rule at the top of this file): for an
// enrolled node, restored_head is set to the outbox head unless a restore
// is already pending in the backup, whose head it keeps. The sync
// worker's health is reset: the backup's last error is not this node's.
// It returns the state recorded.
func (s *Store) MarkRestored(ctx context.Context, m RestoreMark) (RestoreState, error) {
	var st RestoreState
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if m.Identity != nil {
			if err := replaceIdentity(ctx, tx, *m.Identity); err != nil {
				return err
			}
		}
		_, enrolled, err := loadIdentity(ctx, tx)
		if err != nil {
			return fmt.Errorf("load identity: %w", err)
		}
		head := sql.NullInt64{}
		if enrolled {
			var h int64
			if err := tx.QueryRowContext(ctx, outboxHeadSQL).Scan(&h); err != nil {
				return fmt.Errorf("read outbox head: %w", err)
			}
			head = sql.NullInt64{Int64: h, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET restored_head = CASE WHEN ? THEN COALESCE(restored_head, ?) END,
			restored_at = ?, restored_from = ?, consecutive_failures = 0, last_error = '', last_error_at = NULL WHERE id = 1`,
			head.Valid, head.Int64, m.At.UnixNano(), m.From); err != nil {
			return fmt.Errorf("record restore: %w", err)
		}
		st, err = readRestoreState(ctx, tx)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("mark restored: %w", err)
	}
	return st, nil
}

// replaceIdentity puts id in place of the store's enrollment.
func replaceIdentity(ctx context.Context, tx *wtx, id Identity) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO enrollment (id, node_id, org_id, site_id, cloud_url, credential, enrolled_at)
		VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET node_id = excluded.node_id, org_id = excluded.org_id,
		site_id = excluded.site_id, cloud_url = excluded.cloud_url, credential = excluded.credential, enrolled_at = excluded.enrolled_at`,
		id.NodeID, id.OrgID, id.SiteID, id.CloudURL, id.Credential, id.EnrolledAt.UnixNano())
	if err != nil {
		return fmt.Errorf("store identity: %w", err)
	}
	return nil
}

// Reconciled is what ReconcileRestore did.
type Reconciled struct {
	// Head is the restored backup's outbox head, Applied the cloud's
	// watermark it was reconciled with.
	Head, Applied int64
	// Renumbered counts the events written since the restore that moved
	// by Shift (Applied-Head, when positive).
	Renumbered int64
	Shift      int64
}

// ReconcileRestore settles a pending restore against the cloud's
// watermark applied, in one transaction (the rule at the top of this
// file), and returns what it did. Without a pending restore it changes
// nothing and returns a zero Reconciled with ok false.
func (s *Store) ReconcileRestore(ctx context.Context, applied int64) (r Reconciled, ok bool, err error) {
	if applied < 0 {
		return r, false, fmt.Errorf("reconcile restore: watermark %d is negative", applied)
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		st, err := readRestoreState(ctx, tx)
		if err != nil || !st.Pending {
			return err
		}
		ok, r = true, Reconciled{Head: st.Head, Applied: applied}
		if applied > st.Head {
			r.Shift = applied - st.Head
			if r.Renumbered, err = shiftOutbox(ctx, tx, st.Head, r.Shift); err != nil {
				return err
			}
		}
		return settle(ctx, tx, min(st.Head, applied), applied, s.now())
	})
	if err != nil {
		return Reconciled{}, false, fmt.Errorf("reconcile restore with watermark %d: %w", applied, err)
	}
	return r, ok, nil
}

// shiftOutbox moves every event after head up by shift. seq is the
// table's INTEGER PRIMARY KEY, and an UPDATE checks uniqueness row by
// row: seq+shift would collide with the next row's old seq. So the rows
// go through negative seqs, which no event has, first.
func shiftOutbox(ctx context.Context, tx *wtx, head, shift int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET seq = -seq WHERE seq > ?`, head)
	if err != nil {
		return 0, fmt.Errorf("renumber outbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("renumber outbox: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET seq = ? - seq WHERE seq < 0`, shift); err != nil {
		return 0, fmt.Errorf("renumber outbox: %w", err)
	}
	return n, nil
}

// settle marks the history the cloud holds (seq <= known) as pushed and
// everything after its watermark as not, and resumes pushing after the
// watermark applied.
func settle(ctx context.Context, tx *wtx, known, applied int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET pushed_at = ? WHERE seq <= ? AND pushed_at IS NULL`, now.UnixNano(), known); err != nil {
		return fmt.Errorf("mark history pushed: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET pushed_at = NULL WHERE seq > ? AND pushed_at IS NOT NULL`, applied); err != nil {
		return fmt.Errorf("mark unpushed: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET restored_head = NULL, acked_seq = ?, seq_floor = MAX(seq_floor, ?) WHERE id = 1`,
		applied, applied); err != nil {
		return fmt.Errorf("settle restore: %w", err)
	}
	return nil
}

// OutboxAnchor is the newest outbox event no restore will ever renumber:
// the newest at or below the pending restore's head, or the newest of
// all without one. A database that holds it at the same seq carries on
// this one's outbox (it was restored from it, or enrolled again after
// it). ok is false for an outbox without such an event.
func (s *Store) OutboxAnchor(ctx context.Context) (seq int64, id string, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT seq, id FROM outbox
		WHERE seq <= COALESCE((SELECT restored_head FROM sync_state WHERE id = 1), 9223372036854775807)
		ORDER BY seq DESC LIMIT 1`).Scan(&seq, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("outbox anchor: %w", err)
	}
	return seq, id, true, nil
}
