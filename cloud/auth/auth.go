// Package auth is the cloud's authentication and authorization logic:
// password hashing, signed access tokens, opaque secrets (refresh tokens,
// API keys, tablet and node credentials), roles and what each may do, and
// the login-throttling decision.
//
// It is pure logic with no storage and no transport: the PostgreSQL store
// keeps what it produces (hashes, signing keys, refresh-token state, failure
// counts) and the HTTP API calls it to decide. Keeping it free of pgx and
// fiber lets every rule here be tested in microseconds, and keeps the
// security decisions in one place where a reviewer can read them all.
//
// Time and randomness: every function that depends on the clock takes now
// as an argument, so tests of expiry and throttling never sleep. Randomness
// comes from crypto/rand, which never fails on supported platforms.
package auth

import "time"

// Token and secret lifetimes. They are constants rather than settings
// because they are part of the security design, not of a deployment.
const (
	// AccessTokenTTL is how long a signed access token is valid. It is short
	// because access tokens are verified without a database lookup and so
	// cannot be revoked: a logout or a removed user stops working at the
	// latest this long afterwards, when the refresh token (which is checked
	// against the database) is refused.
	AccessTokenTTL = 15 * time.Minute

	// RefreshTokenTTL is how long an unused refresh token stays valid. Each
	// refresh rotates it, so an active user is never logged out; a device
	// left alone for this long has to log in again.
	RefreshTokenTTL = 30 * 24 * time.Hour

	// ClockSkew is the leeway allowed when checking a token's exp, nbf and
	// iat against the verifier's clock. Several stateless instances verify
	// tokens another one signed, and their clocks are close but not equal.
	ClockSkew = 30 * time.Second

	// KeyRetention is how long a signing key must stay in every instance's
	// KeySet after it stopped signing: the last token it signed stays valid
	// for AccessTokenTTL plus ClockSkew. Delete retired keys after this.
	KeyRetention = AccessTokenTTL + ClockSkew
)

// Issuer and Audience are the iss and aud every access token carries and
// every verifier requires. The audience keeps a token minted for the admin
// API from being accepted by any other service that might one day share the
// keys (the sync endpoints authenticate nodes differently).
const (
	Issuer   = "pantry"
	Audience = "pantry-api"
)
