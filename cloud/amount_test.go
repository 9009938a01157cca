package cloud

import (
	"testing"

	"github.com/pantry/pantry/internal/pantry"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		name, in, currency string
		want               int64
		err                string
	}{
		{"Cents", "3.50", "EUR", 350, ""},
		{"Comma", "3,5", "EUR", 350, ""},
		{"Whole", "12", "EUR", 1200, ""},
		{"TrailingPoint", "12.", "EUR", 1200, ""},
		{"LeadingPoint", ".05", "EUR", 5, ""},
		{"Zero", "0", "EUR", 0, ""},
		{"ZeroCents", "0.00", "EUR", 0, ""},
		{"Spaces", "  3.50 ", "EUR", 350, ""},
		{"LeadingZeros", "0003.10", "EUR", 310, ""},
		{"Yen", "350", "JPY", 350, ""},
		{"Dinar", "1.234", "KWD", 1234, ""},
		{"UnlistedCurrency", "1.5", "XYZ", 150, ""},
		{"Max", "100000000", "EUR", pantry.MaxAmount, ""},
		{"ErrEmpty", "", "EUR", 0, "price is required"},
		{"ErrNegative", "-1", "EUR", 0, "price must not be negative"},
		{"ErrNoCurrency", "3.505", "", 0, "price has at most 2 decimals"},
		{"ErrThreeDecimals", "3.505", "EUR", 0, "price in EUR has at most 2 decimals"},
		{"ErrYenDecimals", "350.5", "JPY", 0, "price in JPY has no decimals"},
		{"ErrWord", "three", "EUR", 0, "price must be a number like 3.50"},
		{"ErrThousands", "1,000.50", "EUR", 0, "price must be a number like 3.50"},
		{"ErrSpaceInside", "1 000", "EUR", 0, "price must be a number like 3.50"},
		{"ErrPointOnly", ".", "EUR", 0, "price must be a number like 3.50"},
		{"ErrExponent", "1e3", "EUR", 0, "price must be a number like 3.50"},
		{"ErrOverMax", "100000000.01", "EUR", 0, "price must be at most EUR 100000000.00"},
		{"ErrHuge", "99999999999999999999999", "EUR", 0, "price must be at most EUR 100000000.00"},
		{"ErrYenOverMax", "10000000001", "JPY", 0, "price must be at most JPY 10000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAmount("price", tc.in, tc.currency)
			if tc.err != "" {
				if pantry.ErrorCode(err) != pantry.EINVALID || pantry.ErrorMessage(err) != tc.err {
					t.Fatalf("ParseAmount(%q, %s) = %v, %v; want %q", tc.in, tc.currency, got, err, tc.err)
				}
				return
			}
			if err != nil || got != (pantry.Money{Amount: tc.want, Currency: tc.currency}) {
				t.Fatalf("ParseAmount(%q, %s) = %v, %v; want %d", tc.in, tc.currency, got, err, tc.want)
			}
			if back, err := ParseAmount("price", got.Major(), tc.currency); err != nil || back != got {
				t.Errorf("%v.Major() = %q reads back as %v, %v", got, got.Major(), back, err)
			}
		})
	}
}
