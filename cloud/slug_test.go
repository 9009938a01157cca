package cloud

import (
	"strings"
	"testing"
)

// FuzzSlugFromName: whatever an organization is called, the slug its
// name gives is one ValidSlug accepts, and ValidSlug, which reads the
// sign-in page's org parameter, accepts only what a slug may be.
func FuzzSlugFromName(f *testing.F) {
	for _, s := range []string{"Acme Corp", "☕", "", "--a--", "0190a5d2-7c3e-7000-8000-000000000000", strings.Repeat("x ", 40), "Café Zürich"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		slug := SlugFromName(name)
		if !ValidSlug(slug) {
			t.Fatalf("SlugFromName(%q) = %q, which ValidSlug refuses", name, slug)
		}
		if ValidSlug(name) {
			if len(name) < 2 || len(name) > MaxSlugLen || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" ||
				strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
				t.Fatalf("ValidSlug accepted %q", name)
			}
			if got := SlugFromName(name); got != name && !strings.Contains(name, "--") {
				t.Fatalf("a valid slug %q gives %q as a name", name, got)
			}
		}
	})
}

func TestSlugFromName(t *testing.T) {
	for name, want := range map[string]string{
		"Acme Corp":                            "acme-corp",
		"  ACME -- Corp! ":                     "acme-corp",
		"Café Zürich":                          "caf-z-rich",
		"☕":                                    "org",
		"x":                                    "org",
		"HQ 2":                                 "hq-2",
		strings.Repeat("Long name ", 10):       "long-name-long-name-long-name-long-name",
		"0190A5D2-7C3E-7000-8000-000000000000": "org", // shaped like an id
	} {
		if got := SlugFromName(name); got != want {
			t.Errorf("SlugFromName(%q) = %q, want %q", name, got, want)
		}
	}
}
