package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestCoupons(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site := f.site(t, a, "EUR")
	rev := f.revision(t, a.id, site)
	from := time.Date(2026, 1, 1, 8, 0, 0, 123456789, time.FixedZone("CET", 3600))
	to := from.Add(30 * 24 * time.Hour)
	c, err := f.s.CreateCoupon(t.Context(), a.id, a.who, cloud.CouponInput{
		Code: " Welcome10 ", Kind: pantry.CouponPercent, Value: 10, ValidFrom: from, ValidTo: to, MaxUsesPerSite: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Code != "Welcome10" || c.Kind != pantry.CouponPercent || c.Value != 10 || c.MaxUsesPerSite != 100 ||
		!c.ValidFrom.Equal(from.Truncate(time.Microsecond)) || !c.ValidTo.Equal(to.Truncate(time.Microsecond)) || c.ValidFrom.Location() != time.UTC {
		t.Fatalf("created %+v", c)
	}
	if got := f.revision(t, a.id, site); got != rev+1 {
		t.Errorf("revision %d, want %d", got, rev+1)
	}

	t.Run("Get", func(t *testing.T) {
		got, err := f.s.GetCoupon(t.Context(), a.id, c.ID)
		if err != nil || got.Code != c.Code || !got.ValidTo.Equal(c.ValidTo) {
			t.Fatalf("got %+v (%v), want %+v", got, err, c)
		}
	})
	t.Run("DuplicateCodeInAnyCase", func(t *testing.T) {
		var err error
		f.refused(t, pantry.ECONFLICT, func() error {
			_, err = f.s.CreateCoupon(t.Context(), a.id, a.who, cloud.CouponInput{Code: "WELCOME10", Kind: pantry.CouponFixed, Value: 100, ValidFrom: from, ValidTo: to})
			return err
		})
		if got, want := pantry.ErrorMessage(err), "a coupon with this code already exists"; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		// Another organization may use the same code.
		if _, err := f.s.CreateCoupon(t.Context(), b.id, b.who, cloud.CouponInput{Code: "WELCOME10", Kind: pantry.CouponFixed, Value: 100, ValidFrom: from, ValidTo: to}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Update", func(t *testing.T) {
		rev := f.revision(t, a.id, site)
		kind, value, later := pantry.CouponFixed, int64(500), to.Add(time.Hour)
		got, err := f.s.UpdateCoupon(t.Context(), a.id, a.who, c.ID, cloud.CouponUpdate{Kind: &kind, Value: &value, ValidTo: &later})
		if err != nil || got.Kind != kind || got.Value != value || !got.ValidTo.Equal(later.Truncate(time.Microsecond)) ||
			got.Code != c.Code || !got.ValidFrom.Equal(c.ValidFrom) || got.MaxUsesPerSite != 100 {
			t.Fatalf("updated %+v (%v)", got, err)
		}
		if f.revision(t, a.id, site) != rev+1 {
			t.Errorf("revision not bumped")
		}
		entries := f.audit(t, a.id, c.ID)
		if auditActions(entries) != "coupon.create coupon.update" || entries[1].Before["kind"] != "percent" || entries[1].After["kind"] != "fixed" ||
			entries[1].Before["value"] != 10.0 || entries[1].After["value"] != 500.0 {
			t.Fatalf("audit %+v", entries)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		ok := cloud.CouponInput{Code: "OK", Kind: pantry.CouponPercent, Value: 10, ValidFrom: from, ValidTo: to}
		with := func(change func(*cloud.CouponInput)) cloud.CouponInput { in := ok; change(&in); return in }
		percent, big, early, empty := pantry.CouponPercent, int64(150), from.Add(-time.Hour), " "
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"EmptyCode", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.Code = " " })), pantry.EINVALID},
			{"HugeCode", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.Code = strings.Repeat("C", 10<<10) })), pantry.EINVALID},
			{"SpaceInCode", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.Code = "TEN OFF" })), pantry.EINVALID},
			{"PercentOver100", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.Value = 101 })), pantry.EINVALID},
			{"ZeroValue", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.Value = 0 })), pantry.EINVALID},
			{"NegativeFixed", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.Kind, in.Value = pantry.CouponFixed, -5 })), pantry.EINVALID},
			{"UnknownKind", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.Kind = "bogo" })), pantry.EINVALID},
			{"ValidToBeforeFrom", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.ValidTo = from.Add(-time.Minute) })), pantry.EINVALID},
			{"ValidToEqualsFrom", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.ValidTo = from })), pantry.EINVALID},
			{"NoValidFrom", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.ValidFrom = time.Time{} })), pantry.EINVALID},
			{"NegativeMaxUses", f.createCoupon(a, with(func(in *cloud.CouponInput) { in.MaxUsesPerSite = -1 })), pantry.EINVALID},
			{"UpdateEmptyCode", f.updateCoupon(a, c.ID, cloud.CouponUpdate{Code: &empty}), pantry.EINVALID},
			{"UpdatePercentOver100", f.updateCoupon(a, c.ID, cloud.CouponUpdate{Kind: &percent, Value: &big}), pantry.EINVALID},
			// The stored coupon is fixed at 500: making it a percent
			// coupon alone is refused once merged.
			{"UpdateKindOnly", f.updateCoupon(a, c.ID, cloud.CouponUpdate{Kind: &percent}), pantry.EINVALID},
			// valid_to before the stored valid_from.
			{"UpdateValidToOnly", f.updateCoupon(a, c.ID, cloud.CouponUpdate{ValidTo: &early}), pantry.EINVALID},
			{"UpdateUnknown", f.updateCoupon(a, pantry.NewID(), cloud.CouponUpdate{}), pantry.ENOTFOUND},
			{"UpdateMalformedID", f.updateCoupon(a, "'; DROP TABLE coupons; --", cloud.CouponUpdate{}), pantry.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { f.refused(t, tt.code, tt.call) })
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		value := int64(99)
		f.refused(t, pantry.ENOTFOUND, func() error { _, err := f.s.GetCoupon(t.Context(), b.id, c.ID); return err })
		f.refused(t, pantry.ENOTFOUND, f.updateCoupon(b, c.ID, cloud.CouponUpdate{Value: &value}))
		got, _, err := f.s.ListCoupons(t.Context(), b.id, cloud.Page{})
		if err != nil || len(got) != 1 || got[0].ID == c.ID {
			t.Fatalf("B lists %+v (%v), want only its own coupon", got, err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		o := f.newOrg(t, "Pages")
		var want []string
		for i := range 7 {
			c, err := f.s.CreateCoupon(t.Context(), o.id, o.who, cloud.CouponInput{Code: "C" + string(rune('A'+i)), Kind: pantry.CouponFixed, Value: 50, ValidFrom: from, ValidTo: to})
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{c.ID}, want...)
		}
		checkSevenInPages(t, want, func(p cloud.Page) ([]cloud.Coupon, string, error) { return f.s.ListCoupons(t.Context(), o.id, p) },
			func(c cloud.Coupon) string { return c.ID })
	})
}

func (f *catalogFixture) createCoupon(o catalogOrg, in cloud.CouponInput) func() error {
	return func() error { _, err := f.s.CreateCoupon(f.ctx, o.id, o.who, in); return err }
}

func (f *catalogFixture) updateCoupon(o catalogOrg, id string, up cloud.CouponUpdate) func() error {
	return func() error { _, err := f.s.UpdateCoupon(f.ctx, o.id, o.who, id, up); return err }
}
