package auth

import (
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// ThrottlePolicy limits failed logins over a sliding window, per account and
// per client address. The per-account limit slows a distributed guesser
// aimed at one person; the per-address limit slows one client spraying
// common passwords over many accounts. Instances are stateless, so the store
// counts failures in the database and this only decides.
type ThrottlePolicy struct {
	Window        time.Duration
	MaxPerAccount int
	MaxPerAddress int
}

// DefaultThrottlePolicy returns 5 failures per account and 50 per address
// in 15 minutes: a person who mistypes has several tries, and a guesser gets
// 480 tries a day per account, hopeless against a 12-character password.
// The address limit is higher because an office shares one address.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{Window: 15 * time.Minute, MaxPerAccount: 5, MaxPerAddress: 50}
}

// WindowStart returns the start of the window ending at now: the store
// counts the failures recorded after it.
func (p ThrottlePolicy) WindowStart(now time.Time) time.Time { return now.Add(-p.Window) }

// Throttle is the decision for one login attempt.
type Throttle struct {
	Allowed    bool
	RetryAfter time.Duration // when not allowed: whole seconds, at least 1 s
}

// Decide says whether a login may be attempted now, given the failures of
// its account and its client address. It is asked before the password is
// checked: a throttled attempt costs no argon2id work, and its result must
// not reveal whether the password was right. Throttled attempts should not
// be recorded as failures, or a locked-out user's retries would extend
// their own lockout.
//
// The window slides: the block lifts when the oldest counted failure leaves
// it, which RetryAfter reports (rounded up to whole seconds, for the
// Retry-After header). A count with no oldest time is taken to block for a
// whole window, the safe reading of incomplete data. The zero policy
// refuses every login: start from DefaultThrottlePolicy.
func (p ThrottlePolicy) Decide(account, address cloud.LoginFailures, now time.Time) Throttle {
	t := Throttle{Allowed: true}
	for _, s := range []struct {
		f   cloud.LoginFailures
		max int
	}{{account, p.MaxPerAccount}, {address, p.MaxPerAddress}} {
		if s.f.Count >= s.max {
			t = Throttle{RetryAfter: max(t.RetryAfter, p.retryAfter(s.f.Oldest, now))}
		}
	}
	return t
}

// retryAfter returns when a failure at oldest leaves the window, clamped to
// [1 s, Window] so a clock step or bad data never yields "retry in 0 s" or
// "retry next year".
func (p ThrottlePolicy) retryAfter(oldest, now time.Time) time.Duration {
	d := p.Window
	if !oldest.IsZero() {
		d = min(oldest.Add(p.Window).Sub(now), p.Window)
	}
	return max(d+time.Second-1, time.Second).Truncate(time.Second)
}

// Err returns nil if t allows the attempt, and otherwise an ERATELIMITED
// error for the client. The API also sets Retry-After from t.RetryAfter.
func (t Throttle) Err() error {
	if t.Allowed {
		return nil
	}
	return pantry.Errorf(pantry.ERATELIMITED, "too many failed logins; try again in %d seconds", int(t.RetryAfter/time.Second))
}
