package auth

import (
	"errors"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// TokenKind says what kind of credential a token's subject is.
type TokenKind string

// Token kinds.
const (
	KindUser   TokenKind = "user"    // a person who logged in; Subject is the user id
	KindAPIKey TokenKind = "api_key" // a technician's API key; Subject is the key id
)

// Claims is what an access token says about its bearer. IssuedAt, ExpiresAt
// and (when empty) ID are set by Sign; the rest is the caller's.
type Claims struct {
	Subject   string     // user id or API key id
	OrgID     string     // the tenant: always from here, never from a request body
	Role      cloud.Role // role within OrgID
	SiteIDs   []string   // the sites of a facility manager; empty for other roles
	Kind      TokenKind  // what Subject names
	ID        string     // jti: unique per token, for logs and any future deny-list
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Principal returns the identity the claims authenticate.
func (c Claims) Principal() Principal {
	return Principal{Kind: c.Kind, ID: c.Subject, OrgID: c.OrgID, Role: c.Role, SiteIDs: slices.Clone(c.SiteIDs)}
}

// validate checks the claims that carry authority: a token that says
// nothing about its tenant or role must never be signed, nor accepted.
func (c Claims) validate() error {
	switch {
	case c.Subject == "" || c.OrgID == "":
		return errors.New("claims need a subject and an organization")
	case !c.Role.Valid():
		return errors.New("claims have an unknown role")
	case !validKindRole(c.Kind, c.Role):
		return errors.New("claims have an unknown kind, or a role that kind cannot hold")
	case len(c.SiteIDs) > maxSiteClaims:
		return errors.New("claims list too many sites")
	}
	return nil
}

// maxSiteClaims bounds the site list a token may carry; a facility manager
// of more sites than this should be an admin.
const maxSiteClaims = 256

// maxTokenBytes bounds what Verify will parse, so a request cannot make the
// server base64-decode and JSON-parse megabytes before failing.
const maxTokenBytes = 8 << 10

// tokenClaims is the JWT form of Claims. Short private claim names keep the
// token small; they are namespaced by our iss and aud.
type tokenClaims struct {
	jwt.RegisteredClaims
	OrgID   string     `json:"org"`
	Role    cloud.Role `json:"role"`
	SiteIDs []string   `json:"sites,omitempty"`
	Kind    TokenKind  `json:"kind"`
}

// Sign returns a compact JWS of c signed with the set's current key, valid
// from now for AccessTokenTTL. The kid header names the key so any instance
// holding the same KeySet can verify it.
func (s *KeySet) Sign(c Claims, now time.Time) (string, error) {
	if err := c.validate(); err != nil {
		return "", err
	}
	if c.ID == "" {
		c.ID = pantry.NewID()
	}
	now = now.Truncate(time.Second) // NumericDate has whole seconds
	tc := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   c.Subject,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        c.ID,
		},
		OrgID: c.OrgID, Role: c.Role, SiteIDs: c.SiteIDs, Kind: c.Kind,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, tc)
	t.Header["kid"] = s.current.id
	return t.SignedString(s.current.private)
}

// Errors Verify returns. Their messages are all a client learns: the
// library's own errors (which name the failing check, the algorithm, the
// parsing step) stay inside, as they help only an attacker probe.
var (
	errTokenInvalid = pantry.Errorf(pantry.EUNAUTHORIZED, "invalid access token")
	errTokenExpired = pantry.Errorf(pantry.EUNAUTHORIZED, "access token expired")
)

// Verify checks token and returns its claims. It accepts only a token that
//   - is signed with EdDSA (so alg "none", HMAC keyed with our public key, and
//     RSA or ECDSA tokens are all refused before any key is looked at),
//   - names by kid a key in the set, whose signature checks out,
//   - carries iss "pantry", aud "pantry-api", exp, iat, jti, and is within
//     its validity at now, give or take ClockSkew,
//   - has a subject, organization, known role and kind that fit together.
//
// Every failure is EUNAUTHORIZED "invalid access token", except a properly
// signed token past its expiry, which says "access token expired" so a
// client knows to refresh rather than log in again.
func (s *KeySet) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > maxTokenBytes || !tokenAlphabet(token) {
		return Claims{}, errTokenInvalid
	}
	var tc tokenClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	_, err := p.ParseWithClaims(token, &tc, s.keyFunc)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Claims{}, errTokenExpired
	case err != nil:
		return Claims{}, errTokenInvalid
	}
	// The library checks iat only when present; an access token without one
	// is not ours.
	if tc.IssuedAt == nil || tc.ID == "" {
		return Claims{}, errTokenInvalid
	}
	c := Claims{
		Subject: tc.Subject, OrgID: tc.OrgID, Role: tc.Role, SiteIDs: tc.SiteIDs,
		Kind: tc.Kind, ID: tc.ID, IssuedAt: tc.IssuedAt.Time, ExpiresAt: tc.ExpiresAt.Time,
	}
	if c.validate() != nil {
		return Claims{}, errTokenInvalid
	}
	return c, nil
}

// tokenAlphabet reports whether s has only the characters of a compact
// JWS: base64url and dots. encoding/base64 skips \r and \n inside a
// segment, so without this check a token could be respelled and still
// verify; one token, one spelling.
func tokenAlphabet(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// keyFunc returns the verification key the token's kid names. It runs only
// after the parser has checked the algorithm is EdDSA, and it returns the
// raw ed25519.PublicKey, which no other signing method would accept as key.
func (s *KeySet) keyFunc(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: a verifier must refuse critical extensions it
		// does not understand, and we understand none.
		return nil, errors.New("crit header not supported")
	}
	kid, _ := t.Header["kid"].(string)
	key, ok := s.publicKey(kid)
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return key, nil
}
