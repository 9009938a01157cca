//go:build race

package sqlite_test

// raceEnabled reports a -race build, in which modernc's SQLite (C
// translated to Go, checked pointer by pointer) runs about twenty times
// slower.
const raceEnabled = true
