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

func row(key, label, currency string, orders, items, spend, discount int64) ReportRow {
	return ReportRow{Key: key, Label: label, Orders: orders, Items: items,
		Spend: pantry.Money{Amount: spend, Currency: currency}, Discount: pantry.Money{Amount: discount, Currency: currency}}
}
