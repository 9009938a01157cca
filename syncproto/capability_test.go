package syncproto

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidStation(t *testing.T) {
	tests := []struct {
		name, station string
		ok            bool
	}{
		{"None", "", true},
		{"Word", "drinks", true},
		{"Hyphen", "hot-food", true},
		{"Digits", "floor2", true},
		{"Longest", strings.Repeat("a", maxStation), true},
		{"TooLong", strings.Repeat("a", maxStation+1), false},
		{"Upper", "Drinks", false},
		{"Space", "hot food", false},
		{"Underscore", "hot_food", false},
		{"NonASCII", "café", false},
		{"ReservedAll", "all", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidStation(tt.station); got != tt.ok {
				t.Fatalf("ValidStation(%q)=%v, want %v", tt.station, got, tt.ok)
			}
		})
	}
}

func TestParseCapability(t *testing.T) {
	tests := []struct {
		name, header string
		want         int
	}{
		{"Missing", "", 0},
		{"First", "0", 0},
		{"Station", "1", CapabilityStation},
		{"Spaces", " 1 ", CapabilityStation},
		{"EdgeStatus", "2", CapabilityEdgeStatus},
		{"NewerEdge", "99", Capability},
		{"Negative", "-1", 0},
		{"Garbage", "station", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCapability(tt.header); got != tt.want {
				t.Fatalf("ParseCapability(%q)=%d, want %d", tt.header, got, tt.want)
			}
		})
	}
}

// TestForCapabilityCopies: stripping a configuration for an older edge
// leaves the one it came from whole, and a current edge gets it as is.
func TestForCapabilityCopies(t *testing.T) {
	cfg := pullResponse().Config
	if got := cfg.ForCapability(Capability); got != cfg {
		t.Fatal("a current edge's configuration was copied")
	}
	old := cfg.ForCapability(0)
	if got, want := old.Items[0].Station, ""; got != want {
		t.Fatalf("capability 0 station=%q, want %q", got, want)
	}
	if got, want := cfg.Items[0].Station, "drinks"; got != want {
		t.Fatalf("the original's station became %q, want %q", got, want)
	}
	var none *Config
	if none.ForCapability(0) != nil {
		t.Fatal("no configuration became one")
	}
}

// previousPullResponse is PullResponse as the first release of version 1
// declared it: what an edge of that release decodes a pull page into.
type previousPullResponse struct {
	Version int    `json:"version"`
	Cursor  Cursor `json:"cursor"`
	Config  *struct {
		Revision int64   `json:"revision"`
		Site     Site    `json:"site"`
		Spaces   []Space `json:"spaces"`
		Items    []struct {
			ID                string   `json:"id"`
			Name              string   `json:"name"`
			Description       string   `json:"description"`
			Price             Money    `json:"price"`
			Tags              []string `json:"tags"`
			Allergens         []string `json:"allergens"`
			ImageURL          string   `json:"image_url"`
			LowStockThreshold int64    `json:"low_stock_threshold"`
			Available         bool     `json:"available"`
		} `json:"items"`
		Coupons     []Coupon     `json:"coupons"`
		CostCenters []CostCenter `json:"cost_centers"`
		Tablets     []Tablet     `json:"tablets"`
	} `json:"config,omitempty"`
	Stock      []StockMovement `json:"stock"`
	More       bool            `json:"more"`
	ServerTime time.Time       `json:"server_time"`
}

// TestPreviousEdgeDecodesCapability0: an edge of the first release
// refuses a page with a station (its decoder refuses unknown fields, the
// reason for HeaderCapability), and decodes the page a cloud sends an edge
// without the header.
func TestPreviousEdgeDecodesCapability0(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var prev previousPullResponse
	if err := Decode(read("pull_response.json"), false, &prev); err == nil || !strings.Contains(err.Error(), "station") {
		t.Fatalf("a previous edge decodes a station: err=%v; if it may now, say so in the changelog", err)
	}
	prev = previousPullResponse{}
	if err := Decode(read("pull_response_capability0.json"), false, &prev); err != nil {
		t.Fatalf("a previous edge refuses what the cloud sends it: %v", err)
	}
	if prev.Config == nil || len(prev.Config.Items) != 1 || prev.Config.Items[0].Name != "Coffee" {
		t.Fatalf("decoded %+v", prev)
	}
}
