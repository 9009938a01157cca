package mqtt

import (
	"strings"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

func TestMatchFilter(t *testing.T) {
	tests := []struct {
		name          string
		filter, topic string
		want          bool
	}{
		{"Identical", "a/b", "a/b", true},
		{"LiteralIsNotPrefix", "a/b", "a/b/c", false}, // auth.MatchTopic says true
		{"LiteralLonger", "a/b/c", "a/b", false},
		{"CaseSensitive", "a/B", "a/b", false},
		{"PlusOneLevel", "a/+", "a/b", true},
		{"PlusNotTwoLevels", "a/+", "a/b/c", false},
		{"PlusNotParent", "a/+", "a", false},
		{"PlusMiddle", "a/+/c", "a/b/c", true},
		{"PlusEmptyLevel", "a/+/c", "a//c", true},
		{"PlusOnlyRoot", "+", "a", true},
		{"PlusPlusSlash", "+/+", "/", true},
		{"PlusSlashNotSlashless", "+/+", "a", false},
		{"HashAll", "#", "a/b/c", true},
		{"HashParent", "a/#", "a", true},
		{"HashChildren", "a/#", "a/b/c", true},
		{"HashEmptyChild", "a/#", "a/", true},
		{"HashOtherRoot", "a/#", "b/a", false},
		{"HashNotPrefixOfLevel", "a/#", "ab", false},
		{"PlusThenHash", "+/#", "a/b", true},
		{"DollarNotByHash", "#", "$SYS/broker", false},
		{"DollarNotByPlus", "+/broker", "$SYS/broker", false},
		{"DollarLiteral", "$SYS/#", "$SYS/broker", true},
		{"DollarDeeperWildcard", "$SYS/+", "$SYS/broker", true},
		{"SharedIsLiteral", "$share/g/a", "a", false},
		{"InvalidHashNotLast", "a/#/b", "a/x/b", false},
		{"InvalidHashInLevel", "a/b#", "a/b#", false},
		{"InvalidPlusInLevel", "a/b+", "a/b+", false},
		{"InvalidEmptyFilter", "", "a", false},
		{"InvalidEmptyTopic", "#", "", false},
		{"InvalidWildcardTopic", "a/+", "a/+", false},
		{"InvalidNUL", "a/\x00", "a/\x00", false},
		{"InvalidUTF8", "a/\xff", "a/\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchFilter(tt.filter, tt.topic); got != tt.want {
				t.Fatalf("MatchFilter(%q, %q)=%v, want %v", tt.filter, tt.topic, got, tt.want)
			}
		})
	}
}

func TestReadAllowed(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		{"SiteTree", "pantry/S/#", true},
		{"SiteRoot", "pantry/S", true},
		{"Orders", "pantry/S/orders/+", true},
		{"Queue", "pantry/S/queue/#", true},
		{"Topic", "pantry/S/orders/o1", true},
		{"SharedInSite", "$share/g/pantry/S/#", true},
		{"SharedUpperCaseInSite", "$SHARE/g/pantry/S/queue/#", true},
		{"Hash", "#", false},
		{"PlusRoot", "+/S/#", false},
		{"PlusSite", "pantry/+/orders/#", false},
		{"PantryAll", "pantry/#", false},
		{"Pantry", "pantry", false},
		{"OtherSite", "pantry/OTHER/#", false},
		{"SitePrefix", "pantry/SS/#", false},
		{"SiteAsPrefixOfLevel", "pantry/S#", false},
		{"Sys", "$SYS/#", false},
		{"SharedHash", "$share/g/#", false},
		{"SharedOtherSite", "$share/g/pantry/OTHER/#", false},
		{"SharedPlusSite", "$share/g/pantry/+/#", false},
		{"SharedUpperCaseHash", "$Share/g/#", false},
		{"SharedNoFilter", "$share/g", false},
		{"SharedEmptyGroup", "$share//pantry/S/#", false},
		{"SharedWildcardGroup", "$share/+/pantry/S/#", false},
		{"SharedNested", "$share/g/$share/h/pantry/S/#", false},
		{"InvalidHashInSite", "pantry/S/a#", false},
		{"Empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readAllowed("S", tt.filter); got != tt.want {
				t.Fatalf("readAllowed(S, %q)=%v, want %v", tt.filter, got, tt.want)
			}
		})
	}
	t.Run("WildcardSite", func(t *testing.T) {
		for _, site := range []string{"", "+", "#", "a/b"} {
			if readAllowed(site, "pantry/"+site+"/x") {
				t.Fatalf("readAllowed(%q) allowed a filter", site)
			}
		}
	})
}

func TestSiteTopic(t *testing.T) {
	t.Run("Builds", func(t *testing.T) {
		got, err := SiteTopic("S", KindOrders, "o1")
		if err != nil {
			t.Fatal(err)
		}
		if want := "pantry/S/orders/o1"; got != want {
			t.Fatalf("topic=%q, want %q", got, want)
		}
		got, err = SiteFilter("S", KindQueue)
		if err != nil {
			t.Fatal(err)
		}
		if want := "pantry/S/queue/#"; got != want {
			t.Fatalf("filter=%q, want %q", got, want)
		}
	})
	t.Run("RefusesBadLevels", func(t *testing.T) {
		for _, bad := range []string{"", "+", "#", "a/b", "B/queue", "a\x00", "\xff"} {
			if _, err := SiteTopic(bad, KindOrders); err == nil {
				t.Errorf("SiteTopic(%q) succeeded", bad)
			}
			if _, err := SiteTopic("S", KindOrders, bad); err == nil {
				t.Errorf("SiteTopic(S, orders, %q) succeeded", bad)
			}
		}
	})
}

// refMatch is a second, recursive reading of the MQTT matching rules for
// valid filters and topics, to cross-check MatchFilter.
func refMatch(f, t []string) bool {
	if len(f) == 0 {
		return len(t) == 0
	}
	switch f[0] {
	case "#":
		return true
	case "+":
		return len(t) > 0 && refMatch(f[1:], t[1:])
	}
	return len(t) > 0 && f[0] == t[0] && refMatch(f[1:], t[1:])
}

var matchSeeds = [][2]string{
	{"a/b", "a/b"}, {"a/b", "a/b/c"}, {"a/+", "a/b"}, {"a/#", "a"}, {"#", "$SYS/x"},
	{"+/x", "$x/x"}, {"+/+", "/"}, {"a/#/b", "a/x/b"}, {"pantry/S/#", "pantry/S/queue/1"},
	{"$share/g/pantry/S/#", "pantry/S/x"}, {"$SHARE/g/#", "pantry/T/x"}, {"pantry/S#", "pantry/S#"},
	{"pantry/+/#", "pantry/T/x"}, {"", ""}, {"a/\xff", "a/\xff"}, {"pantry/S", "pantry/S"},
}

func FuzzMatchFilter(f *testing.F) {
	for _, s := range matchSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		got := MatchFilter(filter, topic)
		if got && (!validFilter(filter) || !validTopic(topic)) {
			t.Fatalf("MatchFilter(%q, %q) matched an invalid filter or topic", filter, topic)
		}
		if validTopic(filter) { // no wildcards: only the identical topic
			if want := filter == topic; got != want {
				t.Fatalf("MatchFilter(%q, %q)=%v, want %v", filter, topic, got, want)
			}
		}
		if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "#") || strings.HasPrefix(filter, "+")) && got {
			t.Fatalf("MatchFilter(%q, %q): a leading wildcard matched a $ topic", filter, topic)
		}
		if MatchFilter("#", topic) != (validTopic(topic) && topic[0] != '$') {
			t.Fatalf("MatchFilter(#, %q) wrong", topic)
		}
		if validFilter(filter) && validTopic(topic) {
			want := refMatch(strings.Split(filter, "/"), strings.Split(topic, "/")) &&
				!(topic[0] == '$' && strings.ContainsAny(filter[:1], "+#"))
			if got != want {
				t.Fatalf("MatchFilter(%q, %q)=%v, reference says %v", filter, topic, got, want)
			}
		}
		// A filter within the subtree only ever matches topics within it.
		if filterWithin(filter, "pantry/S") && got && !MatchFilter("pantry/S/#", topic) {
			t.Fatalf("filter %q is within pantry/S but matched %q", filter, topic)
		}
	})
}

// FuzzReadAllowedMochi checks the ACL's subscribe-time decision against the
// matcher that actually delivers, mochi's topic index: a filter readAllowed
// lets through must never make mochi deliver a topic outside the site.
func FuzzReadAllowedMochi(f *testing.F) {
	for _, s := range matchSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if !readAllowed("S", filter) || !mochi.IsValidFilter(filter, false) || !validTopic(topic) {
			return
		}
		idx := mochi.NewTopicsIndex()
		idx.Subscribe("c", packets.Subscription{Filter: filter})
		subs := idx.Subscribers(topic)
		delivered := len(subs.Subscriptions) > 0 || len(subs.Shared) > 0
		if delivered && !MatchFilter("pantry/S/#", topic) {
			t.Fatalf("allowed filter %q makes mochi deliver %q", filter, topic)
		}
	})
}
