package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// appendOnlyTables are ledgers and logs: the service role may add rows but
// never change or remove one, so that not even a bug in the service can
// rewrite stock history or the audit trail.
var appendOnlyTables = []string{"audit_log", "stock_movements", "order_status_history"}

// ensureServiceRole creates the service role if it is missing, refuses one
// that could bypass row-level security, sets its password if one is given,
// and makes the migrator a member of it so that Open may SET ROLE to it
// from the migrator's URL. With login (on Citus) the role may log in even
// without a password: Citus connects to the workers as the role that runs
// a query, and refuses a NOLOGIN role there; how it authenticates (a
// password in pg_dist_authinfo, a certificate) is the cluster's
// configuration, and a role without a password cannot pass a password
// check. Roles belong to the whole cluster, not to one database, so
// another database's Migrate (parallel tests, or staging next to
// production) may be doing the same at the same moment: the advisory lock
// does not cover that, and the catalog races it causes are retried.
func ensureServiceRole(ctx context.Context, conn *pgx.Conn, role, password string, login bool) (bool, error) {
	var verifier string
	if password != "" {
		var err error
		if verifier, err = scramVerifier(password); err != nil {
			return false, err
		}
	}
	for attempt := 1; ; attempt++ {
		created, err := ensureServiceRoleOnce(ctx, conn, role, verifier, login)
		if err == nil {
			return created, nil
		}
		if !catalogRace(err) || attempt == 5 {
			return false, fmt.Errorf("migrate: service role %s: %w", role, err)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		}
	}
}

func ensureServiceRoleOnce(ctx context.Context, conn *pgx.Conn, role, verifier string, login bool) (bool, error) {
	var exists, super, bypass, canLogin, migratorSuper bool
	err := conn.QueryRow(ctx, `SELECT r.oid IS NOT NULL, coalesce(r.rolsuper, false), coalesce(r.rolbypassrls, false),
		coalesce(r.rolcanlogin, false), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
		FROM (SELECT 1) AS one LEFT JOIN pg_roles r ON r.rolname = $1`, role).Scan(&exists, &super, &bypass, &canLogin, &migratorSuper)
	if err != nil {
		return false, err
	}
	if super || bypass {
		return false, fmt.Errorf("it is a superuser or has BYPASSRLS, so row-level security would not apply to it: "+
			"choose another role, or ALTER ROLE %s NOSUPERUSER NOBYPASSRLS", role)
	}
	id := pgx.Identifier{role}.Sanitize()
	attrs := "NOLOGIN"
	switch {
	case verifier != "":
		attrs = "LOGIN PASSWORD '" + verifier + "'" // base64, '$' and ':' only: nothing to escape
	case login:
		attrs = "LOGIN"
	}
	var stmts []string
	switch {
	case !exists:
		stmts = append(stmts, "CREATE ROLE "+id+" NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION "+attrs)
	case verifier != "" || (login && !canLogin):
		stmts = append(stmts, "ALTER ROLE "+id+" "+attrs)
	}
	if !migratorSuper {
		// A superuser may SET ROLE to anyone; anyone else must be a member.
		// Granting again is harmless (a notice).
		stmts = append(stmts, "GRANT "+id+" TO CURRENT_USER")
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return false, err
		}
	}
	return !exists, nil
}

// catalogRace reports errors that two sessions changing the same shared
// catalog rows at once produce: the role appeared between our check and
// our CREATE, or a concurrent GRANT updated the same membership row.
func catalogRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42710", "23505", "40001", "40P01": // duplicate_object, unique_violation, serialization, deadlock
		return true
	case "XX000":
		return strings.Contains(pgErr.Message, "tuple concurrently updated")
	}
	return false
}

// grantServiceRole gives the service role exactly what the service needs,
// in one transaction, after every run so that tables added by later
// migrations are covered: DML on every table but no TRUNCATE (which
// ignores row-level security), REFERENCES or TRIGGER; read-only access to
// schema_migrations (CheckSchema); no UPDATE or DELETE on the append-only
// tables; and EXECUTE on the SECURITY DEFINER lookup functions, which
// nobody else gets.
func grantServiceRole(ctx context.Context, conn *pgx.Conn, role string) error {
	id := pgx.Identifier{role}.Sanitize()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		stmts := []string{
			"GRANT USAGE ON SCHEMA public TO " + id,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + id,
			"REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM " + id,
			"REVOKE UPDATE, DELETE ON " + strings.Join(appendOnlyTables, ", ") + " FROM " + id,
			"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO " + id,
		}
		rows, err := tx.Query(ctx, `SELECT p.oid::regprocedure::text FROM pg_proc p
			WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef ORDER BY 1`)
		if err != nil {
			return err
		}
		fns, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, f := range fns {
			stmts = append(stmts, "REVOKE ALL ON FUNCTION "+f+" FROM PUBLIC", "GRANT EXECUTE ON FUNCTION "+f+" TO "+id)
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: grant %s its privileges: %w", role, err)
	}
	return nil
}

// scramVerifier computes what PostgreSQL stores for a SCRAM-SHA-256
// password (RFC 5802, RFC 7677), so that CREATE ROLE ... PASSWORD carries
// the verifier and never the password: statements can end up in the
// server's log. PostgreSQL SASLprep-normalises passwords first; restricting
// them to printable ASCII, which SASLprep leaves alone, keeps the two in
// agreement without a Unicode normaliser.
func scramVerifier(password string) (string, error) {
	for _, r := range password {
		if r < 0x20 || r > 0x7e {
			return "", errors.New("the service password must be printable ASCII")
		}
	}
	const iterations = 4096 // PostgreSQL's default scram_iterations
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails on supported platforms.
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("derive service password key: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key"))), nil
}
