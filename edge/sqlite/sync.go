package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// Identity is this node's enrollment: who it is in the cloud and how to
// reach it.
type Identity struct {
	NodeID, OrgID, SiteID, CloudURL, Credential string
	EnrolledAt                                  time.Time
}

// Enroll stores the node's identity (credential included) and applies the
// first pull (its Config must be non-nil) in one transaction, so a node is
// either enrolled with a configuration or not at all. Re-enrolling is
// allowed only for the same site (a replaced credential, say after the
// cloud revoked the old one); a data directory that belongs to another
// site, or runs a --demo site, is refused.
func (s *Store) Enroll(ctx context.Context, id Identity, first syncproto.PullResponse) error {
	if err := checkEnrollment(id, first); err != nil {
		return err
	}
	if id.EnrolledAt.IsZero() {
		id.EnrolledAt = s.now()
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if err := checkEnrollable(ctx, tx, id.SiteID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO enrollment (id, node_id, org_id, site_id, cloud_url, credential, enrolled_at)
			VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET node_id = excluded.node_id, org_id = excluded.org_id,
			site_id = excluded.site_id, cloud_url = excluded.cloud_url, credential = excluded.credential, enrolled_at = excluded.enrolled_at`,
			id.NodeID, id.OrgID, id.SiteID, id.CloudURL, id.Credential, id.EnrolledAt.UnixNano()); err != nil {
			return fmt.Errorf("store identity: %w", err)
		}
		_, err := s.applyPull(ctx, tx, first)
		return err
	})
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	return nil
}

func checkEnrollment(id Identity, first syncproto.PullResponse) error {
	for _, f := range []struct{ name, v string }{
		{"node id", id.NodeID}, {"organization id", id.OrgID}, {"site id", id.SiteID},
		{"cloud URL", id.CloudURL}, {"credential", id.Credential},
	} {
		if f.v == "" {
			return pantry.Errorf(pantry.EINVALID, "enrollment without a %s", f.name)
		}
	}
	if first.Config == nil {
		return pantry.Errorf(pantry.EINVALID, "the first pull of an enrollment must carry the site's configuration")
	}
	if site := first.Config.Site; site.ID != id.SiteID || site.OrgID != id.OrgID {
		return pantry.Errorf(pantry.EINVALID, "the configuration is for site %s of organization %s, the enrollment for site %s of %s",
			site.ID, site.OrgID, id.SiteID, id.OrgID)
	}
	return nil
}

// checkEnrollable refuses a data directory that runs a demo site or
// belongs to another site: its orders and outbox are that site's.
func checkEnrollable(ctx context.Context, tx *wtx, siteID string) error {
	demo, err := isDemo(ctx, tx)
	if err != nil {
		return err
	}
	if demo {
		return pantry.Errorf(pantry.EINVALID, "this data directory runs a demo site; use a fresh --data directory")
	}
	current, err := getMeta(ctx, tx, "site_id")
	if err != nil {
		return err
	}
	if current != "" && current != siteID {
		return pantry.Errorf(pantry.EINVALID, "this data directory belongs to site %s; use a fresh --data directory to enroll site %s", current, siteID)
	}
	return nil
}

// isDemo reports whether SeedDemo seeded this store (only it sets a demo
// tablet password).
func isDemo(ctx context.Context, q querier) (bool, error) {
	v, err := getMeta(ctx, q, "demo_tablet_password")
	return v != "", err
}

// Identity returns the node's enrollment; ok is false for a node that is
// not enrolled (demo or fresh).
func (s *Store) Identity(ctx context.Context) (id Identity, ok bool, err error) {
	id, ok, err = loadIdentity(ctx, s.r)
	if err != nil {
		return Identity{}, false, fmt.Errorf("load identity: %w", err)
	}
	return id, ok, nil
}

func loadIdentity(ctx context.Context, q querier) (Identity, bool, error) {
	var id Identity
	var enrolled int64
	err := q.QueryRowContext(ctx, `SELECT node_id, org_id, site_id, cloud_url, credential, enrolled_at FROM enrollment WHERE id = 1`).
		Scan(&id.NodeID, &id.OrgID, &id.SiteID, &id.CloudURL, &id.Credential, &enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, false, nil
	}
	if err != nil {
		return Identity{}, false, err
	}
	id.EnrolledAt = fromNanos(enrolled)
	return id, true, nil
}

// PendingEvents returns up to maxEvents outbox events with seq > after,
// oldest first, stopping before the total payload bytes would exceed
// maxBytes (but always at least one event if any), converted to
// syncproto.Event with Schema = syncproto.EventSchema. maxEvents is capped
// at syncproto.MaxBatchEvents (and means that when not positive);
// maxBytes <= 0 means no byte limit.
func (s *Store) PendingEvents(ctx context.Context, after int64, maxEvents, maxBytes int) ([]syncproto.Event, error) {
	if maxEvents <= 0 || maxEvents > syncproto.MaxBatchEvents {
		maxEvents = syncproto.MaxBatchEvents
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, id, type, entity_id, payload, created_at
		FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, maxEvents)
	if err != nil {
		return nil, fmt.Errorf("pending events: %w", err)
	}
	defer rows.Close()
	var out []syncproto.Event
	size := 0
	for rows.Next() {
		e := syncproto.Event{Schema: syncproto.EventSchema}
		var payload string
		var created int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.EntityID, &payload, &created); err != nil {
			return nil, fmt.Errorf("pending events: %w", err)
		}
		if maxBytes > 0 && len(out) > 0 && size+len(payload) > maxBytes {
			break
		}
		size += len(payload)
		e.Payload, e.CreatedAt = []byte(payload), fromNanos(created)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending events: %w", err)
	}
	return out, nil
}

// MarkPushed records that the cloud acknowledged every event up to upTo:
// pushed_at is set on those rows that lack it, and the acknowledged seq
// moves to upTo (never backwards). An acknowledgement past the end of the
// outbox is refused: it means the cloud has applied events this data
// directory does not hold (restored from an old backup?), and taking it
// would mark the next local events as pushed without sending them.
func (s *Store) MarkPushed(ctx context.Context, upTo int64, at time.Time) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, outboxHeadSQL).Scan(&last); err != nil {
			return fmt.Errorf("read outbox head: %w", err)
		}
		if upTo > last {
			return pantry.Errorf(pantry.ECONFLICT, "the cloud acknowledged events up to seq %d but this node's outbox ends at %d", upTo, last)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET pushed_at = ? WHERE seq <= ? AND pushed_at IS NULL`,
			at.UnixNano(), upTo); err != nil {
			return fmt.Errorf("mark outbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET acked_seq = MAX(acked_seq, ?) WHERE id = 1`, upTo); err != nil {
			return fmt.Errorf("store acknowledged seq: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark pushed up to %d: %w", upTo, err)
	}
	return nil
}

// SyncState is what the sync worker persists about itself, for `pantry
// edge status` (another process reads it from the same SQLite file) and
// metrics.
type SyncState struct {
	Cursor   syncproto.Cursor
	AckedSeq int64 // the cloud's watermark as last acknowledged
	// LastPushAt and LastPullAt are the last successes.
	LastPushAt, LastPullAt time.Time
	LastErrorAt            time.Time
	LastError              string
	ConsecutiveFailures    int
	ClockSkew              time.Duration // edge clock minus cloud clock, last measured
}

// SyncState returns the sync worker's state.
func (s *Store) SyncState(ctx context.Context) (SyncState, error) {
	var st SyncState
	var push, pull, errAt sql.NullInt64
	var skew int64
	err := s.r.QueryRowContext(ctx, `SELECT config_revision, stock_seq, acked_seq, last_push_at, last_pull_at,
		last_error_at, last_error, consecutive_failures, clock_skew_ns FROM sync_state WHERE id = 1`).
		Scan(&st.Cursor.ConfigRevision, &st.Cursor.StockSeq, &st.AckedSeq, &push, &pull,
			&errAt, &st.LastError, &st.ConsecutiveFailures, &skew)
	if err != nil {
		return st, fmt.Errorf("load sync state: %w", err)
	}
	st.LastPushAt, st.LastPullAt, st.LastErrorAt = nullTime(push), nullTime(pull), nullTime(errAt)
	st.ClockSkew = time.Duration(skew)
	return st, nil
}

func nullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// maxSyncError bounds the stored error text (bytes).
const maxSyncError = 1000

// RecordSync stores the outcome of one push or pull attempt: kind "push"
// or "pull"; err nil is a success (resets ConsecutiveFailures, sets
// LastPushAt or LastPullAt to at), non-nil a failure (increments
// ConsecutiveFailures, sets LastError and LastErrorAt). skew is recorded
// when known (nil: unknown, the last measurement stays).
func (s *Store) RecordSync(ctx context.Context, kind string, at time.Time, skew *time.Duration, err error) error {
	var column string
	switch kind {
	case "push":
		column = "last_push_at"
	case "pull":
		column = "last_pull_at"
	default:
		return pantry.Errorf(pantry.EINVALID, "sync attempt kind %q is neither push nor pull", kind)
	}
	var skewNanos sql.NullInt64
	if skew != nil {
		skewNanos = sql.NullInt64{Int64: int64(*skew), Valid: true}
	}
	failure := err
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET clock_skew_ns = COALESCE(?, clock_skew_ns) WHERE id = 1`, skewNanos); err != nil {
			return err
		}
		var err error
		if failure == nil {
			_, err = tx.ExecContext(ctx, `UPDATE sync_state SET consecutive_failures = 0, `+column+` = ? WHERE id = 1`, at.UnixNano())
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE sync_state SET consecutive_failures = consecutive_failures + 1,
				last_error = ?, last_error_at = ? WHERE id = 1`, kind+": "+clipError(failure.Error()), at.UnixNano())
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}

// clipError shortens s to maxSyncError bytes without splitting a character.
func clipError(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxSyncError {
		return s
	}
	i := maxSyncError
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// SyncReport is a node's replication health, for `pantry edge status`
// and staff tablets (DESIGN.md, sync invariant 8). It never carries the
// credential.
type SyncReport struct {
	Enrolled bool   `json:"enrolled"`
	NodeID   string `json:"node_id,omitempty"`
	SiteID   string `json:"site_id,omitempty"`
	CloudURL string `json:"cloud_url,omitempty"`
	Outbox   struct {
		LastSeq              int64   `json:"last_seq"`
		AckedSeq             int64   `json:"acked_seq"`
		Unpushed             int64   `json:"unpushed"`
		OldestUnpushedAgeSec float64 `json:"oldest_unpushed_age_seconds"`
	} `json:"outbox"`
	LastPushAt          *time.Time       `json:"last_push_at"`
	LastPullAt          *time.Time       `json:"last_pull_at"`
	ConsecutiveFailures int              `json:"consecutive_failures"`
	LastError           string           `json:"last_error,omitempty"`
	LastErrorAt         *time.Time       `json:"last_error_at,omitempty"`
	ClockSkewMS         int64            `json:"clock_skew_ms"`
	Cursor              syncproto.Cursor `json:"cursor"`
	// Restore says when the data directory was last restored from a
	// backup (absent if never), and whether the node is still waiting to
	// learn the cloud's watermark, pushing nothing until it has.
	Restore *RestoreReport `json:"restore,omitempty"`
}

// RestoreReport is SyncReport's account of the last restore.
type RestoreReport struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
	// Pending: the node has not yet learned the cloud's watermark since;
	// Head is then the restored backup's outbox head.
	Pending bool  `json:"pending"`
	Head    int64 `json:"head,omitempty"`
}

// SyncReport gathers the node's replication health.
func (s *Store) SyncReport(ctx context.Context) (SyncReport, error) {
	var r SyncReport
	id, ok, err := s.Identity(ctx)
	if err != nil {
		return r, err
	}
	r.Enrolled, r.NodeID, r.SiteID, r.CloudURL = ok, id.NodeID, id.SiteID, id.CloudURL
	ob, err := s.OutboxStats(ctx)
	if err != nil {
		return r, err
	}
	st, err := s.SyncState(ctx)
	if err != nil {
		return r, err
	}
	r.Outbox.LastSeq, r.Outbox.AckedSeq, r.Outbox.Unpushed = ob.LastSeq, st.AckedSeq, ob.Unpushed
	if !ob.OldestUnpushed.IsZero() {
		r.Outbox.OldestUnpushedAgeSec = s.now().Sub(ob.OldestUnpushed).Round(time.Second).Seconds()
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	r.LastPushAt, r.LastPullAt, r.LastErrorAt = opt(st.LastPushAt), opt(st.LastPullAt), opt(st.LastErrorAt)
	r.ConsecutiveFailures, r.LastError = st.ConsecutiveFailures, st.LastError
	r.ClockSkewMS, r.Cursor = st.ClockSkew.Milliseconds(), st.Cursor
	rs, err := s.RestoreState(ctx)
	if err != nil {
		return r, err
	}
	if !rs.At.IsZero() {
		r.Restore = &RestoreReport{At: rs.At, From: rs.From, Pending: rs.Pending, Head: rs.Head}
	}
	return r, nil
}
