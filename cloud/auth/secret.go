package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"strings"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// Opaque secrets are the credentials the server generates: refresh tokens,
// API keys, edge enrollment tokens and node credentials. (Tablet passwords
// are the exception: the edge checks them with bcrypt, so they are hashed
// with bcrypt.)
// The store keeps only their SHA-256 hash.
//
// Why a fast hash here, when passwords get argon2id: a slow hash exists to
// make guessing expensive for secrets that are guessable, and people's
// passwords are. These secrets are 256 random bits; guessing one from its
// hash takes 2^255 tries on average whatever the hash costs, so SHA-256 is
// exactly as safe as argon2id would be. Being fast and unsalted, it also
// lets the store find a secret by its hash with an index, instead of
// spending tens of milliseconds of CPU per request (API keys authenticate
// every call) or scanning candidates.
const secretBytes = 32

// HashSecret returns the SHA-256 of s, the form in which the store keeps
// and looks up an opaque secret.
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// EqualHash compares two secret hashes in constant time. Use it whenever a
// stored hash is compared in Go rather than by an index lookup.
func EqualHash(a, b []byte) bool {
	return len(a) == sha256.Size && subtle.ConstantTimeCompare(a, b) == 1
}

// NewOpaqueSecret returns a fresh 256-bit random secret, base64url-encoded
// (43 characters, safe in URLs, headers and JSON), and its hash. Show the
// secret once; store the hash.
func NewOpaqueSecret() (secret string, hash []byte) {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// NewRefreshToken returns a fresh refresh token and its hash.
func NewRefreshToken() (token string, hash []byte) { return NewOpaqueSecret() }

// API keys look like pk_live_<id>_<secret>. The fixed prefix makes a leaked
// key recognizable to secret scanners and to a person reading a log; the id
// part is not secret, so the dashboard can show "pk_live_<id>_…" to tell
// keys apart. Both parts are lowercase base32 (no padding), so the whole key
// is one word a double-click selects and the underscores can only be
// separators.
const (
	APIKeyPrefix = "pk_live_"
	apiKeyIDLen  = 16 // 10 random bytes
	apiKeySecLen = 52 // 32 random bytes
	apiKeyLen    = len(APIKeyPrefix) + apiKeyIDLen + 1 + apiKeySecLen
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKey returns a fresh API key, its displayable prefix
// ("pk_live_<id>", unique, not secret: keep it in a column to show and to
// find the key by) and the hash of the whole key (to store and compare).
func NewAPIKey() (key, prefix string, hash []byte) {
	id := make([]byte, 10)
	sec := make([]byte, secretBytes)
	_, _ = rand.Read(id) // crypto/rand.Read never fails on supported platforms.
	_, _ = rand.Read(sec)
	prefix = APIKeyPrefix + b32.EncodeToString(id)
	key = prefix + "_" + b32.EncodeToString(sec)
	return key, prefix, HashSecret(key)
}

var errInvalidAPIKey = pantry.Errorf(pantry.EUNAUTHORIZED, "invalid API key")

// ParseAPIKey checks that key has the shape NewAPIKey makes and returns its
// prefix and hash: the store finds the row by prefix and accepts the key if
// EqualHash(row's hash, hash). Anything else is EUNAUTHORIZED, refused
// before any database work.
func ParseAPIKey(key string) (prefix string, hash []byte, err error) {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok || len(key) != apiKeyLen || rest[apiKeyIDLen] != '_' {
		return "", nil, errInvalidAPIKey
	}
	if !canonicalB32(rest[:apiKeyIDLen], 10) || !canonicalB32(rest[apiKeyIDLen+1:], secretBytes) {
		return "", nil, errInvalidAPIKey
	}
	return key[:len(APIKeyPrefix)+apiKeyIDLen], HashSecret(key), nil
}

// canonicalB32 reports whether s decodes to n bytes and is the one encoding
// of them, so each key has exactly one spelling (the last character's
// unused bits must be zero).
func canonicalB32(s string, n int) bool {
	b, err := b32.DecodeString(s)
	return err == nil && len(b) == n && b32.EncodeToString(b) == s
}

// DecideRefresh decides what to do with a refresh token in state s at now.
// Reuse is checked first: a spent token is a theft signal even when it has
// also expired or its family is already revoked (revoking again is
// harmless; missing a theft is not). There is no grace period for a client
// that retries after losing the response: it must log in again, which is
// rarer and cheaper than a stolen token that keeps working.
func DecideRefresh(s cloud.RefreshState, now time.Time) cloud.RefreshDecision {
	switch {
	case s.Used:
		return cloud.RejectAndRevokeFamily
	case s.Revoked, !now.Before(s.ExpiresAt):
		return cloud.Reject
	}
	return cloud.Rotate
}
