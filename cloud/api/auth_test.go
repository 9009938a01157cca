package api_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
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
		clock := cloudtest.NewClock(time.Now())
		s := cloudtest.Start(t, func(c *cloud.Config) { c.Now = clock.Now })
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
