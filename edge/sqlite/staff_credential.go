package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/pantry/pantry/internal/pantry"
)

// StaffCredential is the credential a tablet proved at an MQTT login: its
// password, or a live staff token of the staff app. The broker keeps a
// connection's credential ID, never its secret, so that it can later ask
// RevokedCredentials whether the connection should still be open.
type StaffCredential struct {
	// ID names the credential: "password:{tablet id}:{fingerprint}", the
	// fingerprint covering the tablet's username and password hash (so a
	// rename or a new password revokes it), or "token:{token hash}:{username}".
	// Neither can be turned back into the secret.
	ID     string
	Tablet Tablet
}

// The kinds of StaffCredential.ID.
const (
	credPassword = "password:"
	credToken    = "token:"
)

// AuthenticateCredential checks a tablet's MQTT login: its username with
// either its password (a tablet configured by hand) or a live staff token
// of that tablet, which is what the staff app signs in to the broker with
// so that it never keeps the password. A token is tried first: it is one
// indexed lookup, where a password costs a bcrypt comparison. Wrong
// credentials are EUNAUTHORIZED.
func (s *Store) AuthenticateCredential(ctx context.Context, username, secret string) (StaffCredential, error) {
	if t, err := s.StaffByToken(ctx, secret); err == nil {
		if t.Username != username {
			return StaffCredential{}, pantry.Errorf(pantry.EUNAUTHORIZED, "wrong username or password")
		}
		return StaffCredential{ID: tokenCredential(secret, username), Tablet: t}, nil
	}
	t, hash, err := s.checkTablet(ctx, username, secret)
	if err != nil {
		return StaffCredential{}, err
	}
	return StaffCredential{ID: passwordCredential(t.ID, t.Username, hash), Tablet: t}, nil
}

func passwordCredential(tabletID, username, hash string) string {
	sum := sha256.Sum256([]byte(username + "\x00" + hash))
	return credPassword + tabletID + ":" + hex.EncodeToString(sum[:8])
}

func tokenCredential(token, username string) string {
	return credToken + hex.EncodeToString(hashToken(token)) + ":" + username
}

// RevokedCredentials returns those of ids (StaffCredential.ID) that no
// longer prove anything: the tablet was revoked, removed or renamed, its
// password changed, or the token was logged out or has expired by the
// store's clock. The edge asks about its connected tablets every few
// seconds, so each id costs one indexed lookup and no bcrypt.
func (s *Store) RevokedCredentials(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		ok, err := s.credentialValid(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("check credential: %w", err)
		}
		if !ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// credentialValid reports whether the credential id names still works.
func (s *Store) credentialValid(ctx context.Context, id string) (bool, error) {
	if rest, ok := strings.CutPrefix(id, credPassword); ok {
		tabletID, _, _ := strings.Cut(rest, ":")
		var username, hash string
		err := s.r.QueryRowContext(ctx, `SELECT username, password_hash FROM tablets WHERE id = ?`, tabletID).Scan(&username, &hash)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil && passwordCredential(tabletID, username, hash) == id, err
	}
	if rest, ok := strings.CutPrefix(id, credToken); ok {
		hexHash, username, _ := strings.Cut(rest, ":")
		h, err := hex.DecodeString(hexHash)
		if err != nil {
			return false, nil
		}
		var expires int64
		var owner string
		err = s.r.QueryRowContext(ctx, `SELECT k.expires_at, t.username FROM staff_tokens k
			JOIN tablets t ON t.id = k.tablet_id WHERE k.token_hash = ?`, h).Scan(&expires, &owner)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil && owner == username && s.now().Before(fromNanos(expires)), err
	}
	return false, nil
}
