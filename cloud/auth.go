package cloud

import (
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// RefreshState is what the store knows about a presented refresh token.
type RefreshState struct {
	Used      bool      // already exchanged for a new token (rotated)
	Revoked   bool      // its family was revoked: logout, reuse, a removed user
	ExpiresAt time.Time // when it stops being valid
}

// RefreshDecision is what to do with a presented refresh token.
type RefreshDecision int

// Refresh decisions.
const (
	// Reject refuses the token and changes nothing.
	Reject RefreshDecision = iota
	// Rotate marks the token used, issues a new one in the same family and a
	// new access token.
	Rotate
	// RejectAndRevokeFamily refuses the token and revokes every token of its
	// family: a spent token presented again means two parties hold it, and
	// there is no telling which one is the thief (RFC 9700 §4.14).
	RejectAndRevokeFamily
)

// String returns the decision's name for logs and test output.
func (d RefreshDecision) String() string {
	switch d {
	case Rotate:
		return "rotate"
	case RejectAndRevokeFamily:
		return "reject_and_revoke_family"
	}
	return "reject"
}

// ErrRefreshInvalid is the one error a client gets for any refused refresh
// token, whether unknown, expired, revoked or reused: telling them apart
// would tell a thief whether the token they hold was already used.
var ErrRefreshInvalid = pantry.Errorf(pantry.EUNAUTHORIZED, "invalid refresh token")

// LoginFailures is one scope's (an account's or an address's) failed logins
// within the window, as the store counts them. The account is the email as
// typed (normalized), whether or not a user has it, so the limit cannot be
// used to find out who has an account.
type LoginFailures struct {
	Count  int
	Oldest time.Time // the oldest failure counted; zero if Count is 0
}

// UserAccess is what a user may do, as their access token says: their
// role and, for a facility manager, the sites they manage.
type UserAccess struct {
	Role    Role
	SiteIDs []string
}

// WebSessionStart is a dashboard sign-in to record: who, how (Method
// "password" or "sso"), from where, the hash of the cookie's secret, and
// its deadlines.
type WebSessionStart struct {
	OrgID, UserID, Method string
	UserAgent, Address    string
	Hash                  []byte
	Now                   time.Time
	IdleUntil, ExpiresAt  time.Time
}

// WebSession is a live dashboard sign-in with what its user may do now.
type WebSession struct {
	ID, OrgID, UserID string
	Method            string
	Email, Name       string
	OrgName           string
	Access            UserAccess
	CreatedAt         time.Time
	ExpiresAt         time.Time
}
