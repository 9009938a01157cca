package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pantry/pantry/internal/pantry"
)

// Tablet is a pantry staff tablet's identity.
type Tablet struct {
	ID       string
	Username string
	Name     string
	SiteID   string
}

func insertTablet(ctx context.Context, tx *wtx, username, password, name string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash tablet password: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tablets (id, username, password_hash, name) VALUES (?, ?, ?, ?)`,
		pantry.NewID(), username, string(hash), name)
	if err != nil {
		return fmt.Errorf("insert tablet: %w", err)
	}
	return nil
}

// AddTablet creates a tablet credential (the technician's CLI does this on a
// node that is not enrolled with a cloud yet). An enrolled node's tablets
// are the cloud's (DESIGN.md, "Data ownership"): its next configuration
// snapshot would delete a tablet added here, so none can be.
func (s *Store) AddTablet(ctx context.Context, username, password, name string) error {
	if err := pantry.CheckText("username", username, pantry.MaxCodeLen); err != nil || username == "" {
		return pantry.Errorf(pantry.EINVALID, "username must be 1 to %d characters", pantry.MaxCodeLen)
	}
	if len(password) < 12 || len(password) > 72 {
		return pantry.Errorf(pantry.EINVALID, "password must be 12 to 72 bytes")
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, enrolled, err := loadIdentity(ctx, tx); err != nil || enrolled {
			if err != nil {
				return fmt.Errorf("load identity: %w", err)
			}
			return pantry.Errorf(pantry.EINVALID, "this node is enrolled with a cloud: add tablets there")
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tablets WHERE username = ?`, username).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return pantry.Errorf(pantry.ECONFLICT, "a tablet named %q exists already", username)
		}
		return insertTablet(ctx, tx, username, password, name)
	})
	if err != nil {
		return fmt.Errorf("add tablet: %w", err)
	}
	return nil
}

// RemoveTablet deletes a tablet credential and logs its staff tokens out
// (the technician's CLI, on a node that is not enrolled; an enrolled
// node's tablets are revoked in the cloud). A running node notices within
// seconds and disconnects the tablet from the broker (edge.Node's
// credential check). An unknown username is ENOTFOUND.
func (s *Store) RemoveTablet(ctx context.Context, username string) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, enrolled, err := loadIdentity(ctx, tx); err != nil || enrolled {
			if err != nil {
				return fmt.Errorf("load identity: %w", err)
			}
			return pantry.Errorf(pantry.EINVALID, "this node is enrolled with a cloud: revoke tablets there")
		}
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM tablets WHERE username = ?`, username).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return pantry.Errorf(pantry.ENOTFOUND, "no tablet named %q", username)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM staff_tokens WHERE tablet_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tablets WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("remove tablet: %w", err)
	}
	return nil
}

// AuthenticateTablet checks a tablet's username and password and returns
// the site it works for.
func (s *Store) AuthenticateTablet(ctx context.Context, username, password string) (string, error) {
	t, _, err := s.checkTablet(ctx, username, password)
	return t.SiteID, err
}

func (s *Store) checkTablet(ctx context.Context, username, password string) (t Tablet, hash string, err error) {
	refused := pantry.Errorf(pantry.EUNAUTHORIZED, "wrong username or password")
	if username == "" || len(username) > pantry.MaxCodeLen || len(password) > 72 {
		return t, "", refused
	}
	err = s.r.QueryRowContext(ctx, `SELECT t.id, t.username, t.name, t.password_hash, m.value
		FROM tablets t JOIN meta m ON m.key = 'site_id' WHERE t.username = ?`, username).
		Scan(&t.ID, &t.Username, &t.Name, &hash, &t.SiteID)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as a real check so usernames cannot be probed.
		_ = s.compareHash(dummyHash(), []byte(password))
		return Tablet{}, "", refused
	}
	if err != nil {
		return Tablet{}, "", fmt.Errorf("load tablet: %w", err)
	}
	if s.compareHash([]byte(hash), []byte(password)) != nil {
		return Tablet{}, "", refused
	}
	return t, hash, nil
}

// dummyHash is what an unknown username's password is checked against,
// at the cost tablets' hashes are made with (insertTablet), so that a wrong
// username costs what a wrong password does. It is made on first use, not
// at package load: every binary that imports this package, `pantry cloud
// serve` included, would otherwise spend a bcrypt hash on starting. The
// error is ignored because GenerateFromPassword fails only when the
// system's randomness does, which crypto/rand treats as fatal anyway.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a real password"), bcrypt.DefaultCost)
	return h
})

// StaffLogin exchanges a tablet's username and password for a bearer token
// valid for ttl.
func (s *Store) StaffLogin(ctx context.Context, username, password string, ttl time.Duration) (string, error) {
	t, _, err := s.checkTablet(ctx, username, password)
	if err != nil {
		return "", err
	}
	token := pantry.NewSecret(32)
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := s.now()
		if _, err := tx.ExecContext(ctx, `DELETE FROM staff_tokens WHERE expires_at <= ?`, now.UnixNano()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO staff_tokens (token_hash, tablet_id, expires_at) VALUES (?, ?, ?)`,
			hashToken(token), t.ID, now.Add(ttl).UnixNano())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("staff login: %w", err)
	}
	return token, nil
}

// StaffByToken returns the tablet a live staff token belongs to.
func (s *Store) StaffByToken(ctx context.Context, token string) (Tablet, error) {
	var t Tablet
	var expires int64
	if token == "" || len(token) > 256 {
		return t, pantry.Errorf(pantry.EUNAUTHORIZED, "a valid staff token is required")
	}
	err := s.r.QueryRowContext(ctx, `SELECT t.id, t.username, t.name, m.value, k.expires_at
		FROM staff_tokens k JOIN tablets t ON t.id = k.tablet_id JOIN meta m ON m.key = 'site_id'
		WHERE k.token_hash = ?`, hashToken(token)).Scan(&t.ID, &t.Username, &t.Name, &t.SiteID, &expires)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !s.now().Before(fromNanos(expires)) {
		return Tablet{}, pantry.Errorf(pantry.EUNAUTHORIZED, "a valid staff token is required")
	}
	if err != nil {
		return t, fmt.Errorf("load staff token: %w", err)
	}
	return t, nil
}
