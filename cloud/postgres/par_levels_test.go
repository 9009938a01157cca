package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestParLevels(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	tea, coffee := f.item(t, a, "Tea", 200, "EUR"), f.item(t, a, "Coffee", 250, "EUR")
	bSite, bItem := f.site(t, b, "EUR"), f.item(t, b, "Water", 100, "EUR")
	n := func(v int64) *int64 { return &v }
	pars := func(t *testing.T, org, site string) string {
		t.Helper()
		levels, err := f.s.ParLevels(t.Context(), org, site)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range levels {
			name := map[string]string{tea: "tea", coffee: "coffee"}[l.ItemID]
			out = append(out, fmt.Sprintf("%s=%d", name, l.Par))
		}
		return strings.Join(out, " ")
	}

	t.Run("SetReadAndAudit", func(t *testing.T) {
		got, err := f.s.SetParLevels(t.Context(), a.id, a.who, site, []cloud.ParLevelChange{{ItemID: tea, Par: n(12)}, {ItemID: coffee, Par: n(0)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].UpdatedAt.IsZero() {
			t.Fatalf("SetParLevels returned %+v", got)
		}
		if got, want := pars(t, a.id, site), map[bool]string{true: "tea=12 coffee=0", false: "coffee=0 tea=12"}[tea < coffee]; got != want {
			t.Fatalf("par levels %q, want %q", got, want)
		}
		if got := pars(t, a.id, other); got != "" {
			t.Fatalf("another site's par levels %q, want none", got)
		}
		entries := f.audit(t, a.id, site)
		last := entries[len(entries)-1]
		if last.Action != "par_levels.set" || last.ActorID != a.who.ID || last.After[tea] != 12.0 || last.Before[tea] != nil {
			t.Fatalf("audit %+v", last)
		}
	})
	t.Run("ClearOneKeepOthers", func(t *testing.T) {
		if _, err := f.s.SetParLevels(t.Context(), a.id, a.who, site, []cloud.ParLevelChange{{ItemID: coffee}}); err != nil {
			t.Fatal(err)
		}
		if got := pars(t, a.id, site); got != "tea=12" {
			t.Fatalf("par levels %q, want tea=12", got)
		}
		entries := f.audit(t, a.id, site)
		if last := entries[len(entries)-1]; last.Before[coffee] != 0.0 || last.After[coffee] != nil {
			t.Fatalf("audit of a clear %+v", last)
		}
	})
	t.Run("NoChangeWritesNothing", func(t *testing.T) {
		before := len(f.audit(t, a.id, site))
		f.parRefused(t, "", func() error {
			_, err := f.s.SetParLevels(t.Context(), a.id, a.who, site, []cloud.ParLevelChange{{ItemID: tea, Par: n(12)}, {ItemID: coffee}})
			return err
		})
		if after := len(f.audit(t, a.id, site)); after != before {
			t.Fatalf("an edit that changed nothing wrote %d audit entries", after-before)
		}
	})
	for _, tc := range []struct {
		name, code, org, site string
		changes               []cloud.ParLevelChange
	}{
		{"Negative", pantry.EINVALID, a.id, site, []cloud.ParLevelChange{{ItemID: tea, Par: n(-1)}}},
		{"Absurd", pantry.EINVALID, a.id, site, []cloud.ParLevelChange{{ItemID: tea, Par: n(100001)}}},
		{"Twice", pantry.EINVALID, a.id, site, []cloud.ParLevelChange{{ItemID: tea, Par: n(1)}, {ItemID: tea, Par: n(2)}}},
		{"UnknownItem", pantry.EINVALID, a.id, site, []cloud.ParLevelChange{{ItemID: tea, Par: n(1)}, {ItemID: pantry.NewID(), Par: n(1)}}},
		{"OtherOrgsItem", pantry.EINVALID, a.id, site, []cloud.ParLevelChange{{ItemID: bItem, Par: n(1)}}},
		{"OtherOrgsSite", pantry.ENOTFOUND, a.id, bSite, []cloud.ParLevelChange{{ItemID: tea, Par: n(1)}}},
		{"OtherOrgWritingA", pantry.ENOTFOUND, b.id, site, []cloud.ParLevelChange{{ItemID: bItem, Par: n(1)}}},
		{"NotASite", pantry.ENOTFOUND, a.id, "HQ", []cloud.ParLevelChange{{ItemID: tea, Par: n(1)}}},
	} {
		t.Run("Refused"+tc.name, func(t *testing.T) {
			f.parRefused(t, tc.code, func() error {
				_, err := f.s.SetParLevels(t.Context(), tc.org, a.who, tc.site, tc.changes)
				return err
			})
		})
	}
	t.Run("OtherOrgReadingA", func(t *testing.T) {
		if _, err := f.s.ParLevels(t.Context(), b.id, site); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("B reads A's site's par levels: %v, want ENOTFOUND", err)
		}
	})
}

// parRefused runs call and checks that it fails with code ("" for no
// error) and that no par level or audit entry of any tenant changed.
func (f *catalogFixture) parRefused(t *testing.T, code string, call func() error) {
	t.Helper()
	snapshot := func() string {
		var s string
		if err := f.super.QueryRow(t.Context(), `SELECT concat_ws(' ',
			(SELECT string_agg(site_id::text || item_id::text || par::text || updated_at::text, ',' ORDER BY site_id, item_id) FROM par_levels),
			(SELECT count(*) FROM audit_log))`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	err := call()
	if got := pantry.ErrorCode(err); got != code {
		t.Fatalf("code %q (%v), want %q", got, err, code)
	}
	if msg := pantry.ErrorMessage(err); err != nil && (strings.Contains(msg, "SQLSTATE") || msg == "internal error") {
		t.Errorf("message %q is not one for a client", msg)
	}
	if after := snapshot(); after != before {
		t.Fatalf("par levels or audit log changed:\n before %s\n after  %s", before, after)
	}
}
