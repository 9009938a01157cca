//go:build !race

package sqlite_test

// raceEnabled reports a -race build; see property_race_test.go.
const raceEnabled = false
