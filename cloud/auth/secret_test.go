package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestNewRefreshToken(t *testing.T) {
	t.Parallel()
	tok, hash := NewRefreshToken()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v; want 32 bytes of base64url", tok, len(raw), err)
	}
	if want := sha256.Sum256([]byte(tok)); !bytes.Equal(hash, want[:]) || !EqualHash(hash, HashSecret(tok)) {
		t.Fatal("hash is not the SHA-256 of the token")
	}
	if tok2, _ := NewRefreshToken(); tok2 == tok {
		t.Fatal("two refresh tokens are equal")
	}
}

func TestEqualHash(t *testing.T) {
	t.Parallel()
	h := HashSecret("s")
	for _, tc := range []struct {
		name string
		a, b []byte
		want bool
	}{
		{"Same", h, HashSecret("s"), true},
		{"Different", h, HashSecret("t"), false},
		{"Truncated", h, h[:16], false},
		{"BothEmpty", nil, nil, false}, // an empty stored hash must never match
		{"ShortEqual", h[:16], h[:16], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EqualHash(tc.a, tc.b); got != tc.want {
				t.Fatalf("EqualHash=%v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewAPIKey(t *testing.T) {
	t.Parallel()
	key, prefix, hash := NewAPIKey()
	if !strings.HasPrefix(key, prefix+"_") || !strings.HasPrefix(prefix, "pk_live_") {
		t.Fatalf("key %q, prefix %q: want pk_live_<id>_<secret>", key, prefix)
	}
	if got, want := len(key), 77; got != want {
		t.Fatalf("len(key)=%d, want %d", got, want)
	}
	gotPrefix, gotHash, err := ParseAPIKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if gotPrefix != prefix || !EqualHash(hash, gotHash) {
		t.Fatalf("ParseAPIKey=%q, %x; want %q, %x", gotPrefix, gotHash, prefix, hash)
	}
	if key2, prefix2, _ := NewAPIKey(); key2 == key || prefix2 == prefix {
		t.Fatal("two API keys share a key or prefix")
	}
}

func TestParseAPIKeyRejects(t *testing.T) {
	t.Parallel()
	key, _, _ := NewAPIKey()
	id, sec := key[8:24], key[25:]
	for _, tc := range []struct{ name, key string }{
		{"Empty", ""},
		{"PrefixOnly", "pk_live_"},
		{"WrongPrefix", "pk_test_" + id + "_" + sec},
		{"Upper", strings.ToUpper(key)},
		{"Bearer", "Bearer " + key},
		{"TrailingNewline", key + "\n"},
		{"NoSeparator", "pk_live_" + id + sec + "a"},
		{"ShortID", "pk_live_" + id[1:] + "_" + sec + "a"},
		{"ShortSecret", "pk_live_" + id + "_" + sec[1:]},
		{"LongSecret", key + "a"},
		{"BadAlphabet", "pk_live_" + id + "_" + sec[:51] + "1"},
		{"NonCanonical", "pk_live_" + id + "_" + sec[:51] + "b"},
		{"RefreshToken", func() string { s, _ := NewRefreshToken(); return s }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseAPIKey(tc.key)
			if pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
				t.Fatalf("ParseAPIKey(%q)=%v, want unauthorized", tc.key, err)
			}
		})
	}
}

// FuzzParseAPIKey checks ParseAPIKey never panics, accepts only keys of the
// exact shape, and returns the prefix and hash the key implies.
func FuzzParseAPIKey(f *testing.F) {
	key, _, _ := NewAPIKey()
	f.Add(key)
	f.Add("pk_live_")
	f.Add("pk_live_aaaaaaaaaaaaaaaa_")
	f.Add(strings.Repeat("_", apiKeyLen))
	f.Fuzz(func(t *testing.T, s string) {
		prefix, hash, err := ParseAPIKey(s)
		if err != nil {
			if pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
				t.Fatalf("error %v is not unauthorized", err)
			}
			return
		}
		if len(s) != apiKeyLen || !strings.HasPrefix(s, prefix+"_") || len(prefix) != len(APIKeyPrefix)+apiKeyIDLen {
			t.Fatalf("accepted %q with prefix %q", s, prefix)
		}
		if strings.Trim(s[len(APIKeyPrefix):], "abcdefghijklmnopqrstuvwxyz234567_") != "" || strings.Count(s, "_") != 3 {
			t.Fatalf("accepted characters outside the key alphabet: %q", s)
		}
		if !EqualHash(hash, HashSecret(s)) {
			t.Fatal("hash is not the key's hash")
		}
	})
}

func TestDecideRefresh(t *testing.T) {
	t.Parallel()
	live := t0.Add(time.Hour)
	for _, tc := range []struct {
		name  string
		state cloud.RefreshState
		want  cloud.RefreshDecision
	}{
		{"Fresh", cloud.RefreshState{ExpiresAt: live}, cloud.Rotate},
		{"Used", cloud.RefreshState{Used: true, ExpiresAt: live}, cloud.RejectAndRevokeFamily},
		{"UsedAndExpired", cloud.RefreshState{Used: true, ExpiresAt: t0.Add(-time.Hour)}, cloud.RejectAndRevokeFamily},
		{"UsedAndRevoked", cloud.RefreshState{Used: true, Revoked: true, ExpiresAt: live}, cloud.RejectAndRevokeFamily},
		{"Revoked", cloud.RefreshState{Revoked: true, ExpiresAt: live}, cloud.Reject},
		{"RevokedAndExpired", cloud.RefreshState{Revoked: true, ExpiresAt: t0.Add(-time.Hour)}, cloud.Reject},
		{"Expired", cloud.RefreshState{ExpiresAt: t0.Add(-time.Second)}, cloud.Reject},
		{"ExpiresNow", cloud.RefreshState{ExpiresAt: t0}, cloud.Reject},
		{"ExpiresNextSecond", cloud.RefreshState{ExpiresAt: t0.Add(time.Second)}, cloud.Rotate},
		{"NoExpiry", cloud.RefreshState{}, cloud.Reject}, // incomplete data fails closed
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecideRefresh(tc.state, t0); got != tc.want {
				t.Fatalf("DecideRefresh(%+v)=%v, want %v", tc.state, got, tc.want)
			}
		})
	}
}
