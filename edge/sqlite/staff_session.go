package sqlite

import (
	"context"
	"fmt"
)

// StaffLogout ends a staff login: its token stops working at once for the
// staff API and new broker connections, and the node's credential check
// ends the broker connections made with it within seconds. An unknown
// token is no error, so signing out twice is fine.
func (s *Store) StaffLogout(ctx context.Context, token string) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM staff_tokens WHERE token_hash = ?`, hashToken(token))
		return err
	})
	if err != nil {
		return fmt.Errorf("staff logout: %w", err)
	}
	return nil
}
