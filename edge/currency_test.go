package edge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pantry/pantry/internal/browsertest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// TestRoomPageInTheSitesCurrency: a building whose site sells in yen (no
// decimals) shows its prices and the running total in yen, on the page
// and as the page's script adds it up, not as hundredths.
func TestRoomPageInTheSitesCurrency(t *testing.T) {
	t.Parallel()
	cloud := newFakeCloud(t)
	cloud.cfg.Site.Currency = "JPY"
	cloud.cfg.Items[0].Price = syncproto.Money{Amount: 350, Currency: "JPY"}
	n := startEnrolled(t, cloud)
	if _, err := n.Store().RecordStock(t.Context(), cloud.cfg.Items[0].ID, 20, pantry.StockRestock, "test"); err != nil {
		t.Fatal(err)
	}
	room := "http://" + n.HTTPAddr().String() + "/q/" + cloud.cfg.Spaces[0].Code

	resp, err := http.Get(room)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("room page: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{">JPY 350<", `data-digits="0"`, `aria-label="Quantity of Espresso"`} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("the room page lacks %s:\n%s", want, body)
		}
	}

	b := browsertest.New(t, browsertest.Options{Viewport: browsertest.Phone})
	b.Open(t, room)
	b.Do(t, chromedp.SendKeys(`input[aria-label="Quantity of Espresso"]`, "2"))
	b.WaitText(t, "#total", "Total JPY 700")
	b.NoProblems(t)
}
