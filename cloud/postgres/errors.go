package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/internal/pantry"
)

// constraintMessages are the client-safe words for the constraints a
// request can violate, by constraint (or unique index) name. A constraint
// missing here still maps to its code, with a generic message.
var constraintMessages = map[string]string{
	"users_email_key":        "a user with this email already exists",
	"spaces_code_key":        "a room with this code already exists",
	"coupons_code_key":       "a coupon with this code already exists",
	"cost_centers_code_key":  "a cost center with this code already exists",
	"tablets_username_key":   "a tablet with this username already exists",
	"organizations_pkey":     "an organization with this id already exists",
	"organization_slugs_key": "an organization with this slug already exists",
}

// domainError turns the database errors that a client's input can cause
// into domain errors, so that the API answers 409 or 400 instead of 500:
// a unique violation (SQLSTATE 23505) is ECONFLICT; a foreign-key
// violation (23503: a reference to nothing, or to another tenant's row,
// which row-level security makes the same thing) and a failed check
// (23514), missing value (23502) or malformed value (22P02, 22001) are
// EINVALID. The database error stays in the chain for logs; clients see
// only the domain message (pantry.ErrorMessage). Other errors, and errors
// that already carry a domain code, pass through unchanged.
func domainError(err error) error {
	var pgErr *pgconn.PgError
	var domain *pantry.Error
	if err == nil || errors.As(err, &domain) || !errors.As(err, &pgErr) {
		return err
	}
	var e *pantry.Error
	switch pgErr.Code {
	case "23505":
		e = pantry.Errorf(pantry.ECONFLICT, "%s", messageOr(pgErr, "this conflicts with an existing record"))
	case "23503":
		e = pantry.Errorf(pantry.EINVALID, "%s", messageOr(pgErr, "a referenced record does not exist"))
	case "23514", "23502", "22P02", "22001":
		e = pantry.Errorf(pantry.EINVALID, "%s", messageOr(pgErr, "a value is missing, malformed or out of range"))
	default:
		return err
	}
	return fmt.Errorf("%w (%w)", e, err)
}

// constraintInMessage finds the constraint in PostgreSQL's messages for
// SQLSTATEs 23505, 23503 and 23514 ("... violates unique constraint
// \"users_email_key\"").
var constraintInMessage = regexp.MustCompile(`violates (?:unique|foreign key|check) constraint "([^"]+)"`)

func messageOr(pgErr *pgconn.PgError, fallback string) string {
	if m, ok := constraintMessages[constraintName(pgErr)]; ok {
		return m
	}
	return fallback
}

// constraintName is the name of the constraint pgErr names, as the
// schema has it. Under Citus the error comes from a shard: the
// coordinator passes it on without the constraint's name in its own
// field, which is then read from the message, and a shard's constraints
// carry the shard's id ("users_email_key_102040"), a suffix dropped when
// the name without it is one of ours.
func constraintName(pgErr *pgconn.PgError) string {
	name := pgErr.ConstraintName
	if name == "" {
		if m := constraintInMessage.FindStringSubmatch(pgErr.Message); m != nil {
			name = m[1]
		}
	}
	if _, ok := constraintMessages[name]; ok {
		return name
	}
	return shardless(name)
}

// shardless is the name of a table or constraint as the schema has it,
// given the name a Citus shard has for it: the schema's name and "_" and
// the shard's id ("items_102061"). No name of the schema ends in "_" and
// digits, so other names come back unchanged.
func shardless(name string) string {
	i := strings.LastIndexByte(name, '_')
	if i < 0 || i == len(name)-1 || strings.Trim(name[i+1:], "0123456789") != "" {
		return name
	}
	return name[:i]
}
