package cloud

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/internal/pantry"
)

func TestWriteCSV(t *testing.T) {
	rows := []ReportRow{
		row("0198a0c2-0000-7000-8000-000000000001", "Berlin HQ", "EUR", 2, 4, 1060, 90),
		row("CC-9", `Sales, "EMEA"`+"\nsecond line", "USD", 1, 1, 5, 0),
		row("k", "=HYPERLINK(\"http://evil\")", "JPY", 1, 2, 1250, 0),
		row("-5", "@SUM(A1)", "KWD", 1, 1, 1234, 7),
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\r\n") {
		t.Errorf("lines do not end in CRLF (RFC 4180): %q", buf.String())
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("parse back: %v", err)
	}
	want := [][]string{
		{"key", "label", "currency", "orders", "items", "spend", "discount"},
		{"0198a0c2-0000-7000-8000-000000000001", "Berlin HQ", "EUR", "2", "4", "10.60", "0.90"},
		{"CC-9", "Sales, \"EMEA\"\nsecond line", "USD", "1", "1", "0.05", "0.00"},
		{"k", "'=HYPERLINK(\"http://evil\")", "JPY", "1", "2", "1250", "0"},
		{"'-5", "'@SUM(A1)", "KWD", "1", "1", "1.234", "0.007"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestMajorUnits(t *testing.T) {
	for _, tc := range []struct {
		m    pantry.Money
		want string
	}{
		{pantry.Money{Amount: 0, Currency: "EUR"}, "0.00"},
		{pantry.Money{Amount: 5, Currency: "EUR"}, "0.05"},
		{pantry.Money{Amount: 99, Currency: "EUR"}, "0.99"},
		{pantry.Money{Amount: 100, Currency: "EUR"}, "1.00"},
		{pantry.Money{Amount: 123456789, Currency: "USD"}, "1234567.89"},
		{pantry.Money{Amount: -1, Currency: "EUR"}, "-0.01"},
		{pantry.Money{Amount: 1250, Currency: "JPY"}, "1250"},
		{pantry.Money{Amount: 1, Currency: "BHD"}, "0.001"},
		{pantry.Money{Amount: 9223372036854775807, Currency: "EUR"}, "92233720368547758.07"},
	} {
		if got := majorUnits(tc.m); got != tc.want {
			t.Errorf("majorUnits(%v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

func row(key, label, currency string, orders, items, spend, discount int64) ReportRow {
	return ReportRow{Key: key, Label: label, Orders: orders, Items: items,
		Spend: pantry.Money{Amount: spend, Currency: currency}, Discount: pantry.Money{Amount: discount, Currency: currency}}
}
