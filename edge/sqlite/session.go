package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// hashToken is how bearer tokens are stored: a leaked database file must
// not hand out live sessions. Tokens are 256-bit random, so a plain SHA-256
// is enough (no slow hash needed for high-entropy secrets).
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// OpenSession opens an attendee session in the room whose QR code is
// spaceCode, and returns it with its bearer token (shown only now).
func (s *Store) OpenSession(ctx context.Context, spaceCode string, ttl time.Duration) (pantry.Session, string, error) {
	var sess pantry.Session
	if spaceCode == "" || len(spaceCode) > pantry.MaxCodeLen {
		return sess, "", pantry.Errorf(pantry.ENOTFOUND, "no room has this code")
	}
	token := pantry.NewSecret(32)
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		err := tx.QueryRowContext(ctx, `SELECT id, site_id, name FROM spaces WHERE code = ? AND archived_at IS NULL`, spaceCode).
			Scan(&sess.SpaceID, &sess.SiteID, &sess.SpaceName)
		if errors.Is(err, sql.ErrNoRows) {
			return pantry.Errorf(pantry.ENOTFOUND, "no room has this code")
		}
		if err != nil {
			return err
		}
		now := s.now().UTC()
		sess.ID, sess.CreatedAt, sess.ExpiresAt = pantry.NewID(), now, now.Add(ttl)
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, space_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			sess.ID, hashToken(token), sess.SpaceID, now.UnixNano(), sess.ExpiresAt.UnixNano()); err != nil {
			return err
		}
		return appendEvent(ctx, s, tx, syncproto.EventSessionOpened, sess.ID, sessionPayload(sess))
	})
	if err != nil {
		return sess, "", fmt.Errorf("open session: %w", err)
	}
	s.sessions.put(hashToken(token), sess)
	return sess, token, nil
}

// SessionByToken returns the live session for a bearer token: EUNAUTHORIZED
// if the token is unknown, ESESSIONEXPIRED once it has expired.
func (s *Store) SessionByToken(ctx context.Context, token string) (pantry.Session, error) {
	var sess pantry.Session
	if token == "" || len(token) > 256 {
		return sess, pantry.Errorf(pantry.EUNAUTHORIZED, "a valid session token is required")
	}
	hash := hashToken(token)
	expiredErr := pantry.Errorf(pantry.ESESSIONEXPIRED, "this session has expired; scan the room's QR code again")
	if sess, ok := s.sessions.get(hash); ok {
		if !s.now().Before(sess.ExpiresAt) {
			s.sessions.forget(hash)
			return sess, expiredErr
		}
		return sess, nil
	}
	var created, expires, expired int64
	err := s.r.QueryRowContext(ctx, `SELECT s.id, sp.site_id, s.space_id, sp.name, s.created_at, s.expires_at, s.expired
		FROM sessions s JOIN spaces sp ON sp.id = s.space_id WHERE s.token_hash = ?`, hash).
		Scan(&sess.ID, &sess.SiteID, &sess.SpaceID, &sess.SpaceName, &created, &expires, &expired)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, pantry.Errorf(pantry.EUNAUTHORIZED, "a valid session token is required")
	}
	if err != nil {
		return sess, fmt.Errorf("load session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromNanos(created), fromNanos(expires)
	if expired == 1 || !s.now().Before(sess.ExpiresAt) {
		return sess, expiredErr
	}
	s.sessions.put(hash, sess)
	return sess, nil
}

// ExpireSessions marks every session past its expiry as expired, writing a
// session.expired event for each, and returns them so they can be announced.
func (s *Store) ExpireSessions(ctx context.Context) ([]pantry.Session, error) {
	var out []pantry.Session
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT s.id, sp.site_id, s.space_id, sp.name, s.created_at, s.expires_at
			FROM sessions s JOIN spaces sp ON sp.id = s.space_id
			WHERE s.expired = 0 AND s.expires_at <= ? ORDER BY s.expires_at LIMIT 1000`, s.now().UnixNano())
		if err != nil {
			return err
		}
		for rows.Next() {
			var sess pantry.Session
			var created, expires int64
			if err := rows.Scan(&sess.ID, &sess.SiteID, &sess.SpaceID, &sess.SpaceName, &created, &expires); err != nil {
				rows.Close()
				return err
			}
			sess.CreatedAt, sess.ExpiresAt = fromNanos(created), fromNanos(expires)
			out = append(out, sess)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, sess := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET expired = 1 WHERE id = ?`, sess.ID); err != nil {
				return err
			}
			if err := appendEvent(ctx, s, tx, syncproto.EventSessionExpired, sess.ID, sessionPayload(sess)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expire sessions: %w", err)
	}
	return out, nil
}
