package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/server"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
)

func TestLoginRefreshLogout(t *testing.T) {
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	me := s.Do(t, "GET", "/api/v1/me", org.Token, nil)
	if me.Status != http.StatusOK || !strings.Contains(string(me.Body), org.ID) || !strings.Contains(string(me.Body), `"owner"`) {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}

	tok := s.Login(t, org.OwnerEmail, cloudtest.Password)
	r := s.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	var next cloudtest.Tokens
	r.Decode(t, &next)
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == "" || next.ExpiresIn != 900 {
		t.Fatalf("refresh did not rotate: %+v", next)
	}
	t.Run("ReuseRevokesTheFamily", func(t *testing.T) {
		r := s.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("reused token: %d %s", r.Status, r.Body)
		}
		r = s.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("the family's newest token still works after reuse: %d %s", r.Status, r.Body)
		}
	})
	t.Run("LogoutRevokes", func(t *testing.T) {
		tok := s.Login(t, org.OwnerEmail, cloudtest.Password)
		if r := s.Do(t, "POST", "/api/v1/auth/logout", "", map[string]string{"refresh_token": tok.RefreshToken}); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}); r.Status != http.StatusUnauthorized {
			t.Fatalf("refresh after logout: %d", r.Status)
		}
	})
}

func TestLoginRefusals(t *testing.T) {
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"WrongPassword", map[string]string{"email": org.OwnerEmail, "password": "wrong password!!"}, 401, pantry.EUNAUTHORIZED},
		{"UnknownEmail", map[string]string{"email": "nobody@example.com", "password": cloudtest.Password}, 401, pantry.EUNAUTHORIZED},
		{"Malformed", `{"email":`, 400, pantry.EINVALID},
		{"UnknownField", `{"email":"a@b.c","password":"x","admin":true}`, 400, pantry.EINVALID},
		{"HugePassword", map[string]string{"email": org.OwnerEmail, "password": strings.Repeat("x", 10000)}, 401, pantry.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Do(t, "POST", "/api/v1/auth/login", "", tt.body)
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Fatalf("status=%d code=%q, want %d %q: %s", r.Status, r.ErrorCode(), tt.status, tt.code, r.Body)
			}
		})
	}
}

// TestLoginThrottle: after five failures the account is refused with 429,
// even with the right password, on every instance (the count is in the
// database): a second server on the same database refuses too.
func TestLoginThrottle(t *testing.T) {
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	for i := range 5 {
		r := s.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": org.OwnerEmail, "password": "wrong password!!"})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.Status)
		}
	}
	r := s.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": org.OwnerEmail, "password": cloudtest.Password})
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != pantry.ERATELIMITED || r.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}

func TestForgedTokens(t *testing.T) {
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	parts := strings.Split(org.Token, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	hs := b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + b64([]byte(strings.Replace(string(payload), `"owner"`, `"admin"`, 1))) + "." + parts[2]
	for name, tok := range map[string]string{"AlgNone": none, "HS256": hs, "Tampered": tampered, "Garbage": "abc.def.ghi", "Truncated": org.Token[:len(org.Token)-5]} {
		t.Run(name, func(t *testing.T) {
			r := s.Do(t, "GET", "/api/v1/me", tok, nil)
			if r.Status != http.StatusUnauthorized || r.ErrorCode() != pantry.EUNAUTHORIZED {
				t.Fatalf("status=%d %s", r.Status, r.Body)
			}
		})
	}
	t.Run("Expired", func(t *testing.T) {
		clock := testclock.New(time.Now())
		s := cloudtest.Start(t, func(c *server.Config) { c.Now = clock.Now })
		o := s.NewOrg(t, "acme")
		if r := s.Do(t, "GET", "/api/v1/me", o.Token, nil); r.Status != http.StatusOK {
			t.Fatalf("fresh token refused: %d", r.Status)
		}
		clock.Advance(16 * time.Minute)
		r := s.Do(t, "GET", "/api/v1/me", o.Token, nil)
		if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "expired") {
			t.Fatalf("a 16-minute-old token: %d %s", r.Status, r.Body)
		}
	})
	t.Run("NoToken", func(t *testing.T) {
		if r := s.Do(t, "GET", "/api/v1/users", "", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("status=%d", r.Status)
		}
	})
}

// TestInstancesAreStateless: two instances on one database share signing
// keys and login state, so a token or refresh token from one works on the
// other.
func TestInstancesAreStateless(t *testing.T) {
	one := cloudtest.Start(t)
	org := one.NewOrg(t, "acme")
	two := cloudtest.StartOn(t, one.DBURL)
	if r := two.Do(t, "GET", "/api/v1/me", org.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("token from instance one on instance two: %d %s", r.Status, r.Body)
	}
	tok := one.Login(t, org.OwnerEmail, cloudtest.Password)
	if r := two.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}); r.Status != http.StatusOK {
		t.Fatalf("refresh on the other instance: %d %s", r.Status, r.Body)
	}
}

// TestKeyRotation: after a new key is added, instances switch to it once
// it is old enough for all of them to know it; tokens signed before keep
// working until the old key is retired.
func TestKeyRotation(t *testing.T) {
	s := cloudtest.Start(t, func(c *server.Config) { c.KeyReload = 20 * time.Millisecond })
	org := s.NewOrg(t, "acme")
	oldKid := kid(t, org.Token)
	ctx := context.Background()
	if err := server.AddSigningKey(ctx, s.Store()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var fresh string
	for fresh = org.Token; kid(t, fresh) == oldKid && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		fresh = s.Login(t, org.OwnerEmail, cloudtest.Password).AccessToken
	}
	if kid(t, fresh) == oldKid {
		t.Fatal("the new key never started signing")
	}
	if r := s.Do(t, "GET", "/api/v1/me", org.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("a token of the old key stopped working before the key was retired: %d", r.Status)
	}
	if n, err := s.Store().RetireSigningKeys(ctx, time.Now(), 0); err != nil || n != 1 {
		t.Fatalf("retired %d keys: %v", n, err)
	}
	for deadline = time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s.Do(t, "GET", "/api/v1/me", org.Token, nil).Status == http.StatusUnauthorized {
			break
		}
	}
	if r := s.Do(t, "GET", "/api/v1/me", org.Token, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a token of a retired key still works: %d", r.Status)
	}
	if r := s.Do(t, "GET", "/api/v1/me", fresh, nil); r.Status != http.StatusOK {
		t.Fatalf("a token of the new key: %d", r.Status)
	}
}

func kid(tb testing.TB, token string) string {
	tb.Helper()
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		tb.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(raw, &h); err != nil {
		tb.Fatal(err)
	}
	return h.Kid
}
