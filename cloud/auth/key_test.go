package auth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestKeyMarshal(t *testing.T) {
	t.Parallel()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(k.ID()), 22; got != want { // 16 random bytes, base64url
		t.Fatalf("len(kid)=%d, want %d", got, want)
	}
	signing := roundTrip(t, k)
	if signing.ID() != k.ID() || !signing.CanSign() || !bytes.Equal(signing.private, k.private) {
		t.Fatalf("round trip changed the signing key")
	}
	pub := roundTrip(t, k.Public())
	if pub.ID() != k.ID() || pub.CanSign() || !bytes.Equal(pub.public, k.public) {
		t.Fatalf("round trip changed the public key")
	}
	b, _ := k.Public().MarshalBinary()
	if bytes.Contains(b, []byte(`"seed"`)) {
		t.Fatalf("verify-only key's bytes contain a seed: %s", b)
	}
	if _, err := (Key{}).MarshalBinary(); err == nil {
		t.Fatal("MarshalBinary(zero Key) succeeded")
	}
}

func TestParseKeyRejects(t *testing.T) {
	t.Parallel()
	k, _ := NewKey()
	good, _ := k.MarshalBinary()
	var j map[string]any
	_ = json.Unmarshal(good, &j)
	edit := func(field string, v any) string {
		m := map[string]any{}
		for k, v := range j {
			m[k] = v
		}
		if v == nil {
			delete(m, field)
		} else {
			m[field] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	pubB64 := "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	for _, tc := range []struct{ name, data string }{
		{"Empty", ""},
		{"NotJSON", "seed"},
		{"Trailing", string(good) + "{}"},
		{"Version2", edit("v", 2)},
		{"NoVersion", edit("v", nil)},
		{"RS256", edit("alg", "RS256")},
		{"NoKid", edit("kid", nil)},
		{"ShortKid", edit("kid", "abc")},
		{"KidWithSlash", edit("kid", "abc/def/ghi")},
		{"LongKid", edit("kid", strings.Repeat("a", 65))},
		{"NoSeed", edit("seed", nil)},
		{"ShortSeed", edit("seed", "c2VlZA==")},
		{"SeedAndPub", edit("pub", pubB64)},
		{"UnknownField", edit("extra", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := ParseKey([]byte(tc.data)); err == nil {
				t.Fatalf("ParseKey(%s)=%+v, want an error", tc.data, got.ID())
			}
		})
	}
}

func TestNewKeySetRejects(t *testing.T) {
	t.Parallel()
	a, _ := NewKey()
	b, _ := NewKey()
	for _, tc := range []struct {
		name    string
		current Key
		others  []Key
	}{
		{"ZeroCurrent", Key{}, nil},
		{"VerifyOnlyCurrent", a.Public(), nil},
		{"DuplicateKid", a, []Key{a.Public()}},
		{"ZeroOther", a, []Key{b, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewKeySet(tc.current, tc.others...); err == nil {
				t.Fatal("NewKeySet succeeded")
			}
		})
	}
}
