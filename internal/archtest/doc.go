// Package archtest holds no code, only a test: it enforces the import rules
// of STYLE.md (edge never imports cloud or pgx, cloud never imports edge,
// SQLite or mochi, syncproto imports only the standard library, and the
// domain in internal/pantry imports no adapter) over the module's real
// dependency graph, as `go list -deps` reports it.
package archtest
