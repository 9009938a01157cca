package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// An audit entry keeps the record before and after the change as JSON.
// The page shows the difference, field by field: what was added, removed
// or changed, with nested objects flattened into dotted paths
// ("price.amount") and lists shown whole. Values are text; the template
// escapes them like any other text, so a name holding markup shows as
// that markup, never as part of the page.

// auditChange is one field of a diff.
type auditChange struct {
	Field  string
	Kind   string // "added", "removed" or "changed"
	Before string
	After  string
}

// auditDiff is the difference between before and after, both JSON (or
// nil), and how many fields did not change.
type auditDiff struct {
	Changes   []auditChange
	Unchanged int
}

// maxAuditValue bounds how much of one value the page shows, in
// characters: a menu's whole list of entries is a value too.
const maxAuditValue = 400

// diffAudit compares before and after field by field.
func diffAudit(before, after any) auditDiff {
	old, cur := flattenJSON(before), flattenJSON(after)
	var d auditDiff
	for _, field := range slices.Sorted(maps.Keys(joinKeys(old, cur))) {
		was, hadOld := old[field]
		is, hasNew := cur[field]
		switch {
		case hadOld && hasNew && was == is:
			d.Unchanged++
		case hadOld && hasNew:
			d.Changes = append(d.Changes, auditChange{Field: field, Kind: "changed", Before: was, After: is})
		case hasNew:
			d.Changes = append(d.Changes, auditChange{Field: field, Kind: "added", After: is})
		default:
			d.Changes = append(d.Changes, auditChange{Field: field, Kind: "removed", Before: was})
		}
	}
	return d
}

func joinKeys(a, b map[string]string) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// flattenJSON reads v (JSON bytes, or a value already decoded) into its
// fields: an object's members by dotted path, anything else as the field
// "value". Nothing (nil, JSON null) has no fields.
func flattenJSON(v any) map[string]string {
	out := map[string]string{}
	var raw []byte
	switch x := v.(type) {
	case nil:
		return out
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	default:
		var err error
		if raw, err = json.Marshal(x); err != nil {
			return out
		}
	}
	var decoded any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		out["value"] = clipValue(string(raw))
		return out
	}
	if decoded == nil {
		return out
	}
	obj, ok := decoded.(map[string]any)
	if !ok {
		out["value"] = auditValue(decoded)
		return out
	}
	flattenInto(out, "", obj)
	return out
}

func flattenInto(out map[string]string, prefix string, obj map[string]any) {
	for k, v := range obj {
		path := prefix + k
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			flattenInto(out, path+".", sub)
			continue
		}
		out[path] = auditValue(v)
	}
}

// auditValue writes one value as a person reads it: text as it is,
// "yes"/"no", "(none)" for null, "(empty)" for an empty text or list,
// a list of plain values comma-separated, anything else as JSON.
func auditValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if x == "" {
			return "(empty)"
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return clipValue(x)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case json.Number:
		return x.String()
	case []any:
		if len(x) == 0 {
			return "(empty)"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				b, _ := json.Marshal(x) // decoded JSON always marshals
				return clipValue(string(b))
			}
			parts[i] = auditValue(e)
		}
		return clipValue(strings.Join(parts, ", "))
	case map[string]any:
		if len(x) == 0 {
			return "(empty)"
		}
	}
	b, _ := json.Marshal(v)
	return clipValue(string(b))
}

func clipValue(s string) string {
	if utf8.RuneCountInString(s) <= maxAuditValue {
		return s
	}
	return string([]rune(s)[:maxAuditValue]) + "…"
}
