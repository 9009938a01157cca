package main

import (
	"os"
	"testing"

	"github.com/pantry/pantry/internal/pgtest"
)

// TestMain stops the test PostgreSQL that the cloud tests start on first
// use (internal/pgtest; the edge tests never start it) and removes the
// binary the process tests built.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	removeBuilt()
	os.Exit(code)
}
