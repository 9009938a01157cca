package main

import (
	"os"
	"testing"

	"github.com/pantry/pantry/internal/pgtest"
)

// TestMain stops the test PostgreSQL that the cloud tests start on first
// use (internal/pgtest); the edge tests never start it.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
