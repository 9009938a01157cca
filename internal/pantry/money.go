package pantry

import (
	"math"
	"strconv"
	"strings"
)

// Money is an amount in integer minor units (cents) of an ISO 4217
// currency. Floats never carry money: rounding must be decided, not drift.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// MaxAmount bounds any single amount (100 million major units) so that sums
// of many lines can never overflow int64.
const MaxAmount = 100_000_000_00

// Validate reports whether m is a non-negative, bounded amount in a
// three-letter upper-case currency.
func (m Money) Validate() error {
	if !ValidCurrency(m.Currency) {
		return Errorf(EINVALID, "currency %q is not an ISO 4217 code", m.Currency)
	}
	if m.Amount < 0 || m.Amount > MaxAmount {
		return Errorf(EINVALID, "amount %d is out of range", m.Amount)
	}
	return nil
}

// String formats m for humans with its currency's decimals: "EUR 3.50",
// "JPY 350", "KWD 1.234".
func (m Money) String() string { return m.Currency + " " + m.Major() }

// Major is m's amount in major units with its currency's decimals,
// without the currency: "3.50", "350" for yen, "1.234" for dinars. Never
// through a float.
func (m Money) Major() string {
	digits := MinorDigits(m.Currency)
	s := strconv.FormatInt(m.Amount, 10)
	sign := ""
	if m.Amount < 0 {
		sign, s = "-", s[1:]
	}
	if digits == 0 {
		return sign + s
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return sign + s[:len(s)-digits] + "." + s[len(s)-digits:]
}

// MinorDigits is how many decimals currency's amounts have (ISO 4217): 0
// for JPY, 3 for KWD, 2 for EUR and every currency minorDigits does not
// list.
func MinorDigits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

// minorDigits lists the ISO 4217 currencies whose minor unit is not a
// hundredth; every other currency has two decimals.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// ValidCurrency reports whether c looks like an ISO 4217 code.
func ValidCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// PercentOf returns pct percent of amount, rounded half up, in minor units.
func PercentOf(amount int64, pct int64) int64 {
	if amount <= 0 || pct <= 0 {
		return 0
	}
	if pct >= 100 {
		return amount
	}
	if amount > math.MaxInt64/100 {
		return amount / 100 * pct
	}
	return (amount*pct + 50) / 100
}
