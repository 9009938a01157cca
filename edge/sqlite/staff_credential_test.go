package sqlite_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
)

// TestRevokedCredentials follows the credentials a broker connection can
// hold, a password and a staff token, through everything that ends them.
func TestRevokedCredentials(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	user, password := d.Tablet.Username, d.Tablet.Password
	pw, err := s.AuthenticateCredential(ctx, user, password)
	if err != nil || !strings.HasPrefix(pw.ID, "password:") || pw.Tablet.SiteID != d.SiteID {
		t.Fatalf("password login: %+v err=%v", pw, err)
	}
	if strings.Contains(pw.ID, password) {
		t.Fatal("credential id holds the password")
	}
	login := func(ttl time.Duration) sqlite.StaffCredential {
		t.Helper()
		token, err := s.StaffLogin(ctx, user, password, ttl)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.AuthenticateCredential(ctx, user, token)
		if err != nil || !strings.HasPrefix(c.ID, "token:") || strings.Contains(c.ID, token) {
			t.Fatalf("token login: %+v err=%v", c, err)
		}
		if _, err := s.AuthenticateCredential(ctx, "someone-else", token); pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
			t.Fatalf("token with another username: err=%v, want %s", err, pantry.EUNAUTHORIZED)
		}
		return c
	}
	revoked := func(ids ...string) []string {
		t.Helper()
		got, err := s.RevokedCredentials(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	short, long := login(time.Hour), login(3*time.Hour)
	t.Run("Valid", func(t *testing.T) {
		if got := revoked(pw.ID, short.ID, long.ID, "garbage", "token:zz:x"); !slices.Equal(got, []string{"garbage", "token:zz:x"}) {
			t.Fatalf("revoked=%v, want only the malformed ids", got)
		}
	})
	t.Run("TokenExpired", func(t *testing.T) {
		clock.Advance(2 * time.Hour)
		if got := revoked(pw.ID, short.ID, long.ID); !slices.Equal(got, []string{short.ID}) {
			t.Fatalf("revoked=%v, want the expired token", got)
		}
	})
	t.Run("SignedOut", func(t *testing.T) {
		token := tokenOf(t, s, user, password)
		if err := s.StaffLogout(ctx, token.secret); err != nil {
			t.Fatal(err)
		}
		if got := revoked(token.id); !slices.Equal(got, []string{token.id}) {
			t.Fatalf("revoked=%v, want the signed-out token", got)
		}
	})
	t.Run("TabletRemoved", func(t *testing.T) {
		if err := s.RemoveTablet(ctx, user); err != nil {
			t.Fatal(err)
		}
		if got := revoked(pw.ID, long.ID); !slices.Equal(got, []string{pw.ID, long.ID}) {
			t.Fatalf("revoked=%v, want both", got)
		}
		if err := s.RemoveTablet(ctx, user); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("second removal: err=%v, want %s", err, pantry.ENOTFOUND)
		}
	})
}

// signedIn is a staff token and its credential id.
type signedIn struct{ secret, id string }

func tokenOf(tb testing.TB, s *sqlite.Store, user, password string) signedIn {
	tb.Helper()
	ctx := context.Background()
	token, err := s.StaffLogin(ctx, user, password, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := s.AuthenticateCredential(ctx, user, token)
	if err != nil {
		tb.Fatal(err)
	}
	return signedIn{token, c.ID}
}

// TestRevokedCredentialsByPull: the cloud's snapshot revokes a tablet,
// renames one and changes another's password; each ends the credentials
// made before, and an enrolled node refuses the CLI's removal.
func TestRevokedCredentialsByPull(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	third, err := bcrypt.GenerateFromPassword([]byte(tabletPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	c.cfg.Tablets = append(c.cfg.Tablets, c.cfg.Tablets[1])
	c.cfg.Tablets[2].ID, c.cfg.Tablets[2].Username, c.cfg.Tablets[2].PasswordHash = pantry.NewID(), "pantry-3", string(third)
	s := mustEnroll(t, c)
	ids := map[string]string{}
	for _, u := range []string{"pantry-1", "pantry-2", "pantry-3"} {
		cred, err := s.AuthenticateCredential(ctx, u, tabletPassword)
		if err != nil {
			t.Fatal(err)
		}
		ids[u] = cred.ID
	}
	if err := s.RemoveTablet(ctx, "pantry-1"); pantry.ErrorCode(err) != pantry.EINVALID {
		t.Fatalf("RemoveTablet on an enrolled node: err=%v, want %s", err, pantry.EINVALID)
	}
	other, err := bcrypt.GenerateFromPassword([]byte("another password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	c.cfg.Tablets[1].Username = "pantry-2b"
	c.cfg.Tablets[2].PasswordHash = string(other)
	c.cfg.Tablets = c.cfg.Tablets[1:] // pantry-1 revoked
	mustApply(t, s, c.page(2))
	got, err := s.RevokedCredentials(ctx, []string{ids["pantry-1"], ids["pantry-2"], ids["pantry-3"]})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids["pantry-1"], ids["pantry-2"], ids["pantry-3"]}; !slices.Equal(got, want) {
		t.Fatalf("revoked=%v, want all three", got)
	}
	renamed, err := s.AuthenticateCredential(ctx, "pantry-2b", tabletPassword)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.RevokedCredentials(ctx, []string{renamed.ID}); err != nil || len(got) != 0 {
		t.Fatalf("the renamed tablet's new login: revoked=%v err=%v", got, err)
	}
}
