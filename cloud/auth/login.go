package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// MaxEmailBytes bounds an email address as typed at sign-in.
const MaxEmailBytes = 254

// PasswordLogin checks an email and password the way every sign-in does,
// the API's and the dashboard's: failures are counted per account and per
// client address in the database (every instance sees them) and refused
// past the limit before the password is even checked; the password costs
// the same whether or not the account exists; at most a few argon2id
// hashes run at once.
type PasswordLogin struct {
	Logins    cloud.LoginService
	Passwords PasswordParams
	Throttle  ThrottlePolicy
	hashing   chan struct{}
}

// NewPasswordLogin returns a PasswordLogin over logins; zero params and
// policy are the defaults.
func NewPasswordLogin(logins cloud.LoginService, passwords PasswordParams, throttle ThrottlePolicy) *PasswordLogin {
	if passwords == (PasswordParams{}) {
		passwords = DefaultPasswordParams()
	}
	if throttle == (ThrottlePolicy{}) {
		throttle = DefaultThrottlePolicy()
	}
	// Each hash holds 19 MiB.
	return &PasswordLogin{Logins: logins, Passwords: passwords, Throttle: throttle, hashing: make(chan struct{}, 4)}
}

// LoginOutcome says how an attempt ended, for metrics: "ok", "failed" or
// "throttled".
type LoginOutcome string

// Check returns the account email and password sign in to, from the
// client at addr. A refused attempt is ErrPasswordMismatch, whatever the
// reason (unknown account, wrong password, disabled user); a throttled one
// is ERATELIMITED, with how long to wait in the Throttle.
func (l *PasswordLogin) Check(ctx context.Context, email, password, addr string, now time.Time) (cloud.LoginLookup, LoginOutcome, Throttle, error) {
	if len(email) > MaxEmailBytes || len(password) > MaxPasswordBytes {
		return cloud.LoginLookup{}, "failed", Throttle{Allowed: true}, ErrPasswordMismatch
	}
	accountKey, addrKey := "email:"+cloud.NormalizeEmail(email), "ip:"+addr
	since := l.Throttle.WindowStart(now)
	acct, err := l.Logins.LoginFailures(ctx, accountKey, since)
	if err != nil {
		return cloud.LoginLookup{}, "", Throttle{}, err
	}
	byAddr, err := l.Logins.LoginFailures(ctx, addrKey, since)
	if err != nil {
		return cloud.LoginLookup{}, "", Throttle{}, err
	}
	if t := l.Throttle.Decide(acct, byAddr, now); !t.Allowed {
		return cloud.LoginLookup{}, "throttled", t, t.Err()
	}
	user, err := l.check(ctx, email, password)
	if err != nil {
		if rerr := l.Logins.RecordLoginFailure(ctx, now, accountKey, addrKey); rerr != nil {
			err = errors.Join(err, fmt.Errorf("record login failure: %w", rerr))
		}
		return user, "failed", Throttle{Allowed: true}, err
	}
	return user, "ok", Throttle{Allowed: true}, nil
}

// check verifies the password, spending the same time whether or not the
// account exists.
func (l *PasswordLogin) check(ctx context.Context, email, password string) (cloud.LoginLookup, error) {
	user, lookupErr := l.Logins.LookupLogin(ctx, email)
	if lookupErr != nil && pantry.ErrorCode(lookupErr) != pantry.ENOTFOUND {
		return user, lookupErr
	}
	select {
	case l.hashing <- struct{}{}:
	case <-ctx.Done():
		return user, ctx.Err()
	}
	defer func() { <-l.hashing }()
	if lookupErr != nil {
		return user, l.Passwords.CheckDummy(password)
	}
	if err := CheckPassword(user.PasswordHash, password); err != nil {
		return user, ErrPasswordMismatch
	}
	if user.Disabled {
		return user, ErrPasswordMismatch
	}
	return user, nil
}

// Hash hashes a new password with l's parameters, within the same bound
// on concurrent hashes as Check.
func (l *PasswordLogin) Hash(ctx context.Context, password string) (string, error) {
	select {
	case l.hashing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-l.hashing }()
	return l.Passwords.Hash(password)
}
