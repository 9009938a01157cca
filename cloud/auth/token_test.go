package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

var t0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// mustKeySet returns a KeySet with a fresh current key and that key.
func mustKeySet(tb testing.TB, others ...Key) (*KeySet, Key) {
	tb.Helper()
	k, err := NewKey()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewKeySet(k, others...)
	if err != nil {
		tb.Fatal(err)
	}
	return s, k
}

func managerClaims() Claims {
	return Claims{Subject: pantry.NewID(), OrgID: pantry.NewID(), Role: cloud.RoleFacilityManager,
		SiteIDs: []string{"site-a", "site-b"}, Kind: KindUser}
}

// validMap is what Sign would put in a token signed at t0, as a map an
// attack test can alter before signing it its own way.
func validMap() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": Issuer, "aud": []string{Audience}, "sub": "user-1", "jti": "token-1",
		"iat": t0.Unix(), "exp": t0.Add(AccessTokenTTL).Unix(),
		"org": "org-1", "role": "admin", "kind": "user",
	}
}

// forge signs claims with any method and key, naming kid, as an attacker
// (or a buggy instance) could.
func forge(tb testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	ks, _ := mustKeySet(t)
	want := managerClaims()
	tok, err := ks.Sign(want, t0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ks.Verify(tok, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != want.Subject || got.OrgID != want.OrgID || got.Role != want.Role || got.Kind != want.Kind ||
		!slices.Equal(got.SiteIDs, want.SiteIDs) {
		t.Fatalf("claims=%+v, want %+v", got, want)
	}
	if !pantry.ValidID(got.ID) {
		t.Fatalf("jti=%q, want a fresh id", got.ID)
	}
	if !got.IssuedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(AccessTokenTTL)) {
		t.Fatalf("iat=%v exp=%v, want %v and %v", got.IssuedAt, got.ExpiresAt, t0, t0.Add(AccessTokenTTL))
	}
	p := got.Principal()
	if p.ID != want.Subject || p.OrgID != want.OrgID || p.Can(ActionWriteSite, "site-b") != nil {
		t.Fatalf("principal %+v cannot write its own site", p)
	}
	tok2, _ := ks.Sign(want, t0)
	if c2, _ := ks.Verify(tok2, t0); c2.ID == got.ID {
		t.Fatal("two tokens share a jti")
	}
}

func TestSignRefusesIncompleteClaims(t *testing.T) {
	t.Parallel()
	ks, _ := mustKeySet(t)
	for name, c := range map[string]Claims{
		"NoSubject":     {OrgID: "o", Role: cloud.RoleAdmin, Kind: KindUser},
		"NoOrg":         {Subject: "u", Role: cloud.RoleAdmin, Kind: KindUser},
		"NoRole":        {Subject: "u", OrgID: "o", Kind: KindUser},
		"UnknownRole":   {Subject: "u", OrgID: "o", Role: "root", Kind: KindUser},
		"NoKind":        {Subject: "u", OrgID: "o", Role: cloud.RoleAdmin},
		"AdminAPIKey":   {Subject: "k", OrgID: "o", Role: cloud.RoleAdmin, Kind: KindAPIKey},
		"TechnicianUsr": {Subject: "u", OrgID: "o", Role: cloud.RoleTechnician, Kind: KindUser},
		"TooManySites":  {Subject: "u", OrgID: "o", Role: cloud.RoleFacilityManager, Kind: KindUser, SiteIDs: make([]string, 257)},
	} {
		t.Run(name, func(t *testing.T) {
			if tok, err := ks.Sign(c, t0); err == nil {
				t.Fatalf("Sign(%+v)=%q, want an error", c, tok)
			}
		})
	}
}

// TestVerifyAttacks builds tokens by hand the ways attackers do and checks
// each is refused with the one safe message (or, for a genuine token past
// its time, "access token expired").
func TestVerifyAttacks(t *testing.T) {
	t.Parallel()
	ks, key := mustKeySet(t)
	kid := key.ID()
	pub := key.public
	other, _ := NewKey()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	with := func(k string, v any) jwt.MapClaims {
		m := validMap()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	signed := func(claims jwt.MapClaims) string { return forge(t, jwt.SigningMethodEdDSA, key.private, kid, claims) }
	valid := signed(validMap())
	parts := strings.Split(valid, ".")

	for _, tc := range []struct{ name, token string }{
		{"Empty", ""},
		{"Garbage", "not.a.token"},
		{"TwoParts", parts[0] + "." + parts[1]},
		{"AlgNone", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validMap())},
		{"AlgNoneWithSignature", noneHeader(kid) + "." + parts[1] + "." + parts[2]},
		{"HS256WithPublicKey", forge(t, jwt.SigningMethodHS256, []byte(pub), kid, validMap())},
		{"HS256WithBase64PublicKey", forge(t, jwt.SigningMethodHS256, []byte(base64.StdEncoding.EncodeToString(pub)), kid, validMap())},
		{"RS256", forge(t, jwt.SigningMethodRS256, rsaKey, kid, validMap())},
		{"PS256", forge(t, jwt.SigningMethodPS256, rsaKey, kid, validMap())},
		{"ES256", forge(t, jwt.SigningMethodES256, ecKey, kid, validMap())},
		{"OtherKeySameKid", forge(t, jwt.SigningMethodEdDSA, other.private, kid, validMap())},
		{"UnknownKid", forge(t, jwt.SigningMethodEdDSA, other.private, other.ID(), validMap())},
		{"NoKid", forge(t, jwt.SigningMethodEdDSA, key.private, "", validMap())},
		{"CritHeader", critToken(t, key)},
		{"Expired", signed(with("exp", t0.Add(-ClockSkew-time.Second).Unix()))},
		{"NoExp", signed(with("exp", nil))},
		{"NoIat", signed(with("iat", nil))},
		{"IatInFuture", signed(with("iat", t0.Add(ClockSkew+time.Minute).Unix()))},
		{"NotBeforeInFuture", signed(with("nbf", t0.Add(ClockSkew+time.Minute).Unix()))},
		{"ExpAsString", signed(with("exp", "tomorrow"))},
		{"WrongAudience", signed(with("aud", []string{"pantry-sync"}))},
		{"NoAudience", signed(with("aud", nil))},
		{"WrongIssuer", signed(with("iss", "evil"))},
		{"NoIssuer", signed(with("iss", nil))},
		{"NoJTI", signed(with("jti", nil))},
		{"NoSubject", signed(with("sub", nil))},
		{"NoOrg", signed(with("org", nil))},
		{"UnknownRole", signed(with("role", "superuser"))},
		{"APIKeyAsAdmin", signed(with("kind", "api_key"))},
		{"RoleNotString", signed(with("role", 7))},
		{"TamperedPayload", parts[0] + "." + reencode(t, parts[1], "role", "owner") + "." + parts[2]},
		{"TamperedHeader", reencode(t, parts[0], "typ", "at+jwt") + "." + parts[1] + "." + parts[2]},
		{"TruncatedSignature", valid[:len(valid)-4]},
		{"PaddedSignature", valid + "=="},
		{"NewlineInSignature", valid[:len(valid)-10] + "\n" + valid[len(valid)-10:]},
		{"CRInPayload", parts[0] + "." + parts[1][:5] + "\r" + parts[1][5:] + "." + parts[2]},
		{"SpaceBefore", " " + valid},
		{"Oversized", signed(with("pad", strings.Repeat("x", maxTokenBytes)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ks.Verify(tc.token, t0)
			if err == nil {
				t.Fatalf("Verify accepted %s: %+v", tc.name, c)
			}
			if got, want := pantry.ErrorCode(err), pantry.EUNAUTHORIZED; got != want {
				t.Fatalf("code=%q, want %q", got, want)
			}
			want := "invalid access token"
			if tc.name == "Expired" { // properly signed, so it may say why
				want = "access token expired"
			}
			if got := pantry.ErrorMessage(err); got != want {
				t.Fatalf("message=%q, want %q", got, want)
			}
		})
	}
	// The untampered token passes, so the attacks fail for their own reason.
	if _, err := ks.Verify(valid, t0); err != nil {
		t.Fatalf("Verify(valid)=%v", err)
	}
}

func TestVerifyTimes(t *testing.T) {
	t.Parallel()
	ks, _ := mustKeySet(t)
	tok, _ := ks.Sign(managerClaims(), t0)
	exp := t0.Add(AccessTokenTTL)
	for _, tc := range []struct {
		name    string
		now     time.Time
		wantErr string // "" for accepted
	}{
		{"AtIssue", t0, ""},
		{"JustBeforeExpiry", exp.Add(-time.Second), ""},
		{"WithinSkewAfterExpiry", exp.Add(ClockSkew - time.Second), ""},
		{"PastSkewAfterExpiry", exp.Add(ClockSkew + time.Second), "access token expired"},
		{"HoursLater", exp.Add(5 * time.Hour), "access token expired"},
		{"VerifierClockBehindWithinSkew", t0.Add(-ClockSkew + time.Second), ""},
		{"VerifierClockFarBehind", t0.Add(-ClockSkew - time.Second), "invalid access token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ks.Verify(tok, tc.now)
			if got := pantry.ErrorMessage(err); got != tc.wantErr {
				t.Fatalf("Verify at %v: %q, want %q", tc.now.Sub(t0), got, tc.wantErr)
			}
		})
	}
}

// TestKeyRotation walks a key through its life across two instances that
// share keys only through their stored bytes, as the database gives them.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, _ := NewKey()
	newKey, _ := NewKey()
	load := func(current Key, others ...Key) *KeySet {
		t.Helper()
		s, err := NewKeySet(roundTrip(t, current), others...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := load(oldKey)
	oldToken, _ := a.Sign(managerClaims(), t0)

	// Step 1: the new key is loaded everywhere as verify-only.
	b := load(oldKey, roundTrip(t, newKey.Public()))
	if _, err := b.Verify(oldToken, t0); err != nil {
		t.Fatalf("another instance refuses the old key's token: %v", err)
	}
	// Step 2: the new key signs; the old one only verifies.
	c := load(newKey, roundTrip(t, oldKey.Public()))
	if got, want := c.SigningKeyID(), newKey.ID(); got != want {
		t.Fatalf("signing kid=%q, want %q", got, want)
	}
	newToken, _ := c.Sign(managerClaims(), t0)
	for name, tok := range map[string]string{"OldToken": oldToken, "NewToken": newToken} {
		if _, err := c.Verify(tok, t0.Add(time.Minute)); err != nil {
			t.Fatalf("%s during rotation: %v", name, err)
		}
	}
	if _, err := b.Verify(newToken, t0); err != nil {
		t.Fatalf("an instance still signing with the old key refuses the new key's token: %v", err)
	}
	// Step 3: the old key is removed; its tokens stop verifying at once.
	d := load(newKey)
	if _, err := d.Verify(oldToken, t0.Add(time.Minute)); pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
		t.Fatalf("retired key's token after removal: %v, want unauthorized", err)
	}
	if _, err := d.Verify(newToken, t0.Add(time.Minute)); err != nil {
		t.Fatalf("new token after removal of old key: %v", err)
	}
}

// noneHeader is a header claiming alg none while naming a real kid.
func noneHeader(kid string) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	return base64.RawURLEncoding.EncodeToString(h)
}

// critToken is a properly signed token with a critical header extension.
func critToken(tb testing.TB, k Key) string {
	tb.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, validMap())
	tok.Header["kid"] = k.ID()
	tok.Header["crit"] = []string{"exp-ext"}
	tok.Header["exp-ext"] = true
	s, err := tok.SignedString(k.private)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// reencode sets field to value in a base64url JSON segment.
func reencode(tb testing.TB, seg, field string, value any) string {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	m[field] = value
	b, _ = json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

// roundTrip stores and reloads k, as the database does between instances.
func roundTrip(tb testing.TB, k Key) Key {
	tb.Helper()
	b, err := k.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	got, err := ParseKey(b)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// FuzzVerify checks that Verify never panics and never accepts a token
// that is not an EdDSA signature, by a key in the set, over exactly the
// token's header and payload, checked here without the JWT library.
func FuzzVerify(f *testing.F) {
	ks, key := mustKeySet(f)
	good, _ := ks.Sign(managerClaims(), t0)
	f.Add(good)
	f.Add(forge(f, jwt.SigningMethodHS256, []byte(key.public), key.ID(), validMap()))
	f.Add(forge(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, key.ID(), validMap()))
	f.Add(forge(f, jwt.SigningMethodEdDSA, key.private, key.ID(), validMap()))
	f.Add("")
	f.Add("..")
	f.Add(good[:len(good)-10] + "\n" + good[len(good)-10:])
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ks.Verify(tok, t0)
		if err != nil {
			if pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
				t.Fatalf("error %v is not unauthorized", err)
			}
			return
		}
		if strings.Trim(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Fatalf("accepted characters outside base64url: %q", tok)
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d segments", len(parts))
		}
		var h struct{ Alg, Kid string }
		hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
		sig, err2 := base64.RawURLEncoding.DecodeString(parts[2])
		if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil || h.Alg != "EdDSA" {
			t.Fatalf("accepted a token whose header is not EdDSA: %q", tok)
		}
		pub, ok := ks.publicKey(h.Kid)
		if !ok || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token not signed by a key in the set: %q", tok)
		}
		if c.OrgID == "" || !c.Role.Valid() {
			t.Fatalf("accepted claims without tenant or role: %+v", c)
		}
	})
}
