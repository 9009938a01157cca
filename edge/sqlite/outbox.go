package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// outboxHeadSQL is the outbox's head: its newest seq, or the seq floor a
// restore set when that is higher (restore.go), so that the next event
// follows the cloud's watermark even when nothing was written since.
const outboxHeadSQL = `SELECT MAX(COALESCE((SELECT MAX(seq) FROM outbox), 0),
	COALESCE((SELECT seq_floor FROM sync_state WHERE id = 1), 0))`

// appendEvent writes one outbox event in tx, the same transaction as the
// change it describes: no change without its event, no event without its
// change. Its seq is the head plus one under the single writer, so seqs
// never gap (a restore may leave one behind the head: restore.go).
// typ is one of syncproto's Event names and p the syncproto type that
// name carries (outbox_payloads.go): the outbox holds exactly what the
// cloud decodes. It is a function, not a method, because methods cannot
// take type parameters.
func appendEvent[P outboxPayload](ctx context.Context, s *Store, tx *wtx, typ, entityID string, p P) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("outbox %s: %w", typ, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (seq, id, type, entity_id, payload, created_at)
		VALUES ((`+outboxHeadSQL+`) + 1, ?, ?, ?, ?, ?)`,
		pantry.NewID(), typ, entityID, string(body), s.now().UnixNano())
	if err != nil {
		return fmt.Errorf("outbox %s: %w", typ, err)
	}
	return nil
}

// Outbox lists up to limit events with seq > after, oldest first.
func (s *Store) Outbox(ctx context.Context, after int64, limit int) ([]pantry.OutboxEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, id, type, entity_id, payload, created_at, pushed_at
		FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	defer rows.Close()
	var out []pantry.OutboxEvent
	for rows.Next() {
		var e pantry.OutboxEvent
		var payload string
		var created int64
		var pushed sql.NullInt64
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.EntityID, &payload, &created, &pushed); err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		e.Payload = json.RawMessage(payload)
		e.CreatedAt = fromNanos(created)
		if pushed.Valid {
			t := fromNanos(pushed.Int64)
			e.PushedAt = &t
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

// OutboxStats summarizes the outbox for metrics and `pantry edge status`.
type OutboxStats struct {
	LastSeq        int64     `json:"last_seq"`
	Unpushed       int64     `json:"unpushed"`
	OldestUnpushed time.Time `json:"oldest_unpushed,omitzero"`
}

// OutboxHead returns the newest event's seq (0 for an empty outbox), or
// the seq floor a restore set if that is higher: two lookups by primary
// key, cheap enough for every push.
func (s *Store) OutboxHead(ctx context.Context) (int64, error) {
	var head int64
	if err := s.r.QueryRowContext(ctx, outboxHeadSQL).Scan(&head); err != nil {
		return 0, fmt.Errorf("outbox head: %w", err)
	}
	return head, nil
}

// OutboxStats reports the outbox's depth and age.
func (s *Store) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var st OutboxStats
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT
		(`+outboxHeadSQL+`),
		(SELECT COUNT(*) FROM outbox WHERE pushed_at IS NULL),
		(SELECT MIN(created_at) FROM outbox WHERE pushed_at IS NULL)`).Scan(&st.LastSeq, &st.Unpushed, &oldest)
	if err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest.Valid {
		st.OldestUnpushed = fromNanos(oldest.Int64)
	}
	return st, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// nullNanos is an optional time as a column holds it: unix nanoseconds,
// or NULL for none.
func nullNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

func jsonArray(v []any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
