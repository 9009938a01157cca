package pantry

// StationAll is what a staff tablet chooses to see every line, whatever
// its station. It is reserved: an item whose station were "all" would be
// indistinguishable from that choice.
const StationAll = "all"

// MaxStationLen bounds a station's name: a short slug a tablet shows in
// its header, not a description.
const MaxStationLen = 32

// ValidStation reports whether s may be an item's station: "" (none), or
// 1 to MaxStationLen lowercase ASCII letters, digits and hyphens, other
// than StationAll. A slug, so that it is safe in a cookie, a URL query
// and an HTML attribute as it is, and two spellings of one station
// ("Drinks", "drinks ") cannot split a pantry's tickets in two.
//
// syncproto.ValidStation applies the same rule on the wire (syncproto
// imports only the standard library, so it cannot call this one); a test
// in edge/sqlite checks that the two agree.
func ValidStation(s string) bool {
	if len(s) > MaxStationLen || s == StationAll {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// CheckStation is ValidStation as an EINVALID error that says the rule.
func CheckStation(s string) error {
	if !ValidStation(s) {
		return Errorf(EINVALID, "station must be empty or up to %d lowercase letters, digits and hyphens, and not %q",
			MaxStationLen, StationAll)
	}
	return nil
}
