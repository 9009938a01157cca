// Package archtest holds no code, only a test: it enforces the import rules
// of STYLE.md (edge never imports cloud or pgx, cloud never imports edge,
// SQLite or mochi, syncproto imports only the standard library, the
// domains in internal/pantry and cloud import no adapter, the cloud's API
// and sync server depend on the domain's services rather than on the
// store, the store imports no auth, and only tests import
// internal/browsertest) over the module's real dependency graph, as
// `go list -deps` reports it.
package archtest
