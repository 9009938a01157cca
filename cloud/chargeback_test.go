package cloud

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
	"time"
)

func TestWriteChargebackCSV(t *testing.T) {
	rows := []ReportRow{
		row("", "", "EUR", 3, 5, 900, 0), // complimentary: nobody's to pay
		row("CC-1", "Finance", "EUR", 2, 4, 1060, 90),
		row("=cmd", "+Sales", "JPY", 1, 2, 1250, 0),
	}
	var buf bytes.Buffer
	first := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	if err := WriteChargebackCSV(&buf, rows, first, last); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("parse back: %v", err)
	}
	want := [][]string{
		{"cost_center_code", "cost_center_name", "currency", "orders", "items", "amount", "period_start", "period_end"},
		{"CC-1", "Finance", "EUR", "2", "4", "10.60", "2026-11-01", "2026-11-30"},
		{"'=cmd", "'+Sales", "JPY", "1", "2", "1250", "2026-11-01", "2026-11-30"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
