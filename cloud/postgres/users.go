package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// CreateUser adds a user to the organization.
func (s *Store) CreateUser(ctx context.Context, orgID string, who cloud.Actor, in cloud.UserInput) (cloud.User, error) {
	u := cloud.User{ID: pantry.NewID(), Email: cloud.NormalizeEmail(in.Email), Name: strings.TrimSpace(in.Name), Role: in.Role, SiteIDs: in.SiteIDs}
	if !cloud.ValidEmail(u.Email) {
		return u, pantry.Errorf(pantry.EINVALID, "%q is not an email address", in.Email)
	}
	if err := cloud.CheckUserFields(u.Name, &u.Role, u.SiteIDs); err != nil {
		return u, err
	}
	if u.SiteIDs == nil {
		u.SiteIDs = []string{}
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := claimEmail(ctx, tx, orgID, u.Email); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO users (organization_id, id, email, password_hash, name, role)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`, orgID, u.ID, u.Email, in.PasswordHash, u.Name, string(u.Role)).Scan(&u.CreatedAt)
		if err != nil {
			return err
		}
		if err := setUserSites(ctx, tx, orgID, u.ID, u.SiteIDs); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, who, "user.create", "user", u.ID, nil, u)
	})
	if err != nil {
		return cloud.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

func setUserSites(ctx context.Context, tx pgx.Tx, orgID, userID string, sites []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM user_sites WHERE organization_id = $1 AND user_id = $2`, orgID, userID); err != nil {
		return err
	}
	if len(sites) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO user_sites (organization_id, user_id, site_id)
		SELECT g.id, $2, s FROM organizations g, unnest($3::uuid[]) AS s WHERE g.id = $1 ON CONFLICT DO NOTHING`, orgID, userID, sites)
	return err
}

// userColumns are what scanUser reads, from users u, in a statement whose
// $1 is the organization: the sites subquery names it as $1 rather than
// as u.organization_id, because Citus 13.2 prunes the shards of a
// correlated subquery by its own filters only, and with the outer column
// alone plans the statement for every shard (TestCitusRouting).
const userColumns = `u.id::text, u.email, u.name, u.role, u.disabled_at IS NOT NULL, u.created_at,
	COALESCE((SELECT array_agg(us.site_id::text ORDER BY us.site_id) FROM user_sites us
	          WHERE us.organization_id = $1 AND us.user_id = u.id), '{}')`

func scanUser(row pgx.Row) (cloud.User, error) {
	var u cloud.User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Disabled, &u.CreatedAt, &u.SiteIDs)
	return u, err
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, orgID, id string) (cloud.User, error) {
	var u cloud.User
	if !pantry.ValidID(id) {
		return u, pantry.Errorf(pantry.ENOTFOUND, "user %s not found", id)
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		u, err = getUser(ctx, tx, orgID, id)
		return err
	})
	return u, err
}

func getUser(ctx context.Context, tx pgx.Tx, orgID, id string) (cloud.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.organization_id = $1 AND u.id = $2`, orgID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, pantry.Errorf(pantry.ENOTFOUND, "user %s not found", id)
	}
	return u, err
}

// ListUsers lists the organization's users, newest first.
func (s *Store) ListUsers(ctx context.Context, orgID string, p cloud.Page) ([]cloud.User, string, error) {
	var users []cloud.User
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		users, next, err = newestFirst(ctx, tx, p, `SELECT `+userColumns+` FROM users u WHERE u.organization_id = $1`,
			[]any{orgID}, scanUser, func(u cloud.User) (time.Time, string) { return u.CreatedAt, u.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	return users, next, nil
}

// UpdateUser changes a user's name, role, sites or disabled flag. It
// refuses to leave the organization without an enabled owner.
func (s *Store) UpdateUser(ctx context.Context, orgID string, who cloud.Actor, id string, up cloud.UserUpdate) (cloud.User, error) {
	var after cloud.User
	if !pantry.ValidID(id) {
		return after, pantry.Errorf(pantry.ENOTFOUND, "user %s not found", id)
	}
	name := ""
	if up.Name != nil {
		name = strings.TrimSpace(*up.Name)
	}
	var sites []string
	if up.SiteIDs != nil {
		sites = *up.SiteIDs
	}
	if err := cloud.CheckUserFields(name, up.Role, sites); err != nil {
		return after, err
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		before, err := getUser(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET
			name = COALESCE($3, name), role = COALESCE($4, role),
			disabled_at = pantry_flag_time(disabled_at, $5::boolean, now())
			WHERE organization_id = $1 AND id = $2`, orgID, id, up.Name, (*string)(up.Role), up.Disabled); err != nil {
			return err
		}
		if up.SiteIDs != nil {
			if err := setUserSites(ctx, tx, orgID, id, sites); err != nil {
				return err
			}
		}
		var owners int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE organization_id = $1 AND role = 'owner' AND disabled_at IS NULL`, orgID).Scan(&owners); err != nil {
			return err
		}
		if owners == 0 {
			return pantry.Errorf(pantry.ECONFLICT, "an organization needs at least one enabled owner")
		}
		if after, err = getUser(ctx, tx, orgID, id); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, who, "user.update", "user", id, before, after)
	})
	if err != nil {
		return cloud.User{}, fmt.Errorf("update user: %w", err)
	}
	return after, nil
}
