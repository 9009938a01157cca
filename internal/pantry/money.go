package pantry

import (
	"fmt"
	"math"
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

// String formats m for humans, assuming two minor digits ("EUR 3.50").
func (m Money) String() string {
	sign := ""
	a := m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s %s%d.%02d", m.Currency, sign, a/100, a%100)
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
