package web

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDiffAudit(t *testing.T) {
	raw := func(s string) any { return json.RawMessage(s) }
	for _, tc := range []struct {
		name          string
		before, after any
		want          []auditChange
		unchanged     int
	}{
		{"Created", nil, raw(`{"name":"Tea","price":{"amount":250,"currency":"EUR"},"tags":[]}`), []auditChange{
			{Field: "name", Kind: "added", After: "Tea"},
			{Field: "price.amount", Kind: "added", After: "250"},
			{Field: "price.currency", Kind: "added", After: "EUR"},
			{Field: "tags", Kind: "added", After: "(empty)"},
		}, 0},
		{"Changed", raw(`{"name":"Tea","price":{"amount":250,"currency":"EUR"},"active":true,"note":null}`),
			raw(`{"name":"Tea","price":{"amount":300,"currency":"EUR"},"active":false,"note":"hot"}`), []auditChange{
				{Field: "active", Kind: "changed", Before: "yes", After: "no"},
				{Field: "note", Kind: "changed", Before: "(none)", After: "hot"},
				{Field: "price.amount", Kind: "changed", Before: "250", After: "300"},
			}, 2},
		{"AddedAndRemovedKeys", raw(`{"a":"1","old":"x"}`), raw(`{"a":"1","new":["x","y"]}`), []auditChange{
			{Field: "new", Kind: "added", After: "x, y"},
			{Field: "old", Kind: "removed", Before: "x"},
		}, 1},
		{"Removed", raw(`{"id":"k"}`), nil, []auditChange{{Field: "id", Kind: "removed", Before: "k"}}, 0},
		{"ListsOfObjectsStayJSON", nil, raw(`{"items":[{"id":"a","available":true}]}`), []auditChange{
			{Field: "items", Kind: "added", After: `[{"available":true,"id":"a"}]`},
		}, 0},
		{"TimesReadable", raw(`{"at":null}`), raw(`{"at":"2026-11-25T08:30:00.123456Z"}`), []auditChange{
			{Field: "at", Kind: "changed", Before: "(none)", After: "2026-11-25 08:30:00 UTC"},
		}, 0},
		{"NotAnObject", raw(`"x"`), raw(`"y"`), []auditChange{{Field: "value", Kind: "changed", Before: "x", After: "y"}}, 0},
		{"NotJSON", nil, raw(`{oops`), []auditChange{{Field: "value", Kind: "added", After: "{oops"}}, 0},
		{"Nothing", nil, nil, nil, 0},
		{"Markup", raw(`{"name":"Tea"}`), raw(`{"name":"<script>alert(1)</script>"}`), []auditChange{
			{Field: "name", Kind: "changed", Before: "Tea", After: "<script>alert(1)</script>"},
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diffAudit(tc.before, tc.after)
			if !reflect.DeepEqual(got.Changes, tc.want) || got.Unchanged != tc.unchanged {
				t.Fatalf("diff = %+v (%d unchanged)\nwant %+v (%d unchanged)", got.Changes, got.Unchanged, tc.want, tc.unchanged)
			}
		})
	}
	t.Run("LongValuesClipped", func(t *testing.T) {
		long := strings.Repeat("é", maxAuditValue+10)
		got := diffAudit(nil, raw(`{"note":"`+long+`"}`)).Changes[0].After
		if want := strings.Repeat("é", maxAuditValue) + "…"; got != want {
			t.Fatalf("clipped to %d runes, want %d and an ellipsis", len([]rune(got)), maxAuditValue)
		}
	})
}
