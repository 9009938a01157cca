package sqlite

import (
	"context"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pantry/pantry/internal/pantry"
)

// TestUnknownTabletCostsABcryptCompare: a login with an unknown username
// makes the same bcrypt comparison, at the same cost, as a login with a
// wrong password, so that how long a refusal takes does not tell which
// usernames exist. The comparisons and their costs are counted, not timed:
// a loaded machine cannot make this test pass or fail.
func TestUnknownTabletCostsABcryptCompare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var costs []int
	compare := s.compareHash
	s.compareHash = func(hash, password []byte) error {
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			t.Errorf("compared with %q, not a bcrypt hash: %v", hash, err)
		}
		costs = append(costs, cost)
		return compare(hash, password)
	}
	for _, tc := range []struct{ name, username, password string }{
		{"WrongPassword", d.Tablet.Username, "not the tablet's password"},
		{"UnknownUsername", "no-such-tablet", d.Tablet.Password},
	} {
		t.Run(tc.name, func(t *testing.T) {
			costs = nil
			if _, err := s.AuthenticateTablet(ctx, tc.username, tc.password); pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
				t.Fatalf("AuthenticateTablet=%v, want %s", err, pantry.EUNAUTHORIZED)
			}
			if got, want := costs, []int{bcrypt.DefaultCost}; !slices.Equal(got, want) {
				t.Fatalf("bcrypt comparisons at costs %v, want %v", got, want)
			}
		})
	}
}
