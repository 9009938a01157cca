package cloud

import (
	"strconv"
	"strings"

	"github.com/pantry/pantry/internal/pantry"
)

// People type and read amounts in major units ("3.50"); the domain keeps
// them in integer minor units (350). ParseAmount reads them with the one
// table of ISO 4217 minor units (pantry.MinorDigits, which Money.String
// and the report CSV writers also use) and never floats, so "0.10" is 10
// cents, not 9.999….

// ParseAmount reads an amount typed in major units of currency ("3.50",
// "3,50" or "3") into minor units. It refuses, naming field, what is not
// such a number, a negative amount, more decimals than the currency has,
// and an amount over pantry.MaxAmount. It does not check currency.
func ParseAmount(field, s, currency string) (pantry.Money, error) {
	s = strings.TrimSpace(s)
	digits := pantry.MinorDigits(currency)
	switch {
	case s == "":
		return pantry.Money{}, pantry.Errorf(pantry.EINVALID, "%s is required", field)
	case strings.HasPrefix(s, "-"):
		return pantry.Money{}, pantry.Errorf(pantry.EINVALID, "%s must not be negative", field)
	}
	whole, frac, _ := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if !allDigits(whole) || !allDigits(frac) || whole == "" && frac == "" {
		return pantry.Money{}, pantry.Errorf(pantry.EINVALID, "%s must be a number like %s", field, example(digits))
	}
	if len(frac) > digits {
		in := ""
		if currency != "" {
			in = " in " + currency
		}
		if digits == 0 {
			return pantry.Money{}, pantry.Errorf(pantry.EINVALID, "%s%s has no decimals", field, in)
		}
		return pantry.Money{}, pantry.Errorf(pantry.EINVALID, "%s%s has at most %d decimals", field, in, digits)
	}
	limit := pantry.Money{Amount: pantry.MaxAmount, Currency: currency}
	tooBig := pantry.Errorf(pantry.EINVALID, "%s must be at most %s", field, limit.String())
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 15 {
		return pantry.Money{}, tooBig
	}
	n, err := strconv.ParseInt(whole+frac+strings.Repeat("0", digits-len(frac)), 10, 64)
	if whole+frac == "" {
		n, err = 0, nil // "0", "0.00"
	}
	if err != nil || n > pantry.MaxAmount {
		return pantry.Money{}, tooBig
	}
	return pantry.Money{Amount: n, Currency: currency}, nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// example is an amount written with digits decimals: "3.50", "350".
func example(digits int) string {
	if digits == 0 {
		return "350"
	}
	return "3." + "50"[:min(digits, 2)] + strings.Repeat("0", max(digits-2, 0))
}
